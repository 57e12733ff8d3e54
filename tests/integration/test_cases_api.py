"""The case ledger's read API (/api/v1/cases...) on two in-process nodes that exchanged
clarification requests and answers."""

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gateway.cases.calendar import WIB
from gateway.http import openapi
from gateway.store.tables import case_steps
from tests.case_deployment import case_deployment
from tests.integration.test_api import node
from tests.integration.test_case_ledger import (
    PERMINTAAN,
    TANGGAPAN,
    answers_for,
    deliver,
    post,
    requests_for,
)

# The routes read through gateway.cases.reports, whose queries (every status, filter and
# the digest) run on both backends in test_case_ledger; the routes' own checks do not
# touch the database.
pytestmark = pytest.mark.sqlite_pass

NUMBERS = [f"{i:04d}/LM/IX/2026/JKT" for i in range(1, 6)]
ANSWERED = NUMBERS[:2]


@pytest.fixture
def apps(deployment_factory, make_apps):
    return make_apps(case_deployment(deployment_factory))


@pytest.fixture
def exchanged(apps, pemkot, ombudsman):
    """Five clarification requests to Pemkot, two of them answered."""
    post(ombudsman, PERMINTAAN, requests_for(NUMBERS))
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for(ANSWERED))
    deliver(apps, pemkot)
    return pemkot, ombudsman


def get(app, target, client_id="auditor", **kwargs):
    answer = app.client.get(target, headers=app.auth(client_id), **kwargs)
    return answer, answer.get_json()


def on_day(app, day):
    """Let the node read the statuses on ``day`` (noon in Asia/Jakarta)."""
    moment = dt.datetime.combine(day, dt.time(12), WIB).astimezone(dt.UTC)
    node(app).clock = lambda: moment


def test_the_list_with_its_statuses_and_filters(exchanged):
    pemkot, _ = exchanged
    answer, body = get(pemkot, "/api/v1/cases")
    assert answer.status_code == 200, body
    assert set(body) == {"as_of", "cases", "next"} and body["next"] is None
    statuses = {c["case_number"]: c["status"] for c in body["cases"]}
    assert statuses == {n: "done_on_time" if n in ANSWERED else "open" for n in NUMBERS}
    assert [c["case_number"] for c in body["cases"]] == sorted(NUMBERS)

    _, done = get(pemkot, "/api/v1/cases?status=done_on_time")
    assert [c["case_number"] for c in done["cases"]] == ANSWERED
    unit = body["cases"][2]["unit"]
    _, by_unit = get(pemkot, "/api/v1/cases", query_string={"unit": unit})
    assert by_unit["cases"] and {c["unit"] for c in by_unit["cases"]} == {unit}
    opened = body["cases"][0]["opened_on"]
    _, in_month = get(pemkot, f"/api/v1/cases?period={opened[:7]}")
    _, in_year = get(pemkot, f"/api/v1/cases?period={opened[:4]}")
    _, other_year = get(pemkot, f"/api/v1/cases?period={int(opened[:4]) - 1}")
    assert len(in_month["cases"]) == len(in_year["cases"]) == 5 and other_year["cases"] == []


def test_pages_follow_next(exchanged):
    pemkot, _ = exchanged
    seen, after = [], None
    for _ in range(5):
        query = {"limit": "2", **({"after": after} if after else {})}
        answer, body = get(pemkot, "/api/v1/cases", "sistem-pengaduan", query_string=query)
        assert answer.status_code == 200, body
        seen += [c["case_number"] for c in body["cases"]]
        after = body["next"]
        if after is None:
            break
    assert seen == sorted(NUMBERS)
    # Five cases in pages of two: 2, 2, 1; the last page says there is no next one.
    assert after is None
    # A page that holds exactly what is left says so too: no empty page follows.
    _, whole = get(pemkot, "/api/v1/cases", "sistem-pengaduan", query_string={"limit": "5"})
    assert len(whole["cases"]) == 5 and whole["next"] is None


