"""The auditor console on in-process nodes: sign-in and sessions, filters, a batch on
both nodes, the evidence download, the log page and what it flags.

The browser tests (test_console_browser.py) drive the same pages in Chromium
against real node processes; these cover the rules one request at a time.
"""

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select, text, update

from gateway.cases.calendar import WIB
from gateway.exchange import sending
from gateway.node import credentials
from gateway.peers import bundles, signed_requests, witness
from gateway.store.tables import audit_events
from gateway.timestamps import parse
from gateway.tlog import auditor
from schemas.samples import sample_records
from tests.conftest import TOKENS
from tests.integration.test_api import bridge, submit
from tests.unit.test_tlog import flask_poster

TANGGAPAN = "tanggapan_klarifikasi"
AUDITOR = TOKENS["pemkot-bekasi"]["auditor"]


def csrf(page_html):
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def sign_in(app, token=AUDITOR, *, follow=False):
    form = app.client.get("/console/login").get_data(as_text=True)
    return app.client.post("/console/login", data={"token": token, "csrf_token": csrf(form)},
                           follow_redirects=follow)


def bridge_get(apps):
    """The peer requests of a console, handed to the in-process peer app."""
    by_base = {a.node.config.party.base_url: a for a in apps.values()}

    def request(method, url, headers, body, timeout):
        base = next(b for b in by_base if url.startswith(b))
        answer = by_base[base].client.open(url[len(base):], method=method, headers=headers)
        return answer.status_code, answer.get_data()

    return request


@pytest.fixture
def exchanged(apps, pemkot, ombudsman):
    """One batch from Pemkot to the Ombudsman, delivered and acknowledged."""
    assert submit(pemkot, sample_records(TANGGAPAN, 4, seed=5)).status_code == 202
    report = sending.run(pemkot.node, post=bridge(apps))
    (batch_id,) = report.delivered
    for app in apps.values():  # each log's latest checkpoint cosigned by the other node
        witness.publish(app.node, post=flask_poster(apps))
    pulled = ombudsman.client.get(f"/api/v1/batches/{batch_id}", headers=ombudsman.auth())
    assert pulled.status_code == 200
    ack = ombudsman.client.post(f"/api/v1/batches/{batch_id}/ack", headers=ombudsman.auth())
    assert ack.status_code == 200
    for app in apps.values():
        app.app.extensions["gateway.peer_requester"] = bridge_get(apps)
    return batch_id


def test_pages_need_an_auditor_session(pemkot):
    answer = pemkot.client.get("/console/exchanges?dataset=x")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=")
    # A token without the auditor role, a wrong one, and a missing CSRF token are refused.
    assert sign_in(pemkot, TOKENS["pemkot-bekasi"]["sistem-pengaduan"]).status_code == 401
    assert sign_in(pemkot, "not-a-token").status_code == 401
    no_csrf = pemkot.client.post("/console/login", data={"token": AUDITOR})
    assert no_csrf.status_code == 400
    assert pemkot.client.get("/console/log").status_code == 302


def test_sign_in_then_out(pemkot):
    answer = sign_in(pemkot)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/exchanges"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert AUDITOR not in cookie
    page = pemkot.client.get("/console/exchanges")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers and "script-src" not in page.headers[
        "Content-Security-Policy"]
    html = page.get_data(as_text=True)
    assert '<html lang="id">' in html and "Pertukaran" in html
    out = pemkot.client.post("/console/logout", data={"csrf_token": csrf(html)})
    assert out.status_code == 302
    assert pemkot.client.get("/console/exchanges").status_code == 302


def test_only_a_path_of_the_console_is_followed_after_sign_in(pemkot):
    for target, expected in (("/console/log", "/console/log"),
                             ("https://evil.example/", "/console/exchanges"),
                             ("//evil.example/console/", "/console/exchanges")):
        browser = pemkot.app.test_client()
        form = browser.get("/console/login").get_data(as_text=True)
        answer = browser.post(f"/console/login?next={target}",
                              data={"token": AUDITOR, "csrf_token": csrf(form)})
        assert answer.headers["Location"] == expected


