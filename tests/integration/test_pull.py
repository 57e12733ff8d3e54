"""Peer-pull mode: the receiver fetches sealed batches from the sender's outbox, in process.

The tanggapan_klarifikasi flow (Pemkot Bekasi to the Ombudsman) is agreed with
``delivery = "pull"``: Pemkot's node only seals, and the Ombudsman's node pulls,
with requests signed by its registered key.
"""

import base64
import datetime as dt
import json
import uuid

import pytest
import requests
from sqlalchemy import select, update

from gateway.crypto import canonical
from gateway.crypto.keys import NodeKeys, init_keys
from gateway.exchange import pull, sending
from gateway.exchange.schedule import build_scheduler
from gateway.peers import signed_requests
from gateway.store.tables import inbound_batches, outbound_batches, request_nonces
from schemas.samples import sample_records
from tests.conftest import PASSPHRASE
from tests.integration.test_api import TANGGAPAN, bridge, counted, events, node, submit
from tests.integration.test_chunked import digests, received_records

OUTBOX = "/exchange/v1/outbox"
DEPOK = "kota-depok"


def pull_bridge(apps, log=None):
    """A pull client's transport that hands each request to the in-process peer app."""
    by_base = {node(a).config.party.base_url: a for a in apps.values()}

    def request(method, url, headers, body, timeout):
        base, _, path = url.partition("/exchange")
        if log is not None:
            log.append((method, "/exchange" + path))
        answer = by_base[base].client.open(
            "/exchange" + path, method=method, data=body, headers=dict(headers)
        )
        return answer.status_code, answer.get_data()

    return request


def no_push(url, body, timeout, headers):
    raise AssertionError(f"a pull flow was pushed to {url}")


@pytest.fixture
def pulled(deployment_factory, make_apps):
    apps = make_apps(deployment_factory(delivery="pull"))
    return apps, apps["pemkot-bekasi"], apps["ombudsman-ri"]


@pytest.fixture
def pulled_chunked(deployment_factory, make_apps):
    apps = make_apps(deployment_factory(delivery="pull", max_chunk_bytes=4096))
    return apps, apps["pemkot-bekasi"], apps["ombudsman-ri"]


def seal(pemkot, records):
    """Submit records to Pemkot and run its transfer: a pull flow is sealed, never posted."""
    assert submit(pemkot, records).status_code == 202
    report = sending.run(node(pemkot), post=no_push)
    assert len(report.sealed) == 1 and not report.delivered and not report.failed
    return report.sealed[0]


def outbound(app, batch_id):
    with node(app).store.read() as conn:
        return conn.execute(
            select(outbound_batches).where(outbound_batches.c.batch_id == batch_id)
        ).mappings().one()


def signing_key(deployment_root, party):
    return NodeKeys.from_directory(deployment_root / "keys" / party,
                                   environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}).signing


def ask(app, method, target, *, key, issuer="ombudsman-ri", audience="pemkot-bekasi",
        body=b"", now=None, signed_method=None, signed_target=None, signed_body=None,
        jti=None, content_type=None):
    """A request to ``app`` signed with ``key``; the signed_* arguments sign something else."""
    header = signed_requests.authorization(
        signing_key=key, issuer=issuer, audience=audience,
        method=signed_method or method, target=signed_target or target,
        body=body if signed_body is None else signed_body,
        now=now or dt.datetime.now(dt.UTC), jti=jti)
    headers = {"Authorization": header}
    if content_type:
        headers["Content-Type"] = content_type
    return app.client.open(target, method=method, data=body, headers=headers)


def ombudsman_key(app):
    return node(app).keys.signing


def rejected(app):
    """The refused signed requests, counted (gateway.node.refusals): {(kind, peer): count}.

    None is audited on its own: until every check passed the caller is not authenticated.
    """
    assert not [e for e in events(app) if e["event"] == "request_rejected"]
    return counted(app)


# --- end to end -------------------------------------------------------------------------