def test_statuses_on_a_later_day(exchanged):
    pemkot, ombudsman = exchanged
    _, detail = get(pemkot, f"/api/v1/cases/{NUMBERS[4]}")
    due = dt.date.fromisoformat(detail["next_due_on"])
    for app in (pemkot, ombudsman):
        on_day(app, due)
        _, soon = get(app, "/api/v1/cases?status=due_soon")
        assert [c["case_number"] for c in soon["cases"]] == NUMBERS[2:]
        assert soon["as_of"] == due.isoformat()
        on_day(app, due + dt.timedelta(days=1))
        _, overdue = get(app, "/api/v1/cases?status=overdue")
        assert [c["case_number"] for c in overdue["cases"]] == NUMBERS[2:]
        _, done = get(app, "/api/v1/cases?status=done_on_time")
        assert [c["case_number"] for c in done["cases"]] == ANSWERED


def test_one_case_with_slashes_in_its_number(exchanged):
    pemkot, ombudsman = exchanged
    answer, case = get(pemkot, f"/api/v1/cases/{ANSWERED[0]}", "inspektorat")
    assert answer.status_code == 200, case
    assert case["case_number"] == ANSWERED[0] and case["status"] == "done_on_time"
    [step] = case["steps"]
    assert step["step"] == "klarifikasi/1" and step["status"] == "done_on_time"
    assert [e["dataset"] for e in case["exchanges"]] == [PERMINTAAN, TANGGAPAN]
    assert [e["direction"] for e in case["exchanges"]] == ["received", "sent"]
    _, there = get(ombudsman, f"/api/v1/cases/{ANSWERED[0]}")
    assert there["digest"] == case["digest"]

    answer, body = get(pemkot, "/api/v1/cases/9999/LM/IX/2026/JKT")
    assert answer.status_code == 404
    assert body["error"]["code"] == "not_found" and body["error"]["path"] == "case_number"


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/api/v1/cases?unit=not%20a%20unit", "unit"),
        ("/api/v1/cases?unit=", "unit"),
        ("/api/v1/cases?status=late", "status"),
        ("/api/v1/cases?period=2026-13", "period"),
        ("/api/v1/cases?period=26", "period"),
        ("/api/v1/cases?limit=0", "limit"),
        ("/api/v1/cases?limit=1001", "limit"),
        ("/api/v1/cases?limit=ten", "limit"),
        ("/api/v1/cases?limit=%C2%B2", "limit"),
        ("/api/v1/cases?limit=99999999999999999999", "limit"),
        ("/api/v1/cases?after=", "after"),
        ("/api/v1/cases?after=" + "9" * 65, "after"),
        ("/api/v1/cases?stauts=overdue", "stauts"),
        ("/api/v1/cases?status=open&status=overdue", "status"),
        ("/api/v1/cases-digest?bucket=zz", "bucket"),
        ("/api/v1/cases-digest?bucket=ABC", "bucket"),
        ("/api/v1/cases-digest?unit=x", "unit"),
        ("/api/v1/cases-digest?peer=pemkab-bogor", "peer"),
        ("/api/v1/cases-digest?peer=pemkot-bekasi", "peer"),  # the node's own party
        ("/api/v1/cases-digest?peer=", "peer"),
        ("/api/v1/cases?peer=" + "x" * 200, "peer"),
        (f"/api/v1/cases/{NUMBERS[0]}?at=2026-01-01", "at"),
    ],
)
def test_bad_parameters_are_400_with_their_path(apps, pemkot, target, path):
    answer, body = get(pemkot, target)
    assert answer.status_code == 400, body
    assert body["error"]["code"] == "bad_request" and body["error"]["path"] == path


def test_who_may_read(apps, pemkot, ombudsman):
    # The auditor, and the systems that submit or pull a dataset of a case.
    for client_id in ("auditor", "sistem-pengaduan", "inspektorat"):
        assert get(pemkot, "/api/v1/cases", client_id)[0].status_code == 200, client_id
    assert get(ombudsman, "/api/v1/cases-digest", "simpel")[0].status_code == 200
    # The operator neither audits nor handles a dataset of a case.
    for target in ("/api/v1/cases", f"/api/v1/cases/{NUMBERS[0]}", "/api/v1/cases-digest",
                   "/api/v1/cases?limit=x"):  # fmt: skip
        answer, body = get(pemkot, target, "operator")
        assert answer.status_code == 403 and body["error"]["code"] == "forbidden", target
        answer = pemkot.client.get(target)
        assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"]


