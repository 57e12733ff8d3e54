"""Batches larger than one envelope: chunks under a signed manifest, in process."""

import datetime as dt
import hashlib
import json

import pytest
import requests
from sqlalchemy import select

from gateway.crypto import canonical
from gateway.crypto.envelope import (
    BatchHeader,
    ChunkInfo,
    forms_digest,
    seal_batch,
    seal_chunk,
    seal_manifest,
)
from gateway.exchange import sending
from gateway.peers import signed_requests
from gateway.store.tables import (
    inbound_batches,
    inbound_chunks,
    inbound_transfers,
    outbound_batches,
)
from schemas.samples import sample_records
from tests.integration.test_api import TANGGAPAN, bridge, counted, events, node, submit

CHUNK = 4096  # the smallest chunk the agreement allows: a few records each


@pytest.fixture
def chunked(deployment_factory, make_apps):
    apps = make_apps(deployment_factory(max_chunk_bytes=CHUNK))
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    moment = [dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)]
    # Both nodes on one clock: a signed request is refused more than 300 s off.
    node(pemkot).clock = node(ombudsman).clock = lambda: moment[0]
    return apps, pemkot, ombudsman, moment


def later(moment, seconds=3600):
    moment[0] += dt.timedelta(seconds=seconds)


def outbound(app):
    with node(app).store.read() as conn:
        return conn.execute(select(outbound_batches)).mappings().one()


def received_records(app, batch_id):
    """Every record of a chunked batch, pulled through the API as a client would."""
    headers = app.auth()
    answer = app.client.get(f"/api/v1/batches/{batch_id}", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    batch = answer.get_json()
    records = []
    for chunk in batch["chunks"]:
        part = app.client.get(f"/api/v1/batches/{batch_id}/chunks/{chunk['index']}",
                              headers=headers).get_json()
        assert part["records_sha256"] == chunk["records_sha256"]
        records += part["records"]
    return batch, records


def digests(records):
    return sorted(hashlib.sha256(canonical.dumps(r)).hexdigest() for r in records)


def counting(post, log):
    def wrapped(url, body, timeout, headers):
        log.append(url.rsplit("/", 2)[-2:])
        return post(url, body, timeout, headers)
    return wrapped


def test_a_large_batch_travels_as_chunks_and_arrives_whole(chunked):
    apps, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 40, seed=3)
    assert submit(pemkot, records).status_code == 202
    report = sending.run(node(pemkot), post=bridge(apps))
    assert report.delivered == report.sealed and len(report.sealed) == 1
    row = outbound(pemkot)
    assert row["chunk_count"] > 3 and row["chunks_acked"] == row["chunk_count"]
    assert row["records_sha256"] is None and len(row["records_root"]) == 64
    batch, pulled = received_records(ombudsman, row["batch_id"])
    assert batch["records_root"] == row["records_root"]
    assert batch["chunk_count"] == row["chunk_count"] and batch["record_count"] == 40
    assert digests(pulled) == digests(records)  # every record, once
    kinds = [e["event"] for e in events(ombudsman)]
    assert kinds.count("batch_chunk_received") == row["chunk_count"]
    assert kinds.index("batch_transfer_started") < kinds.index("batch_received")
    [sealed] = [e for e in events(pemkot) if e["event"] == "batch_sealed"]
    [got] = [e for e in events(ombudsman) if e["event"] == "batch_received"]
    assert sealed["records_root"] == got["records_root"] and sealed["envelope_sha256"] == \
        got["envelope_sha256"]


