"""The authorization matrix: every route of a node, every kind of caller, the exact status.

Every ``(rule, method)`` of the app's ``url_map`` has an entry in :data:`MATRIX`
(:func:`test_every_route_has_a_matrix_entry` fails, naming it, when a new route
has none). Each entry lists cases (a concrete request: path, body), and each case
the status every caller kind gets. Requests go to Pemkot Bekasi's in-process app,
which holds, built once for the module:

* inbound batches from the Ombudsman (pushed): a single ``permintaan_klarifikasi``
  batch, a chunked one, and a ``kegiatan_pengembangan`` one (which ``inspektorat``
  may not pull);
* sealed outbound ``tanggapan_klarifikasi`` batches (a pull flow here) in its
  outbox: a single one, whose receipt the Ombudsman's node has signed, and a
  chunked one;
* an audit log with a signed checkpoint;
* submissions of ``sistem-pengaduan`` (those of the outbound batches).

The caller kinds: no credentials, an unknown bearer token, the token of a managed
client (``gateway clients``) that has every right but has expired, and one that was
revoked, a token valid only at the other node, each configured client of the node
(two systems, the auditor, the operator), and a request signed (``GatewaySignature``)
by the peer party's registered key or by the node's own key (not a peer: never
accepted).

A cell whose current status is wrong carries ``xfail(strict=True)`` with the
status it should give (see ``FINDINGS``); it starts failing when fixed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from gateway.exchange import receiving, sending
from gateway.node import audit_log, credentials
from gateway.peers import signed_requests
from gateway.store.tables import outbound_batches
from schemas.samples import sample_records
from tests.conftest import PASSPHRASE, TOKENS, Deployment, NodeApp, build_apps

PEMKOT, OMBUDSMAN = "pemkot-bekasi", "ombudsman-ri"
PERMINTAAN = "permintaan_klarifikasi"  # the Ombudsman sends it to Pemkot
TANGGAPAN = "tanggapan_klarifikasi"  # Pemkot sends it to the Ombudsman (pull delivery here)
KEGIATAN = "kegiatan_pengembangan"  # both ways
UNKNOWN_DATASET = "dataset_tidak_ada"
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"
JOSE = "application/jose"
JSON = "application/json"

# --- callers ----------------------------------------------------------------------------------

CLIENTS = ("sistem-pengaduan", "inspektorat", "auditor", "operator")
NOT_A_CLIENT = ("anonymous", "bad-token", "expired-token", "revoked-token", "other-node-token",
                "peer-signed", "self-signed")
CALLERS = NOT_A_CLIENT + CLIENTS
assert set(CLIENTS) == set(TOKENS[PEMKOT]), "a client of the test node has no caller kind here"


def bearer(default: int, **per_client: int) -> dict[str, int]:
    """A route for the node's own systems: 401 without a valid bearer token."""
    unknown = set(per_client) - {c.replace("-", "_") for c in CLIENTS}
    assert not unknown, unknown
    expected = dict.fromkeys(NOT_A_CLIENT, 401)
    for name in CLIENTS:
        expected[name] = per_client.get(name.replace("-", "_"), default)
    return expected


def everyone(status: int) -> dict[str, int]:
    """A public route, or a check made before anyone is authenticated."""
    return dict.fromkeys(CALLERS, status)


def signed_by_peer(status: int) -> dict[str, int]:
    """Node to node: only a request signed by a peer party's registered key gets in."""
    expected = dict.fromkeys(CALLERS, 401)
    expected["peer-signed"] = status
    return expected


# --- the matrix -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    path: str  # with {placeholders} for the ids of the fixture's batches
    expected: dict[str, int]
    body: bytes | None = None
    content_type: str | None = None
    # caller -> (the status it should get, why): an xfail(strict=True) cell.
    wrong: dict[str, tuple[int, str]] = field(default_factory=dict)


def _submission(dataset: str) -> bytes:
    records = sample_records(dataset, 1, seed=7, version="1.0")
    return json.dumps({"schema_version": "1.0", "records": records}).encode()


