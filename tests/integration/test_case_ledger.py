"""The case ledger on both nodes, fed by records that cross between two in-process nodes."""

import datetime as dt
import json

import pytest
import requests
from sqlalchemy import func, select, update

from gateway.cases import ledger, projection, reports
from gateway.cases.calendar import load_calendar, wib_date
from gateway.exchange import sending
from gateway.http.console import service_levels
from gateway.store.tables import (
    case_events,
    case_step_stats,
    case_steps,
    cases,
    inbound_chunks,
    outbound_batches,
    outbox_records,
)
from gateway.timestamps import parse
from schemas.samples import sample_records
from tests.case_deployment import NEWEST, case_deployment
from tests.integration.test_api import bridge, node, submit

PERMINTAAN = "permintaan_klarifikasi"
TANGGAPAN = "tanggapan_klarifikasi"
LAHP = "lahp"
MONITORING = "monitoring_tindak_lanjut"
PENILAIAN = "penilaian_tindak_lanjut"
# The facts the ledger may keep: ids, dates, unit codes, statuses; nothing personal.
ALLOWED_FACTS = {"case", "kind", "round", "unit", "due", "status", "ref", "conclusion",
                 "actions", "ref_kind", "action", "received_on", "verdict"}


@pytest.fixture
def apps(deployment_factory, make_apps):
    return make_apps(case_deployment(deployment_factory))


def post(app, dataset, records):
    answer = submit(app, records, dataset=dataset, version=NEWEST[dataset])
    assert answer.status_code == 202, answer.get_json()


def deliver(apps, app):
    """Send what ``app`` has to send, then let both nodes' ledgers take what was delivered
    (the schedule's cases:project job does it every two seconds on a running node)."""
    report = sending.run(node(app), post=bridge(apps))
    assert report.delivered and not report.failed
    project(apps)
    return report


def project(apps):
    for each in apps.values():
        projection.project_all(node(each))


def requests_for(numbers, seed=1):
    records = sample_records(PERMINTAAN, len(numbers), seed=seed, version="2.0")
    for record, number in zip(records, numbers, strict=True):
        record["nomor_laporan"] = number
        record["putaran_klarifikasi"] = 1
    return records


def answers_for(numbers, seed=2):
    records = sample_records(TANGGAPAN, len(numbers), seed=seed, version="3.0")
    for record, number in zip(records, numbers, strict=True):
        record["nomor_laporan"] = number
    return records


def rows(app, table):
    with node(app).store.read() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def digests(app):
    return {r["case_number"]: r["digest"] for r in rows(app, cases)}


def test_a_request_and_its_answer_make_the_same_ledger_on_both_nodes(apps, pemkot, ombudsman):
    post(ombudsman, PERMINTAAN, requests_for(["0001/LM/I/2026/JKT", "0002/LM/I/2026/JKT"]))
    deliver(apps, ombudsman)
    for app in (pemkot, ombudsman):
        steps = {(s["case_number"], s["step"]): s for s in rows(app, case_steps)}
        assert set(steps) == {("0001/LM/I/2026/JKT", "klarifikasi/1"),
                              ("0002/LM/I/2026/JKT", "klarifikasi/1")}
    # The step starts on the day of the receiver's signed receipt, in Asia/Jakarta.
    [receipt_at] = {e["receipt_at"] for e in rows(pemkot, case_events)}
    start = wib_date(parse(receipt_at))
    step = rows(pemkot, case_steps)[0]
    assert step["start_on"] == start.isoformat() and step["start_basis"] == "receipt"
    assert step["due_on"] == load_calendar().add_working_days(start, 14).isoformat()
    assert digests(pemkot) == digests(ombudsman)

    post(pemkot, TANGGAPAN, answers_for(["0001/LM/I/2026/JKT"]))
    deliver(apps, pemkot)
    assert digests(pemkot) == digests(ombudsman)
    at = reports.today(node(pemkot))
    listed = reports.list_cases(node(pemkot), at=at)["cases"]
    assert {c["case_number"]: c["status"] for c in listed} == {
        "0001/LM/I/2026/JKT": "done_on_time",
        "0002/LM/I/2026/JKT": "open",
    }
    # Fifteen working days on, the unanswered request is overdue, at both nodes.
    later = reports.today(node(pemkot), load_calendar().add_working_days(start, 15))
    for app in (pemkot, ombudsman):
        overdue = reports.list_cases(node(app), status="overdue", at=later)["cases"]
        assert [c["case_number"] for c in overdue] == ["0002/LM/I/2026/JKT"]
        unit = next(s["unit"] for s in rows(app, case_steps)
                    if s["case_number"] == "0002/LM/I/2026/JKT")
        assert reports.overdue_by_unit(node(app), at=later) == {unit: 1}
    detail = reports.case_detail(node(ombudsman), "0001/LM/I/2026/JKT", at=at)
    assert [e["dataset"] for e in detail["exchanges"]] == [PERMINTAAN, TANGGAPAN]
    assert [e["direction"] for e in detail["exchanges"]] == ["sent", "received"]
    assert detail["steps"][0]["status"] == "done_on_time"
    assert detail["steps"][0]["response_days"] == 0