def test_an_interrupted_batch_resumes_from_the_first_chunk_not_acknowledged(chunked):
    apps, pemkot, ombudsman, moment = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 40, seed=4)).status_code == 202
    real = bridge(apps)
    sent = []

    def cut_after_three(url, body, timeout, headers):
        if url.endswith("/chunks/3"):
            raise requests.ConnectionError("the network dropped")
        sent.append(url.rsplit("/", 1)[-1])
        return real(url, body, timeout, headers)

    report = sending.run(node(pemkot), post=cut_after_three)
    assert report.failed == report.sealed
    row = outbound(pemkot)
    assert (row["status"], row["chunks_acked"]) == ("sealed", 3)
    from gateway.exchange import batch_admin

    [status] = [r for r in batch_admin.status(node(pemkot)) if r["dataset"] == TANGGAPAN]
    assert status["retrying"]["chunks"] == {"total": row["chunk_count"], "acked": 3}
    # Nothing is visible to the receiver's clients before the last chunk.
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_batches)).first() is None
        assert conn.execute(select(inbound_transfers.c.chunks_received)).scalar() == 3
    listing = ombudsman.client.get(f"/api/v1/datasets/{TANGGAPAN}/batches",
                                   headers=ombudsman.auth()).get_json()
    assert listing["batches"] == []

    later(moment)
    log = []
    report = sending.run(node(pemkot), post=counting(real, log))
    assert report.delivered == [row["batch_id"]]
    assert log[0] == [row["batch_id"], "manifest"]
    assert sorted(int(i) for _, i in log[1:]) == list(range(3, row["chunk_count"]))
    resumed = [e for e in events(pemkot) if e["event"] == "batch_resumed"]
    assert [(e["chunk"], e["chunk_count"]) for e in resumed] == [(3, row["chunk_count"])]
    _, pulled = received_records(ombudsman, row["batch_id"])
    assert len(pulled) == 40


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_chunk_is_refused_then_resent_and_never_committed_half(chunked, damage):
    apps, pemkot, ombudsman, moment = chunked
    records = sample_records(TANGGAPAN, 30, seed=5)
    assert submit(pemkot, records).status_code == 202
    real = bridge(apps)
    answers = []
    ombudsman_party = node(pemkot).config.agreement.party("ombudsman-ri")

    def damaging(url, body, timeout, headers):
        if url.endswith("/chunks/2"):
            body = (body[:-40] + bytes([body[-40] ^ 1]) + body[-39:] if damage == "flip"
                    else body[: len(body) // 2])
            # Signed as sent (a sender that damaged its own chunk): the envelope is refused.
            headers = signed_requests.headers(node(pemkot), ombudsman_party, "POST", url, body)
            status, answer = real(url, body, timeout, headers)
            answers.append((status, answer))
            return status, answer
        return real(url, body, timeout, headers)

    report = sending.run(node(pemkot), post=damaging)
    assert report.failed == report.sealed
    # The peer is told nothing about why.
    assert answers == [(400, {"error": {"code": "envelope_rejected",
                                        "message": "envelope rejected"}})]
    [refused] = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert refused["chunk"] == 2 and refused["reason"] in {"decrypt", "malformed"}
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_batches)).first() is None
        held = [r.idx for r in conn.execute(select(inbound_chunks.c.idx))]
    assert 2 not in held and {0, 1} <= set(held)
    later(moment)
    assert sending.run(node(pemkot), post=real).delivered == [outbound(pemkot)["batch_id"]]
    _, pulled = received_records(ombudsman, outbound(pemkot)["batch_id"])
    assert digests(pulled) == digests(records)


def test_a_chunk_damaged_in_transit_fails_its_request_signature_and_is_resent(chunked):
    apps, pemkot, ombudsman, moment = chunked
    records = sample_records(TANGGAPAN, 30, seed=6)
    assert submit(pemkot, records).status_code == 202
    real = bridge(apps)
    answers = []

    def relay(url, body, timeout, headers):
        if url.endswith("/chunks/1"):
            body = body[:-1] + (b"A" if body[-1:] != b"A" else b"B")  # after it was signed
            answers.append(real(url, body, timeout, headers))
            return answers[-1]
        return real(url, body, timeout, headers)

    assert sending.run(node(pemkot), post=relay).failed
    assert answers == [(401, {"error": {"code": "unauthorized",
                                        "message": "request signature rejected"}})]
    assert "request_rejected" not in {e["event"] for e in events(ombudsman)}
    assert counted(ombudsman) == {("request_body_mismatch", "pemkot-bekasi"): 1}
    later(moment)
    assert sending.run(node(pemkot), post=real).delivered == [outbound(pemkot)["batch_id"]]
    _, pulled = received_records(ombudsman, outbound(pemkot)["batch_id"])
    assert digests(pulled) == digests(records)


