"""Operations, in process: readiness, the request and database metrics, request ids."""

import json
import threading

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.exchange import sending
from gateway.exchange.schedule import build_scheduler
from gateway.http import readiness
from gateway.node import audit_log, key_lifecycle, refusals
from gateway.peers import witness
from gateway.store.tables import witness_alerts
from schemas.samples import sample_records
from tests.conftest import TOKENS
from tests.integration.test_api import bridge, node
from tests.unit.test_tlog import flask_poster

TANGGAPAN = "tanggapan_klarifikasi"  # Pemkot sends it to the Ombudsman


def readiness_of(app):
    return app.app.extensions["gateway.readiness"]


def reachable(url, timeout):
    return 200, b'{"keys": []}'


def unreachable(url, timeout):
    import requests

    raise requests.ConnectionError("connection refused")


def scrape(app):
    """The samples of the node's GET /metrics (the registry it serves, where the test
    deployment gives the node no operator client)."""
    if "operator" in TOKENS[app.party]:
        answer = app.client.get("/metrics", headers=app.auth("operator"))
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
    else:
        text = generate_latest(app.app.extensions["gateway.metrics_registry"]).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples, name, **labels):
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, [s for s in samples if s.name == name])
    return found[0]


@pytest.fixture
def scheduled(pemkot):
    """Pemkot's jobs stored in its database, as a running scheduler keeps them."""
    scheduler = build_scheduler(node(pemkot))
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)


# --- readiness ----------------------------------------------------------------------------------


def test_readyz_is_ready_when_every_check_passes(pemkot, scheduled):
    readiness_of(pemkot).get = reachable
    answer = pemkot.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ready", "checks": {
        "database": "ok", "keys": "ok", "scheduler": "ok", "peers": "ok"}}
    detailed = pemkot.client.get("/readyz", headers=pemkot.auth("operator")).get_json()
    checks = detailed["checks"]
    assert checks["database"]["revision"] and checks["database"]["critical"] is True
    assert checks["keys"]["signing_kid"] == node(pemkot).keys.signing_kid
    assert checks["scheduler"]["jobs"] >= 3 and checks["scheduler"]["critical"] is False
    assert checks["peers"]["parties"]["ombudsman-ri"]["status"] == "ok"


def test_readyz_names_checks_only_to_probes_and_details_to_the_operator(pemkot, deployment):
    public = pemkot.client.get("/readyz")
    body = public.get_data(as_text=True)
    assert set(public.get_json()) == {"status", "checks"}
    assert all(v in ("ok", "fail", "skipped") for v in public.get_json()["checks"].values())
    detailed = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
    for text in (body, detailed.get_data(as_text=True)):
        assert str(deployment.root) not in text and "sqlite:" not in text
        assert "127.0.0.1" not in text  # no peer addresses either
    assert pemkot.client.get("/readyz", headers=pemkot.auth("auditor")).status_code == 403
    bad = pemkot.client.get("/readyz", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_an_unreachable_peer_or_a_stopped_scheduler_degrade_but_keep_the_node_ready(pemkot):
    calls = []

    def counting(url, timeout):
        calls.append(url)
        return unreachable(url, timeout)

    readiness_of(pemkot).get = counting
    # No scheduler has run against this database: there are no jobs.
    answer = pemkot.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "degraded", "checks": {
        "database": "ok", "keys": "ok", "scheduler": "fail", "peers": "fail"}}
    detailed = pemkot.client.get("/readyz", headers=pemkot.auth("operator")).get_json()
    assert detailed["checks"]["peers"]["parties"] == {
        "ombudsman-ri": {"status": "fail", "error": "ConnectionError"}}
    assert detailed["checks"]["scheduler"]["error"] == "no scheduled jobs"
    # The peer's answer is kept: two probes, one request to the peer, at its JWKS.
    peer = node(pemkot).config.agreement.party("ombudsman-ri")
    assert calls == [peer.base_url + "/exchange/v1/jwks"]