def test_the_ledger_keeps_no_personal_data(apps, pemkot, ombudsman):
    post(ombudsman, PERMINTAAN, requests_for([f"{i:04d}/LM/II/2026/JKT" for i in range(1, 6)]))
    deliver(apps, ombudsman)
    kept = rows(pemkot, case_events)
    assert len(kept) == 5
    for event in kept:
        facts = json.loads(event["facts"])
        assert set(facts) <= ALLOWED_FACTS
    text = json.dumps(rows(pemkot, case_events) + rows(pemkot, case_steps) + rows(pemkot, cases))
    for record in requests_for([f"{i:04d}/LM/II/2026/JKT" for i in range(1, 6)]):
        for name in ("ringkasan", "nomor_surat"):
            assert record[name] not in text
        if record.get("pelapor"):
            assert record["pelapor"]["nama"] not in text


def test_a_late_answer_and_the_monthly_figures(apps, pemkot, ombudsman):
    number = "0003/LM/III/2026/JKT"
    post(ombudsman, PERMINTAAN, requests_for([number]))
    deliver(apps, ombudsman)
    # Pemkot answers twenty working days after the receipt: late.
    start = dt.date.fromisoformat(rows(pemkot, case_steps)[0]["start_on"])
    answered = load_calendar().add_working_days(start, 20)
    for app in (pemkot, ombudsman):
        clock = node(app).clock
        node(app).clock = lambda clock=clock: clock() + (answered - start)
    post(pemkot, TANGGAPAN, answers_for([number]))
    deliver(apps, pemkot)
    [step] = rows(ombudsman, case_steps)
    assert step["done_on"] == answered.isoformat() and step["response_days"] == 20
    month = step["due_on"][:7]
    figures = reports.monthly(node(ombudsman), month, month)
    [(unit, got_month)] = figures
    assert (unit, got_month) == (step["unit"], month)
    summary = figures[(unit, month)].as_dict()
    assert summary["done_late"] == 1 and summary["done_on_time"] == 0
    assert summary["share_on_time"] == 0.0 and summary["median_response_days"] == 20
    assert digests(pemkot) == digests(ombudsman)


def test_rebuild_and_the_order_receipts_are_learnt_in_give_the_same_ledger(
    apps, pemkot, ombudsman
):
    numbers = ["0004/LM/IV/2026/JKT", "0005/LM/IV/2026/JKT"]
    post(ombudsman, PERMINTAAN, requests_for(numbers))
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for(numbers))
    deliver(apps, pemkot)
    before = digests(ombudsman)
    with node(ombudsman).store.write() as conn:
        assert ledger.rebuild(conn, node(ombudsman)) == 2
    assert digests(ombudsman) == before == digests(pemkot)


