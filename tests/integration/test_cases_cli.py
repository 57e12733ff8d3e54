"""``gateway cases list|show|report|rebuild`` and the ledger part of ``gateway audit
reconcile``, on two in-process nodes that exchanged clarification requests and answers."""

import csv
import dataclasses
import datetime as dt
import io
import json

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cases import ledger, monthly_report, reports
from gateway.cli import audit as audit_cli
from gateway.cli.main import cli
from gateway.node import audit_log
from gateway.store.tables import case_steps, cases
from tests.case_deployment import case_deployment
from tests.conftest import TOKENS
from tests.flask_adapter import FlaskAdapter
from tests.integration.conftest import gateway
from tests.integration.test_api import node
from tests.integration.test_case_ledger import (
    PERMINTAAN,
    TANGGAPAN,
    answers_for,
    deliver,
    post,
    requests_for,
)

# The commands read through gateway.cases.reports, whose queries run on both backends in
# test_cases_api and test_case_ledger.
pytestmark = pytest.mark.sqlite_pass

NUMBERS = [f"{i:04d}/LM/X/2026/JKT" for i in range(1, 6)]
ANSWERED = NUMBERS[:2]
URLS = {"pemkot-bekasi": "http://pemkot.test", "ombudsman-ri": "http://ombudsman.test"}


@pytest.fixture
def world(deployment_factory, make_apps):
    """The deployment and its apps, after five requests to Pemkot of which two are answered."""
    deployment = case_deployment(deployment_factory)
    apps = make_apps(deployment)
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    post(ombudsman, PERMINTAAN, requests_for(NUMBERS))
    deliver(apps, ombudsman)
    post(pemkot, TANGGAPAN, answers_for(ANSWERED))
    deliver(apps, pemkot)
    return deployment, apps


def run(deployment, *args, party="pemkot-bekasi"):
    result = CliRunner().invoke(cli, [*args, "--config", str(deployment.config_path(party))])
    return result


def steps(app):
    with node(app).store.read() as conn:
        return [dict(r) for r in conn.execute(select(case_steps)).mappings()]


@pytest.fixture
def later(monkeypatch, world):
    """Nodes opened by the commands read the time sixty days on: three steps are overdue."""
    real = node(world[1]["pemkot-bekasi"]).clock
    monkeypatch.setattr("gateway.node.node.utc_now", lambda: real() + dt.timedelta(days=60))
    return world


def test_list_the_cases_and_the_overdue_steps(later):
    deployment, _ = later
    result = run(deployment, "cases", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["case", "unit", "status", "opened", "next", "due", "steps",
                                "open", "late"]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == NUMBERS
    assert [line.split()[2] for line in lines[1:]] == ["done_on_time"] * 2 + ["overdue"] * 3
    # Aligned: every row's status starts where its heading does.
    column = lines[0].index("status")
    assert all(line[column:].startswith(("done_on_time", "overdue")) for line in lines[1:])

    result = run(deployment, "cases", "list", "--status", "overdue", "--json")
    page = json.loads(result.output)
    assert [c["case_number"] for c in page["cases"]] == NUMBERS[2:]

    result = run(deployment, "cases", "list", "--overdue", "--json")
    assert result.exit_code == 0, result.output
    overdue = json.loads(result.output)
    assert isinstance(overdue, list)
    assert sorted(s["case_number"] for s in overdue) == NUMBERS[2:]
    assert {s["status"] for s in overdue} == {"overdue"}
    unit = overdue[0]["unit"]
    result = run(deployment, "cases", "list", "--overdue", "--unit", unit, "--json")
    assert {s["unit"] for s in json.loads(result.output)} == {unit}
    result = run(deployment, "cases", "list", "--overdue")
    assert result.output.splitlines()[0].split()[:3] == ["case", "step", "unit"]
    result = run(deployment, "cases", "list", "--peer", "ombudsman-ri", "--json")
    assert [c["case_number"] for c in json.loads(result.output)["cases"]] == NUMBERS
    result = run(deployment, "cases", "list", "--peer", "pemkab-bogor")
    assert result.exit_code == 1 and result.exception.path == "peer"


def test_show_one_case(world):
    deployment, _ = world
    result = run(deployment, "cases", "show", ANSWERED[0])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"case {ANSWERED[0]}: done_on_time on ")
    assert "klarifikasi/1" in result.output and PERMINTAAN in result.output
    result = run(deployment, "cases", "show", ANSWERED[0], "--json")
    detail = json.loads(result.output)
    assert [e["direction"] for e in detail["exchanges"]] == ["received", "sent"]


