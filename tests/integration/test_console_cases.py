"""The service-levels page and the case page of the console, on two in-process nodes that
carry every case dataset (tests/case_deployment.py).

The Ombudsman sends clarification requests and an LHP whose corrective actions were due
in the past; Pemkot answers one request and sends follow-up reports. Pemkot's auditor
reads the ledger's figures, charts and overdue steps, on the day and on a later day
(the node's clock set forward), in both languages.
"""

import datetime as dt
import re
import time
from html import unescape

import pytest

from gateway.cases import reports
from gateway.cases.calendar import load_calendar
from gateway.http.console import service_levels
from schemas.samples import sample_records
from tests.case_deployment import case_deployment
from tests.conftest import TOKENS
from tests.integration.test_case_ledger import (
    LAHP,
    MONITORING,
    PERMINTAAN,
    TANGGAPAN,
    answers_for,
    deliver,
    post,
    requests_for,
)
from tests.integration.test_console import sign_in

AUDITOR = TOKENS["pemkot-bekasi"]["auditor"]
ANSWERED, WAITING = "0101/LM/I/2026/JKT", "0102/LM/I/2026/JKT"
LHP_CASE = "0103/LM/I/2026/JKT"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

# The pages read through gateway.cases.reports, whose queries (the figures by month and by
# unit too) run on both backends in test_case_ledger.
pytestmark = pytest.mark.sqlite_pass


def lhp_with_past_deadlines(number, today, *, seed=7):
    """An LHP 2.0 that found maladministration, issued 60 days ago, whose corrective
    actions were due 30 and 10 days ago: each is overdue from its receipt on."""
    [record] = sample_records(LAHP, 1, seed=seed, version="2.0")
    issued = today - dt.timedelta(days=60)
    record.update(
        nomor_laporan=number,
        tanggal_lahp=issued.isoformat(),
        kesimpulan="ditemukan_maladministrasi",
    )
    record.pop("alasan_penghentian", None)
    if not record.get("jenis_maladministrasi"):
        record["jenis_maladministrasi"] = ["penundaan_berlarut"]
    actions = record.get("tindakan_korektif") or []
    if not actions:
        actions = [
            {
                "id_tindakan": "TK-01",
                "unit_penanggung_jawab": "3275.DISDUKCAPIL",
                "tindakan": "Menerbitkan KTP elektronik pelapor tanpa memungut biaya",
            }
        ]
    actions = [actions[0], {**actions[0], "id_tindakan": "TK-02"}]
    for action, ago in zip(actions, (30, 10), strict=True):
        action["batas_waktu"] = (today - dt.timedelta(days=ago)).isoformat()
    record["tindakan_korektif"] = actions
    return record


def exchange_a_season(apps, pemkot, ombudsman, *, followups=8):
    """Requests (one answered at once), an LHP already overdue and follow-up reports
    (whose steps started on the days they declare), all delivered both ways."""
    today = reports.today(pemkot.node).day
    post(ombudsman, PERMINTAAN, requests_for([ANSWERED, WAITING]))
    post(ombudsman, LAHP, [lhp_with_past_deadlines(LHP_CASE, today)])
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for([ANSWERED]))
    post(pemkot, MONITORING, sample_records(MONITORING, followups, seed=11, version="2.0"))
    deliver(apps, pemkot)
    return today


@pytest.fixture
def apps(deployment_factory, make_apps):
    return make_apps(case_deployment(deployment_factory))


@pytest.fixture
def season(apps, pemkot, ombudsman):
    return exchange_a_season(apps, pemkot, ombudsman)


def page(app, url):
    answer = app.client.get(url)
    return answer, answer.get_data(as_text=True)


def rows_of(html, table_id):
    body = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    return body.group(0) if body else ""


def test_the_pages_need_an_auditor_session(pemkot):
    for url in (
        "/console/service-levels",
        "/console/service-levels/chart/share-on-time.svg",
        f"/console/cases/{ANSWERED}",
    ):
        answer = pemkot.client.get(url)
        assert answer.status_code == 302, url
        assert answer.headers["Location"].startswith("/console/login?next=")