def test_a_lost_answer_to_the_last_chunk_is_answered_with_the_same_receipt(chunked):
    apps, pemkot, ombudsman, moment = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 20, seed=6)).status_code == 202
    real = bridge(apps)
    receipts = []

    def lose_the_receipt(url, body, timeout, headers):
        status, answer = real(url, body, timeout, headers)
        if "receipt" in (answer or {}):
            receipts.append(answer["receipt"])
            raise requests.ReadTimeout("the answer was lost")
        return status, answer

    sending.run(node(pemkot), post=lose_the_receipt)
    later(moment)
    log = []
    report = sending.run(node(pemkot), post=counting(real, log))
    assert report.delivered == [outbound(pemkot)["batch_id"]]
    assert [p for _, p in log] == ["manifest"]  # committed already: the manifest gets the receipt
    assert outbound(pemkot)["receipt"] == receipts[0]
    with node(ombudsman).store.read() as conn:
        assert len(conn.execute(select(inbound_batches)).all()) == 1


def forge(sender_app, receiver_app, records, *, root=None, chunk_size=3, created_at=None):
    """A manifest and chunks signed with the sender's real keys, for tampering tests."""
    sender = node(sender_app)
    header = BatchHeader(sender="pemkot-bekasi", receiver="ombudsman-ri", dataset=TANGGAPAN,
                         schema_version="1.0", batch_id="0b7a3c2e-5d1f-4e8a-9b6c-7d8e9f0a1b2c",
                         created_at=created_at or dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
                         sequence=1)
    forms = [canonical.dumps(r) for r in records]
    parts = [forms[i:i + chunk_size] for i in range(0, len(forms), chunk_size)]
    from gateway.crypto.envelope import record_leaf
    from gateway.tlog.merkle import root as merkle_root
    records_root = root or merkle_root([record_leaf(f) for f in forms]).hex()
    recipient = sender.peers.encryption_key_of("ombudsman-ri")
    manifest = seal_manifest(header, records_root=records_root,
                             chunks=[ChunkInfo(len(p), forms_digest(p)) for p in parts],
                             signing_key=sender.keys.signing, recipient_key=recipient)
    chunks = [seal_chunk(header, i, p, signing_key=sender.keys.signing, recipient_key=recipient,
                         max_bytes=CHUNK) for i, p in enumerate(parts)]
    return header.batch_id, manifest, chunks


def post(app, path, body):
    answer = app.peer_post(path, body)
    return answer.status_code, answer.get_json()


def test_chunks_in_any_order_are_folded_and_strays_are_refused(chunked):
    _, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 9, seed=7)
    batch_id, manifest, chunks = forge(pemkot, ombudsman, records)
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 400  # no manifest yet
    assert post(ombudsman, f"{base}/manifest", manifest) == (
        200, {"batch_id": batch_id, "chunks_received": 0, "chunk_count": 3})
    assert post(ombudsman, f"{base}/chunks/1", chunks[0])[0] == 400  # posted as another index
    other = "1c8b4d3f-6e2a-4f9b-8c7d-8e9f0a1b2c3d"
    assert post(ombudsman, f"/exchange/v1/batches/{other}/chunks/0", chunks[0])[0] == 400
    # Out of order: held, but not counted until the chunks before it are here.
    assert post(ombudsman, f"{base}/chunks/2", chunks[2])[1]["chunks_received"] == 0
    assert post(ombudsman, f"{base}/chunks/2", chunks[2])[1]["chunks_received"] == 0  # again
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[1]["chunks_received"] == 1
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_batches)).first() is None
    status, answer = post(ombudsman, f"{base}/chunks/1", chunks[1])
    assert status == 200 and answer["duplicate"] is False and "receipt" in answer
    assert post(ombudsman, f"{base}/chunks/1", chunks[1])[1]["receipt"] == answer["receipt"]
    assert post(ombudsman, f"{base}/manifest", manifest)[1]["receipt"] == answer["receipt"]
    reasons = [e["reason"] for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert reasons == ["no_manifest", "batch_id_mismatch", "batch_id_mismatch"]
    kinds = [e["event"] for e in events(ombudsman)]
    assert kinds.count("batch_chunk_received") == 3 and kinds.count("batch_received") == 1


def test_chunks_whose_records_lack_the_signed_root_are_never_committed(chunked):
    _, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 6, seed=8)
    batch_id, manifest, chunks = forge(pemkot, ombudsman, records, root="ab" * 32)
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest)[0] == 200
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 200
    assert post(ombudsman, f"{base}/chunks/1", chunks[1])[0] == 400
    [refused] = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert refused["reason"] == "records_root_mismatch"
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_batches)).first() is None