def test_english_is_available(pemkot):
    sign_in(pemkot)
    html = pemkot.client.get("/console/exchanges?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Exchanges" in html
    # The choice stays for the session.
    again = pemkot.client.get("/console/log").get_data(as_text=True)
    assert "Audit log" in again


def test_a_revoked_client_is_signed_out_at_once(pemkot):
    token = credentials.add(pemkot.node, "bpk-auditor", roles=["auditor"], operator="test")
    assert sign_in(pemkot, token).status_code == 302
    assert pemkot.client.get("/console/exchanges").status_code == 200
    credentials.revoke(pemkot.node, "bpk-auditor", operator="test")
    assert pemkot.client.get("/console/exchanges").status_code == 302


def test_an_idle_session_ends(pemkot, monkeypatch):
    sign_in(pemkot)
    assert pemkot.client.get("/console/exchanges").status_code == 200
    later = pemkot.node.now() + dt.timedelta(minutes=31)
    monkeypatch.setattr(pemkot.node, "clock", lambda: later)
    answer = pemkot.client.get("/console/exchanges")
    assert answer.status_code == 302
    page = pemkot.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Sesi Anda telah berakhir" in page


def test_sign_in_attempts_are_rate_limited(pemkot):
    codes = [sign_in(pemkot, "wrong").status_code for _ in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_filters_and_paging(apps, pemkot, ombudsman, exchanged):
    sign_in(ombudsman, TOKENS["ombudsman-ri"]["auditor"])
    html = ombudsman.client.get("/console/exchanges").get_data(as_text=True)
    assert exchanged in html and "1 pertukaran" in html
    for query, found in (("direction=incoming", True), ("direction=outgoing", False),
                         (f"dataset={TANGGAPAN}", True), ("dataset=permintaan_klarifikasi", False),
                         ("status=acknowledged", True), ("status=received", False),
                         ("peer=pemkot-bekasi", True),
                         ("from=2000-01-01&to=2999-12-31", True), ("to=2000-01-01", False)):
        html = ombudsman.client.get(f"/console/exchanges?{query}").get_data(as_text=True)
        assert (exchanged in html) is found, query
    bad = ombudsman.client.get("/console/exchanges?dataset=<script>&from=yesterday")
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert "<script>" not in body and "dataset, from" in body
    # A page past the end is the last page.
    assert exchanged in ombudsman.client.get("/console/exchanges?page=99").get_data(as_text=True)


def test_a_batch_on_both_nodes(apps, pemkot, ombudsman, exchanged):
    sign_in(pemkot)
    answer = pemkot.client.get(f"/console/batches/{exchanged}?lang=en")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    events = re.findall(r'data-event="([a-z_]+)"', html)
    for step in ("submission_accepted", "batch_sealed", "batch_sent", "batch_received",
                 "receipt_verified", "batch_pulled", "batch_acknowledged"):
        assert step in events, step
    states = dict(re.findall(r'data-badge="([a-z_]+)" data-state="([a-z]+)"', html))
    assert states["checkpoint_signature"] == "ok" and states["inclusion"] == "ok"
    assert states["digests_match"] == "ok"
    assert pemkot.node.keys.signing_kid in html
    # No record content: a record's identifier never appears.
    record = sample_records(TANGGAPAN, 4, seed=5)[0]
    for value in record.values():
        if isinstance(value, str) and len(value) > 12:
            assert value not in html


def test_the_peer_unreachable_shows_this_side_only(apps, pemkot, exchanged):
    def dead(method, url, headers, body, timeout):
        raise ConnectionError("refused")

    pemkot.app.extensions["gateway.peer_requester"] = dead
    sign_in(pemkot)
    html = pemkot.client.get(f"/console/batches/{exchanged}").get_data(as_text=True)
    assert 'data-state="unreachable"' in html and 'data-event="batch_sent"' in html


def test_an_unknown_batch_is_404(pemkot):
    sign_in(pemkot)
    assert pemkot.client.get("/console/batches/nope").status_code == 404
    missing = "00000000-0000-7000-8000-000000000000"
    assert pemkot.client.get(f"/console/batches/{missing}").status_code == 404
    assert pemkot.client.get(f"/console/batches/{missing}/bundle.json").status_code == 404


def test_the_bundle_download_verifies(apps, pemkot, exchanged):
    sign_in(pemkot)
    answer = pemkot.client.get(f"/console/batches/{exchanged}/bundle.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="bundle-{exchanged}.json"')
    bundle = json.loads(answer.get_data())
    keys = bundles.trusted_keys(pemkot.node.config.agreement, "pemkot-bekasi")
    report = auditor.verify_bundle(bundle, keys, min_cosignatures=0)
    assert report.ok and report.entries_checked >= 3


def test_the_peer_evidence_is_for_the_batch_s_parties_only(apps, pemkot, ombudsman, exchanged):
    path = f"/exchange/v1/audit/batches/{exchanged}"
    assert pemkot.client.get(path).status_code == 401  # unsigned
    assert pemkot.client.get(path, headers=pemkot.auth("auditor")).status_code == 401
    request = bridge_get(apps)
    party = ombudsman.node.config.agreement.party("pemkot-bekasi")
    url = party.base_url + path
    status, body = request("GET", url, signed_requests.headers(ombudsman.node, party, "GET",
                                                             url, b""), b"", 5)
    assert status == 200 and json.loads(body)["batch_id"] == exchanged
    # Another batch id answers like an unknown one.
    other = url.replace(exchanged, "00000000-0000-7000-8000-000000000000")
    status, _ = request("GET", other, signed_requests.headers(ombudsman.node, party, "GET",
                                                            other, b""), b"", 5)
    assert status == 404


def test_the_log_page_verifies_and_flags_an_edited_entry(apps, pemkot, exchanged):
    sign_in(pemkot)
    html = pemkot.client.get("/console/log?lang=en").get_data(as_text=True)
    states = dict(re.findall(r'data-badge="([a-z_]+)" data-state="([a-z]+)"', html))
    assert states == {"checkpoint_signature": "ok", "log_verified": "ok", "cosigned": "ok"}
    assert 'data-state="no-alerts"' in html
    with pemkot.node.store.write() as conn:
        entry = conn.execute(select(audit_events.c.entry).where(
            audit_events.c.idx == 1)).scalar_one()
        conn.execute(update(audit_events).where(audit_events.c.idx == 1).values(
            entry=entry.replace('"record_count":4', '"record_count":5')))
    html = pemkot.client.get("/console/log?lang=en").get_data(as_text=True)
    states = dict(re.findall(r'data-badge="([a-z_]+)" data-state="([a-z]+)"', html))
    assert states["log_verified"] == "fail"
    assert 'id="log-problem"' in html and "entry 1" in html
    # The batch page flags it too: the entry no longer has its inclusion proof.
    html = pemkot.client.get(f"/console/batches/{exchanged}").get_data(as_text=True)
    assert 'data-state="fail"' in html
    with pemkot.node.store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() > 1


def test_paging_counts_and_walks_every_exchange(apps, pemkot, exchanged, monkeypatch):
    import gateway.http.console

    assert submit(pemkot, sample_records(TANGGAPAN, 2, seed=6)).status_code == 202
    assert len(sending.run(pemkot.node, post=bridge(apps)).delivered) == 1
    monkeypatch.setattr(gateway.http.console, "PER_PAGE", 1)
    sign_in(pemkot)
    seen = []
    for number in (1, 2):
        html = pemkot.client.get(f"/console/exchanges?page={number}").get_data(as_text=True)
        assert "2 pertukaran" in html and f"Halaman {number} dari 2" in html
        seen += re.findall(r'<tr data-batch="([^"]+)"', html)
    assert len(set(seen)) == 2 and exchanged in seen


def test_the_log_page_lists_witness_alerts(pemkot):
    from gateway.store.tables import witness_alerts

    with pemkot.node.store.write() as conn:
        conn.execute(witness_alerts.insert().values(
            origin="ombudsman.test/audit", kind="fork", size=7, root_hash=b"\x01" * 32,
            witnessed_size=7, witnessed_note="(cosigned checkpoint)", request="(refused)",
            first_seen="2026-11-29T01:00:00.000000Z", last_seen="2026-11-29T02:00:00.000000Z",
            count=3))
    sign_in(pemkot)
    html = pemkot.client.get("/console/log?lang=en").get_data(as_text=True)
    assert 'data-state="no-alerts"' not in html
    row = re.search(r'<table class="list alerts">.*?</table>', html, re.S).group(0)
    assert "ombudsman.test/audit" in row and "<strong>fork</strong>" in row and ">3<" in row


def test_a_page_number_that_is_not_one_is_the_first_page(pemkot):
    sign_in(pemkot)
    for page in ("%C2%B2", "-1", "x", "99999999"):
        assert pemkot.client.get(f"/console/exchanges?page={page}").status_code == 200


# -- sessions kept on the server (docs/CONSOLE.md section 1) -------------------------------------


def cookie_name(app):
    return app.app.config["SESSION_COOKIE_NAME"]


def copy_of(app, source=None):
    """Another browser holding a copy of the console cookie that ``source`` holds now."""
    name = cookie_name(app)
    other = app.app.test_client()
    other.set_cookie(name, (source or app.client).get_cookie(name).value)
    return other


def session_rows(app, client_id=None):
    from gateway.store.tables import console_sessions

    query = select(console_sessions)
    if client_id is not None:
        query = query.where(console_sessions.c.client_id == client_id)
    with app.node.store.read() as conn:
        return conn.execute(query).mappings().all()


def at(app, monkeypatch, moment):
    monkeypatch.setattr(app.node, "clock", lambda: moment)


def test_a_cookie_copied_before_sign_out_is_refused_after_it(pemkot):
    sign_in(pemkot)
    html = pemkot.client.get("/console/exchanges").get_data(as_text=True)
    stolen = copy_of(pemkot)
    assert stolen.get("/console/exchanges").status_code == 200  # the same session
    assert pemkot.client.post("/console/logout", data={"csrf_token": csrf(html)}).status_code == 302
    for path in ("/console/exchanges", "/console/log", "/console/"):
        answer = stolen.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/console/login")
    assert session_rows(pemkot) == []


def test_only_the_console_opens_the_cookie_session(pemkot, monkeypatch):
    from flask.sessions import SecureCookieSessionInterface

    sign_in(pemkot)
    opened = []
    original = SecureCookieSessionInterface.open_session

    def open_session(self, app, request):
        opened.append(request.path)
        return original(self, app, request)

    monkeypatch.setattr(SecureCookieSessionInterface, "open_session", open_session)
    for path in ("/healthz", "/api/v1/schemas", "/consoles"):
        answer = pemkot.client.get(path, headers=pemkot.auth("auditor"))
        assert "Set-Cookie" not in answer.headers and "Cookie" not in answer.vary
    assert pemkot.client.get("/console/exchanges").status_code == 200
    assert pemkot.client.get("/console").status_code == 308
    assert opened == ["/console/exchanges", "/console"]


def test_the_server_keeps_only_the_hash_of_the_session_id(pemkot, caplog):
    import hashlib

    caplog.set_level("DEBUG")
    sign_in(pemkot)
    value = pemkot.client.get_cookie(cookie_name(pemkot)).value
    content = pemkot.app.session_interface.get_signing_serializer(pemkot.app).loads(value)
    session_id = content["sid"]
    assert len(session_id) >= 43  # 256 random bits
    # No client id, token digest or times in the cookie: the server keeps them.
    assert set(content) - {"_permanent"} == {"sid", "csrf"}
    (row,) = session_rows(pemkot)
    assert row["id_sha256"] == hashlib.sha256(session_id.encode()).hexdigest()
    assert row["client_id"] == "auditor"
    assert row["token_sha256"] == hashlib.sha256(AUDITOR.encode()).hexdigest()
    assert session_id not in json.dumps(dict(row))
    html = pemkot.client.get("/console/exchanges").get_data(as_text=True)
    pemkot.client.post("/console/logout", data={"csrf_token": csrf(html)})
    assert session_id not in caplog.text and row["id_sha256"] not in caplog.text
    assert "auditor signed in" in caplog.text and "auditor signed out" in caplog.text


def test_signing_in_again_ends_the_session_before(pemkot):
    sign_in(pemkot)
    before = copy_of(pemkot)
    html = pemkot.client.get("/console/exchanges").get_data(as_text=True)
    again = pemkot.client.post("/console/login", data={"token": AUDITOR, "csrf_token": csrf(html)})
    assert again.status_code == 302
    assert pemkot.client.get("/console/exchanges").status_code == 200
    assert before.get("/console/exchanges").status_code == 302
    assert len(session_rows(pemkot)) == 1


def test_another_worker_or_replica_honours_the_sign_out(deployment, make_apps, pemkot):
    replica = make_apps(deployment)["pemkot-bekasi"]  # another app on the same database
    sign_in(pemkot)
    html = pemkot.client.get("/console/exchanges").get_data(as_text=True)
    there = copy_of(replica, pemkot.client)
    assert there.get("/console/exchanges").status_code == 200
    assert pemkot.client.post("/console/logout", data={"csrf_token": csrf(html)}).status_code == 302
    assert there.get("/console/exchanges").status_code == 302
    # And the other way round: signed out on the replica, refused here.
    sign_in(pemkot)
    here = copy_of(pemkot)
    there = copy_of(replica, pemkot.client)
    html = there.get("/console/exchanges").get_data(as_text=True)
    assert there.post("/console/logout", data={"csrf_token": csrf(html)}).status_code == 302
    assert here.get("/console/exchanges").status_code == 302


@pytest.mark.parametrize("change", ["rotate", "revoke"])
def test_rotating_or_revoking_the_auditor_client_ends_its_sessions(pemkot, change):
    token = credentials.add(pemkot.node, "bpk-auditor", roles=["auditor"], operator="test")
    sign_in(pemkot, token)
    copy = copy_of(pemkot)
    other = pemkot.app.test_client()  # another auditor's session stays
    form = other.get("/console/login").get_data(as_text=True)
    other.post("/console/login", data={"token": AUDITOR, "csrf_token": csrf(form)})
    assert len(session_rows(pemkot, "bpk-auditor")) == 1
    getattr(credentials, change)(pemkot.node, "bpk-auditor", operator="test")
    assert session_rows(pemkot, "bpk-auditor") == []  # nothing lingers
    for browser in (pemkot.client, copy):
        assert browser.get("/console/exchanges").status_code == 302
    assert other.get("/console/exchanges").status_code == 200
    if change == "rotate":  # the new token signs in anew
        new_token = credentials.rotate(pemkot.node, "bpk-auditor", operator="test")
        assert sign_in(pemkot, new_token).status_code == 302
        assert pemkot.client.get("/console/exchanges").status_code == 200


def test_a_client_removed_from_the_node_config_is_signed_out(pemkot, monkeypatch):
    import dataclasses

    sign_in(pemkot)
    assert pemkot.client.get("/console/exchanges").status_code == 200
    config = pemkot.node.config
    kept = tuple(c for c in config.clients if c.id != "auditor")
    monkeypatch.setattr(pemkot.node, "config", dataclasses.replace(config, clients=kept))
    assert pemkot.client.get("/console/exchanges").status_code == 302
    assert session_rows(pemkot, "auditor") == []


def test_a_session_a_token_without_the_auditor_role_holds_is_ended(pemkot, monkeypatch):
    import dataclasses

    sign_in(pemkot)
    config = pemkot.node.config
    demoted = tuple(dataclasses.replace(c, roles=frozenset()) if c.id == "auditor" else c
                    for c in config.clients)
    monkeypatch.setattr(pemkot.node, "config", dataclasses.replace(config, clients=demoted))
    assert pemkot.client.get("/console/exchanges").status_code == 302
    assert session_rows(pemkot) == []


def test_idle_expiry_is_kept_on_the_server(pemkot, monkeypatch):
    start = pemkot.node.now()
    at(pemkot, monkeypatch, start)
    sign_in(pemkot)
    copy = copy_of(pemkot)
    # Used every 29 minutes, the session lives on, for every copy of its cookie.
    for step in (1, 2, 3):
        at(pemkot, monkeypatch, start + dt.timedelta(minutes=29 * step))
        assert pemkot.client.get("/console/exchanges").status_code == 200
    last = start + dt.timedelta(minutes=29 * 3)
    at(pemkot, monkeypatch, last + dt.timedelta(minutes=30))  # 30 minutes idle: not more
    assert copy.get("/console/exchanges").status_code == 200
    at(pemkot, monkeypatch, last + dt.timedelta(minutes=60, seconds=1))
    answer = copy.get("/console/exchanges")
    assert answer.status_code == 302
    assert "Sesi Anda telah berakhir" in copy.get(answer.headers["Location"]).get_data(
        as_text=True)
    assert session_rows(pemkot) == []
    # Ended on the server: a clock set back does not bring it back for any copy.
    at(pemkot, monkeypatch, last)
    assert pemkot.client.get("/console/exchanges").status_code == 302


def test_a_session_ends_after_eight_hours_however_busy(pemkot, monkeypatch):
    start = pemkot.node.now()
    at(pemkot, monkeypatch, start)
    sign_in(pemkot)
    copy = copy_of(pemkot)
    moment = start
    while moment + dt.timedelta(minutes=25) <= start + dt.timedelta(hours=8):
        moment += dt.timedelta(minutes=25)
        at(pemkot, monkeypatch, moment)
        assert pemkot.client.get("/console/log").status_code == 200, moment - start
    at(pemkot, monkeypatch, start + dt.timedelta(hours=8, seconds=1))
    assert pemkot.client.get("/console/exchanges").status_code == 302
    at(pemkot, monkeypatch, moment)
    assert copy.get("/console/exchanges").status_code == 302
    assert session_rows(pemkot) == []


def test_rows_of_expired_sessions_are_purged(pemkot, monkeypatch):
    start = pemkot.node.now()
    at(pemkot, monkeypatch, start)
    sign_in(pemkot)  # left open, never used again
    idle = pemkot.app.test_client()
    form = idle.get("/console/login").get_data(as_text=True)
    idle.post("/console/login", data={"token": AUDITOR, "csrf_token": csrf(form)})
    assert len(session_rows(pemkot)) == 2
    # Another sign-in 31 minutes later deletes both rows: both sessions are idle.
    at(pemkot, monkeypatch, start + dt.timedelta(minutes=31))
    sign_in(pemkot, follow=False)
    assert len(session_rows(pemkot)) == 1
    assert idle.get("/console/exchanges").status_code == 302


# The sessions' table is checked on both backends by the tests above; this one is slow.
@pytest.mark.sqlite_pass
def test_a_running_node_ends_sessions_on_sign_out_rotate_revoke_and_command(deployment_factory):
    """Real HTTP against a node process with two workers; the operator's commands beside it."""
    import os
    import subprocess
    import sys

    import requests

    from gateway.ops.process import NodeProcess

    deployment = deployment_factory(workers=2)
    party = "pemkot-bekasi"
    config = str(deployment.config_path(party))
    env = {**os.environ, **deployment.env}

    def gateway(*args):
        done = subprocess.run([sys.executable, "-m", "gateway", *args, "--config", config],
                              capture_output=True, text=True, timeout=120, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    node = NodeProcess(deployment.config_path(party), listen=f"127.0.0.1:{deployment.ports[party]}",
                       env=deployment.env, log_path=deployment.root / f"{party}.log").start()
    try:
        base = node.base_url

        def browser(token):
            """The cookies of a signed-in browser (a copy of them is the same session)."""
            # The cookie is Secure (a node in production mode): requests keeps such a
            # cookie only for https, so it is carried by hand, as a browser does on 127.0.0.1.
            form = requests.get(f"{base}/console/login", timeout=10)
            cookies = dict(form.cookies)
            answer = requests.post(f"{base}/console/login", cookies=cookies,
                                   data={"token": token, "csrf_token": csrf(form.text)},
                                   allow_redirects=False, timeout=10)
            assert answer.status_code == 302, answer.text
            return {**cookies, **dict(answer.cookies)}

        def signed_in(cookies):
            # Several requests: the node's two workers each answer some.
            codes = {requests.get(f"{base}/console/exchanges", cookies=cookies,
                                  allow_redirects=False, timeout=10).status_code
                     for _ in range(4)}
            assert len(codes) == 1, codes
            return codes == {200}

        own = browser(AUDITOR)
        copy = dict(own)
        assert signed_in(copy)
        html = requests.get(f"{base}/console/exchanges", cookies=own, timeout=10).text
        assert requests.post(f"{base}/console/logout", cookies=own,
                             data={"csrf_token": csrf(html)}, allow_redirects=False,
                             timeout=10).status_code == 302
        assert not signed_in(copy)

        token = gateway("clients", "add", "bpk-auditor", "--role", "auditor").strip()
        copy = browser(token)
        assert signed_in(copy)
        token = gateway("clients", "rotate", "bpk-auditor").strip()
        assert not signed_in(copy)
        copy = browser(token)
        assert signed_in(copy)
        gateway("clients", "revoke", "bpk-auditor")
        assert not signed_in(copy)

        first, second = browser(AUDITOR), browser(AUDITOR)
        listed = gateway("console", "sessions", "list")
        assert listed.count("\nauditor ") == 2 and "bpk-auditor" not in listed
        assert gateway("console", "sessions", "end", "--client", "auditor").strip() == (
            "ended 2 console sessions")
        assert not signed_in(first) and not signed_in(second)
        assert gateway("console", "sessions", "list", "--json").strip() == "[]"
    finally:
        assert node.stop() == 0, node.log_tail()


def test_the_sessions_command_deletes_expired_rows_and_wants_one_choice(deployment, pemkot):
    from click.testing import CliRunner

    from gateway.cli.main import cli
    from gateway.store.tables import console_sessions
    from gateway.timestamps import iso

    config = str(deployment.config_path("pemkot-bekasi"))
    sign_in(pemkot)
    old = iso(pemkot.node.now() - dt.timedelta(hours=9))
    with pemkot.node.store.write() as conn:
        conn.execute(console_sessions.insert().values(
            id_sha256="0" * 64, client_id="auditor", token_sha256="1" * 64, created_at=old,
            seen_at=iso(pemkot.node.now())))
    runner = CliRunner()
    listed = runner.invoke(cli, ["console", "sessions", "list", "--json", "--config", config])
    assert sorted(r["status"] for r in json.loads(listed.output)) == ["active", "expired"]
    assert "0" * 64 not in listed.output
    for wrong in ([], ["--all", "--client", "auditor"]):
        refused = runner.invoke(cli, ["console", "sessions", "end", *wrong, "--config", config])
        assert refused.exit_code == 2 and "one of --client ID, --all or --expired" in refused.output
    done = runner.invoke(cli, ["console", "sessions", "end", "--expired", "--config", config])
    assert done.output == "ended 1 console sessions\n"
    assert pemkot.client.get("/console/exchanges").status_code == 200
    done = runner.invoke(cli, ["console", "sessions", "end", "--all", "--config", config])
    assert done.output == "ended 1 console sessions\n"
    assert pemkot.client.get("/console/exchanges").status_code == 302


def test_times_are_in_wib_with_utc_on_hover_and_days_are_jakarta_days(
        apps, pemkot, ombudsman, exchanged):
    sign_in(ombudsman, TOKENS["ombudsman-ri"]["auditor"])
    html = ombudsman.client.get("/console/exchanges").get_data(as_text=True)
    stamps = re.findall(r'<time datetime="([^"]+Z)" title="([^"]+ UTC)">([^<]+ WIB)</time>', html)
    assert stamps and " UTC" not in re.sub(r'title="[^"]*"', "", html.split("<main")[1])
    # The exchange's day in Jakarta: the filter from that day finds it, to the day before not.
    moment = parse(stamps[0][0]).astimezone(WIB)
    day, before = moment.date(), moment.date() - dt.timedelta(days=1)
    for query, found in ((f"from={day}", True), (f"to={before}", False), (f"to={day}", True)):
        page = ombudsman.client.get(f"/console/exchanges?{query}").get_data(as_text=True)
        assert (exchanged in page) is found, query
    for path in (f"/console/batches/{exchanged}", "/console/log"):
        page = ombudsman.client.get(path).get_data(as_text=True)
        assert re.search(r'<time datetime="[^"]+Z" title="[^"]+ UTC">[^<]+ WIB</time>', page), path