def test_a_pull_flow_delivers_a_whole_batch(pulled):
    apps, pemkot, ombudsman = pulled
    records = sample_records(TANGGAPAN, 5, seed=21)
    batch_id = seal(pemkot, records)
    row = outbound(pemkot, batch_id)
    assert (row["status"], row["attempts"], row["chunk_count"]) == ("sealed", 0, 1)

    log = []
    report = pull.run(node(ombudsman), request=pull_bridge(apps, log))
    assert report.received == report.delivered == [batch_id]
    assert not report.failed and not report.errors
    assert [m for m, _ in log] == ["GET", "GET", "POST"]
    assert log[0][1] == f"{OUTBOX}?dataset={TANGGAPAN}&limit=100"

    row = outbound(pemkot, batch_id)
    assert row["status"] == "delivered" and row["receipt"]
    with node(ombudsman).store.read() as conn:
        stored = conn.execute(select(inbound_batches)).mappings().one()
    assert stored["receipt"] == row["receipt"]  # the receipt the receiver signed, verified
    answer = ombudsman.client.get(f"/api/v1/batches/{batch_id}", headers=ombudsman.auth())
    assert digests(answer.get_json()["records"]) == digests(records)
    assert [e["event"] for e in events(pemkot)] == [
        "submission_accepted", "batch_sealed", "batch_sent", "receipt_verified"]
    [received] = [e for e in events(ombudsman) if e["event"] == "batch_received"]
    [sealed] = [e for e in events(pemkot) if e["event"] == "batch_sealed"]
    assert received["envelope_sha256"] == sealed["envelope_sha256"]  # the very bytes sealed

    # Nothing left: the next run asks, finds nothing, and does nothing.
    assert pull.run(node(ombudsman), request=pull_bridge(apps)).received == []


def test_a_pull_flow_delivers_a_chunked_batch(pulled_chunked):
    apps, pemkot, ombudsman = pulled_chunked
    records = sample_records(TANGGAPAN, 40, seed=22)
    batch_id = seal(pemkot, records)
    total = outbound(pemkot, batch_id)["chunk_count"]
    assert total > 3

    log = []
    report = pull.run(node(ombudsman), request=pull_bridge(apps, log))
    assert report.delivered == [batch_id]
    assert [p for _, p in log[2:-1]] == [f"{OUTBOX}/{batch_id}/chunks/{i}" for i in range(total)]
    row = outbound(pemkot, batch_id)
    assert (row["status"], row["chunks_acked"]) == ("delivered", total)
    batch, got = received_records(ombudsman, batch_id)
    assert batch["records_root"] == row["records_root"] and digests(got) == digests(records)
    kinds = [e["event"] for e in events(ombudsman)]
    assert kinds.count("batch_chunk_received") == total and "batch_received" in kinds


def test_an_interrupted_chunked_pull_resumes_where_it_stopped(pulled_chunked):
    apps, pemkot, ombudsman = pulled_chunked
    records = sample_records(TANGGAPAN, 40, seed=23)
    batch_id = seal(pemkot, records)
    real = pull_bridge(apps)

    def cut_at_chunk_three(method, url, headers, body, timeout):
        if url.endswith("/chunks/3"):
            raise requests.ConnectionError("the network dropped")
        return real(method, url, headers, body, timeout)

    report = pull.run(node(ombudsman), request=cut_at_chunk_three)
    assert report.unreachable == ["pemkot-bekasi"] and report.delivered == []
    assert outbound(pemkot, batch_id)["status"] == "sealed"
    log = []
    report = pull.run(node(ombudsman), request=pull_bridge(apps, log))
    assert report.delivered == [batch_id]
    chunks = [p.rsplit("/", 1)[-1] for _, p in log if "/chunks/" in p]
    assert chunks[0] == "3"  # the manifest's answer said three were here
    _, got = received_records(ombudsman, batch_id)
    assert digests(got) == digests(records)