def test_a_chunk_with_an_invalid_record_is_refused_by_the_schema(chunked):
    _, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 6, seed=9)
    records[4] = {**records[4], "nomor_laporan": 12}
    batch_id, manifest, chunks = forge(pemkot, ombudsman, records)
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest)[0] == 200
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 200
    status, answer = post(ombudsman, f"{base}/chunks/1", chunks[1])
    assert status == 400 and answer["error"]["message"] == "envelope rejected"
    entries = [json.dumps(e) for e in events(ombudsman)]
    assert not any("12" in e and "nomor_laporan" in e for e in entries)  # no values logged
    [refused] = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert refused["reason"] == "schema"


# -- one batch id, two contents: whatever the order, one clear refusal -----------------------

FORGED_ID = "0b7a3c2e-5d1f-4e8a-9b6c-7d8e9f0a1b2c"  # the id forge() seals under


def whole(sender_app, records, *, batch_id=FORGED_ID, created_at=None, sequence=1,
          max_bytes=CHUNK):
    """A whole batch under ``batch_id``, signed with the sender's real keys."""
    sender = node(sender_app)
    header = BatchHeader(sender="pemkot-bekasi", receiver="ombudsman-ri", dataset=TANGGAPAN,
                         schema_version="1.0", batch_id=batch_id,
                         created_at=created_at or dt.datetime(2026, 11, 29, tzinfo=dt.UTC),
                         sequence=sequence)
    return seal_batch(header, records, signing_key=sender.keys.signing,
                      recipient_key=sender.peers.encryption_key_of("ombudsman-ri"),
                      max_bytes=max_bytes)


REFUSED = (400, {"error": {"code": "envelope_rejected", "message": "envelope rejected"}})


def refusals(app):
    return [e["reason"] for e in events(app) if e["event"] == "envelope_rejected"]


def stored_batches(app):
    with node(app).store.read() as conn:
        return [(r.batch_id, r.chunk_count) for r in
                conn.execute(select(inbound_batches.c.batch_id, inbound_batches.c.chunk_count))]


def test_a_whole_batch_under_the_id_of_a_chunked_batch_under_way_is_refused(chunked):
    _, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 9, seed=11)
    batch_id, manifest, chunks = forge(pemkot, ombudsman, records)
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest)[0] == 200
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 200
    # Other records, or records of the batch under way (even all of them, over the agreed
    # envelope size): each is another batch under its id, refused as that.
    for content in (sample_records(TANGGAPAN, 2, seed=12), records[:3], records):
        envelope = whole(pemkot, content, max_bytes=64 * 1024)
        assert post(ombudsman, "/exchange/v1/batches", envelope) == REFUSED
    assert stored_batches(ombudsman) == []
    # The chunked batch is not harmed: its last chunk commits it.
    assert post(ombudsman, f"{base}/chunks/1", chunks[1])[0] == 200
    status, answer = post(ombudsman, f"{base}/chunks/2", chunks[2])
    assert status == 200 and "receipt" in answer, answer
    assert stored_batches(ombudsman) == [(batch_id, 3)]
    assert refusals(ombudsman) == ["batch_id_conflict"] * 3
    _, pulled = received_records(ombudsman, batch_id)
    assert digests(pulled) == digests(records)


def test_a_manifest_or_chunk_under_the_id_of_a_whole_batch_received_is_refused(chunked):
    _, pemkot, ombudsman, _ = chunked
    first = whole(pemkot, sample_records(TANGGAPAN, 2, seed=13))
    status, answer = post(ombudsman, "/exchange/v1/batches", first)
    assert status == 200 and answer["duplicate"] is False
    batch_id, manifest, chunks = forge(pemkot, ombudsman, sample_records(TANGGAPAN, 9, seed=14))
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest) == REFUSED
    assert post(ombudsman, f"{base}/chunks/0", chunks[0]) == REFUSED
    assert refusals(ombudsman) == ["batch_id_conflict", "batch_id_conflict"]
    # The whole batch received stays what it was, and is still its idempotent duplicate.
    status, again = post(ombudsman, "/exchange/v1/batches", first)
    assert status == 200 and again["duplicate"] is True and again["receipt"] == answer["receipt"]
    assert stored_batches(ombudsman) == [(batch_id, 1)]
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_transfers)).first() is None
        assert conn.execute(select(inbound_chunks)).first() is None