TANGGAPAN_BODY = _submission(TANGGAPAN)
PERMINTAAN_BODY = _submission(PERMINTAAN)


AUDITOR_ONLY = bearer(403, auditor=200)
# The case ledger: the auditor, sistem-pengaduan (submits tanggapan_klarifikasi) and the
# inspektorat (pulls permintaan_klarifikasi); not the operator.
LEDGER_READERS = bearer(403, auditor=200, sistem_pengaduan=200, inspektorat=200)

MATRIX: dict[tuple[str, str], list[Case]] = {
    # --- public -------------------------------------------------------------------------------
    ("/healthz", "GET"): [Case("public", "/healthz", everyone(200))],
    ("/exchange/v1/jwks", "GET"): [Case("public", "/exchange/v1/jwks", everyone(200))],
    # The API contract: it holds no secret.
    ("/openapi.json", "GET"): [Case("public", "/openapi.json", everyone(200))],
    ("/docs/api", "GET"): [Case("public", "/docs/api", everyone(200))],
    # --- the auditor console: a session cookie, never a bearer token or a signature ------------
    # (tests/integration/test_console.py signs in; here nobody has a session).
    ("/console/", "GET"): [Case("no-session", "/console/", everyone(302))],
    ("/console/exchanges", "GET"): [Case("no-session", "/console/exchanges", everyone(302))],
    ("/console/log", "GET"): [Case("no-session", "/console/log", everyone(302))],
    ("/console/service-levels", "GET"): [
        Case("no-session", "/console/service-levels", everyone(302))],
    ("/console/service-levels/chart/<name>.svg", "GET"): [
        Case("no-session", "/console/service-levels/chart/share-on-time.svg", everyone(302))],
    ("/console/cases/<path:case_number>", "GET"): [
        Case("no-session", "/console/cases/0941/LM/IX/2026/JKT", everyone(302))],
    ("/console/batches/<batch_id>", "GET"): [
        Case("no-session", "/console/batches/{p_single}", everyone(302))],
    ("/console/batches/<batch_id>/bundle.json", "GET"): [
        Case("no-session", "/console/batches/{p_single}/bundle.json", everyone(302))],
    ("/console/login", "GET"): [Case("public", "/console/login", everyone(200))],
    ("/console/login", "POST"): [
        Case("no-csrf-token", "/console/login", everyone(400), b"token=x",
             "application/x-www-form-urlencoded")],
    ("/console/logout", "POST"): [Case("no-csrf-token", "/console/logout", everyone(400))],
    ("/console/static/<path:filename>", "GET"): [
        Case("public", "/console/static/console.css", everyone(200))],
    # --- operator -----------------------------------------------------------------------------
    ("/metrics", "GET"): [Case("operator-only", "/metrics", bearer(403, operator=200))],
    # What agreements are in force: for the auditor and the operator.
    ("/api/v1/agreements", "GET"): [
        Case("auditor-or-operator", "/api/v1/agreements", bearer(403, auditor=200, operator=200))],
    # Probes send no credentials and get the outcome of each check; credentials that are
    # sent must be the operator's, who gets the details too.
    ("/readyz", "GET"): [
        Case("public-or-operator", "/readyz", {**bearer(403, operator=200), "anonymous": 200})],
    # --- the node's own systems: submit -------------------------------------------------------
    ("/api/v1/datasets/<dataset>/records", "POST"): [
        Case("may-submit", f"/api/v1/datasets/{TANGGAPAN}/records",
             bearer(403, sistem_pengaduan=202), TANGGAPAN_BODY, JSON),
        # Pemkot never sends permintaan_klarifikasi: no client may submit it, whatever its list.
        Case("wrong-direction", f"/api/v1/datasets/{PERMINTAAN}/records",
             bearer(403), PERMINTAAN_BODY, JSON),
        Case("unknown-dataset", f"/api/v1/datasets/{UNKNOWN_DATASET}/records",
             bearer(404), TANGGAPAN_BODY, JSON),
        # The right to submit is checked before the body is read.
        Case("may-submit-empty-body", f"/api/v1/datasets/{TANGGAPAN}/records",
             bearer(403, sistem_pengaduan=415)),
        Case("may-submit-malformed-json", f"/api/v1/datasets/{TANGGAPAN}/records",
             bearer(403, sistem_pengaduan=400), b"{not json", JSON),
        Case("wrong-direction-empty-body", f"/api/v1/datasets/{PERMINTAAN}/records",
             bearer(403)),
    ],
    # --- the node's own systems: their submissions, and themselves -----------------------------
    # A submission of another client is 404, as an unknown one: ids cannot be probed.
    ("/api/v1/submissions/<submission_id>", "GET"): [
        Case("own-submission", "/api/v1/submissions/{submission}",
             bearer(404, sistem_pengaduan=200)),
        Case("unknown-submission", f"/api/v1/submissions/{UNKNOWN_ID}", bearer(404)),
        Case("malformed-id", "/api/v1/submissions/not-an-id", bearer(404)),
    ],
    ("/api/v1/client", "GET"): [Case("any-client", "/api/v1/client", bearer(200))],
    # --- the node's own systems: pull ---------------------------------------------------------
    ("/api/v1/datasets/<dataset>/batches", "GET"): [
        Case("may-pull-both", f"/api/v1/datasets/{PERMINTAAN}/batches",
             bearer(403, sistem_pengaduan=200, inspektorat=200)),
        Case("may-pull-one", f"/api/v1/datasets/{KEGIATAN}/batches",
             bearer(403, sistem_pengaduan=200)),
        # Pemkot sends tanggapan_klarifikasi: nobody here pulls it.
        Case("wrong-direction", f"/api/v1/datasets/{TANGGAPAN}/batches", bearer(403)),
        Case("unknown-dataset", f"/api/v1/datasets/{UNKNOWN_DATASET}/batches", bearer(404)),
    ],
    # A batch a client may not pull is 404, as an unknown one: ids cannot be probed.
    ("/api/v1/batches/<batch_id>", "GET"): [
        Case("pullable-by-both", "/api/v1/batches/{p_single}",
             bearer(404, sistem_pengaduan=200, inspektorat=200)),
        Case("pullable-by-one", "/api/v1/batches/{kegiatan}", bearer(404, sistem_pengaduan=200)),
        Case("outbound-batch", "/api/v1/batches/{t_single}", bearer(404)),
        Case("unknown-batch", f"/api/v1/batches/{UNKNOWN_ID}", bearer(404)),
    ],
    ("/api/v1/batches/<batch_id>/chunks/<int:index>", "GET"): [
        Case("pullable-by-both", "/api/v1/batches/{p_chunked}/chunks/0",
             bearer(404, sistem_pengaduan=200, inspektorat=200)),
        Case("no-such-chunk", "/api/v1/batches/{p_chunked}/chunks/999", bearer(404)),
        Case("single-batch", "/api/v1/batches/{p_single}/chunks/0", bearer(404)),
        Case("unknown-batch", f"/api/v1/batches/{UNKNOWN_ID}/chunks/0", bearer(404)),
    ],
    ("/api/v1/batches/<batch_id>/ack", "POST"): [
        Case("pullable-by-both", "/api/v1/batches/{p_single}/ack",
             bearer(404, sistem_pengaduan=200, inspektorat=200)),
        Case("pullable-by-one", "/api/v1/batches/{kegiatan}/ack",
             bearer(404, sistem_pengaduan=200)),
        Case("unknown-batch", f"/api/v1/batches/{UNKNOWN_ID}/ack", bearer(404)),
    ],
    # --- schemas: every client of the node ----------------------------------------------------
    ("/api/v1/schemas", "GET"): [Case("any-client", "/api/v1/schemas", bearer(200))],
    ("/api/v1/schemas/<dataset>/<version>", "GET"): [
        Case("known", f"/api/v1/schemas/{TANGGAPAN}/1.0", bearer(200)),
        Case("unknown-dataset", f"/api/v1/schemas/{UNKNOWN_DATASET}/1.0", bearer(404)),
        # 404 unknown_schema_version, like an unknown dataset.
        Case("unknown-version", f"/api/v1/schemas/{TANGGAPAN}/9.9", bearer(404)),
    ],
    # --- the audit log: the auditor role only -------------------------------------------------
    ("/api/v1/audit/checkpoint", "GET"): [
        Case("auditor-only", "/api/v1/audit/checkpoint", AUDITOR_ONLY)],
    ("/api/v1/audit/checkpoints", "GET"): [
        Case("auditor-only", "/api/v1/audit/checkpoints", AUDITOR_ONLY)],
    ("/api/v1/audit/entries", "GET"): [
        Case("auditor-only", "/api/v1/audit/entries", AUDITOR_ONLY),
        # The role is checked before the query: a bad argument is 403 to the others.
        Case("bad-query", "/api/v1/audit/entries?start=x", bearer(403, auditor=400)),
    ],
    ("/api/v1/audit/search", "GET"): [
        Case("auditor-only", f"/api/v1/audit/search?dataset={PERMINTAAN}", AUDITOR_ONLY)],
    ("/api/v1/audit/witnessed", "GET"): [
        Case("auditor-only", "/api/v1/audit/witnessed", AUDITOR_ONLY)],
    ("/api/v1/audit/proof/inclusion", "GET"): [
        Case("auditor-only", "/api/v1/audit/proof/inclusion?index=0", AUDITOR_ONLY)],
    ("/api/v1/audit/proof/consistency", "GET"): [
        Case("auditor-only", "/api/v1/audit/proof/consistency?old=1", AUDITOR_ONLY)],
    # --- the case ledger: auditors, and the systems that submit or pull a dataset of a case ----
    # The operator does neither. Who may read is checked before the query.
    ("/api/v1/cases", "GET"): [
        Case("ledger-readers", "/api/v1/cases", LEDGER_READERS),
        Case("bad-query", "/api/v1/cases?limit=x", bearer(403, **dict.fromkeys(
            ("auditor", "sistem_pengaduan", "inspektorat"), 400))),
    ],
    ("/api/v1/cases/<path:case_number>", "GET"): [
        Case("unknown-case", "/api/v1/cases/9999/LM/I/2026/JKT", bearer(403, **dict.fromkeys(
            ("auditor", "sistem_pengaduan", "inspektorat"), 404))),
    ],
    ("/api/v1/cases-digest", "GET"): [
        Case("ledger-readers", "/api/v1/cases-digest", LEDGER_READERS)],
    # --- node to node: deliveries, signed requests (and the envelope signed inside) --------
    # The signature's header is checked first, before a byte of the body is read; then the
    # body's size and digest, the media type and the body itself.
    ("/exchange/v1/batches", "POST"): [
        Case("no-body", "/exchange/v1/batches", signed_by_peer(415)),
        Case("garbage", "/exchange/v1/batches", signed_by_peer(400), b"not.a.jws", JOSE),
        Case("oversized-body", "/exchange/v1/batches", signed_by_peer(413),
             b"x" * (8 * 1024 * 1024 + 1), JOSE),
    ],
    ("/exchange/v1/batches/<batch_id>/manifest", "POST"): [
        Case("no-body", f"/exchange/v1/batches/{UNKNOWN_ID}/manifest", signed_by_peer(415)),
        Case("garbage", f"/exchange/v1/batches/{UNKNOWN_ID}/manifest", signed_by_peer(400),
             b"not.a.jws", JOSE),
    ],
    ("/exchange/v1/batches/<batch_id>/chunks/<int:index>", "POST"): [
        Case("no-body", f"/exchange/v1/batches/{UNKNOWN_ID}/chunks/0", signed_by_peer(415)),
        Case("garbage", f"/exchange/v1/batches/{UNKNOWN_ID}/chunks/0", signed_by_peer(400),
             b"not.a.jws", JOSE),
    ],
    ("/exchange/v1/witness/add-checkpoint", "POST"): [
        Case("no-body", "/exchange/v1/witness/add-checkpoint", signed_by_peer(400)),
        Case("garbage", "/exchange/v1/witness/add-checkpoint", signed_by_peer(400),
             b"old 0\n\nnot a checkpoint\n", "text/plain"),
        Case("oversized-body", "/exchange/v1/witness/add-checkpoint", signed_by_peer(413),
             b"x" * (64 * 1024 + 1), "text/plain"),
    ],
    # --- node to node: the outbox, signed requests --------------------------------------------
    ("/exchange/v1/audit/batches/<batch_id>", "GET"): [
        # A batch's evidence, for the batch's other party (its console); anything else is 404.
        Case("inbound-batch", "/exchange/v1/audit/batches/{p_single}", signed_by_peer(200)),
        Case("outbound-batch", "/exchange/v1/audit/batches/{t_single}", signed_by_peer(200)),
        Case("unknown-batch", f"/exchange/v1/audit/batches/{UNKNOWN_ID}", signed_by_peer(404)),
    ],
    ("/exchange/v1/outbox", "GET"): [
        Case("listing", "/exchange/v1/outbox", signed_by_peer(200)),
        Case("listing-dataset", f"/exchange/v1/outbox?dataset={TANGGAPAN}", signed_by_peer(200)),
        Case("bad-limit", "/exchange/v1/outbox?limit=0", signed_by_peer(400)),
    ],
    ("/exchange/v1/outbox/<batch_id>", "GET"): [
        Case("sealed", "/exchange/v1/outbox/{t_chunked}", signed_by_peer(200)),
        Case("inbound-batch", "/exchange/v1/outbox/{p_single}", signed_by_peer(404)),
        Case("unknown-batch", f"/exchange/v1/outbox/{UNKNOWN_ID}", signed_by_peer(404)),
    ],
    ("/exchange/v1/outbox/<batch_id>/chunks/<int:index>", "GET"): [
        Case("sealed", "/exchange/v1/outbox/{t_chunked}/chunks/0", signed_by_peer(200)),
        Case("no-such-chunk", "/exchange/v1/outbox/{t_chunked}/chunks/999", signed_by_peer(404)),
        Case("single-batch", "/exchange/v1/outbox/{t_single}/chunks/0", signed_by_peer(404)),
        Case("unknown-batch", f"/exchange/v1/outbox/{UNKNOWN_ID}/chunks/0", signed_by_peer(404)),
    ],
    ("/exchange/v1/outbox/<batch_id>/receipt", "POST"): [
        # Idempotent: the same receipt again is answered 200 too.
        Case("valid-receipt", "/exchange/v1/outbox/{t_single}/receipt", signed_by_peer(200),
             b"{receipt_body}", JSON),
        Case("bad-receipt", "/exchange/v1/outbox/{t_chunked}/receipt", signed_by_peer(400),
             b'{"receipt": "not.a.jws"}', JSON),
        Case("unknown-batch", f"/exchange/v1/outbox/{UNKNOWN_ID}/receipt", signed_by_peer(404),
             b'{"receipt": "not.a.jws"}', JSON),
        Case("no-body", "/exchange/v1/outbox/{t_chunked}/receipt", signed_by_peer(415)),
        # The signature's header is checked before the body is read: one over 64 KiB is
        # refused unread, 401 to anyone but the peer, and 413 to the peer.
        Case("oversized-body", "/exchange/v1/outbox/{t_chunked}/receipt", signed_by_peer(413),
             b"x" * (64 * 1024 + 1), JSON),
    ],
    ("/exchange/v1/outbox/<batch_id>/refusal", "POST"): [
        # A refusal that is taken dead-letters the batch, which the other cases need sealed:
        # the 200 is in test_pull. A refusal says no reason; a body with one is refused.
        Case("with-a-reason", "/exchange/v1/outbox/{t_chunked}/refusal", signed_by_peer(400),
             b'{"reason": "schema"}', JSON),
        Case("inbound-batch", "/exchange/v1/outbox/{p_single}/refusal", signed_by_peer(404),
             b"{}", JSON),
        Case("unknown-batch", f"/exchange/v1/outbox/{UNKNOWN_ID}/refusal", signed_by_peer(404),
             b"{}", JSON),
        Case("no-body", "/exchange/v1/outbox/{t_chunked}/refusal", signed_by_peer(415)),
        Case("oversized-body", "/exchange/v1/outbox/{t_chunked}/refusal", signed_by_peer(413),
             b"x" * (64 * 1024 + 1), JSON),
    ],
}