def test_the_monthly_report_as_csv_and_html(later, tmp_path):
    deployment, apps = later
    rows = steps(apps["pemkot-bekasi"])
    month = min(r["due_on"] for r in rows)[:7]
    due = [r for r in rows if r["due_on"].startswith(month)]
    output = tmp_path / "report.csv"
    result = run(deployment, "cases", "report", "--month", month, "--format", "csv",
                 "--output", str(output))  # fmt: skip
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert tuple(table[0]) == monthly_report.CSV_COLUMNS
    *units, total = table
    assert total["unit"] == "TOTAL" and int(total["due"]) == len(due)
    assert {u["unit"] for u in units} == {r["unit"] or "" for r in due}
    assert sum(int(u["due"]) for u in units) == len(due)
    answered = sum(1 for r in due if r["case_number"] in ANSWERED)
    assert int(total["done_on_time"]) == answered
    assert int(total["overdue"]) == len(due) - answered
    assert total["median_response_days"] == ("0" if answered else "")

    result = run(deployment, "cases", "report", "--month", month, "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.output
    assert page.startswith("<!DOCTYPE html>") and '<html lang="id">' in page
    assert '<table id="figures">' in page and '<table id="overdue">' in page
    assert monthly_report.BULAN[int(month[5:]) - 1] in page and "hari kerja" in page
    for number in NUMBERS[2:]:
        assert number in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")


def test_the_html_report_escapes_what_it_shows(world):
    _, apps = world
    report = monthly_report.build(node(apps["pemkot-bekasi"]), "2026-10")
    hostile = dataclasses.replace(report, agreement_title='<script>alert("x")</script> & co')
    page = monthly_report.to_html(hostile)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in page


def test_rebuild_keeps_the_ledger(world):
    deployment, apps = world
    with node(apps["pemkot-bekasi"]).store.read() as conn:
        before = dict(conn.execute(select(cases.c.case_number, cases.c.digest)).all())
    result = run(deployment, "cases", "rebuild")
    assert result.exit_code == 0, result.output
    assert result.output == "case ledger rebuilt: 5 cases\n"
    with node(apps["pemkot-bekasi"]).store.read() as conn:
        assert dict(conn.execute(select(cases.c.case_number, cases.c.digest)).all()) == before


def test_bad_input_is_one_line_and_a_non_zero_exit(world):
    deployment, _ = world
    config = str(deployment.config_path("pemkot-bekasi"))
    done = gateway("cases", "report", "--month", "2026-13", "--format", "csv", "--config", config,
                   env={**deployment.env, "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "gateway: error: month must be YYYY-MM, got '2026-13'\n"
    done = gateway("cases", "list", "--period", "2026-1", "--config", config,
                   env={**deployment.env, "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "period" in done.stderr
    assert run(deployment, "cases", "report", "--month", "2026-10", "--format", "pdf"
               ).exit_code == 2  # fmt: skip
    assert run(deployment, "cases", "list", "--overdue", "--status", "open").exit_code == 2
    assert run(deployment, "cases", "list", "--limit", "0").exit_code == 2


# -- gateway audit reconcile: the ledgers ---------------------------------------------------


def reconcile(deployment, apps, monkeypatch):
    """``gateway audit reconcile`` against the two in-process nodes."""
    for app in apps.values():
        audit_log.checkpoint(node(app))

    def session(*_):
        found = requests.Session()
        for party, url in URLS.items():
            found.mount(url, FlaskAdapter(apps[party].app))
        return found

    monkeypatch.setattr(audit_cli, "_audit_session", session)
    return CliRunner().invoke(cli, [
        "audit", "reconcile", URLS["pemkot-bekasi"], URLS["ombudsman-ri"],
        "--token-a", TOKENS["pemkot-bekasi"]["auditor"],
        "--token-b", TOKENS["ombudsman-ri"]["auditor"],
        "--agreement", str(deployment.root / "agreement.toml"),
        "--no-state", "--min-cosignatures", "0",
    ])  # fmt: skip


def test_reconcile_finds_the_ledgers_equal_then_the_cases_that_differ(world, monkeypatch):
    deployment, apps = world
    result = reconcile(deployment, apps, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "reconciliation: 2 batches, 2 matched, 0 gaps" in result.output
    assert "ledger: 5 cases, 0 differ\n" in result.output
    assert "LEDGER:" not in result.output

    # One case lost at the Ombudsman's node, another's steps changed at Pemkot's.
    deployment.query("ombudsman-ri", "DELETE FROM cases WHERE case_number = :n", n=NUMBERS[0])
    deployment.query("pemkot-bekasi", "UPDATE cases SET digest = :d WHERE case_number = :n",
                     d="0" * 64, n=NUMBERS[3])  # fmt: skip
    result = reconcile(deployment, apps, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "ledger: 5 cases, 2 differ\n" in result.output
    assert f"  LEDGER: {NUMBERS[0]} only at pemkot-bekasi\n" in result.output
    assert f"  LEDGER: {NUMBERS[3]} differs\n" in result.output


def test_reconcile_at_a_hub_compares_the_cases_with_the_other_node_only(world, monkeypatch):
    """The Ombudsman's node also holds its cases with another partner (recorded here as
    the projection would record that partner's deliveries): reconciling it with Pemkot
    compares their cases with each other, and finds them equal."""
    deployment, apps = world
    hub = node(apps["ombudsman-ri"])
    others = [f"{i:04d}/LM/X/2026/BGR" for i in range(1, 4)]
    facts = [{"case": n, "kind": "request", "round": 1} for n in others]
    with hub.store.write() as conn:
        ledger.record_batch(
            conn, hub, batch_id="0b0e0000-0000-4000-8000-000000000001",
            dataset=PERMINTAAN, schema_version="2.0", sender="ombudsman-ri",
            receiver="pemkab-bogor", receipt_at="2026-10-05T03:00:00.000000Z",
            facts=enumerate(facts),
        )  # fmt: skip
    assert reports.digest(hub)["cases"] == len(NUMBERS) + len(others)
    result = reconcile(deployment, apps, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "ledger: 5 cases, 0 differ\n" in result.output
    assert "LEDGER:" not in result.output and "BGR" not in result.output

    # A case of Pemkot's lost at the hub is still found.
    deployment.query("ombudsman-ri", "DELETE FROM cases WHERE case_number = :n", n=NUMBERS[1])
    result = reconcile(deployment, apps, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "ledger: 5 cases, 1 differ\n" in result.output
    assert f"  LEDGER: {NUMBERS[1]} only at pemkot-bekasi\n" in result.output