def test_an_unreachable_sender_ends_the_run_and_the_next_run_delivers(pulled):
    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=24))

    def down(method, url, headers, body, timeout):
        raise requests.ConnectTimeout("no route")

    report = pull.run(node(ombudsman), request=down)
    assert report.errors == [TANGGAPAN] and report.unreachable == ["pemkot-bekasi"]
    assert outbound(pemkot, batch_id)["status"] == "sealed"
    assert pull.run(node(ombudsman), request=pull_bridge(apps)).delivered == [batch_id]


def test_a_refused_envelope_is_audited_by_the_receiver_and_stays_sealed(pulled):
    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=25))
    real = pull_bridge(apps)

    def damaging(method, url, headers, body, timeout):
        status, answer = real(method, url, headers, body, timeout)
        if url.endswith(batch_id):
            answer = answer[:-40] + bytes([answer[-40] ^ 1]) + answer[-39:]
        return status, answer

    report = pull.run(node(ombudsman), request=damaging)
    assert report.failed == [batch_id] and report.delivered == []
    [refused] = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert refused["reason"] == "decrypt"
    assert outbound(pemkot, batch_id)["status"] == "sealed"
    assert pull.run(node(ombudsman), request=real).delivered == [batch_id]


def test_pull_jobs_are_scheduled_on_the_receiver_and_transfers_still_seal(pulled):
    _, pemkot, ombudsman = pulled
    receiving = {j.id: j for j in build_scheduler(node(ombudsman)).get_jobs()}
    job = receiving[f"pull:{TANGGAPAN}:pemkot-bekasi"]
    assert job.func_ref == "gateway.exchange.schedule:pull_job"
    assert job.args[1:] == (TANGGAPAN, "pemkot-bekasi")
    assert job.trigger.interval == dt.timedelta(hours=1)  # the flow's schedule
    sending = {j.id for j in build_scheduler(node(pemkot)).get_jobs()}
    assert f"transfer:{TANGGAPAN}" in sending and not any(j.startswith("pull:") for j in sending)


def test_the_scheduled_pull_job_runs_under_its_leader_lock(pulled, monkeypatch):
    from gateway.exchange import schedule

    _, _, ombudsman = pulled
    calls = []
    monkeypatch.setattr(pull, "run", lambda n, **kw: calls.append(kw) or pull.PullReport())
    key = "ombudsman-ri@test"
    schedule._register(key, node(ombudsman))
    try:
        schedule.pull_job(key, TANGGAPAN, "pemkot-bekasi")
        assert calls == [{"dataset": TANGGAPAN, "sender": "pemkot-bekasi"}]
        with node(ombudsman).store.try_lock(f"pull:{TANGGAPAN}:pemkot-bekasi") as held:
            assert held
            schedule.pull_job(key, TANGGAPAN, "pemkot-bekasi")  # another replica pulls
        schedule.pull_job(key, "kegiatan_pengembangan", "pemkot-bekasi")  # a push flow
        assert len(calls) == 1
    finally:
        schedule._unregister(key, node(ombudsman))


# --- the signed requests ------------------------------------------------------------------


def test_an_unsigned_request_is_401_and_counted(pulled):
    _, pemkot, _ = pulled
    answer = pemkot.client.get(f"{OUTBOX}?dataset={TANGGAPAN}")
    assert answer.status_code == 401
    assert answer.get_json() == {
        "error": {"code": "unauthorized", "message": "request signature rejected"}}
    assert answer.headers["WWW-Authenticate"].startswith("GatewaySignature")
    answer = pemkot.client.get(OUTBOX, headers={"Authorization": "Bearer token-pemkot-pengaduan"})
    assert answer.status_code == 401
    assert rejected(pemkot) == {("request_missing", None): 1, ("request_scheme", None): 1}


