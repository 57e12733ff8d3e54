"""The audit log as a transparency log: tree, proofs, checkpoints, witnessing, tampering.

Both nodes run in process on real SQLite databases; node-to-node calls go
through the Flask test clients (the end-to-end tests use real processes).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from gateway.http.openapi import document
from gateway.node import audit_log
from gateway.node.node import Node
from gateway.peers import bundles, witness
from gateway.store import audit_entries
from gateway.tlog import auditor, merkle, note
from tests.conftest import TOKENS

T0 = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)


def node_of(apps: dict[str, Any], party: str) -> Node:
    found: Node = apps[party].app.extensions["gateway.node"]
    return found


def add_events(node: Node, count: int, *, batch_id: str | None = None) -> None:
    with node.store.write() as conn:
        for i in range(count):
            audit_entries.append(
                conn,
                event="batch_sealed",
                actor=node.party_id,
                at=T0 + dt.timedelta(seconds=i),
                dataset="permintaan_klarifikasi",
                batch_id=batch_id or f"00000000-0000-4000-8000-{i:012d}",
                record_count=i + 1,
            )


def entries_of(node: Node) -> list[str]:
    with node.store.read() as conn:
        return [r[0] for r in conn.execute(text("SELECT entry FROM audit_events ORDER BY idx"))]


def edit(node: Node, idx: int, old: str, new: str) -> None:
    assert old in entries_of(node)[idx]
    sql(
        node,
        "UPDATE audit_events SET entry = replace(entry, :old, :new) WHERE idx = :idx",
        old=old,
        new=new,
        idx=idx,
    )


def sql(node: Node, statement: str, **params: Any) -> None:
    with node.store.write() as conn:
        conn.execute(text(statement), params)


class FlaskSession:
    """Enough of ``requests.Session`` for :class:`auditor.LogClient`, over a Flask test client."""

    def __init__(self, flask_client: Any) -> None:
        self.client = flask_client
        self.headers: dict[str, str] = {}

    def get(self, url: str, params: dict[str, Any], timeout: float) -> Any:
        path = url.split("://", 1)[1].split("/", 1)[1]
        return _Answer(self.client.get("/" + path, query_string=params, headers=self.headers))


class _Answer:
    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self.content = response.get_data()
        self.text = self.content.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.text)


def log_client(apps: dict[str, Any], party: str) -> auditor.LogClient:
    return auditor.LogClient(
        "http://node",
        TOKENS[party]["auditor"],
        session=FlaskSession(apps[party].client),  # type: ignore[arg-type]
    )


def trusted(node: Node, party: str) -> auditor.TrustedKeys:
    other = next(p for p in node.note_keys if p != party)
    return auditor.TrustedKeys(
        log=node.note_keys[party].log, witnesses=(node.note_keys[other].witness,)
    )


def flask_poster(apps: dict[str, Any]) -> witness.Poster:
    """Deliver witness requests to the in-process node whose base URL they name."""

    def post(url: str, body: bytes, timeout: float, headers: Any) -> Any:
        for party, node_app in apps.items():
            base = node_of(apps, party).config.party.base_url
            if url.startswith(base):
                response = node_app.client.post(
                    url[len(base) :],
                    data=body,
                    content_type="text/plain; charset=utf-8",
                    headers=headers,
                )
                return _Answer(response)
        raise AssertionError(url)

    return post


# -- the tree --------------------------------------------------------------------------------


def test_checkpoint_commits_to_every_entry_with_rfc9162_hashing(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 37)
    signed = audit_log.checkpoint(node)
    leaves = [merkle.leaf_hash(e.encode()) for e in entries_of(node)]
    assert signed.size == 37
    assert signed.root_hash == merkle.root(leaves)
    opened = note.open_note(signed.note, [node.note_keys["ombudsman-ri"].log])
    assert note.Checkpoint.from_text(opened.text) == note.Checkpoint(
        "ombudsman.test/audit", 37, signed.root_hash
    )
    # Nothing new: the same checkpoint, not another one.
    assert audit_log.checkpoint(node) == signed


def test_stored_proofs_equal_the_reference_tree_at_every_size(apps):
    node = node_of(apps, "ombudsman-ri")
    reference = merkle.MemoryTree()
    for step in (1, 2, 5, 9, 16, 17):  # integrated in several steps, across power-of-two edges
        add_events(node, step)
        audit_log.checkpoint(node)
    for entry in entries_of(node):
        reference.append(merkle.leaf_hash(entry.encode()))
    size = reference.size
    with node.store.read() as conn:
        assert audit_log.tree_size(conn) == size == 50
        for n in range(1, size + 1):
            assert audit_log.mth(conn, 0, n) == reference.root(n)
            for i in range(0, n, 7):
                proof = audit_log.inclusion_proof(conn, i, n)
                assert proof == reference.inclusion_proof(i, n)
        for old in range(0, size + 1, 3):
            for new in range(old, size + 1, 5):
                assert audit_log.consistency_proof(conn, old, new) == reference.consistency_proof(
                    old, new
                )


def test_a_backlog_is_integrated_in_several_transactions(apps, monkeypatch):
    node = node_of(apps, "ombudsman-ri")
    monkeypatch.setattr(audit_log, "_CHUNK", 7)
    add_events(node, 30)
    transactions = []
    write = node.store.write

    def counted():
        transactions.append(1)
        return write()

    monkeypatch.setattr(node.store, "write", counted)
    signed = audit_log.checkpoint(node)
    leaves = [merkle.leaf_hash(e.encode()) for e in entries_of(node)]
    assert (signed.size, signed.root_hash) == (30, merkle.root(leaves))
    assert len(transactions) == 6  # 7 + 7 + 7 + 7 + 2 (short: caught up), then the signing


def test_a_gap_in_the_entries_is_refused_not_papered_over(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 5)
    sql(node, "DELETE FROM audit_events WHERE idx = 2")
    with pytest.raises(audit_log.LogIntegrityError, match="audit entry 2 is missing"):
        audit_log.checkpoint(node)


# -- witnessing ------------------------------------------------------------------------------


def test_peer_witness_cosigns_and_keeps_the_log_consistent(apps):
    node, peer = node_of(apps, "ombudsman-ri"), node_of(apps, "pemkot-bekasi")
    post = flask_poster(apps)
    add_events(node, 3)
    first = witness.publish(node, post=post)
    assert first.cosigned_by == ["pemkot.test/witness"] and not first.failed
    add_events(node, 4)
    second = witness.publish(node, post=post)
    assert second.checkpoint.size == 7 and second.cosigned_by == ["pemkot.test/witness"]
    with node.store.read() as conn:
        cosigned = audit_log.cosigned_note(conn, second.checkpoint)
    checkpoint, _, cosigners = auditor.open_checkpoint(cosigned, trusted(node, "ombudsman-ri"))
    assert checkpoint.size == 7
    assert [name for name, _ in cosigners] == ["pemkot.test/witness"]
    with peer.store.read() as conn:
        size = conn.execute(text("SELECT size FROM witnessed_logs")).scalar_one()
    assert size == 7


def test_a_lost_cosignature_is_recovered_from_the_witness_size(apps):
    node = node_of(apps, "ombudsman-ri")
    post = flask_poster(apps)
    add_events(node, 3)
    witness.publish(node, post=post)
    sql(node, "DELETE FROM audit_cosignatures")  # as if the witness's answer was lost
    add_events(node, 2)
    report = witness.publish(node, post=post)  # 409 with size 3, then a proof from 3
    assert report.cosigned_by == ["pemkot.test/witness"]


def _forged_checkpoint(node: Node, size: int, root: bytes) -> str:
    body = note.Checkpoint(node.config.party.log_origin, size, root).to_text()
    return note.sign_note(body, node.log_signer)


def _alerts(node: Node) -> list[dict[str, Any]]:
    return [json.loads(e) for e in entries_of(node) if '"witness_alert"' in e]


def test_witness_refuses_an_inconsistent_checkpoint_once_with_its_evidence(apps):
    node, peer = node_of(apps, "ombudsman-ri"), node_of(apps, "pemkot-bekasi")
    add_events(node, 4)
    witness.publish(node, post=flask_poster(apps))
    # A log that rewrote history: size 6 but a root that does not extend the cosigned 4.
    forged = _forged_checkpoint(node, 6, b"\x07" * 32)
    with node.store.read() as conn:
        proof = audit_log.consistency_proof(conn, 4, 4)
    body = note.format_add_checkpoint(note.AddCheckpoint(4, (*proof, b"\x01" * 32), forged))
    for _ in range(3):  # presented again and again: one alert, one audit entry
        answer = witness.add_checkpoint(peer, body.encode())
        assert answer.status == 422
    [alert] = _alerts(peer)
    assert alert["reason"] == "inconsistent" and alert["peer"] == "ombudsman-ri"
    assert (alert["tree_size"], alert["witnessed_size"]) == (6, 4)
    with peer.store.read() as conn:
        [(kind, size, request, witnessed)] = conn.execute(
            text("SELECT kind, size, request, witnessed_note FROM witness_alerts")
        ).all()
    assert (kind, size, request) == ("inconsistent", 6, body)
    assert witnessed.startswith("ombudsman.test/audit\n4\n")


def test_witness_refuses_another_root_for_the_same_size(apps):
    node, peer = node_of(apps, "ombudsman-ri"), node_of(apps, "pemkot-bekasi")
    add_events(node, 4)
    witness.publish(node, post=flask_poster(apps))
    forged = _forged_checkpoint(node, 4, b"\x03" * 32)
    answer = witness.add_checkpoint(
        peer, note.format_add_checkpoint(note.AddCheckpoint(4, (), forged)).encode()
    )
    assert (answer.status, answer.body) == (409, "4\n")
    [alert] = _alerts(peer)
    assert alert["reason"] == "fork"


def test_witness_refuses_an_older_checkpoint_and_the_log_sees_its_rollback(apps, caplog):
    node, peer = node_of(apps, "ombudsman-ri"), node_of(apps, "pemkot-bekasi")
    add_events(node, 6)
    witness.publish(node, post=flask_poster(apps))
    with node.store.read() as conn:
        older_root = audit_log.mth(conn, 0, 4)
    older = _forged_checkpoint(node, 4, older_root)  # a validly signed, smaller checkpoint
    answer = witness.add_checkpoint(
        peer, note.format_add_checkpoint(note.AddCheckpoint(0, (), older)).encode()
    )
    assert answer.status == 409 and answer.body == "6\n"
    assert answer.content_type == "text/x.tlog.size"
    # Anyone may replay an old checkpoint: refused, but no alert.
    assert not _alerts(peer)
    # A log really rolled back (restored from a backup) learns it from the witness.
    sql(node, "DELETE FROM audit_checkpoints WHERE size = 6")
    sql(node, "DELETE FROM audit_cosignatures")
    sql(node, "DELETE FROM audit_events WHERE idx >= 4")
    sql(node, "DELETE FROM audit_tree WHERE (level = 0 AND idx >= 4) OR (level = 1 AND idx >= 2)")
    report = witness.publish(node, post=flask_poster(apps))
    assert report.checkpoint.size == 4
    assert "more than this log's 4" in report.failed["pemkot-bekasi"]
    assert "ALERT log: witness pemkot.test/witness has cosigned size 6" in caplog.text


@pytest.mark.parametrize(
    ("mangle", "status"),
    [
        (lambda body, cp: b"not a request", 400),
        (lambda body, cp: body.replace(b"ombudsman.test/audit", b"unknown.test/audit", 1), 404),
        (
            lambda body, cp: body.replace(
                cp.split("\n")[2].encode(), base64.b64encode(b"\x05" * 32)
            ),
            403,
        ),
    ],
    ids=["malformed", "unknown-log", "bad-signature"],
)
def test_witness_refuses_bad_requests(apps, mangle, status):
    node, peer = node_of(apps, "ombudsman-ri"), node_of(apps, "pemkot-bekasi")
    add_events(node, 2)
    signed = audit_log.checkpoint(node)
    body = note.format_add_checkpoint(note.AddCheckpoint(0, (), signed.note)).encode()
    answer = witness.add_checkpoint(peer, mangle(body, signed.note))
    assert answer.status == status
    assert not _alerts(peer)


def test_witness_endpoint_speaks_http(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 2)
    signed = audit_log.checkpoint(node)
    body = note.format_add_checkpoint(note.AddCheckpoint(0, (), signed.note))
    response = apps["pemkot-bekasi"].peer_post(
        witness.ADD_CHECKPOINT_PATH, body, content_type="text/plain"
    )
    assert response.status_code == 200
    cosigned = note.parse_note(signed.note + response.get_data(as_text=True))
    names = [s.name for s in cosigned.signatures]
    assert names == ["ombudsman.test/audit", "pemkot.test/witness"]


# -- the auditor API -------------------------------------------------------------------------


def test_auditor_api_is_for_the_auditor_role_only(apps):
    pemkot = apps["pemkot-bekasi"]
    assert pemkot.client.get("/api/v1/audit/entries").status_code == 401
    denied = pemkot.client.get("/api/v1/audit/entries", headers=pemkot.auth("sistem-pengaduan"))
    assert denied.status_code == 403
    assert denied.get_json()["error"]["code"] == "forbidden"
    allowed = pemkot.client.get("/api/v1/audit/entries", headers=pemkot.auth("auditor"))
    assert allowed.status_code == 200


def test_auditor_api_serves_entries_search_and_proofs(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 10)
    add_events(node, 2, batch_id="11111111-1111-4111-8111-111111111111")
    witness.publish(node, post=flask_poster(apps))
    ombudsman = apps["ombudsman-ri"]
    auth = ombudsman.auth("auditor")

    checkpoint = ombudsman.client.get("/api/v1/audit/checkpoint", headers=auth)
    assert checkpoint.status_code == 200 and checkpoint.mimetype == "text/plain"
    cp, _, cosigners = auditor.open_checkpoint(
        checkpoint.get_data(as_text=True), trusted(node, "ombudsman-ri")
    )
    assert cp.size == 12 and len(cosigners) == 1

    page = ombudsman.client.get("/api/v1/audit/entries?start=3&end=5", headers=auth).get_json()
    assert [e["index"] for e in page["entries"]] == [3, 4]
    for item in page["entries"]:
        assert base64.b64decode(item["leaf_hash"]) == merkle.leaf_hash(item["entry"].encode())

    found = ombudsman.client.get(
        "/api/v1/audit/search?batch_id=11111111-1111-4111-8111-111111111111", headers=auth
    ).get_json()
    assert [e["index"] for e in found["entries"]] == [10, 11]
    by_party = ombudsman.client.get(
        "/api/v1/audit/search?party=ombudsman-ri&event=batch_sealed&limit=5"
        "&since=2026-11-29T15:00:00%2B07:00&until=2026-11-29T15:00:05%2B07:00",
        headers=auth,
    ).get_json()
    assert [e["index"] for e in by_party["entries"]] == [0, 1, 2, 3, 4]
    assert by_party["next_after"] == 4

    proof = ombudsman.client.get("/api/v1/audit/proof/inclusion?index=11", headers=auth).get_json()
    merkle.verify_inclusion(
        base64.b64decode(proof["leaf_hash"]),
        11,
        12,
        [base64.b64decode(h) for h in proof["hashes"]],
        cp.root_hash,
    )
    as_text = ombudsman.client.get(
        "/api/v1/audit/proof/inclusion?index=11&format=tlog-proof", headers=auth
    ).get_data(as_text=True)
    parsed = note.parse_tlog_proof(as_text)
    assert (
        parsed.index == 11
        and [base64.b64encode(h).decode() for h in parsed.hashes] == proof["hashes"]
    )


@pytest.mark.parametrize(
    ("query", "path"),
    [
        ("/proof/inclusion?index=99", "index"),
        ("/proof/inclusion?index=x", "index"),
        ("/proof/consistency?old=99", "old"),
        ("/entries?start=0&end=20000", "end"),
        ("/search?since=yesterday", "since"),
        ("/search?since=2026-11-29T08:00:00", "since"),
        ("/search?limit=5000", "limit"),
        ("/proof/inclusion?index=%C2%B2", "index"),
        ("/entries?start=" + "9" * 5000, "start"),
        ("/search?since=0001-01-01T00:00:00%2B14:00", "since"),
        ("/checkpoint?cosigned=yes", "cosigned"),
    ],
)
def test_auditor_api_refuses_bad_queries_with_a_path(apps, query, path):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 3)
    audit_log.checkpoint(node)
    ombudsman = apps["ombudsman-ri"]
    answer = ombudsman.client.get("/api/v1/audit" + query, headers=ombudsman.auth("auditor"))
    assert answer.status_code == 400
    assert answer.get_json()["error"]["path"] == path


def test_the_checkpoint_served_as_witnessed_carries_the_cosignatures_asked_for(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 3)
    witnessed = witness.publish(node, post=flask_poster(apps)).checkpoint  # one cosignature
    add_events(node, 2)
    latest = audit_log.checkpoint(node)  # none yet
    ombudsman = apps["ombudsman-ri"]

    def served(query: str) -> Any:
        return ombudsman.client.get(
            "/api/v1/audit/checkpoint" + query, headers=ombudsman.auth("auditor")
        )

    for query, expected in (("", latest), ("?cosigned=0", latest), ("?cosigned=1", witnessed)):
        assert served(query).get_data(as_text=True).startswith(expected.note)
    answer = served("?cosigned=2")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["message"] == (
        "no checkpoint has been cosigned by 2 witnesses yet"
    )
    assert served(f"?size={latest.size}&cosigned=1").status_code == 404


# -- verification and tampering --------------------------------------------------------------


def _verified(
    apps: dict[str, Any], tmp_path: Any, size: int = 20
) -> tuple[Node, auditor.SavedState]:
    node = node_of(apps, "ombudsman-ri")
    add_events(node, size)
    witness.publish(node, post=flask_poster(apps))
    state = auditor.SavedState(tmp_path / "state")
    report = auditor.verify_log(
        log_client(apps, "ombudsman-ri"), trusted(node, "ombudsman-ri"), state=state
    )
    assert report.ok, report.problems
    assert report.entries_checked == size and len(report.cosigned_by) == 1
    return node, state


def _verify(
    apps: dict[str, Any], node: Node, state: auditor.SavedState | None = None
) -> auditor.LogReport:
    return auditor.verify_log(
        log_client(apps, "ombudsman-ri"), trusted(node, "ombudsman-ri"), state=state
    )


def test_an_intact_log_verifies_and_grows_consistently(apps, tmp_path):
    node, state = _verified(apps, tmp_path)
    add_events(node, 5)
    witness.publish(node, post=flask_poster(apps))
    add_events(node, 2)
    audit_log.checkpoint(node)  # signed, not yet witnessed
    report = _verify(apps, node, state)
    assert report.ok and report.previous_size == 20 and report.size == 25
    assert report.latest_size == 27


def test_an_unwitnessed_rewrite_is_not_trusted(apps, tmp_path):
    """The operator holds the log key and re-signs a rewritten log; no witness cosigns it."""
    node, _ = _verified(apps, tmp_path)
    sql(node, "DELETE FROM audit_tree")
    sql(node, "DELETE FROM audit_checkpoints")
    sql(node, "DELETE FROM audit_cosignatures")
    edit(node, 2, '"record_count":3', '"record_count":30')
    audit_log.checkpoint(node)
    with pytest.raises(auditor.VerificationError, match="no checkpoint has been cosigned yet"):
        _verify(apps, node)
    # Submitted to the witness, it is refused as inconsistent with what was cosigned.
    report = witness.publish(node, post=flask_poster(apps))
    assert report.failed and not report.cosigned_by
    [alert] = _alerts(node_of(apps, "pemkot-bekasi"))
    assert alert["reason"] == "fork"


def test_an_edited_entry_is_named(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    edit(node, 7, '"record_count":8', '"record_count":80')
    [problem] = _verify(apps, node).problems
    assert (
        problem.index == 7 and "does not hash to the leaf the log's tree holds" in problem.message
    )


def test_an_edited_entry_and_leaf_is_bounded_by_the_signed_checkpoints(apps, tmp_path):
    node = node_of(apps, "ombudsman-ri")
    for count in (4, 4, 12):
        add_events(node, count)
        witness.publish(node, post=flask_poster(apps))  # sizes 4, 8 and 20
    edit(node, 5, '"record_count":2', '"record_count":20')
    changed = merkle.leaf_hash(entries_of(node)[5].encode())
    sql(node, "UPDATE audit_tree SET hash = :h WHERE level = 0 AND idx = 5", h=changed)
    [problem] = _verify(apps, node).problems
    assert problem.index == 4
    assert "entries 4..7 were changed: checkpoint 4 still matches, checkpoint 8 does not" in (
        problem.message
    )


def test_an_entry_changed_since_the_last_verification_is_named(apps, tmp_path):
    node, state = _verified(apps, tmp_path)
    edit(node, 3, '"record_count":4', '"record_count":40')
    sql(
        node,
        "UPDATE audit_tree SET hash = :h WHERE level = 0 AND idx = 3",
        h=merkle.leaf_hash(entries_of(node)[3].encode()),
    )
    [problem] = _verify(apps, node, state).problems
    assert problem.index == 3 and "changed since you verified it" in problem.message


def test_a_deleted_entry_is_named(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    sql(node, "DELETE FROM audit_events WHERE idx = 11")
    [problem] = _verify(apps, node).problems
    assert problem.index == 11 and problem.found == "index 12"


def test_reordered_entries_are_named(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    sql(node, "UPDATE audit_events SET idx = -1 WHERE idx = 5")
    sql(node, "UPDATE audit_events SET idx = 5 WHERE idx = 6")
    sql(node, "UPDATE audit_events SET idx = 6 WHERE idx = -1")
    [problem] = _verify(apps, node).problems
    assert problem.index == 5 and problem.found == "index 6"


def test_an_inserted_entry_is_named(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    entries = entries_of(node)
    with node.store.write() as conn:
        for idx in range(19, 8, -1):
            conn.execute(text("UPDATE audit_events SET idx = idx + 1 WHERE idx = :i"), {"i": idx})
        forged = entries[9].replace('"record_count":10', '"record_count":99')
        conn.execute(
            text(
                "INSERT INTO audit_events (idx, at, event, actor, entry) "
                "VALUES (9, '2026-11-29T08:00:00Z', 'batch_sealed', 'x', :e)"
            ),
            {"e": forged},
        )
    [problem] = _verify(apps, node).problems
    assert problem.index == 9


def test_a_truncated_log_is_named(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    sql(node, "DELETE FROM audit_events WHERE idx >= 15")
    [problem] = _verify(apps, node).problems
    assert problem.index == 15 and "entries 15..19 are missing" in problem.message


def test_a_swapped_checkpoint_is_refused(apps, tmp_path):
    node, _ = _verified(apps, tmp_path)
    with node.store.read() as conn:
        signed = audit_log.latest_checkpoint(conn)
    assert signed is not None
    lines = signed.note.split("\n")
    lines[2] = base64.b64encode(b"\x09" * 32).decode()
    sql(node, "UPDATE audit_checkpoints SET note = :n", n="\n".join(lines))
    with pytest.raises(auditor.VerificationError, match="no valid signature by the log key"):
        _verify(apps, node)


def test_a_rolled_back_checkpoint_is_caught_by_the_saved_state(apps, tmp_path):
    node, state = _verified(apps, tmp_path)
    add_events(node, 3)
    witness.publish(node, post=flask_poster(apps))
    assert _verify(apps, node, state).ok  # the auditor saw size 23
    sql(node, "DELETE FROM audit_checkpoints WHERE size = 23")
    sql(node, "DELETE FROM audit_cosignatures WHERE size = 23")
    [problem] = _verify(apps, node, state).problems
    assert problem.message.startswith("rollback") and problem.found == "size 20"


def test_a_forked_log_is_caught_by_the_saved_state(apps, tmp_path):
    node, state = _verified(apps, tmp_path)
    # The operator rewrites history and re-signs: a different tree of size 22.
    sql(node, "DELETE FROM audit_tree")
    sql(node, "DELETE FROM audit_checkpoints")
    edit(node, 0, '"record_count":1', '"record_count":2')
    add_events(node, 2)
    audit_log.checkpoint(node)
    # No witness cosigns it (see above); an auditor who accepts an unwitnessed
    # checkpoint still catches the fork with the checkpoint saved before.
    [problem] = auditor.verify_log(
        log_client(apps, "ombudsman-ri"),
        trusted(node, "ombudsman-ri"),
        state=state,
        min_cosignatures=0,
    ).problems
    assert problem.message.startswith("fork")


def test_a_bundle_verifies_offline_and_names_an_altered_entry(apps):
    node = node_of(apps, "pemkot-bekasi")
    add_events(node, 6)
    add_events(node, 3, batch_id="22222222-2222-4222-8222-222222222222")
    add_events(node, 2)
    witness.publish(node, post=flask_poster(apps))
    add_events(node, 1)  # after the witnessed checkpoint: the bundle uses the witnessed one
    bundle = bundles.export_bundle(node, "22222222-2222-4222-8222-222222222222")
    assert [e["index"] for e in bundle["entries"]] == [6, 7, 8]
    keys = trusted(node, "pemkot-bekasi")
    report = auditor.verify_bundle(bundle, keys)
    assert report.ok and report.entries_checked == 3 and report.size == 11
    assert [name for name, _ in report.cosigned_by] == ["ombudsman.test/witness"]
    # Trusting the log key alone, the same bundle is not witnessed.
    with pytest.raises(auditor.VerificationError, match="not witnessed"):
        auditor.verify_bundle(bundle, auditor.TrustedKeys(keys.log))

    altered = json.loads(json.dumps(bundle))
    altered["entries"][1]["entry"] = altered["entries"][1]["entry"].replace(
        '"record_count":2', '"record_count":3'
    )
    [problem] = auditor.verify_bundle(altered, keys).problems
    assert problem.index == 7 and "not in the checkpoint's tree" in problem.message


def test_reconcile_lists_every_gap():
    def entry(event: str, peer: str, batch: str, **extra: Any) -> str:
        return json.dumps(
            {"event": event, "peer": peer, "batch_id": batch, "dataset": "d", **extra}
        )

    common = {"records_sha256": "a" * 64, "record_count": 2, "schema_version": "1.0"}
    good = {"envelope_sha256": "e" * 64}
    logs = {
        "ombudsman-ri": [
            entry("batch_sealed", "pemkot-bekasi", "b1", **common, **good),
            entry("receipt_verified", "pemkot-bekasi", "b1", receipt_sha256="r" * 64),
            entry("batch_sealed", "pemkot-bekasi", "b2", **common, **good),  # never arrived
            entry("batch_sealed", "pemkot-bekasi", "b3", **common, **good),
            entry("receipt_verified", "pemkot-bekasi", "b3", receipt_sha256="x" * 64),
        ],
        "pemkot-bekasi": [
            entry(
                "batch_received", "ombudsman-ri", "b1", **common, **good, receipt_sha256="r" * 64
            ),
            entry(
                "batch_received", "ombudsman-ri", "b3", **common, **good, receipt_sha256="r" * 64
            ),
            entry(
                "batch_received", "ombudsman-ri", "b4", **common, **good, receipt_sha256="r" * 64
            ),
        ],
    }
    result = auditor.reconcile(logs)
    assert result.batches == 4 and result.matched == 1
    problems = {g.batch_id: g.problem for g in result.gaps}
    assert "not (yet) received" in problems["b2"]
    assert "receipt the sender verified is not the one" in problems["b3"]
    assert "never sealed" in problems["b4"]


def test_a_checkpoint_verifies_with_cryptography_alone(apps):
    """The recipe of docs/AUDIT.md section 7, with nothing of the gateway's code."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    node = node_of(apps, "ombudsman-ri")
    add_events(node, 3)
    signed = audit_log.checkpoint(node).note
    vkey = (node.config.party.note_keys_file.read_text().splitlines())[0]

    name, key_id, key = vkey.split("+", 2)  # base64 may hold "+"
    raw = base64.b64decode(key)
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id
    body, _, signatures = signed.partition("\n\n")
    checked = 0
    for line in signatures.splitlines():
        _, signer, sig = line.split(" ")
        sig = base64.b64decode(sig)
        if signer == name and sig[:4].hex() == key_id:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(sig[4:], (body + "\n").encode())
            checked += 1
    assert checked == 1
    leaves = [hashlib.sha256(b"\x00" + e.encode()).digest() for e in entries_of(node)]
    assert body.split("\n")[2] == base64.b64encode(merkle.root(leaves)).decode()