def test_the_page_lists_the_overdue_steps_and_the_figures(season, pemkot):
    sign_in(pemkot)
    answer, html = page(pemkot, "/console/service-levels")
    assert answer.status_code == 200
    assert answer.headers["Content-Security-Policy"] == PAGE_CSP
    assert '<html lang="id">' in html and "Tingkat layanan" in html
    assert 'aria-current="page">Tingkat layanan' in html
    # The LHP's two corrective actions are overdue at once: due 30 and 10 days ago.
    overdue = rows_of(html, "overdue")
    assert overdue.count(f'data-case="{LHP_CASE}"') == 2
    case_link = f'href="/console/cases/{LHP_CASE}"'
    assert case_link in overdue
    days = re.findall(r'<td class="num">(\d+)</td>\s*</tr>', overdue)
    assert sorted(map(int, days))[-2:] == [10, 30]
    assert "Tindakan korektif (LHP)" in overdue
    # The dates are dates, in the language's form.
    due = (season - dt.timedelta(days=30)).isoformat()
    assert f'<time datetime="{due}">' in overdue
    # Four charts, each an image of this console with a table of its numbers.
    for name in service_levels.CHARTS:
        assert f'<img src="/console/service-levels/chart/{name}.svg"' in html
    assert html.count("<details>") == 4
    # The totals: the answered request done on time, the LHP's actions overdue.
    totals = {k: v for k, v in re.findall(r'data-total="(\w+)">([^<]*)<', html)}
    assert int(totals["overdue"]) >= 2


def test_a_step_is_overdue_when_read_on_a_later_day(season, pemkot):
    calendar = load_calendar()
    later = calendar.add_working_days(season, 16)
    sign_in(pemkot)
    _, html = page(pemkot, "/console/service-levels")
    assert f'data-case="{WAITING}"' not in rows_of(html, "overdue")
    moved = dt.datetime.combine(later, dt.time(3), tzinfo=dt.UTC)
    pemkot.node.clock = lambda: moved
    sign_in(pemkot)  # the session's idle limit counts by the node's clock too
    answer, html = page(pemkot, "/console/service-levels")
    assert answer.status_code == 200
    overdue = rows_of(html, "overdue")
    assert f'data-case="{WAITING}"' in overdue and f'data-case="{ANSWERED}"' not in overdue
    _, detail = page(pemkot, f"/console/cases/{WAITING}")
    assert 'data-status="overdue"' in detail


def test_the_case_page_shows_steps_and_links_to_the_batches(season, pemkot):
    sign_in(pemkot)
    answer, html = page(pemkot, f"/console/cases/{ANSWERED}")
    assert answer.status_code == 200 and answer.headers["Content-Security-Policy"] == PAGE_CSP
    steps = rows_of(html, "steps")
    assert 'data-step="klarifikasi/1" data-status="done_on_time"' in steps
    assert "selesai tepat waktu" in steps
    exchanges = rows_of(html, "case-exchanges")
    batches = re.findall(r'href="/console/batches/([0-9a-f-]{36})"', exchanges)
    assert len(batches) == 2
    for batch_id in batches:
        assert pemkot.client.get(f"/console/batches/{batch_id}").status_code == 200
    # Times in WIB, with the UTC time on hover.
    stamps = re.findall(
        r'<time datetime="([^"]+Z)" title="([^"]+ UTC)">([^<]+ WIB)</time>', exchanges
    )
    assert len(stamps) == 2
    assert "permintaan_klarifikasi" in exchanges and "tanggapan_klarifikasi" in exchanges
    # The LHP's case: its overdue actions.
    _, lhp = page(pemkot, f"/console/cases/{LHP_CASE}")
    assert len(re.findall(r'<tr data-step="[^"]+" data-status="overdue"', lhp)) == 2
    assert 'id="case-status"><span class="status c-overdue" data-status="overdue">' in lhp