def test_a_slice_written_a_few_rows_at_a_time_makes_the_same_ledger(
    apps, pemkot, ombudsman, monkeypatch
):
    numbers = [f"{i:04d}/LM/V/2026/JKT" for i in range(1, 8)]
    monkeypatch.setattr(ledger, "_WRITE_ROWS", 2)  # events, steps and cases in parts
    post(ombudsman, PERMINTAAN, requests_for(numbers))
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for(numbers))
    deliver(apps, pemkot)
    tables = (case_steps, cases, case_step_stats)

    def kept(table):
        return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows(ombudsman, table))

    in_parts = {t.name: kept(t) for t in tables}
    assert len(rows(ombudsman, case_events)) == 14 and len(in_parts["cases"]) == 7
    monkeypatch.setattr(ledger, "_WRITE_ROWS", 1000)  # all at once
    with node(ombudsman).store.write() as conn:
        assert ledger.rebuild(conn, node(ombudsman)) == 7
    assert {t.name: kept(t) for t in tables} == in_parts
    assert digests(ombudsman) == digests(pemkot)


def test_a_node_with_the_ledger_switched_off_keeps_none(apps, pemkot, ombudsman, monkeypatch):
    for app in (pemkot, ombudsman):
        monkeypatch.setattr(node(app), "config", node(app).config.__class__(
            **{**node(app).config.__dict__, "case_ledger": False}))
    post(ombudsman, PERMINTAAN, requests_for(["0006/LM/V/2026/JKT"]))
    deliver(apps, ombudsman)
    for app in (pemkot, ombudsman):
        with node(app).store.read() as conn:
            assert conn.execute(select(func.count()).select_from(case_events)).scalar_one() == 0


def test_a_chunked_batch_gives_each_record_its_place_at_both_ends(deployment_factory, make_apps):
    apps = make_apps(case_deployment(deployment_factory, max_chunk_bytes=8192,
                                     max_batch_bytes=262144))
    ombudsman, pemkot = apps["ombudsman-ri"], apps["pemkot-bekasi"]
    numbers = [f"{i:04d}/LM/VI/2026/JKT" for i in range(1, 41)]
    post(ombudsman, PERMINTAAN, requests_for(numbers, seed=7))
    deliver(apps, ombudsman)
    with node(pemkot).store.read() as conn:
        chunks = conn.execute(select(func.count()).select_from(inbound_chunks)).scalar_one()
    assert chunks > 1
    places = {app.party: sorted((e["idx"], e["case_number"]) for e in rows(app, case_events))
              for app in (pemkot, ombudsman)}
    assert places["pemkot-bekasi"] == places["ombudsman-ri"]
    assert [n for _, n in places["pemkot-bekasi"]] == numbers
    assert digests(pemkot) == digests(ombudsman) and len(digests(pemkot)) == 40


def test_a_receipt_the_sender_verifies_late_gives_the_same_ledger(apps, pemkot, ombudsman):
    """The answer reaches the Ombudsman before it learns that its request was delivered."""
    number = "0007/LM/VII/2026/JKT"
    lost = []

    def post_losing_answers(url, body, timeout, headers):
        status, answer = bridge(apps)(url, body, timeout, headers)
        if not lost:
            lost.append(answer)
            raise requests.ConnectionError("the answer was lost on the way back")
        return status, answer

    post(ombudsman, PERMINTAAN, requests_for([number]))
    report = sending.run(node(ombudsman), post=post_losing_answers)
    assert report.failed and not report.delivered
    project(apps)
    assert rows(ombudsman, case_events) == [] and len(rows(pemkot, case_events)) == 1
    post(pemkot, TANGGAPAN, answers_for([number]))
    deliver(apps, pemkot)
    assert [s["done_on"] for s in rows(ombudsman, case_steps)] == []  # no request known yet
    # The retry is answered as a duplicate, with the first receipt.
    with node(ombudsman).store.write() as conn:
        conn.execute(update(outbound_batches).values(next_attempt_at=None))
    deliver(apps, ombudsman)
    assert digests(ombudsman) == digests(pemkot)
    [step] = rows(ombudsman, case_steps)
    assert step["done_on"] is not None and step["closed_by"] is not None