def test_a_second_manifest_under_an_id_under_way_is_refused_unless_it_is_the_same_batch(
    chunked,
):
    _, pemkot, ombudsman, _ = chunked
    records = sample_records(TANGGAPAN, 9, seed=15)
    batch_id, manifest, chunks = forge(pemkot, ombudsman, records)
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest)[0] == 200
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 200
    _, other_records, _ = forge(pemkot, ombudsman, sample_records(TANGGAPAN, 9, seed=16))
    _, other_cut, _ = forge(pemkot, ombudsman, records, chunk_size=4)  # same records, cut anew
    _, other_root, _ = forge(pemkot, ombudsman, records, root="cd" * 32)
    for other in (other_records, other_cut, other_root):
        assert post(ombudsman, f"{base}/manifest", other) == REFUSED
    assert refusals(ombudsman) == ["batch_id_conflict"] * 3
    # The same manifest, or the same batch's manifest sealed anew, resumes where it was.
    _, resealed, _ = forge(pemkot, ombudsman, records,
                           created_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    assert resealed != manifest
    for again in (manifest, resealed):
        assert post(ombudsman, f"{base}/manifest", again) == (
            200, {"batch_id": batch_id, "chunks_received": 1, "chunk_count": 3})
    for i in (1, 2):
        status, answer = post(ombudsman, f"{base}/chunks/{i}", chunks[i])
        assert status == 200
    assert "receipt" in answer
    _, pulled = received_records(ombudsman, batch_id)
    assert digests(pulled) == digests(records)


def test_a_whole_batch_stored_beside_a_transfer_makes_its_last_chunk_a_conflict_not_a_500(
    chunked, monkeypatch
):
    """Storage from before the rule (a whole batch taken while a transfer was under way):
    the transfer's last chunk is refused as the conflict it is, every time, and audited."""
    from gateway.exchange import receiving

    _, pemkot, ombudsman, _ = chunked
    batch_id, manifest, chunks = forge(pemkot, ombudsman, sample_records(TANGGAPAN, 6, seed=17))
    base = f"/exchange/v1/batches/{batch_id}"
    assert post(ombudsman, f"{base}/manifest", manifest)[0] == 200
    assert post(ombudsman, f"{base}/chunks/0", chunks[0])[0] == 200
    with monkeypatch.context() as patch:
        # As the receiver did before it checked: the whole batch is stored.
        patch.setattr(receiving, "in_transfer", lambda conn, batch_id: False, raising=False)
        status, _ = post(ombudsman, "/exchange/v1/batches",
                         whole(pemkot, sample_records(TANGGAPAN, 2, seed=18), sequence=2))
        assert status == 200
    for _ in range(2):
        assert post(ombudsman, f"{base}/chunks/1", chunks[1]) == REFUSED
    assert refusals(ombudsman) == ["batch_id_conflict", "batch_id_conflict"]
    assert stored_batches(ombudsman) == [(batch_id, 1)]


# -- chunked batches left half-way expire at the receiver ---------------------------------------


def expire_on_schedule(app):
    """Run the receiver's scheduled expiry job, as its scheduler would."""
    from gateway.exchange import schedule

    key = schedule.node_key(node(app))
    schedule._register(key, node(app))
    try:
        schedule.expire_job(key)
    finally:
        schedule._unregister(key, node(app))


def test_a_transfer_left_half_way_expires_and_its_sender_starts_again_from_chunk_0(chunked):
    apps, pemkot, ombudsman, moment = chunked
    records = sample_records(TANGGAPAN, 40, seed=19)
    assert submit(pemkot, records).status_code == 202
    real = bridge(apps)

    def cut_after_three(url, body, timeout, headers):
        if url.endswith("/chunks/3"):
            raise requests.ConnectionError("the sender's node was killed")
        return real(url, body, timeout, headers)

    assert sending.run(node(pemkot), post=cut_after_three).failed
    row = outbound(pemkot)
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_transfers.c.chunks_received)).scalar() == 3
        held = len(conn.execute(select(inbound_chunks.c.idx)).all())  # one more in flight?
    # Not before the agreed time (72 hours by default) after the last chunk came.
    later(moment, 72 * 3600 - 1)
    expire_on_schedule(ombudsman)
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_transfers)).first() is not None
    later(moment, 1)
    expire_on_schedule(ombudsman)
    expire_on_schedule(ombudsman)  # once
    with node(ombudsman).store.read() as conn:
        assert conn.execute(select(inbound_transfers)).first() is None
        assert conn.execute(select(inbound_chunks)).first() is None
        assert conn.execute(select(inbound_batches)).first() is None
    [expired] = [e for e in events(ombudsman) if e["event"] == "batch_transfer_expired"]
    assert (expired["batch_id"], expired["peer"], expired["dataset"]) == (
        row["batch_id"], "pemkot-bekasi", TANGGAPAN)
    assert (expired["chunks_received"], expired["chunk_count"], expired["record_count"]) == (
        held, row["chunk_count"], 40)
    assert "records" not in expired and "penjelasan" not in json.dumps(expired)
    # A chunk that comes without its manifest now is refused; the sender's next attempt
    # posts the manifest first, and starts again from chunk 0.
    flow = node(pemkot).config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    stray = sending.seal_stored_chunk(node(pemkot), flow, sending.stored_header(node(pemkot),
                                                                                 row), 3)
    assert post(ombudsman, f"/exchange/v1/batches/{row['batch_id']}/chunks/3", stray) == REFUSED
    assert refusals(ombudsman) == ["no_manifest"]
    log = []
    report = sending.run(node(pemkot), post=counting(real, log))
    assert report.delivered == [row["batch_id"]]
    assert log[0] == [row["batch_id"], "manifest"]
    assert sorted(int(i) for _, i in log[1:]) == list(range(row["chunk_count"]))
    _, pulled = received_records(ombudsman, row["batch_id"])
    assert digests(pulled) == digests(records)