def test_a_scheduler_whose_jobs_are_overdue_is_reported(pemkot, scheduled, deployment):
    readiness_of(pemkot).get = reachable
    deployment.query("pemkot-bekasi", "UPDATE scheduler_jobs SET next_run_time = 1000")
    answer = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["scheduler"]["status"] == "fail"
    assert body["checks"]["scheduler"]["overdue_seconds"] > 3600


def test_a_broken_database_makes_the_node_not_ready(pemkot, deployment):
    readiness_of(pemkot).get = reachable
    deployment.query("pemkot-bekasi", "DROP TABLE alembic_version")
    answer = pemkot.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["status"] == "not_ready"
    assert answer.get_json()["checks"]["database"] == "fail"
    detailed = pemkot.client.get("/readyz", headers=pemkot.auth("operator")).get_json()
    assert detailed["checks"]["database"]["status"] == "fail"
    assert detailed["checks"]["database"]["error"] in ("OperationalError", "ProgrammingError")


def test_a_database_that_does_not_answer_in_time_makes_the_node_not_ready(
        pemkot, monkeypatch):
    readiness_of(pemkot).get = reachable
    store = node(pemkot).store
    release = threading.Event()
    real_read = store.read
    queries = []

    def hanging_read():
        queries.append(1)
        release.wait(30)
        return real_read()

    monkeypatch.setattr(readiness, "DATABASE_TIMEOUT_SECONDS", 0.2)
    # The failed-authentication throttle reads the database too, before the operator's
    # token is looked at: this test is about the readiness check's own query.
    monkeypatch.setattr(refusals.Throttle, "retry_after", lambda self, source: None)
    monkeypatch.setattr(store, "read", hanging_read)
    try:
        first = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
        # The first query still hangs: the next check waits for it, starts no other.
        second = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
    finally:
        release.set()
        # The query goes on once released: let it end before the database is closed.
        readiness_of(pemkot)._database_probe[0].join(30)
    assert first.status_code == second.status_code == 503
    for answer in (first, second):
        checks = answer.get_json()["checks"]
        assert checks["database"]["error"] == "no answer within 0.2 s"
        assert checks["scheduler"]["error"] == "the database did not answer"
    assert len(queries) == 1
    # Once it answers, the next check runs a query of its own, and passes.
    assert pemkot.client.get("/readyz").get_json()["checks"]["database"] == "ok"
    assert len(queries) == 2


def test_a_key_revoked_while_the_node_runs_makes_it_not_ready(pemkot, deployment):
    readiness_of(pemkot).get = reachable
    config = deployment.config("pemkot-bekasi")
    kid = node(pemkot).keys.signing_kid
    key_lifecycle.revoke(config, kid, operator="budi", reason="keyCompromise",
                         environ=deployment.env)
    answer = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
    assert answer.status_code == 503
    keys = answer.get_json()["checks"]["keys"]
    assert keys["status"] == "fail"
    assert keys["problems"] == [f"the signing key {kid} is revoked"]


def test_readyz_reports_a_checkpoint_short_of_its_quorum_without_failing(pemkot, scheduled):
    readiness_of(pemkot).get = reachable
    detailed = pemkot.client.get("/readyz", headers=pemkot.auth("operator")).get_json()
    assert "witnessing" not in detailed  # no checkpoint yet
    records = sample_records(TANGGAPAN, 1, seed=7)
    assert pemkot.client.post(f"/api/v1/datasets/{TANGGAPAN}/records",
                              json={"schema_version": "1.0", "records": records},
                              headers=pemkot.auth()).status_code == 202
    signed = audit_log.checkpoint(node(pemkot))  # signed, cosigned by no witness yet
    answer = pemkot.client.get("/readyz", headers=pemkot.auth("operator"))
    assert answer.status_code == 200 and answer.get_json()["status"] == "ready"
    assert answer.get_json()["witnessing"] == {
        "checkpoint_size": signed.size, "cosignatures": 0, "quorum": 1, "quorum_met": False}
    assert set(pemkot.client.get("/readyz").get_json()) == {"status", "checks"}


