"""The auditor console in a real browser: Debian's Chromium, driven by Playwright,
against two real node processes that have exchanged batches over HTTP.

An auditor of Pemkot Bekasi signs in, filters the exchanges, opens a batch and
sees it on both nodes with every badge passed, downloads its evidence bundle
(which `gateway audit verify` then verifies), reads the log page in English,
and sees the log flagged once an operator edits an entry in the database.

With nodes that carry every case dataset, the auditor reads the service levels: the
charts load as images (the page's policy unchanged), an LHP whose corrective actions
were due in the past is listed overdue, and its case page links to the batches.

Screenshots of the main pages go to $GATEWAY_CONSOLE_SCREENSHOTS when it is set
(``scripts/screenshots`` sets it to docs/screenshots), else to the test's
temporary folder.
"""

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import requests

from gateway.cases.calendar import wib_date
from gateway.ops.process import NodeProcess, wait_until
from schemas.samples import sample_records
from tests.case_deployment import NEWEST, SUBMITTER, case_deployment
from tests.conftest import TOKENS
from tests.integration.conftest import gateway, start_nodes, stop_nodes
from tests.integration.test_case_ledger import answers_for, requests_for
from tests.integration.test_console_cases import (
    ANSWERED,
    LHP_CASE,
    PAGE_CSP,
    WAITING,
    lhp_with_past_deadlines,
)

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("GATEWAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
AUDITOR = TOKENS["pemkot-bekasi"]["auditor"]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (scripts/test installs it)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: the suite may run as root (CI), where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("GATEWAY_CONSOLE_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def badge_states(page):
    return {b.get_attribute("data-badge"): b.get_attribute("data-state")
            for b in page.locator("[data-badge]").all()}


@pytest.mark.sqlite_pass  # the browser's side; the console's queries: test_console, both backends
def test_an_auditor_works_through_the_console(exchanged, browser, shots, tmp_path):
    deployment, nodes = exchanged
    base = nodes["pemkot-bekasi"].base_url
    context = browser.new_context(locale="id-ID", accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)

    # Every page asks for a session first.
    page.goto(f"{base}/console/exchanges")
    assert "/console/login" in page.url
    assert page.locator("html").get_attribute("lang") == "id"
    page.get_by_label("Token auditor").fill("wrong-token")
    page.get_by_role("button", name="Masuk").click()
    assert page.locator("#login-error").is_visible()
    page.get_by_label("Token auditor").fill(AUDITOR)
    page.screenshot(path=shots / "console-login.png")
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{base}/console/exchanges")

    # Both batches, the one sent and the one received.
    rows = page.locator("tr[data-batch]")
    assert rows.count() == 2 and page.get_by_text("2 pertukaran").is_visible()
    page.screenshot(path=shots / "console-exchanges.png", full_page=True)
    page.get_by_label("Arah").select_option("incoming")
    page.get_by_role("button", name="Saring").click()
    page.wait_for_url("**direction=incoming**")
    assert rows.count() == 1 and page.get_by_text("1 pertukaran").is_visible()
    [(received,)] = deployment.query("pemkot-bekasi", "SELECT batch_id FROM inbound_batches")
    assert rows.first.get_attribute("data-batch") == received
    page.get_by_label("Dataset").select_option("tanggapan_klarifikasi")
    page.get_by_role("button", name="Saring").click()
    page.wait_for_url("**dataset=tanggapan_klarifikasi**")
    assert rows.count() == 0 and page.get_by_text("Tidak ada pertukaran").is_visible()
    page.get_by_role("link", name="Hapus saringan").click()
    assert rows.count() == 2

    # The batch Pemkot sent: its steps on both nodes, every check passed.
    [(sent,)] = deployment.query("pemkot-bekasi", "SELECT batch_id FROM outbound_batches")
    page.get_by_role("link", name=sent).click()
    page.wait_for_url(f"{base}/console/batches/{sent}")
    events = page.locator("[data-event]").evaluate_all(
        "steps => steps.map(s => s.dataset.event)")
    for step in ("submission_accepted", "batch_sealed", "batch_sent", "batch_received",
                 "receipt_verified"):
        assert step in events, (step, events)
    sides = page.locator(".side[data-party]")
    assert sides.count() == 2
    for side in sides.all():
        states = badge_states(side)
        assert states == {"checkpoint_signature": "ok", "inclusion": "ok", "cosigned": "ok"}, (
            side.get_attribute("data-party"), states)
    assert badge_states(page)["digests_match"] == "ok"
    page.screenshot(path=shots / "console-batch.png", full_page=True)

    # The evidence bundle downloads, and the auditor's own tool verifies it.
    with page.expect_download() as download:
        page.get_by_role("link", name="Unduh paket bukti").click()
    bundle = tmp_path / download.value.suggested_filename
    download.value.save_as(bundle)
    assert bundle.name == f"bundle-{sent}.json"
    done = gateway("audit", "verify", "--agreement", str(deployment.root / "agreement.toml"),
                   "--no-state", str(bundle), env={**deployment.env, "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout

    # The log page, in English.
    page.get_by_role("link", name="Log audit").click()
    page.get_by_role("link", name="EN").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Verification of the whole log").is_visible()
    assert badge_states(page) == {"checkpoint_signature": "ok", "log_verified": "ok",
                                  "cosigned": "ok"}
    page.screenshot(path=shots / "console-log.png", full_page=True)

    # An operator edits an entry in the running node's database: the page flags it.
    [(index, entry)] = deployment.query(
        "pemkot-bekasi", "SELECT idx, entry FROM audit_events WHERE event = 'batch_sealed'")
    deployment.query("pemkot-bekasi", "UPDATE audit_events SET entry = :e WHERE idx = :i",
                     e=entry.replace('"record_count":5', '"record_count":50'), i=index)
    page.reload()
    assert badge_states(page)["log_verified"] == "fail"
    problem = page.locator("#log-problem")
    assert problem.is_visible() and f"entry {index}" in problem.inner_text()
    page.screenshot(path=shots / "console-log-tampered.png", full_page=True)

    # And the batch whose entry it was no longer proves its inclusion.
    page.goto(f"{base}/console/batches/{sent}")
    own = page.locator('.side[data-party="pemkot-bekasi"]')
    assert badge_states(own)["inclusion"] == "fail"

    # Signing out ends the session.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/console/log")
    assert "/console/login" in page.url
    context.close()


@pytest.fixture
def cases_running(deployment_factory):
    """Two node processes that carry every case dataset."""
    deployment = case_deployment(deployment_factory, interval=1, workers=2)
    nodes = {party: NodeProcess(deployment.config_path(party), listen=f"127.0.0.1:{port}",
                                env=deployment.env, log_path=deployment.root / f"{party}.log")
             for party, port in deployment.ports.items()}
    try:
        start_nodes(nodes.values())
        yield deployment, nodes
    finally:
        stop_nodes(nodes.values())


def submit(nodes, party, dataset, records):
    answer = requests.post(
        f"{nodes[party].base_url}/api/v1/datasets/{dataset}/records",
        json={"schema_version": NEWEST[dataset], "records": records},
        headers={"Authorization": f"Bearer {TOKENS[party][SUBMITTER[party]]}"}, timeout=10)
    assert answer.status_code == 202, answer.text


def ledger_count(deployment, sql):
    [(count,)] = deployment.query("pemkot-bekasi", sql)
    return count


@pytest.mark.sqlite_pass  # the pages' queries run on both backends in test_console_cases
def test_an_auditor_reads_the_service_levels(cases_running, browser, shots):
    deployment, nodes = cases_running
    today = wib_date(dt.datetime.now(dt.UTC))
    submit(nodes, "ombudsman-ri", "permintaan_klarifikasi", requests_for([ANSWERED, WAITING]))
    submit(nodes, "ombudsman-ri", "lahp", [lhp_with_past_deadlines(LHP_CASE, today)])
    wait_until(lambda: ledger_count(deployment, "SELECT count(*) FROM cases") == 3,
               timeout=45, what="the requests and the LHP in Pemkot's ledger")
    submit(nodes, "pemkot-bekasi", "tanggapan_klarifikasi", answers_for([ANSWERED]))
    submit(nodes, "pemkot-bekasi", "monitoring_tindak_lanjut",
           sample_records("monitoring_tindak_lanjut", 12, seed=11, version="2.0"))
    wait_until(lambda: ledger_count(
        deployment, "SELECT count(*) FROM case_steps WHERE done_on IS NOT NULL") == 13,
        timeout=45, what="the answer and the follow-up reports in Pemkot's ledger")

    base = nodes["pemkot-bekasi"].base_url
    context = browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/console/service-levels")
    page.get_by_label("Token auditor").fill(AUDITOR)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{base}/console/service-levels")
    answer = page.reload()
    assert answer.headers["content-security-policy"] == PAGE_CSP

    # Each chart is an image that loaded, with a table of its numbers behind a disclosure.
    images = page.locator("figure.chart img")
    assert images.count() == 4
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.chart img')].every(i => i.complete)")
    widths = images.evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths), widths
    assert blocked == []
    overdue = page.locator(f'#overdue tr[data-case="{LHP_CASE}"]')
    assert overdue.count() == 2
    assert page.locator(f'#overdue tr[data-case="{WAITING}"]').count() == 0
    page.locator("figure.chart summary").first.click()
    assert page.locator("figure.chart table").first.is_visible()
    page.screenshot(path=shots / "service-levels.png", full_page=True)

    # The overdue case: its steps, and the exchanges each linked to its batch.
    overdue.first.get_by_role("link").click()
    page.wait_for_url(f"{base}/console/cases/{LHP_CASE}")
    assert page.locator("#steps tr[data-status=overdue]").count() == 2
    when = page.locator("#case-exchanges time").first
    assert when.inner_text().endswith("WIB") and when.get_attribute("title").endswith("UTC")
    page.screenshot(path=shots / "case.png", full_page=True)
    page.locator("#case-exchanges a").first.click()
    page.wait_for_url(f"{base}/console/batches/**")
    assert page.locator("[data-event=batch_received]").count() >= 1

    # The answered request, in English: done on time.
    page.goto(f"{base}/console/cases/{ANSWERED}?lang=en")
    assert page.locator("#case-status").inner_text() == "done on time"
    assert blocked == []
    context.close()