def test_the_expiry_runs_on_the_schedule_of_a_node_that_receives_chunked_batches(
        chunked, deployment_factory, make_apps):
    from gateway.exchange.schedule import build_scheduler

    _, pemkot, ombudsman, _ = chunked
    plain = make_apps(deployment_factory())  # no flow larger than one envelope
    for app, expected in ((ombudsman, True), (pemkot, True), (plain["ombudsman-ri"], False)):
        jobs = {job.id for job in build_scheduler(node(app)).get_jobs()}
        assert ("transfers:expire" in jobs) is expected


def test_each_chunk_does_not_read_and_parse_the_manifest_again(chunked, monkeypatch):
    """The manifest is per-batch work: read from the database and parsed once per transfer
    by each process, whatever the number of chunks."""
    from gateway.exchange import chunked_receiving

    apps, pemkot, _, _ = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 40, seed=5)).status_code == 202
    parsed = []
    real = chunked_receiving._manifest
    monkeypatch.setattr(chunked_receiving, "_manifest", lambda row: parsed.append(1) or real(row))
    report = sending.run(node(pemkot), post=bridge(apps))
    assert report.delivered == report.sealed
    assert outbound(pemkot)["chunk_count"] > 3
    # Once, or once by each of the first chunks in flight together (they may both find
    # the cache empty): not once per chunk.
    assert 1 <= len(parsed) <= sending._CHUNKS_IN_FLIGHT < outbound(pemkot)["chunk_count"]


def test_a_chunk_whose_transfer_ends_while_it_is_read_gets_the_batch_receipt(chunked,
                                                                              monkeypatch):
    """On PostgreSQL the transfer's row and its manifest are two statements: the last chunk
    may commit the batch (or the transfer expire) between them. The chunk is then answered
    as if the transfer had ended before, not with a server error."""
    from gateway.exchange import chunked_receiving

    apps, pemkot, ombudsman, _ = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 40, seed=6)).status_code == 202
    sent = []
    real = bridge(apps)

    def keep(url, body, timeout, headers):
        sent.append((url, body))
        return real(url, body, timeout, headers)

    report = sending.run(node(pemkot), post=keep)
    assert report.delivered == report.sealed
    row = outbound(pemkot)
    with node(ombudsman).store.read() as conn:
        committed = conn.execute(
            select(inbound_batches.c.receipt).where(inbound_batches.c.batch_id == row["batch_id"])
        ).scalar_one()
    # The transfer's row as it was read before the batch was committed.
    stale = {"batch_id": row["batch_id"], "manifest_sha256": "0" * 64, "chunks_received": 1,
             "chunk_count": row["chunk_count"], "bytes_received": 0}
    monkeypatch.setattr(chunked_receiving, "_transfer", lambda conn, batch_id, **_: stale)
    chunked_receiving._MANIFESTS.clear()
    body = next(b for u, b in sent if u.endswith("/chunks/1"))
    answer = chunked_receiving.receive_chunk(
        node(ombudsman), row["batch_id"], 1, body, requester="pemkot-bekasi"
    )
    assert answer == {"batch_id": row["batch_id"], "receipt": committed, "duplicate": True}