def test_a_signature_by_another_key_is_401(pulled, deployment_factory):
    _, pemkot, ombudsman = pulled
    stranger = NodeKeys.from_directory(_stranger_keys(deployment_factory),
                                       environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}).signing
    # Pemkot's own key is not one of its peers'; a stranger's key is registered nowhere.
    for key in (node(pemkot).keys.signing, stranger):
        assert ask(pemkot, "GET", OUTBOX, key=key).status_code == 401
    # The Ombudsman's kid, with a signature by another key.
    token = signed_requests.sign(
        signing_key=stranger, issuer="ombudsman-ri", audience="pemkot-bekasi", method="GET",
        target=OUTBOX, body=b"", now=dt.datetime.now(dt.UTC))
    _, payload, signature = token.split(".")
    forged_header = _b64(json.dumps({"alg": "Ed25519", "kid": ombudsman_key(ombudsman)
                                     .thumbprint(), "typ": "gw-request+jws"}).encode())
    answer = pemkot.client.get(OUTBOX, headers={
        "Authorization": f"GatewaySignature {forged_header}.{payload}.{signature}"})
    assert answer.status_code == 401
    assert rejected(pemkot) == {("request_unknown_key", None): 2, ("request_signature", None): 1}


def test_a_party_signing_as_another_party_is_401(pulled):
    _, pemkot, ombudsman = pulled
    answer = ask(pemkot, "GET", OUTBOX, key=ombudsman_key(ombudsman), issuer="kota-depok")
    assert answer.status_code == 401
    assert rejected(pemkot) == {("request_wrong_issuer", "ombudsman-ri"): 1}


def test_a_replayed_request_is_401_also_on_another_replica(pulled):
    _, pemkot, ombudsman = pulled
    target = f"{OUTBOX}?dataset={TANGGAPAN}"
    header = signed_requests.authorization(
        signing_key=ombudsman_key(ombudsman), issuer="ombudsman-ri", audience="pemkot-bekasi",
        method="GET", target=target, body=b"", now=dt.datetime.now(dt.UTC))
    assert pemkot.client.get(target, headers={"Authorization": header}).status_code == 200
    assert pemkot.client.get(target, headers={"Authorization": header}).status_code == 401
    # A second replica of the Pemkot node, on the same database, knows the request too.
    from gateway.http.app import create_app

    replica = create_app(node(pemkot).config)
    try:
        answer = replica.test_client().get(target, headers={"Authorization": header})
        assert answer.status_code == 401
    finally:
        replica.extensions["gateway.node"].store.dispose()
    assert rejected(pemkot) == {("request_replay", "ombudsman-ri"): 2}


def test_request_ids_are_forgotten_once_their_window_has_closed(pulled):
    _, pemkot, ombudsman = pulled
    sender = node(pemkot)
    moment = [dt.datetime.now(dt.UTC)]
    sender.clock = lambda: moment[0]
    key = ombudsman_key(ombudsman)
    assert ask(pemkot, "GET", OUTBOX, key=key, now=moment[0]).status_code == 200
    moment[0] += dt.timedelta(seconds=signed_requests.MAX_SKEW_SECONDS + 5)
    signed_requests._pruned.clear()  # let the next request prune at once
    assert ask(pemkot, "GET", OUTBOX, key=key, now=moment[0]).status_code == 200
    with sender.store.read() as conn:
        assert len(conn.execute(select(request_nonces)).all()) == 1


@pytest.mark.parametrize("seconds", [-301, 301])
def test_a_stale_or_future_request_is_401(pulled, seconds):
    _, pemkot, ombudsman = pulled
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    assert ask(pemkot, "GET", OUTBOX, key=ombudsman_key(ombudsman), now=now).status_code == 401
    assert rejected(pemkot) == {("request_stale", "ombudsman-ri"): 1}


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"signed_target": f"{OUTBOX}?dataset=lahp"}, "wrong_target"),
    ({"signed_target": f"{OUTBOX}/{uuid.uuid4()}"}, "wrong_target"),
    ({"signed_method": "POST"}, "wrong_method"),
    ({"audience": "ombudsman-ri"}, "wrong_audience"),
    ({"signed_body": b'{"receipt": "x"}'}, "body_mismatch"),
])
def test_a_request_signed_for_something_else_is_401(pulled, kwargs, reason):
    _, pemkot, ombudsman = pulled
    target = f"{OUTBOX}?dataset={TANGGAPAN}"
    answer = ask(pemkot, "GET", target, key=ombudsman_key(ombudsman), **kwargs)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["message"] == "request signature rejected"
    assert rejected(pemkot) == {(f"request_{reason}", "ombudsman-ri"): 1}