def test_records_stored_before_the_ledger_existed_still_feed_it(apps, pemkot, ombudsman):
    numbers = ["0008/LM/VIII/2026/JKT", "0009/LM/VIII/2026/JKT"]
    post(ombudsman, PERMINTAAN, requests_for(numbers))
    with node(ombudsman).store.write() as conn:  # as the rows of a node before the upgrade
        conn.execute(update(outbox_records).values(case_facts=None))
    deliver(apps, ombudsman)
    assert sorted(digests(ombudsman)) == numbers
    assert digests(ombudsman) == digests(pemkot)


def test_delivered_batches_wait_in_the_inbox_and_are_projected_in_slices(
        deployment_factory, make_apps):
    apps = make_apps(case_deployment(deployment_factory, max_chunk_bytes=8192,
                                     max_batch_bytes=262144))
    ombudsman, pemkot = apps["ombudsman-ri"], apps["pemkot-bekasi"]
    numbers = [f"{i:04d}/LM/X/2026/JKT" for i in range(1, 31)]
    post(ombudsman, PERMINTAAN, requests_for(numbers, seed=11))
    assert sending.run(node(ombudsman), post=bridge(apps)).delivered
    # Delivered, and queued at both ends in the delivery's own transaction.
    assert projection.pending(node(pemkot)) == projection.pending(node(ombudsman)) == 1
    assert rows(pemkot, cases) == [] and rows(ombudsman, cases) == []
    # A few records a slice: each slice its own transaction, resumed where the last stopped.
    slices = {}
    for app in (pemkot, ombudsman):
        taken = []
        while got := projection.project(node(app), budget=7):
            taken.append(got)
            assert len(rows(app, case_events)) <= sum(taken)
        slices[app.party] = taken
        assert projection.pending(node(app)) == 0
    assert sum(slices["ombudsman-ri"]) == 30 and len(slices["ombudsman-ri"]) == 5  # 7+7+7+7+2
    assert len(slices["pemkot-bekasi"]) > 1  # whole chunks at a time
    assert sorted(digests(pemkot)) == numbers and digests(pemkot) == digests(ombudsman)
    assert projection.project(node(pemkot)) == 0


def test_figures_are_kept_until_the_ledger_changes(apps, pemkot, ombudsman):
    post(ombudsman, PERMINTAAN, requests_for(["0010/LM/XI/2026/JKT"]))
    deliver(apps, ombudsman)
    at = reports.today(node(pemkot))
    filters = service_levels.parse_filters({}, at)
    version = reports.version(node(pemkot))
    first = service_levels.figures(node(pemkot), filters, at)
    assert service_levels.figures(node(pemkot), filters, at) is first  # kept
    post(ombudsman, PERMINTAAN, requests_for(["0011/LM/XI/2026/JKT"], seed=4))
    deliver(apps, ombudsman)
    assert reports.version(node(pemkot)) > version
    again = service_levels.figures(node(pemkot), filters, at)
    assert again is not first
    due = lambda f: sum(x.due for x in f.months.values())  # noqa: E731
    assert due(again) == due(first) + 1
    # Another day reads afresh too: the statuses depend on it.
    later = reports.today(node(pemkot), at.day + dt.timedelta(days=30))
    assert service_levels.figures(node(pemkot), filters, later) is not again


