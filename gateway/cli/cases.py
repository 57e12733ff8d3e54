"""``gateway calendar`` and ``gateway cases``: the working-day calendar and the MoU's cases.

``gateway calendar`` lists and checks the holidays and cuti bersama the node counts working
days with (gateway.cases.calendar), and any calendar file before it is deployed; ``gateway
cases due-date`` counts a deadline in working days.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from gateway.cases.calendar import (
    CUTI_BERSAMA,
    LIBUR_NASIONAL,
    CalendarYear,
    Source,
    WorkingCalendar,
    load_calendar,
)
from gateway.cli.case_reports import COMMANDS as CASE_COMMANDS

__all__ = ["calendar_command", "cases_group"]

_WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")

_calendar_files = click.option(
    "--file",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="a calendar file read after the shipped one, its years replacing the same years "
    "(repeatable, in order)",
)


def _source_text(source: Source) -> str:
    signed = f", signed {source.signed.isoformat()}" if source.signed else ""
    return f"{' '.join(source.numbers)}{signed}"


def _year_line(year: CalendarYear) -> str:
    sources = "; ".join(_source_text(s) for s in year.sources) or "none"
    flag = "  UNCONFIRMED" if year.unconfirmed else ""
    return (
        f"{year.year}  libur nasional {year.count(LIBUR_NASIONAL):2d}  "
        f"cuti bersama {year.count(CUTI_BERSAMA):2d}  sources: {sources}{flag}"
    )


def _year_json(calendar: WorkingCalendar, year: int, *, days: bool) -> dict[str, Any]:
    data = calendar.calendar_year(year)
    body: dict[str, Any] = {
        "year": year,
        "libur_nasional": data.count(LIBUR_NASIONAL),
        "cuti_bersama": data.count(CUTI_BERSAMA),
        "unconfirmed": data.unconfirmed,
        "note": data.note,
        "sources": [
            {
                "title": s.title,
                "numbers": list(s.numbers),
                "signed": s.signed.isoformat() if s.signed else None,
                "url": s.url or None,
            }
            for s in data.sources
        ],
    }
    if days:
        body["days"] = [
            {
                "date": d.date.isoformat(),
                "weekday": _WEEKDAYS[d.date.weekday()],
                "kind": d.kind,
                "name": d.name,
            }
            for d in calendar.holidays(year)
        ]
    return body


@click.command("calendar")
@click.option("--year", type=int, default=None, help="list that year's days")
@_calendar_files
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def calendar_command(year: int | None, files: tuple[Path, ...], as_json: bool) -> None:
    """List the years of the working-day calendar (holidays and cuti bersama) and check
    them; exit 1, each problem one line on standard error, if the check fails."""
    calendar = load_calendar(*files)
    years = calendar.years if year is None else (calendar.calendar_year(year).year,)
    problems = calendar.check()
    if as_json:
        listing = [_year_json(calendar, y, days=year is not None) for y in years]
        click.echo(
            json.dumps({"years": listing, "problems": problems}, indent=2, ensure_ascii=False)
        )
    else:
        for y in years:
            click.echo(_year_line(calendar.calendar_year(y)))
        if year is not None:
            for day in calendar.holidays(year):
                weekday = _WEEKDAYS[day.date.weekday()]
                click.echo(f"{day.date.isoformat()}  {weekday:<6}  {day.kind:<14}  {day.name}")
    for problem in problems:
        click.echo(f"gateway: calendar: {problem}", err=True)
    if problems:
        sys.exit(1)


@click.group("cases")
def cases_group() -> None:
    """The case ledger: cases, steps, their deadlines in working days, the monthly report."""


@cases_group.command("due-date")
@click.option(
    "--from",
    "start",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="the day the period starts from (YYYY-MM-DD); it is not counted",
)
@click.option(
    "--working-days",
    "working_days",
    required=True,
    type=click.IntRange(min=0),
    help="the number of working days",
)
@_calendar_files
def cases_due_date(start: dt.datetime, working_days: int, files: tuple[Path, ...]) -> None:
    """Print the date (YYYY-MM-DD) that is the given number of working days after --from."""
    due = load_calendar(*files).add_working_days(start.date(), working_days)
    click.echo(due.isoformat())


# The ledger's commands: list, show, report, rebuild (gateway.cli.case_reports).
for _command in CASE_COMMANDS:
    cases_group.add_command(_command)