# --- metrics ------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_and_timed(pemkot):
    for _ in range(3):
        answer = pemkot.client.get("/api/v1/batches/0190aaaa-0000-7000-8000-000000000001",
                                   headers=pemkot.auth())
        assert answer.status_code == 404
    pemkot.client.get("/no/such/path/12345")
    samples = scrape(pemkot)
    route = "/api/v1/batches/<batch_id>"
    assert value(samples, "gateway_http_requests_total",
                 method="GET", route=route, status="404") == 3
    assert value(samples, "gateway_http_requests_total",
                 method="GET", route="unmatched", status="404") == 1
    assert value(samples, "gateway_http_request_duration_seconds_count",
                 method="GET", route=route) == 3
    buckets = [s for s in samples if s.name == "gateway_http_request_duration_seconds_bucket"
               and s.labels["route"] == route]
    assert {s.labels["le"] for s in buckets} >= {"0.005", "1.0", "+Inf"}
    assert max(s.value for s in buckets) == 3
    # Only route templates: no raw path or id in any label.
    labels = {v for s in samples for v in s.labels.values()}
    assert not any("0190aaaa" in v or "12345" in v for v in labels)


def test_refused_submissions_are_counted_by_dataset_and_reason(pemkot):
    bad = dict(sample_records(TANGGAPAN, 1, seed=3)[0], status="sudah")
    answer = pemkot.client.post(f"/api/v1/datasets/{TANGGAPAN}/records",
                                json={"schema_version": "1.0", "records": [bad]},
                                headers=pemkot.auth())
    assert answer.status_code == 422
    pemkot.client.post("/api/v1/datasets/bukan_dataset_x/records", json={},
                       headers=pemkot.auth())
    samples = scrape(pemkot)
    assert value(samples, "gateway_submissions_rejected_total",
                 dataset=TANGGAPAN, reason="validation_failed") == 1
    assert value(samples, "gateway_submissions_rejected_total",
                 dataset="unknown", reason="unknown_dataset") == 1


def test_queue_lag_checkpoint_and_witness_figures_from_the_database(apps, pemkot, ombudsman):
    before = scrape(pemkot)
    assert value(before, "gateway_scheduler_jobs") == -1
    assert value(before, "gateway_witness_cosigned_size", peer="ombudsman-ri") == 0
    assert value(before, "gateway_checkpoint_cosignatures") == 0
    assert value(before, "gateway_witness_quorum") == 1
    assert not [s for s in before if s.name == "gateway_outbound_last_delivery_age_seconds"]
    assert not [s for s in before if s.name == "gateway_audit_checkpoint_age_seconds"]

    records = sample_records(TANGGAPAN, 4, seed=5)
    assert pemkot.client.post(f"/api/v1/datasets/{TANGGAPAN}/records",
                              json={"schema_version": "1.0", "records": records},
                              headers=pemkot.auth()).status_code == 202
    sending.run(node(pemkot), post=unreachable_post)
    failing = scrape(pemkot)
    flow = {"dataset": TANGGAPAN, "peer": "ombudsman-ri"}
    assert value(failing, "gateway_outbound_waiting_records", **flow) == 4
    assert value(failing, "gateway_outbound_retrying_batches", **flow) == 1

    node(pemkot).clock = node(ombudsman).clock = later(hours=1)  # past the retry's wait
    sending.run(node(pemkot), post=bridge(apps))
    report = witness.publish(node(pemkot), post=flask_poster(apps))
    assert report.cosigned_by and not report.failed
    sent = scrape(pemkot)
    assert value(sent, "gateway_outbound_waiting_records", **flow) == 0
    assert value(sent, "gateway_outbound_retrying_batches", **flow) == 0
    assert value(sent, "gateway_outbound_last_delivery_age_seconds", **flow) >= 0
    size = value(sent, "gateway_audit_checkpoint_size")
    assert size >= 4 and value(sent, "gateway_audit_checkpoint_age_seconds") >= 0
    assert value(sent, "gateway_witness_cosigned_size", peer="ombudsman-ri") == size
    assert value(sent, "gateway_witness_cosignature_age_seconds", peer="ombudsman-ri") >= 0
    assert value(sent, "gateway_checkpoint_cosignatures") == 1
    # Readiness reports the quorum to the operator, as a finding, not a check.
    readiness_of(pemkot).get = reachable
    ready = pemkot.client.get("/readyz", headers=pemkot.auth("operator")).get_json()
    assert ready["witnessing"] == {
        "checkpoint_size": size, "cosignatures": 1, "quorum": 1, "quorum_met": True}
    received = scrape(ombudsman)
    assert value(received, "gateway_inbound_unacknowledged_batches",
                 dataset=TANGGAPAN, peer="pemkot-bekasi") == 1
    assert value(received, "gateway_inbound_last_batch_age_seconds",
                 dataset=TANGGAPAN, peer="pemkot-bekasi") >= 0
    assert value(received, "gateway_witness_peer_log_size", peer="pemkot-bekasi") == size
    assert value(received, "gateway_witness_alerts", peer="pemkot-bekasi", kind="fork") == 0