FINDINGS = sorted({reason for cases in MATRIX.values() for c in cases for _, reason in
                   c.wrong.values()})


def _cells() -> Iterator[Any]:
    for (rule, method), cases in MATRIX.items():
        for case in cases:
            assert set(case.expected) == set(CALLERS), (rule, case.name)
            for caller in CALLERS:
                status = case.expected[caller]
                marks = []
                if caller in case.wrong:
                    status, reason = case.wrong[caller]
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                yield pytest.param(method, case, caller, status, marks=marks,
                                   id=f"{method} {rule} [{case.name}] {caller}")


# --- the node under test ----------------------------------------------------------------------


@dataclass
class World:
    pemkot: NodeApp
    ombudsman: NodeApp
    ids: dict[str, str]


def _node(app: NodeApp) -> Any:
    return app.app.extensions["gateway.node"]


def _submit(app: NodeApp, client_id: str, dataset: str, count: int, seed: int) -> str:
    answer = app.client.post(
        f"/api/v1/datasets/{dataset}/records",
        json={"schema_version": "1.0",
              "records": sample_records(dataset, count, seed=seed, version="1.0")},
        headers=app.auth(client_id))
    assert answer.status_code == 202, answer.get_json()
    return str(answer.get_json()["submission_id"])


def _push(apps: dict[str, NodeApp]) -> Any:
    """A Poster that hands envelopes to the in-process peer app."""
    by_base = {_node(a).config.party.base_url: a for a in apps.values()}

    def post(url: str, body: bytes, timeout: float, headers: Any) -> tuple[int, Any]:
        base, _, path = url.partition("/exchange")
        answer = by_base[base].client.post(
            "/exchange" + path, data=body, content_type=JOSE, headers=headers
        )
        return answer.status_code, answer.get_json()

    return post