def test_the_digest_is_the_same_at_both_nodes(exchanged):
    pemkot, ombudsman = exchanged
    _, here = get(pemkot, "/api/v1/cases-digest")
    _, there = get(ombudsman, "/api/v1/cases-digest")
    assert here == there and here["cases"] == 5
    bucket = next(iter(here["buckets"]))
    _, one = get(pemkot, f"/api/v1/cases-digest?bucket={bucket}")
    assert one["bucket"] == bucket and set(one["cases"]) <= set(NUMBERS) and one["cases"]
    assert one == get(ombudsman, f"/api/v1/cases-digest?bucket={bucket}")[1]
    # Of each node's cases with the other: the same cases, each side naming the other.
    _, here = get(pemkot, "/api/v1/cases-digest?peer=ombudsman-ri")
    _, there = get(ombudsman, "/api/v1/cases-digest?peer=pemkot-bekasi")
    assert (here.pop("peer"), there.pop("peer")) == ("ombudsman-ri", "pemkot-bekasi")
    assert here == there and here["cases"] == 5
    _, one = get(pemkot, f"/api/v1/cases-digest?bucket={bucket}&peer=ombudsman-ri")
    assert one["cases"] == get(ombudsman, f"/api/v1/cases-digest?bucket={bucket}")[1]["cases"]
    _, page = get(ombudsman, "/api/v1/cases?peer=pemkot-bekasi&limit=2")
    assert [c["peer"] for c in page["cases"]] == ["pemkot-bekasi"] * 2 and page["next"]


def test_the_openapi_document_lists_the_routes():
    paths = openapi.document()["paths"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_number}", "/api/v1/cases-digest"):
        operation = paths[path]["get"]
        assert {"200", "400", "401", "403"} <= set(operation["responses"]), path
        assert operation["security"] == [{"bearerAuth": ["auditor"]},
                                         {"bearerAuth": ["submit"]}, {"bearerAuth": ["pull"]}]
    names = {p["name"] for p in paths["/api/v1/cases"]["get"]["parameters"]}
    assert names == {"unit", "status", "period", "after", "limit", "peer"}
    names = {p["name"] for p in paths["/api/v1/cases-digest"]["get"]["parameters"]}
    assert names == {"bucket", "peer"}


def test_the_metrics_count_overdue_steps_per_unit_and_cases_per_status(exchanged):
    pemkot, _ = exchanged
    with node(pemkot).store.read() as conn:
        open_steps = [dict(r) for r in conn.execute(
            select(case_steps).where(case_steps.c.done_on.is_(None))).mappings()]  # fmt: skip
    due = dt.date.fromisoformat(max(s["due_on"] for s in open_steps))
    on_day(pemkot, due + dt.timedelta(days=1))
    answer = pemkot.client.get("/metrics", headers=pemkot.auth("operator"))
    assert answer.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for s in family.samples
        if s.name in ("gateway_case_steps_overdue", "gateway_cases")
    }
    expected_units: dict[str, int] = {}
    for step in open_steps:
        expected_units[step["unit"] or ""] = expected_units.get(step["unit"] or "", 0) + 1
    overdue = {dict(k[1])["unit"]: v for k, v in samples.items()
               if k[0] == "gateway_case_steps_overdue"}  # fmt: skip
    assert overdue == expected_units and sum(overdue.values()) == 3
    by_status = {dict(k[1])["status"]: v for k, v in samples.items() if k[0] == "gateway_cases"}
    assert by_status == {"open": 0, "due_soon": 0, "overdue": 3, "done_on_time": 2,
                         "done_late": 0}  # fmt: skip
    # Today (the day of the exchange) nothing is overdue, and the open cases are open.
    node(pemkot).clock = lambda: dt.datetime.now(dt.UTC)
    text = pemkot.client.get("/metrics", headers=pemkot.auth("operator")).get_data(as_text=True)
    assert "gateway_case_steps_overdue{" not in text
    assert 'gateway_cases{status="open"} 3.0' in text