def test_witness_alerts_are_counted_per_peer_and_kind(pemkot, scheduled):
    import datetime as dt

    peer = node(pemkot).config.agreement.party("ombudsman-ri")
    now = dt.datetime.now(dt.UTC).isoformat()
    with node(pemkot).store.write() as conn:
        for size in (5, 6):
            conn.execute(witness_alerts.insert().values(
                origin=peer.log_origin, kind="fork", size=size, root_hash=bytes(32),
                witnessed_size=size, witnessed_note="", request="", first_seen=now,
                last_seen=now, count=1))
    samples = scrape(pemkot)
    assert value(samples, "gateway_witness_alerts", peer="ombudsman-ri", kind="fork") == 2
    assert value(samples, "gateway_witness_alerts", peer="ombudsman-ri", kind="inconsistent") == 0
    assert value(samples, "gateway_scheduler_jobs") >= 3
    assert value(samples, "gateway_scheduler_overdue_seconds") == 0


def unreachable_post(url, body, timeout, headers):
    import requests

    raise requests.ConnectionError("connection refused")


def later(hours):
    import datetime as dt

    moment = dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)
    return lambda: moment


# --- request ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "kept"), [
    ("abc-123_X.y", True),
    ("a" * 64, True),
    ("a" * 65, False),
    ("has space", False),
    ("semi;colon", False),
    ("", False),
])
def test_a_client_request_id_is_kept_only_when_short_and_plain(pemkot, sent, kept):
    answer = pemkot.client.get("/healthz", headers={"X-Request-Id": sent})
    returned = answer.headers["X-Request-Id"]
    if kept:
        assert returned == sent
    else:
        assert returned != sent and len(returned) == 32 and int(returned, 16) >= 0


def test_the_request_log_line_names_the_route_and_client_never_the_token(pemkot, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="gateway.request"):
        answer = pemkot.client.get("/api/v1/schemas", headers={
            **pemkot.auth(), "X-Request-Id": "trace-42"})
        pemkot.client.get("/readyz")  # probes are logged at DEBUG only
    assert answer.status_code == 200 and answer.headers["X-Request-Id"] == "trace-42"
    (line,) = [r for r in caplog.records if r.name == "gateway.request"]
    assert (line.method, line.route, line.status, line.client) == (
        "GET", "/api/v1/schemas", 200, "sistem-pengaduan")
    assert line.duration_seconds >= 0
    assert TOKENS["pemkot-bekasi"]["sistem-pengaduan"] not in caplog.text
    assert json.dumps(line.getMessage())  # a plain message beside the fields


def test_the_operations_guide_describes_every_metric(apps, pemkot, scheduled):
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md").read_text()
    pemkot.client.get("/healthz")
    pemkot.client.post(f"/api/v1/datasets/{TANGGAPAN}/records", json={}, headers=pemkot.auth())
    names = set()
    for sample in scrape(pemkot):
        name = sample.name
        if name.endswith("_created"):
            continue  # prometheus_client's creation times, outside multiprocess mode
        for suffix in ("_bucket", "_count", "_sum"):
            if name.startswith("gateway_http_request_duration") and name.endswith(suffix):
                name = name[: -len(suffix)]
        names.add(name)
    assert len(names) >= 20
    missing = sorted(n for n in names if f"`{n}`" not in guide)
    assert not missing, f"docs/OPERATIONS.md section 6 does not describe {missing}"
