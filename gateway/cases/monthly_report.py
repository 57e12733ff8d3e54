"""The monthly service-level report, for the heads of units and the Ombudsman's office.

:func:`build` gathers one month's figures per unit (:func:`gateway.cases.reports.monthly`:
the steps that fall due in the month, done on time, done late, overdue or still open,
the share on time and the response times in working days), their total, and the steps
overdue on the report's day. :func:`to_csv` writes them as CSV (UTF-8, a header row,
a row per unit and a total row); :func:`to_html` as a self-contained printable page in
Bahasa Indonesia, from ``templates/monthly_report.html`` (Jinja2, autoescaped: unit
codes and case numbers come from records that crossed the gateway).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from gateway.cases import reports
from gateway.cases.ledger import deadlines_for
from schemas.registers import register

if TYPE_CHECKING:
    from gateway.node.node import Node

__all__ = ["CSV_COLUMNS", "MonthlyReport", "UnitRow", "build", "to_csv", "to_html"]

TOTAL = "TOTAL"  # the unit column of the total row
OVERDUE_LIMIT = 1000  # overdue steps listed at most
CSV_COLUMNS = (
    "month", "unit", "unit_name", "due", "done_on_time", "done_late", "overdue", "open",
    "share_on_time", "median_response_days", "p90_response_days",
)  # fmt: skip
WORKING_DAYS_NOTE = (
    "Semua jumlah hari dihitung dalam hari kerja menurut Waktu Indonesia Barat (WIB, "
    "Asia/Jakarta): Senin sampai Jumat, di luar hari libur nasional dan cuti bersama yang "
    "ditetapkan dengan Surat Keputusan Bersama Menteri Agama, Menteri Ketenagakerjaan, dan "
    "Menteri PANRB. Sebuah langkah dimulai dan selesai pada tanggal (WIB) tanda terima yang "
    "ditandatangani node penerima atas data yang membuka atau menutupnya; untuk rekomendasi, "
    "yang tidak melalui gateway, langkah dimulai pada tanggal diterima yang dinyatakan dalam "
    "laporan tindak lanjut."
)
BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
    "Oktober", "November", "Desember",
)  # fmt: skip
STEP_KINDS_ID = {
    "klarifikasi": "Tanggapan atas permintaan klarifikasi",
    "tindakan_korektif": "Tindakan korektif (LHP)",
    "rekomendasi": "Tindak lanjut rekomendasi",
    "klarifikasi_tindak_lanjut": "Klarifikasi atas tindak lanjut",
}


@dataclass(frozen=True)
class UnitRow:
    """One unit's figures (``Figures.as_dict()``), with its code and its name."""

    unit: str  # "" when the unit is not known
    name: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class MonthlyReport:
    agreement_title: str
    month: str  # YYYY-MM
    as_of: dt.date  # the day the statuses are read on (Asia/Jakarta)
    unit: str | None  # the one unit reported on, or None for all
    rows: list[UnitRow]
    total: dict[str, Any]
    overdue: list[dict[str, Any]]  # steps overdue on as_of, each with days_overdue
    overdue_truncated: bool
    due_soon_days: int  # the agreement's due_soon_working_days


def _unit_name(code: str) -> str:
    if not code:
        return "(unit tidak diketahui)"
    row = register("perangkat_daerah").rows.get(code)
    return row["nama"] if row else code


def build(
    node: Node, month: str, *, unit: str | None = None, at: reports.Today | None = None
) -> MonthlyReport:
    """The report of ``month`` (YYYY-MM; BadRequest, path ``month``, if it is not one)."""
    month = reports.parse_month(month)
    at = at or reports.today(node)
    per_unit = reports.combine(reports.monthly(node, month, month, unit=unit, at=at), by="unit")
    total = reports.Figures()
    for figures in per_unit.values():
        total.add(figures)
    overdue = reports.overdue_steps(node, unit=unit, limit=OVERDUE_LIMIT, at=at)
    rules = deadlines_for(node)
    for step in overdue:
        step["days_overdue"] = rules.working_days_between(
            dt.date.fromisoformat(step["due_on"]), at.day
        )
    return MonthlyReport(
        agreement_title=node.config.agreement.title,
        month=month,
        as_of=at.day,
        unit=unit,
        rows=[UnitRow(code, _unit_name(code), f.as_dict()) for code, f in per_unit.items()],
        total=total.as_dict(),
        overdue=overdue,
        overdue_truncated=len(overdue) == OVERDUE_LIMIT,
        due_soon_days=rules.levels.due_soon_working_days,
    )


def _cell(value: Any) -> Any:
    return "" if value is None else value


def to_csv(report: MonthlyReport) -> str:
    """The report's table as CSV: a header row, a row per unit, the total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows = [(r.unit, r.name, r.figures) for r in report.rows]
    for unit, name, figures in [*rows, (TOTAL, "Total", report.total)]:
        writer.writerow([report.month, unit, name, *(_cell(figures[c]) for c in CSV_COLUMNS[3:])])
    return out.getvalue()


def _month_name(month: str) -> str:
    return f"{BULAN[int(month[5:7]) - 1]} {month[:4]}"


def _date_id(day: dt.date | str | None) -> str:
    """A date as Indonesians write it: 5 Maret 2026."""
    if day is None:
        return ""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return f"{day.day} {BULAN[day.month - 1]} {day.year}"


NONE = "\u2013"  # an en dash: no figure


def _percent(share: float | None) -> str:
    return NONE if share is None else f"{share * 100:.1f}".replace(".", ",") + "%"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.cases", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tanggal"] = _date_id
    env.filters["persen"] = _percent
    env.filters["hari"] = lambda v: NONE if v is None else v
    return env


_ENVIRONMENT = _environment()


def to_html(report: MonthlyReport) -> str:
    """The report as one printable HTML page in Bahasa Indonesia, with nothing to fetch."""
    template = _ENVIRONMENT.get_template("monthly_report.html")
    return template.render(
        report=report,
        month_name=_month_name(report.month),
        unit_name=_unit_name(report.unit) if report.unit is not None else None,
        step_kinds=STEP_KINDS_ID,
        working_days=WORKING_DAYS_NOTE,
        due_soon_days=report.due_soon_days,
    )