def test_english(season, pemkot):
    sign_in(pemkot)
    _, html = page(pemkot, "/console/service-levels?lang=en")
    assert '<html lang="en">' in html and "Service levels" in html and "Overdue steps" in html
    assert "Corrective action (LHP)" in html
    _, detail = page(pemkot, f"/console/cases/{ANSWERED}")
    assert "done on time" in detail and "Exchanges of the case" in detail
    svg = pemkot.client.get("/console/service-levels/chart/share-on-time.svg")
    assert "Steps done on time, by month due" in svg.get_data(as_text=True)
    page(pemkot, "/console/service-levels?lang=id")
    svg = pemkot.client.get("/console/service-levels/chart/share-on-time.svg")
    assert "Langkah selesai tepat waktu, per bulan jatuh tempo" in svg.get_data(as_text=True)


def test_the_charts_are_svg_images_under_their_own_policy(season, pemkot):
    sign_in(pemkot)
    for name in service_levels.CHARTS:
        answer = pemkot.client.get(f"/console/service-levels/chart/{name}.svg?period={season.year}")
        assert answer.status_code == 200, name
        assert answer.mimetype == "image/svg+xml"
        assert answer.headers["Content-Security-Policy"] == (
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        body = answer.get_data(as_text=True)
        assert "<svg" in body and "<script" not in body.lower()
    assert pemkot.client.get("/console/service-levels/chart/other.svg").status_code == 404


def test_filters(season, pemkot):
    sign_in(pemkot)
    [unit] = {s["unit"] for s in reports.overdue_steps(pemkot.node) if s["case_number"] == LHP_CASE}
    _, html = page(pemkot, f"/console/service-levels?unit={unit}")
    assert f'<option value="{unit}" selected>' in html
    overdue = rows_of(html, "overdue")
    assert f'data-case="{LHP_CASE}"' in overdue
    units_listed = set(re.findall(r'data-unit="([^"]*)"', rows_of(html, "by-unit")))
    assert units_listed <= {unit}
    month = season.isoformat()[:7]
    _, html = page(pemkot, f"/console/service-levels?period={month}")
    assert re.findall(r'data-month="([^"]+)"', rows_of(html, "by-month")) == [month]
    _, html = page(pemkot, f"/console/service-levels?period={season.year}")
    assert len(re.findall(r'data-month="', rows_of(html, "by-month"))) == 12


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("unit=3275.NOPE", "unit"),
        ("period=2026-13", "period"),
        ("period=0000", "period"),
        ("period=9999-12", "period"),
        ("period=last", "period"),
        ("unit=%3Cscript%3E", "unit"),
    ],
)
def test_a_bad_filter_is_a_clear_400(pemkot, query, field):
    sign_in(pemkot)
    for url in ("/console/service-levels", "/console/service-levels/chart/response-days.svg"):
        answer, html = page(pemkot, f"{url}?{query}")
        assert answer.status_code == 400, (url, query)
        assert f'data-field="{field}"' in html and "<script>" not in html
        assert answer.headers["Content-Security-Policy"] == PAGE_CSP
    _, html = page(pemkot, f"/console/service-levels?{query}&lang=en")
    message = unescape(re.search(r'id="filter-error"[^>]*>([^<]+)<', html).group(1))
    assert ("unit register" in message) if field == "unit" else ("YYYY-MM" in message)


def test_an_unknown_case_is_a_404(pemkot):
    sign_in(pemkot)
    answer, html = page(pemkot, "/console/cases/9999/LM/I/2026/JKT")
    assert answer.status_code == 404
    assert "Buku perkara node ini tidak memuat perkara tersebut." in html
    assert page(pemkot, "/console/cases/" + "9" * 80)[0].status_code == 404


def test_the_page_answers_fast_once_warm(season, pemkot):
    sign_in(pemkot)
    urls = [
        "/console/service-levels",
        *(f"/console/service-levels/chart/{n}.svg" for n in service_levels.CHARTS),
    ]
    for url in urls:  # warm: the charts drawn once
        assert pemkot.client.get(url).status_code == 200
    for url in urls:
        best = min(_timed(pemkot, url) for _ in range(5))
        assert best < 0.1, (url, best)


def _timed(app, url):
    start = time.perf_counter()
    assert app.client.get(url).status_code == 200
    return time.perf_counter() - start