class _Scripted:
    """A node that answers the auditor's requests with whatever a test scripts."""

    def __init__(self, answers: dict[str, Any], real: Any) -> None:
        self.answers, self.real, self.headers = answers, real, {}

    def get(self, url: str, params: dict[str, Any], timeout: float) -> Any:
        for path, body in self.answers.items():
            if url.endswith(path):
                response = _Answer.__new__(_Answer)
                response.status_code, response.text = 200, json.dumps(body)
                response.content = response.text.encode("utf-8")
                return response
        return self.real.get(url, params, timeout)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/entries", "no such line", "a line is not '<index> <leaf> <entry>'"),
        ("/entries", {"index": 0}, "a line is not '<index> <leaf> <entry>'"),
        ("/checkpoints", {"checkpoints": [], "next_after": 0}, "next_after does not move"),
    ],
)
def test_a_malicious_node_gets_a_clean_refusal_not_a_crash(apps, path, body, message):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 4)
    witness.publish(node, post=flask_poster(apps))
    edit(node, 1, '"record_count":2', '"record_count":20')
    sql(
        node,
        "UPDATE audit_tree SET hash = :h WHERE level = 0 AND idx = 1",
        h=merkle.leaf_hash(entries_of(node)[1].encode()),
    )  # so that the checkpoints are read
    client = log_client(apps, "ombudsman-ri")
    client.session = _Scripted({path: body}, client.session)  # type: ignore[assignment]
    with pytest.raises(auditor.VerificationError, match=message):
        auditor.verify_log(client, trusted(node, "ombudsman-ri"))