# --- the outbox ---------------------------------------------------------------------------


def test_the_outbox_lists_only_sealed_batches_of_pull_flows_oldest_first(pulled):
    _, pemkot, ombudsman = pulled
    key = ombudsman_key(ombudsman)
    first = seal(pemkot, sample_records(TANGGAPAN, 2, seed=31))
    second = seal(pemkot, sample_records(TANGGAPAN, 3, seed=32))
    # A push flow's batch, to the same party: never in the outbox.
    assert submit(pemkot, sample_records("kegiatan_pengembangan", 1, seed=33, version="1.0"),
                  dataset="kegiatan_pengembangan").status_code == 202
    sending.seal_pending(node(pemkot), node(pemkot).config.agreement.flow(
        "kegiatan_pengembangan", sender="pemkot-bekasi"))
    listing = ask(pemkot, "GET", f"{OUTBOX}?dataset={TANGGAPAN}&limit=10", key=key).get_json()
    assert listing == {"batches": [
        {"batch_id": first, "dataset": TANGGAPAN, "sequence": 1, "chunk_count": 1,
         "record_count": 2},
        {"batch_id": second, "dataset": TANGGAPAN, "sequence": 2, "chunk_count": 1,
         "record_count": 3},
    ]}
    assert ask(pemkot, "GET", OUTBOX, key=key).get_json() == listing  # every pull flow
    limited = ask(pemkot, "GET", f"{OUTBOX}?limit=1", key=key).get_json()
    assert [b["batch_id"] for b in limited["batches"]] == [first]
    for other in ("kegiatan_pengembangan", "lahp", "nope"):
        assert ask(pemkot, "GET", f"{OUTBOX}?dataset={other}", key=key).get_json() == {
            "batches": []}
    answer = ask(pemkot, "GET", f"{OUTBOX}?limit=0", key=key)
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "bad_request")
    # Cancelled and dead batches are no longer there, nor to be fetched.
    with node(pemkot).store.write() as conn:
        conn.execute(update(outbound_batches).where(outbound_batches.c.batch_id == first)
                     .values(status="cancelled"))
        conn.execute(update(outbound_batches).where(outbound_batches.c.batch_id == second)
                     .values(status="dead"))
    assert ask(pemkot, "GET", OUTBOX, key=key).get_json() == {"batches": []}
    for batch_id in (first, second):
        assert ask(pemkot, "GET", f"{OUTBOX}/{batch_id}", key=key).status_code == 404


def test_an_envelope_is_served_as_sealed(pulled):
    _, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=34))
    answer = ask(pemkot, "GET", f"{OUTBOX}/{batch_id}", key=ombudsman_key(ombudsman))
    assert answer.status_code == 200 and answer.mimetype == "application/jose"
    assert answer.get_data(as_text=True) == outbound(pemkot, batch_id)["envelope"]
    assert answer.headers["Cache-Control"] == "no-store"
    for path in (f"{OUTBOX}/{batch_id}/chunks/0", f"{OUTBOX}/{uuid.uuid4()}"):
        assert ask(pemkot, "GET", path, key=ombudsman_key(ombudsman)).status_code == 404


