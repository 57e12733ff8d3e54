"""``gateway cases list|show|report|rebuild``: reading the case ledger on the node.

Plain commands, collected in :data:`COMMANDS`, for the ``cases`` group to hold.
The work is :mod:`gateway.cases.reports` and :mod:`gateway.cases.monthly_report`'s;
statuses are read on today's date in Asia/Jakarta. A bad argument (a month, a
period, a unit code) is one line on standard error and exit status 1; a bad
option 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from gateway.cases import ledger, monthly_report, projection, reports
from gateway.cli.common import config_option, opened_node

__all__ = ["COMMANDS", "cases_list", "cases_rebuild", "cases_report", "cases_show"]

CASE_COLUMNS = (
    ("case", "case_number"), ("unit", "unit"), ("status", "status"), ("opened", "opened_on"),
    ("next due", "next_due_on"), ("steps", "steps"), ("open", "open_steps"),
    ("late", "late_steps"),
)  # fmt: skip
STEP_COLUMNS = (
    ("case", "case_number"), ("step", "step"), ("unit", "unit"), ("status", "status"),
    ("start", "start_on"), ("due", "due_on"), ("done", "done_on"), ("days", "response_days"),
)  # fmt: skip
EXCHANGE_COLUMNS = (
    ("receipt at", "receipt_at"), ("direction", "direction"), ("dataset", "dataset"),
    ("version", "schema_version"), ("record", "ref"),
)  # fmt: skip


def table(columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` as text columns under their headings, each as wide as its widest cell."""
    cells = [[h for h, _ in columns]] + [
        ["-" if row.get(key) is None else str(row[key]) for _, key in columns] for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.command("list")
@config_option
@click.option("--overdue", is_flag=True, help="list the steps past their due date instead")
@click.option("--status", type=click.Choice(reports.CASE_STATUSES), help="cases of this status")
@click.option("--unit", help="of this unit (its code, e.g. 3275.DISDUKCAPIL)")
@click.option("--period", help="cases opened in YYYY or YYYY-MM")
@click.option("--after", help="the cases after this case number (the next page)")
@click.option("--peer", help="the cases with this party (a party id; at a hub, one partner)")
@click.option(
    "--limit",
    type=click.IntRange(1, reports.MAX_LIMIT),
    help="at most this many (default: 100 cases, 500 steps)",
)
@click.option("--json", "as_json", is_flag=True, help="JSON on standard output")
def cases_list(
    config_path: str | None,
    overdue: bool,
    status: str | None,
    unit: str | None,
    period: str | None,
    after: str | None,
    peer: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List the cases of the ledger, or (--overdue) the steps past their due date."""
    if overdue and (status or period or after or peer):
        raise click.UsageError("--overdue lists steps: give it --unit and --limit only")
    if period is not None:
        reports.parse_period(period)  # before the node is opened
    with opened_node(config_path) as node:
        if overdue:
            steps = reports.overdue_steps(node, unit=unit, limit=limit or 500)
            _json(steps) if as_json else click.echo(table(STEP_COLUMNS, steps))
            return
        page = reports.list_cases(
            node, unit=unit, status=status, period=period, after=after, limit=limit or 100,
            peer=peer,
        )
    if as_json:
        _json(page)
        return
    click.echo(table(CASE_COLUMNS, page["cases"]))
    if page["next"] is not None:
        click.echo(f"more: --after {page['next']}", err=True)


@click.command("show")
@config_option
@click.argument("case_number")
@click.option("--json", "as_json", is_flag=True, help="JSON on standard output")
def cases_show(config_path: str | None, case_number: str, as_json: bool) -> None:
    """One case: its status, its steps and the exchanges they come from."""
    with opened_node(config_path) as node:
        case = reports.case_detail(node, case_number)
    if as_json:
        _json(case)
        return
    click.echo(f"case {case['case_number']}: {case['status']} on {case['as_of']}")
    click.echo(f"  unit: {case['unit'] or '-'}")
    click.echo(f"  opened on: {case['opened_on']}, next due on: {case['next_due_on'] or '-'}")
    click.echo(f"  digest: {case['digest']}")
    click.echo("")
    click.echo(table(STEP_COLUMNS[1:], case["steps"]))
    click.echo("")
    click.echo(table(EXCHANGE_COLUMNS, case["exchanges"]))


@click.command("report")
@config_option
@click.option("--month", required=True, help="the month whose due steps it counts: YYYY-MM")
@click.option(
    "--format", "form", type=click.Choice(["csv", "html"]), default="html", show_default=True
)
@click.option("--unit", help="one unit only (its code)")
@click.option(
    "--output",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="file to write (default: standard output)",
)
def cases_report(
    config_path: str | None, month: str, form: str, unit: str | None, output: Any
) -> None:
    """The monthly service-level report: per unit, the steps due that month, and the
    steps overdue today; CSV, or a printable page in Bahasa Indonesia."""
    reports.parse_month(month)  # before the node is opened, or the file written
    with opened_node(config_path) as node:
        report = monthly_report.build(node, month, unit=unit)
    text = monthly_report.to_csv(report) if form == "csv" else monthly_report.to_html(report)
    output.write(text)


@click.command("project")
@config_option
def cases_project(config_path: str | None) -> None:
    """Take the delivered batches queued for the case ledger now (the schedule's
    cases:project job does it every two seconds)."""
    with opened_node(config_path) as node:
        records = projection.project_all(node)
    click.echo(f"case ledger: {records} records of delivered batches projected")


@click.command("rebuild")
@config_option
def cases_rebuild(config_path: str | None) -> None:
    """Take the delivered batches still queued for the case ledger, then compute the
    ledger again from its stored events, in one transaction (after the agreement's
    service levels or the working-day calendar changed)."""
    with opened_node(config_path) as node:
        projection.project_all(node)
        with node.store.write() as conn:
            count = ledger.rebuild(conn, node)
    click.echo(f"case ledger rebuilt: {count} cases")


COMMANDS: tuple[click.Command, ...] = (
    cases_list,
    cases_show,
    cases_report,
    cases_project,
    cases_rebuild,
)