def test_a_malformed_witness_answer_is_a_refusal(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 2)

    def post(url: str, body: bytes, timeout: float, headers: Any) -> Any:
        return witness.PeerAnswer(409, "\u00b2\n")

    report = witness.publish(node, post=post)
    assert report.failed == {"pemkot-bekasi": "HTTP 409 without a valid size"}


def test_reconcile_tells_pending_and_refused_from_gaps():
    def entry(event: str, peer: str, batch: str, at: str, **extra: Any) -> str:
        return json.dumps({"event": event, "peer": peer, "batch_id": batch, "at": at, **extra})

    logs = {
        "ombudsman-ri": [
            entry("batch_sealed", "pemkot-bekasi", "b1", "2026-11-29T08:00:00Z"),
            entry("batch_sealed", "pemkot-bekasi", "b2", "2026-11-29T08:00:01Z"),
            json.dumps({"event": "batch_sealed", "peer": "pemkot-bekasi"}),  # no batch id
            entry("batch_sealed", "pemkot-bekasi", "b3", "2026-11-29T08:09:00Z"),
        ],
        "pemkot-bekasi": [
            entry(
                "envelope_rejected", "ombudsman-ri", "b2", "2026-11-29T08:00:02Z", reason="schema"
            ),
            entry("submission_accepted", "", "", "2026-11-29T08:05:00Z"),
        ],
    }
    result = auditor.reconcile(logs)
    gaps = {g.batch_id: g.problem for g in result.gaps}
    assert gaps == {
        "b1": "sealed by ombudsman-ri, not (yet) received by pemkot-bekasi",
        "b2": "sealed by ombudsman-ri, refused by pemkot-bekasi (schema)",
    }
    [pending] = result.pending
    assert pending.batch_id == "b3" and "pending: pemkot-bekasi's witnessed log ends" in (
        pending.problem
    )