def test_a_chunk_out_of_range_is_404(pulled_chunked):
    _, pemkot, ombudsman = pulled_chunked
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 20, seed=35))
    total = outbound(pemkot, batch_id)["chunk_count"]
    key = ombudsman_key(ombudsman)
    assert ask(pemkot, "GET", f"{OUTBOX}/{batch_id}/chunks/0", key=key).status_code == 200
    assert ask(pemkot, "GET", f"{OUTBOX}/{batch_id}/chunks/{total}", key=key).status_code == 404


def test_a_bad_receipt_is_400_and_the_batch_stays_sealed(pulled):
    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=36))
    key = ombudsman_key(ombudsman)
    path = f"{OUTBOX}/{batch_id}/receipt"

    def hand_back(receipt):
        body = canonical.dumps({"receipt": receipt})
        return ask(pemkot, "POST", path, key=key, body=body, content_type="application/json")

    # A receipt signed by the receiver, but for another batch's digest.
    document = {"v": 1, "batch_id": batch_id, "receiver": "ombudsman-ri", "sender":
                "pemkot-bekasi", "dataset": TANGGAPAN, "record_count": 2,
                "records_sha256": "0" * 64, "received_at": "2026-11-30T00:00:00.000000Z"}
    from joserfc import jws

    forged = jws.serialize_compact(
        {"alg": "Ed25519", "kid": key.thumbprint(), "typ": "gw-receipt+jws"},
        canonical.dumps(document), key, registry=jws.JWSRegistry(algorithms=["Ed25519"]))
    for receipt in (forged, "not-a-jws"):
        answer = hand_back(receipt)
        assert answer.status_code == 400
        assert answer.get_json()["error"]["code"] == "receipt_rejected"
    assert outbound(pemkot, batch_id)["status"] == "sealed"
    assert [(e["event"], e["reason"], e["peer"]) for e in events(pemkot)
            if e["event"] == "receipt_rejected"] == [
        ("receipt_rejected", "bad_receipt", "ombudsman-ri")] * 2
    answer = ask(pemkot, "POST", path, key=key, body=b'{"x": 1}', content_type="application/json")
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (400, "bad_request")

    # The real receipt, then the same again: delivered once, audited once.
    report = pull.run(node(ombudsman), request=pull_bridge(apps))
    assert report.delivered == [batch_id]
    count = len(events(pemkot))
    answer = hand_back(outbound(pemkot, batch_id)["receipt"])
    assert answer.status_code == 200
    assert answer.get_json() == {"batch_id": batch_id, "status": "delivered"}
    assert len(events(pemkot)) == count
    assert hand_back(forged).status_code == 400  # another receipt must still verify


def test_a_party_cannot_see_or_take_another_partys_batches(deployment_factory, make_apps):
    deployment = deployment_factory(delivery="pull")
    _add_depok(deployment)
    apps = make_apps(deployment)
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    theirs = seal(pemkot, sample_records(TANGGAPAN, 2, seed=41))
    assert submit(pemkot, sample_records("lahp", 1, seed=42, version="1.0"),
                  dataset="lahp").status_code == 202
    [depoks] = sending.seal_pending(node(pemkot),
                                     node(pemkot).config.agreement.flow("lahp",
                                                                        sender="pemkot-bekasi"))
    depok = signing_key(deployment.root, DEPOK)

    listing = ask(pemkot, "GET", OUTBOX, key=depok, issuer=DEPOK).get_json()
    assert [b["batch_id"] for b in listing["batches"]] == [depoks]
    receipt = canonical.dumps({"receipt": "x.y.z"})
    for method, path, body in (("GET", f"{OUTBOX}/{theirs}", b""),
                               ("GET", f"{OUTBOX}/{theirs}/chunks/0", b""),
                               ("POST", f"{OUTBOX}/{theirs}/receipt", receipt)):
        answer = ask(pemkot, method, path, key=depok, issuer=DEPOK, body=body,
                     content_type="application/json" if body else None)
        assert answer.status_code == 404, path
    # And the other way round: the Ombudsman sees nothing of Depok's.
    key = ombudsman_key(ombudsman)
    assert ask(pemkot, "GET", f"{OUTBOX}/{depoks}", key=key).status_code == 404
    assert [b["batch_id"] for b in ask(pemkot, "GET", OUTBOX, key=key).get_json()["batches"]
            ] == [theirs]
    assert outbound(pemkot, theirs)["status"] == "sealed"