def test_a_process_prepares_one_chunk_at_a_time_and_stores_it_without_its_records(
    chunked, monkeypatch
):
    """Two chunks in flight to one process: the second is opened only after the first is
    ready to store (their records' objects are a worker's peak memory), and what is
    stored is the same as ever."""
    import threading

    from gateway.exchange import chunked_receiving

    apps, pemkot, ombudsman, _ = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 40, seed=8)).status_code == 202
    inside, most, entered = [0], [0], threading.Event()
    guard = threading.Lock()
    real_open = chunked_receiving.open_chunk

    def open_chunk(*args, **kwargs):
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            if inside[0] > 1:
                entered.set()
        # Time for the other chunk in flight to come in, if it could (bounded).
        entered.wait(timeout=0.3)
        try:
            return real_open(*args, **kwargs)
        finally:
            with guard:
                inside[0] -= 1

    real_store = chunked_receiving._store_chunk
    stored = []

    def store(node_, manifest, chunk, *rest):
        stored.append((chunk.records, chunk.forms))
        return real_store(node_, manifest, chunk, *rest)

    monkeypatch.setattr(chunked_receiving, "open_chunk", open_chunk)
    monkeypatch.setattr(chunked_receiving, "_store_chunk", store)
    report = sending.run(node(pemkot), post=bridge(apps))
    assert report.delivered == report.sealed
    row = outbound(pemkot)
    assert row["chunk_count"] > 3 and len(stored) == row["chunk_count"]
    assert most[0] == 1 and not entered.is_set()
    assert all(records == [] and forms == [] for records, forms in stored)
    batch, records = received_records(ombudsman, row["batch_id"])
    assert batch["record_count"] == 40 and len(records) == 40
    with node(ombudsman).store.read() as conn:
        counts = conn.execute(select(inbound_chunks.c.record_count)).scalars().all()
    assert sum(counts) == 40


def test_chunks_go_on_being_sent_while_the_note_of_their_answers_waits_to_be_written(
        chunked, monkeypatch):
    """Sealing the next batch holds the sender's write lock for seconds; the note of how
    many chunks the receiver holds waits for it, and sending must not wait with it."""
    import threading

    apps, pemkot, _, _ = chunked
    assert submit(pemkot, sample_records(TANGGAPAN, 40, seed=8)).status_code == 202
    monkeypatch.setattr(sending, "_NOTE_ACKS_SECONDS", 0.0)  # a note after every answer
    real = bridge(apps)
    posted: list[str] = []
    held, more_sent = threading.Event(), threading.Event()
    waited: list[bool] = []

    def hold_the_write_lock():
        with node(pemkot).store.write():
            held.set()
            # Released by the third chunk after the first, or (sending stuck) late.
            waited.append(more_sent.wait(timeout=10))

    holder = threading.Thread(target=hold_the_write_lock)

    def post(url, body, timeout, headers):
        answer = real(url, body, timeout, headers)
        posted.append(url.rsplit("/", 1)[-1])
        chunks = [p for p in posted if p != "manifest"]
        if len(chunks) == 1:  # the first chunk's answer will be noted under the lock
            holder.start()
            assert held.wait(timeout=10)
        elif len(chunks) == 4:
            more_sent.set()
        return answer

    report = sending.run(node(pemkot), post=post)
    holder.join(timeout=20)
    assert waited == [True]  # three chunks went while the note waited for the lock
    assert report.delivered == report.sealed
    row = outbound(pemkot)
    assert row["status"] == "delivered" and row["chunks_acked"] == row["chunk_count"] > 4