def test_entries_as_lines_equal_the_json_page(apps):
    node = node_of(apps, "ombudsman-ri")
    add_events(node, 5)
    audit_log.checkpoint(node)
    add_events(node, 2)  # not yet in the tree
    ombudsman = apps["ombudsman-ri"]
    auth = ombudsman.auth("auditor")
    page = ombudsman.client.get("/api/v1/audit/entries?start=3&end=7", headers=auth).get_json()
    lines = ombudsman.client.get(
        "/api/v1/audit/entries?start=3&end=7&format=lines", headers=auth
    ).get_data(as_text=True)
    expected = "".join(
        f"{e['index']} {e['leaf_hash'] or '-'} {e['entry']}\n" for e in page["entries"]
    )
    assert lines == expected and lines.count("\n") == 4 and " - " in lines


def test_the_bundle_format_name_is_the_published_one():
    """Auditors' tools match this exact string (docs/AUDIT.md, the OpenAPI document)."""
    assert auditor.BUNDLE_FORMAT == "bekasi-ombudsman-gateway/audit-bundle@v1"
    docs = Path(__file__).resolve().parents[2] / "docs" / "AUDIT.md"
    assert f'"format": "{auditor.BUNDLE_FORMAT}"' in docs.read_text(encoding="utf-8")
    assert auditor.BUNDLE_FORMAT in json.dumps(document())