def _no_push(url: str, body: bytes, timeout: float, headers: Any) -> tuple[int, Any]:
    raise AssertionError(f"a pull flow was pushed to {url}")


def _one_new(report: Any, kind: str) -> str:
    batches = getattr(report, kind)
    assert len(batches) == 1 and not report.failed, report
    return str(batches[0])


@pytest.fixture(scope="module")
def world(deployment_factory: Callable[..., Deployment]) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GATEWAY_KEY_PASSPHRASE", PASSPHRASE)
        # Hundreds of refused tokens from one address: the matrix is about who may do what,
        # not about throttling (test_refusals.py).
        deployment = deployment_factory(delivery="pull", max_chunk_bytes=4096,
                                        node_settings='failed_auth_rate_limit = "100000/minute"\n')
        apps = build_apps(deployment)
        try:
            yield _populate(apps)
        finally:
            for app in apps.values():
                _node(app).store.dispose()


def _populate(apps: dict[str, NodeApp]) -> World:
    pemkot, ombudsman = apps[PEMKOT], apps[OMBUDSMAN]
    ids: dict[str, str] = {}
    push = _push(apps)
    # Inbound at Pemkot, pushed by the Ombudsman: one batch per run of the transfer.
    for name, dataset, count in (("p_single", PERMINTAAN, 2), ("p_chunked", PERMINTAAN, 40),
                                 ("kegiatan", KEGIATAN, 2)):
        _submit(ombudsman, "simpel", dataset, count, seed=len(ids) + 1)
        ids[name] = _one_new(sending.run(_node(ombudsman), post=push), "delivered")
    # Outbound at Pemkot, sealed for the Ombudsman to pull.
    for name, count in (("t_single", 2), ("t_chunked", 40)):
        ids["submission"] = _submit(pemkot, "sistem-pengaduan", TANGGAPAN, count,
                                    seed=len(ids) + 1)
        ids[name] = _one_new(sending.run(_node(pemkot), post=_no_push), "sealed")
    with _node(pemkot).store.read() as conn:
        rows = dict(conn.execute(
            select(outbound_batches.c.batch_id, outbound_batches.c.chunk_count)).all())
        envelope = conn.execute(select(outbound_batches.c.envelope).where(
            outbound_batches.c.batch_id == ids["t_single"])).scalar_one()
    assert rows[ids["t_single"]] == 1 and rows[ids["t_chunked"]] > 1, rows
    # The Ombudsman's node opens the single batch and signs its receipt, as a pull would.
    delivery = receiving.receive(_node(ombudsman), str(envelope).encode())
    ids["receipt_body"] = json.dumps({"receipt": delivery.receipt})
    audit_log.checkpoint(_node(pemkot))
    # Managed clients with every right, one expired and one revoked: their tokens open nothing.
    rights = {"submit": [TANGGAPAN, KEGIATAN], "pull": [PERMINTAAN, KEGIATAN],
              "roles": ["auditor", "operator"]}
    node = _node(pemkot)
    real_clock = node.clock
    node.clock = lambda: real_clock() - dt.timedelta(days=2)
    ids["expired-token"] = credentials.add(node, "lapor-lama", expires_in_days=1, operator="budi",
                                       **rights)
    node.clock = real_clock
    ids["revoked-token"] = credentials.add(node, "lapor-dicabut", operator="budi", **rights)
    credentials.revoke(node, "lapor-dicabut", operator="budi")
    return World(pemkot=pemkot, ombudsman=ombudsman, ids=ids)


