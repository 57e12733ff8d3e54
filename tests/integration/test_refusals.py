"""Refusals of callers that did not authenticate are counted, not audited one by one
(gateway.node.refusals); failed authentications are throttled per source address, in the
database that every worker and replica shares.
"""

import datetime as dt
import json
import time
from collections import Counter

import pytest
import requests
from joserfc.jwk import OKPKey

from gateway.node import refusals
from gateway.node.config import load_node_config
from gateway.ops.process import NodeProcess, wait_until
from gateway.peers import signed_requests, witness
from gateway.tlog import auditor
from tests.conftest import TOKENS
from tests.integration.test_api import counted, events
from tests.integration.test_console import csrf
from tests.unit.test_tlog import flask_poster, log_client, trusted

PEMKOT = "pemkot-bekasi"
OMBUDSMAN = "ombudsman-ri"
SUBMIT = "/api/v1/datasets/tanggapan_klarifikasi/records"
VALID = {"Authorization": f"Bearer {TOKENS[PEMKOT]['sistem-pengaduan']}"}
WRONG = {"Authorization": "Bearer not-a-token-of-this-node"}


def freeze(node_app, moment):
    node_app.node.clock = lambda: moment


def window_start(seconds=60):
    """A moment 1 s into a fresh window of ``seconds`` (so a test never straddles one)."""
    now = dt.datetime.now(dt.UTC).timestamp()
    return dt.datetime.fromtimestamp((now // seconds) * seconds + 1, dt.UTC)


def from_source(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def stamp(seconds):
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def refused_metric(node_app, kind):
    registry = node_app.app.extensions["gateway.metrics_registry"]
    return registry.get_sample_value("gateway_requests_refused_total", {"kind": kind}) or 0


# Ten thousand requests take a while; what they show does not depend on the database (the
# counting statements run on both backends in the other tests here).
@pytest.mark.sqlite_pass
def test_ten_thousand_unauthenticated_requests_add_a_handful_of_entries(apps, pemkot, ombudsman):
    moment = dt.datetime.now(dt.UTC)
    freeze(pemkot, moment)
    stranger = OKPKey.generate_key("Ed25519")
    body = b"{}"
    path = "/exchange/v1/batches"

    def signed(key, issuer, now):
        return {"Authorization": signed_requests.authorization(
            signing_key=key, issuer=issuer, audience=PEMKOT, method="POST", target=path,
            body=body, now=now)}

    by_unknown_key = signed(stranger, OMBUDSMAN, moment)
    stale = signed(ombudsman.node.keys.signing, OMBUDSMAN, moment - dt.timedelta(hours=1))
    before = len(events(pemkot))
    statuses = Counter()
    for i in range(10_000):
        source = from_source(f"10.0.{i % 7}.{i % 40}")
        match i % 5:
            case 0:
                answer = pemkot.client.get("/api/v1/client", **source)
            case 1:
                answer = pemkot.client.post(SUBMIT, json={"records": []}, headers=WRONG, **source)
            case 2:
                answer = pemkot.client.post(path, data=body, content_type="application/jose",
                                            **source)
            case 3:
                answer = pemkot.client.post(path, data=body, content_type="application/jose",
                                            headers=by_unknown_key, **source)
            case _:
                answer = pemkot.client.post(path, data=body, content_type="application/jose",
                                            headers=stale, **source)
        statuses[answer.status_code] += 1
    assert set(statuses) == {401, 429}
    # Nothing in the log yet: the counts wait for their interval to close.
    assert len(events(pemkot)) == before
    found = counted(pemkot)  # the interval closed and written to the log
    assert sum(found.values()) == 10_000
    assert found[("throttled", None)] == statuses[429] > 0
    assert found[("request_missing", None)] == found[("request_unknown_key", None)] == 2000
    assert found[("request_stale", OMBUDSMAN)] == 2000
    assert found[("missing_token", None)] + found[("unknown_token", None)] + statuses[429] == 4000
    refused = events(pemkot)[before:]
    assert len(refused) == len(found) <= 6  # one entry per kind (and peer) and interval
    assert {e["event"] for e in refused} == {"requests_refused"}
    start, end = refusals.interval_of(moment, pemkot.node.config.refusal_interval_seconds)
    bounds = {(e["interval_start"], e["interval_end"]) for e in refused}
    assert bounds == {(stamp(start), stamp(end))}
    # No addresses, no tokens in the entries.
    assert not any("10.0." in str(e) or "not-a-token" in str(e) for e in refused)
    for kind, _ in found:
        assert refused_metric(pemkot, kind) == sum(n for (k, _), n in found.items() if k == kind)
    # And the log, with these entries, verifies and is cosigned.
    pemkot.node.clock = lambda: dt.datetime.now(dt.UTC)
    witness.publish(pemkot.node, post=flask_poster(apps))
    report = auditor.verify_log(log_client(apps, PEMKOT), trusted(pemkot.node, PEMKOT))
    assert report.ok, report.problems
    assert report.entries_checked == len(events(pemkot))


def test_an_open_interval_waits_and_a_closed_one_is_written_once(
        deployment, make_apps):
    first = make_apps(deployment)[PEMKOT]
    second = make_apps(deployment)[PEMKOT]  # another worker or replica: the same database
    interval = first.node.config.refusal_interval_seconds
    moment = window_start(interval)
    for app in (first, second):
        freeze(app, moment)
        assert app.client.get("/api/v1/client", **from_source("10.1.1.1")).status_code == 401
    assert refusals.roll_up(first.node) == 0  # still open
    end = moment + dt.timedelta(seconds=interval - 1)  # when the interval closes
    freeze(first, end + dt.timedelta(seconds=refusals.ROLL_UP_GRACE_SECONDS - 1))
    assert refusals.roll_up(first.node) == 0  # closed, but a late count may still commit
    later = end + dt.timedelta(seconds=refusals.ROLL_UP_GRACE_SECONDS)
    for app in (first, second):
        freeze(app, later)
    assert refusals.roll_up(first.node) == 1
    assert refusals.roll_up(second.node) == 0  # the other replica finds nothing left
    [entry] = events(first)
    assert (entry["event"], entry["actor"], entry["reason"], entry["count"]) == (
        "requests_refused", PEMKOT, "missing_token", 2)


def test_an_authenticated_clients_refusals_stay_individual_entries(deployment, make_apps):
    config = deployment.config_path(PEMKOT)
    config.write_text(config.read_text().replace(
        'id = "sistem-pengaduan"\n', 'id = "sistem-pengaduan"\nrate_limit = "4/minute"\n', 1))
    pemkot = make_apps(deployment)[PEMKOT]
    bad = {"records": [{"not": "a record"}], "schema_version": "1.0"}
    answers = [pemkot.client.post(SUBMIT, json=bad, headers=VALID) for _ in range(3)]
    assert [a.status_code for a in answers] == [422] * 3
    # A dataset the client may not submit: refused, and audited on its own too.
    other = pemkot.client.post("/api/v1/datasets/permintaan_klarifikasi/records",
                               json=bad, headers=VALID)
    assert other.status_code in (403, 404)
    logged = [(e["event"], e["actor"], e["reason"]) for e in events(pemkot)]
    assert logged[:3] == [("submission_rejected", "sistem-pengaduan", "validation_failed")] * 3
    assert logged[3][:2] == ("submission_rejected", "sistem-pengaduan")
    # Over its rate limit: as cheap to make as an anonymous refusal, so counted, by client.
    throttled = pemkot.client.post(SUBMIT, json=bad, headers=VALID)
    assert throttled.status_code == 429 and throttled.get_json()["error"]["code"] == "rate_limited"
    assert len(events(pemkot)) == 4
    assert counted(pemkot) == {("rate_limited", "sistem-pengaduan"): 1}
    [entry] = [e for e in events(pemkot) if e["event"] == "requests_refused"]
    assert entry["client"] == "sistem-pengaduan" and "peer" not in entry


def test_wrong_tokens_are_throttled_per_source_across_workers(deployment, make_apps):
    first = make_apps(deployment)[PEMKOT]
    second = make_apps(deployment)[PEMKOT]  # another worker or replica: the same database
    moment = window_start()
    for app in (first, second):
        freeze(app, moment)
    attacker, neighbour = from_source("192.0.2.7"), from_source("192.0.2.8")
    limit = first.node.config.failed_auth_rate_limit
    assert limit == "30/minute"
    codes = [(first if i % 2 else second).client.get("/api/v1/client", headers=WRONG,
                                                     **attacker).status_code
             for i in range(30)]
    assert codes == [401] * 30
    for app in (first, second):
        for headers in (WRONG, VALID, {}):  # refused before its token is looked at
            answer = app.client.get("/api/v1/client", headers=headers, **attacker)
            assert answer.status_code == 429, headers
            assert answer.get_json()["error"]["code"] == "auth_throttled"
            assert answer.headers["Retry-After"] == "59"
        # The same limit guards the submissions.
        assert app.client.post(SUBMIT, json={}, headers=VALID, **attacker).status_code == 429
        # Another source is not held back, and its own failures are its own.
        assert app.client.get("/api/v1/client", headers=VALID, **neighbour).status_code == 200
        assert app.client.get("/api/v1/client", headers=WRONG, **neighbour).status_code == 401
    # The window passes: the source may try again.
    for app in (first, second):
        freeze(app, moment + dt.timedelta(seconds=60))
    assert first.client.get("/api/v1/client", headers=VALID, **attacker).status_code == 200
    assert counted(first)[("throttled", None)] == 8
    assert refusals.roll_up(first.node) == 0


def test_requests_without_a_token_are_counted_but_not_held_against_their_source(
        deployment, make_apps):
    pemkot = make_apps(deployment)[PEMKOT]
    freeze(pemkot, window_start())
    source = from_source("192.0.2.9")
    # A request without a token guesses nothing: many of them do not throttle the source.
    for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Basic eA=="}):
        codes = {pemkot.client.get("/api/v1/client", headers=headers, **source).status_code
                 for _ in range(20)}
        assert codes == {401}, headers
    assert pemkot.client.get("/api/v1/client", headers=VALID, **source).status_code == 200
    assert pemkot.client.get("/api/v1/client", headers=WRONG, **source).status_code == 401
    assert counted(pemkot) == {("missing_token", None): 60, ("unknown_token", None): 1}


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy(deployment_factory, make_apps):
    spoofing = make_apps(deployment_factory())[PEMKOT]
    moment = window_start()
    freeze(spoofing, moment)
    # No trusted proxy: X-Forwarded-For is the client's to choose, so it is ignored.
    for i in range(31):
        answer = spoofing.client.get(
            "/api/v1/client", headers={**WRONG, "X-Forwarded-For": f"198.51.100.{i}"})
    assert answer.status_code == 429
    proxied = make_apps(deployment_factory(node_settings="trusted_proxies = 1\n"))[PEMKOT]
    freeze(proxied, moment)
    assert proxied.node.config.trusted_proxies == 1
    # Behind one proxy: the address it appends is the source, whatever the client put before.
    for _ in range(30):
        proxied.client.get("/api/v1/client", headers={
            **WRONG, "X-Forwarded-For": "203.0.113.1, 198.51.100.1"})
    throttled = {"X-Forwarded-For": "198.51.100.1"}
    assert proxied.client.get("/api/v1/client", headers={**VALID, **throttled}).status_code == 429
    forged = {"X-Forwarded-For": "198.51.100.1, 198.51.100.2"}
    assert proxied.client.get("/api/v1/client", headers={**VALID, **forged}).status_code == 200


def sign_in(app, token, source):
    form = app.client.get("/console/login", **source).get_data(as_text=True)
    return app.client.post("/console/login", data={"token": token, "csrf_token": csrf(form)},
                           **source)


def test_console_sign_in_failures_are_limited_per_source_across_workers(deployment, make_apps):
    first = make_apps(deployment)[PEMKOT]
    second = make_apps(deployment)[PEMKOT]
    moment = window_start()
    for app in (first, second):
        freeze(app, moment)
    guesser, auditor_desk = from_source("192.0.2.50"), from_source("192.0.2.51")
    codes = [sign_in(first if i % 2 else second, "wrong", guesser).status_code
             for i in range(10)]
    assert codes == [401] * 10
    for app in (first, second):
        answer = sign_in(app, TOKENS[PEMKOT]["auditor"], guesser)
        assert answer.status_code == 429 and answer.headers["Retry-After"] == "59"
    assert sign_in(second, TOKENS[PEMKOT]["auditor"], auditor_desk).status_code == 302
    assert counted(first) == {("console_sign_in", None): 10, ("console_throttled", None): 2}
    assert refused_metric(first, "console_throttled") == 1


@pytest.fixture
def flooded_node(deployment_factory):
    """Pemkot's node alone, as real processes: two gunicorn workers, intervals of 1 s.

    The node keeps real time: a limit per day keeps the throttle's window from ending
    in the middle of the test (windows are aligned to the epoch).
    """
    deployment = deployment_factory(workers=2, node_settings=(
        'refusal_interval_seconds = 1\nfailed_auth_rate_limit = "30/day"\n'))
    port = deployment.ports[PEMKOT]
    node = NodeProcess(deployment.config_path(PEMKOT), listen=f"127.0.0.1:{port}",
                       env=deployment.env, log_path=deployment.root / "pemkot.log")
    node.start()
    try:
        yield deployment, f"http://127.0.0.1:{port}"
    finally:
        assert node.stop() == 0, node.log_tail()


@pytest.mark.e2e
@pytest.mark.sqlite_pass  # the counting statements run on both backends in the tests above
def test_counts_of_two_workers_reach_the_log_and_the_throttle_is_shared(flooded_node):
    deployment, base = flooded_node
    assert load_node_config(deployment.config_path(PEMKOT), environ={}).workers == 2
    codes = Counter()
    started = time.monotonic()
    for _ in range(60):  # a new connection each: either worker may answer
        with requests.Session() as session:
            answer = session.get(f"{base}/api/v1/client", headers=WRONG, timeout=10)
            codes[answer.status_code] += 1
        with requests.Session() as session:
            answer = session.post(f"{base}/exchange/v1/batches", data=b"{}", timeout=10,
                                  headers={"Content-Type": "application/jose"})
            codes[answer.status_code] += 1
    # 30 failed tokens, whichever worker saw them, then the source waits.
    assert codes == {401: 30 + 60, 429: 30}

    elapsed = time.monotonic() - started

    def logged():
        entries = [json.loads(entry) for (entry,) in
                   deployment.query(PEMKOT, "SELECT entry FROM audit_events")]
        assert {e["event"] for e in entries} <= {"requests_refused"}
        totals = Counter()
        for e in entries:
            totals[e["reason"]] += e["count"]
        return entries, totals

    # The leader's job writes each closed interval: every count arrives, in few entries.
    wanted = {"unknown_token": 30, "throttled": 30, "request_missing": 60}
    wait_until(lambda: logged()[1] == wanted, timeout=60, what="the counts in the log")
    entries, _ = logged()
    assert len(entries) <= 3 * (int(elapsed) + 2)  # per kind and interval of 1 s