def test_push_mode_flows_are_pushed_as_before(apps):
    pemkot = apps["pemkot-bekasi"]
    assert submit(pemkot, sample_records(TANGGAPAN, 1, seed=43)).status_code == 202
    report = sending.run(node(pemkot), post=bridge(apps))
    assert report.delivered == report.sealed
    with pytest.raises(Exception, match="pulls no dataset"):
        pull.run(node(apps["ombudsman-ri"]), dataset=TANGGAPAN)
    key = node(apps["ombudsman-ri"]).keys.signing
    assert ask(pemkot, "GET", OUTBOX, key=key).get_json() == {"batches": []}


# --- helpers ------------------------------------------------------------------------------


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _stranger_keys(deployment_factory):
    other = deployment_factory()
    return other.root / "keys" / "ombudsman-ri"


def _add_depok(deployment):
    """A third party, Kota Depok, which Pemkot sends lahp to in pull mode."""
    init_keys(deployment.root / "keys" / DEPOK, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE},
              note_names=("depok.test/audit", "depok.test/witness"))
    agreement = deployment.root / "agreement.toml"
    agreement.write_text(agreement.read_text() + f"""
[[parties]]
id = "{DEPOK}"
name = "Pemerintah Kota Depok"
base_url = "http://127.0.0.1:9"
jwks_file = "keys/{DEPOK}/jwks.json"
log_origin = "depok.test/audit"
witness_name = "depok.test/witness"
note_keys_file = "keys/{DEPOK}/note-keys.txt"

[[datasets]]
name = "lahp"
sender = "pemkot-bekasi"
receiver = "{DEPOK}"
schema_versions = ["1.0"]
purpose = 1
schedule = {{ interval_seconds = 3600 }}
max_batch_bytes = 262144
delivery = "pull"
retention_days = 90
personal_data = {{ fields = ["/ringkasan", "/tindakan_korektif/*/pihak", \
"/tindakan_korektif/*/tindakan"], purpose = 1, legal_basis = "UU 37/2008 Pasal 37" }}
""")
    config = deployment.config_path("pemkot-bekasi")
    config.write_text(config.read_text().replace(
        'submit = ["tanggapan_klarifikasi", "kegiatan_pengembangan"]',
        'submit = ["tanggapan_klarifikasi", "kegiatan_pengembangan", "lahp"]'))


# --- a batch the receiver refuses for good ------------------------------------------------------


def receiver_limits(app, **limits):
    """The receiver's agreement for tanggapan_klarifikasi, as if updated on its side only."""
    import dataclasses

    n = node(app)
    agreement = n.config.agreement
    flows = tuple(dataclasses.replace(f, **limits) if f.name == TANGGAPAN else f
                  for f in agreement.flows)
    n.config = dataclasses.replace(n.config, agreement=dataclasses.replace(agreement, flows=flows))


def refusal_rows(app):
    from gateway.store.tables import pull_refusals

    with node(app).store.read() as conn:
        return [(r.batch_id, r.reason, r.reported_at is not None)
                for r in conn.execute(select(pull_refusals))]