def _headers(world: World, caller: str, method: str, target: str, body: bytes) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "bad-token":
        return {"Authorization": "Bearer not-a-token-of-this-node"}
    if caller in ("expired-token", "revoked-token"):
        return {"Authorization": f"Bearer {world.ids[caller]}"}
    if caller == "other-node-token":
        return {"Authorization": f"Bearer {TOKENS[OMBUDSMAN]['simpel']}"}
    if caller in ("peer-signed", "self-signed"):
        party = OMBUDSMAN if caller == "peer-signed" else PEMKOT
        key = _node(world.ombudsman if party == OMBUDSMAN else world.pemkot).keys.signing
        return {"Authorization": signed_requests.authorization(
            signing_key=key, issuer=party, audience=PEMKOT, method=method, target=target,
            body=body, now=dt.datetime.now(dt.UTC), jti=str(uuid.uuid4()))}
    return world.pemkot.auth(caller)


# --- the tests --------------------------------------------------------------------------------


def _route_keys(app: Any) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def test_every_route_has_a_matrix_entry(world: World) -> None:
    routes = _route_keys(world.pemkot.app)
    assert routes == _route_keys(world.ombudsman.app), "the two nodes serve different routes"
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"routes without an authorization matrix entry: {missing}"
    assert not stale, f"matrix entries for routes that do not exist: {stale}"
    assert all(MATRIX.values()), "a matrix entry without a case"


@pytest.mark.parametrize(("method", "case", "caller", "status"), list(_cells()))
def test_authorization_matrix(world: World, method: str, case: Case, caller: str,
                              status: int) -> None:
    target = case.path.format(**world.ids)
    body = case.body or b""
    if body.startswith(b"{") and body[1:-1].decode() in world.ids:  # a placeholder
        body = world.ids[body[1:-1].decode()].encode()
    headers = _headers(world, caller, method, target, body)
    if case.content_type:
        headers["Content-Type"] = case.content_type
    answer = world.pemkot.client.open(target, method=method, data=body, headers=headers)
    answer.close()  # a file response (the console's style sheet) holds the file open
    assert answer.status_code != 500, answer.get_data(as_text=True)
    assert answer.status_code == status, (
        f"{caller} {method} {target}: {answer.status_code} {answer.get_data(as_text=True)[:300]}")
    if status == 401:
        assert answer.headers.get("WWW-Authenticate"), "a 401 without WWW-Authenticate"