def test_every_read_of_the_ledger_on_this_backend(apps, pemkot, ombudsman):
    numbers = ["0012/LM/XI/2026/JKT", "0013/LM/XI/2026/JKT", "0014/LM/XI/2026/JKT"]
    post(ombudsman, PERMINTAAN, requests_for(numbers, seed=5))
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for(numbers[:1]))
    deliver(apps, pemkot)
    at = reports.today(node(pemkot))
    start = dt.date.fromisoformat(rows(pemkot, case_steps)[0]["start_on"])
    later = reports.today(node(pemkot), load_calendar().add_working_days(start, 13))
    unit = next(s["unit"] for s in rows(pemkot, case_steps) if s["case_number"] == numbers[1])
    for when, expected in ((at, {"open": 2, "done_on_time": 1}),
                           (later, {"due_soon": 2, "done_on_time": 1})):
        for status in reports.CASE_STATUSES:
            found = reports.list_cases(node(pemkot), status=status, at=when)["cases"]
            assert len(found) == expected.get(status, 0), (status, when)
    assert reports.list_cases(node(pemkot), unit=unit, period=str(start.year), at=at)["cases"]
    page = reports.list_cases(node(pemkot), limit=2, at=at)
    assert page["next"] == numbers[1]
    assert [c["case_number"] for c in reports.list_cases(
        node(pemkot), after=page["next"], at=at)["cases"]] == numbers[2:]
    whole = {app.party: reports.digest(node(app)) for app in (pemkot, ombudsman)}
    assert whole["pemkot-bekasi"] == whole["ombudsman-ri"] and whole["pemkot-bekasi"]["cases"] == 3
    for bucket in whole["pemkot-bekasi"]["buckets"]:
        one = reports.digest(node(pemkot), bucket=bucket)
        assert one == reports.digest(node(ombudsman), bucket=bucket) and one["cases"]
    # Each case names the other node's party; the digest of the cases with it is the same.
    assert {r["peer"] for r in rows(pemkot, cases)} == {"ombudsman-ri"}
    assert {r["peer"] for r in rows(ombudsman, cases)} == {"pemkot-bekasi"}
    mine = reports.digest(node(pemkot), peer="ombudsman-ri")
    theirs = reports.digest(node(ombudsman), peer="pemkot-bekasi")
    assert mine["digest"] == theirs["digest"] == whole["pemkot-bekasi"]["digest"]
    bucket = next(iter(mine["buckets"]))
    assert (reports.digest(node(pemkot), bucket=bucket, peer="ombudsman-ri")["cases"]
            == reports.digest(node(pemkot), bucket=bucket)["cases"])  # fmt: skip
    assert len(reports.list_cases(node(pemkot), peer="ombudsman-ri", at=at)["cases"]) == 3
    figures = reports.monthly(node(pemkot), start.isoformat()[:7], "2099-12", at=at)
    assert sum(f.due for f in figures.values()) == 3
    assert reports.overdue_steps(node(pemkot), at=later) == []


def test_projecting_reads_the_outbox_and_the_chunks_by_index_not_whole(apps):
    """The sender's ledger reads a delivered batch's facts through the outbox's index
    (dataset, batch_id, seq): read by the batch alone, each slice scanned the whole outbox,
    so the ledger's cost grew with everything ever submitted."""
    from sqlalchemy import event

    ombudsman = apps["ombudsman-ri"]
    if node(ombudsman).store.backend != "sqlite":
        pytest.skip("SQLite's query plans (PostgreSQL plans a small table by its statistics)")
    post(ombudsman, PERMINTAAN, requests_for([f"{i:04d}/LM/XI/2026/JKT" for i in range(20)]))
    report = sending.run(node(ombudsman), post=bridge(apps))
    assert report.delivered
    plans = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if "outbox_records" in statement or "inbound_chunks" in statement:
            plan = conn.connection.dbapi_connection.execute(
                "EXPLAIN QUERY PLAN " + statement, parameters
            ).fetchall()
            plans.append((statement, [step[-1] for step in plan]))

    for each in apps.values():
        event.listen(node(each).store.engine, "before_cursor_execute", explain)
    try:
        project(apps)
    finally:
        for each in apps.values():
            event.remove(node(each).store.engine, "before_cursor_execute", explain)
    assert plans
    scans = [(s, p) for s, p in plans if any(step.startswith("SCAN") for step in p)]
    assert scans == []