def test_a_batch_refused_for_good_is_not_fetched_again_and_is_dead_at_the_sender(pulled):
    from gateway.exchange import batch_admin

    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=41))
    receiver_limits(ombudsman, max_records_per_batch=1)  # the signed batch breaks a limit
    log = []
    report = pull.run(node(ombudsman), request=pull_bridge(apps, log))
    assert report.refused == report.failed == [batch_id] and not report.delivered
    assert [p for _, p in log] == [f"{OUTBOX}?dataset={TANGGAPAN}&limit=100",
                                   f"{OUTBOX}/{batch_id}", f"{OUTBOX}/{batch_id}/refusal"]
    assert refusal_rows(ombudsman) == [(batch_id, "batch_limit", True)]
    # The sender was told, without a reason, and gave the batch up: its operator sees it dead.
    row = outbound(pemkot, batch_id)
    assert (row["status"], row["last_error"]) == ("dead", "refused_by_receiver")
    dead = [e for e in events(pemkot) if e["event"] == "batch_dead_lettered"]
    assert [(e["batch_id"], e["reason"], e["peer"]) for e in dead] == [
        (batch_id, "refused_by_receiver", "ombudsman-ri")]
    # Not fetched again, and refused (audited) once.
    for _ in range(2):
        log.clear()
        assert pull.run(node(ombudsman), request=pull_bridge(apps, log)).failed == []
        assert [p for _, p in log] == [f"{OUTBOX}?dataset={TANGGAPAN}&limit=100"]
    refused = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert [(e["reason"], e["batch_id"]) for e in refused] == [("batch_limit", batch_id)]
    # Once the agreement is put right, the sender's operator offers it again; it is delivered.
    receiver_limits(ombudsman, max_records_per_batch=1000)
    batch_admin.retry(node(pemkot), batch_id, operator="operator")
    assert pull.run(node(ombudsman), request=pull_bridge(apps)).delivered == [batch_id]
    assert refusal_rows(ombudsman) == []
    assert outbound(pemkot, batch_id)["status"] == "delivered"


def test_a_refusal_the_sender_did_not_take_is_told_again_without_fetching_the_batch(pulled):
    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=42))
    receiver_limits(ombudsman, schema_versions=("2.0",))
    real = pull_bridge(apps)
    log, told = [], []

    def refusal_lost(method, url, headers, body, timeout):
        log.append(url.partition("/exchange")[2])
        if url.endswith("/refusal"):
            told.append(url)
            if len(told) == 1:  # the first answer is lost
                return 503, b'{"error": {"code": "unavailable"}}'
        return real(method, url, headers, body, timeout)

    assert pull.run(node(ombudsman), request=refusal_lost).refused == [batch_id]
    assert refusal_rows(ombudsman) == [(batch_id, "schema_version", False)]
    assert outbound(pemkot, batch_id)["status"] == "sealed"  # still listed
    log.clear()
    assert pull.run(node(ombudsman), request=refusal_lost).refused == [batch_id]
    assert log == [f"/v1/outbox?dataset={TANGGAPAN}&limit=100", f"/v1/outbox/{batch_id}/refusal"]
    assert refusal_rows(ombudsman) == [(batch_id, "schema_version", True)]
    assert outbound(pemkot, batch_id)["status"] == "dead"
    assert [e["reason"] for e in events(ombudsman) if e["event"] == "envelope_rejected"] == [
        "schema_version"]


def test_the_refusal_endpoint_says_no_reason_and_is_idempotent(pulled):
    apps, pemkot, ombudsman = pulled
    batch_id = seal(pemkot, sample_records(TANGGAPAN, 2, seed=43))
    path = f"{OUTBOX}/{batch_id}/refusal"
    bad = pemkot.peer_post(path, b'{"reason": "schema"}', content_type="application/json",
                           sender="ombudsman-ri")
    assert bad.status_code == 400 and outbound(pemkot, batch_id)["status"] == "sealed"
    for _ in range(2):
        answer = pemkot.peer_post(path, b"{}", content_type="application/json",
                                  sender="ombudsman-ri")
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json() == {"batch_id": batch_id, "status": "dead"}
    kinds = [e["event"] for e in events(pemkot)]
    assert kinds.count("batch_dead_lettered") == 1 and kinds.count("batch_send_failed") == 1
    # Dead: no longer listed.
    assert pull.run(node(ombudsman), request=pull_bridge(apps)).received == []
