"""What the service-levels pages show: the ledger's figures, its overdue steps, one case.

The figures come from :mod:`gateway.cases.reports` and the charts from
:mod:`gateway.cases.charts`; this module only reads the filters of a request, puts
the figures in the order the page and the charts show them, and adds what the page
needs besides (the days a step is overdue, the unit register's names).

Statuses are read on one day, :func:`gateway.cases.reports.today` at this node (its
clock, in Asia/Jakarta).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.cases import charts, reports
from gateway.errors import BadRequest
from gateway.node.node import Node
from schemas.registers import register, unit_codes

__all__ = [
    "CHARTS",
    "MONTHS",
    "OVERDUE_SHOWN",
    "Filters",
    "Overview",
    "chart",
    "figures",
    "overview",
    "parse_filters",
    "period_choices",
    "unit_names",
]

MONTHS = 12  # the period shown when none is chosen: the last twelve months
OVERDUE_SHOWN = 50  # overdue steps listed on the page, the longest overdue first
UNITS_CHARTED = 15  # units in the chart of steps overdue per unit, the most first
CHARTS = ("share-on-time", "overdue-by-month", "overdue-by-unit", "response-days")
_PERIOD = re.compile(r"(20\d\d)(?:-(0[1-9]|1[0-2]))?\Z")


@dataclass(frozen=True)
class Filters:
    """A unit (or all), and the months from ``first`` to ``last`` (``YYYY-MM``)."""

    unit: str | None
    period: str | None  # None: the last MONTHS months
    first: str
    last: str

    def args(self) -> dict[str, str]:
        """The query arguments that give these filters again."""
        found = {"unit": self.unit, "period": self.period}
        return {k: v for k, v in found.items() if v}


def parse_filters(args: Mapping[str, str], at: reports.Today) -> Filters:
    """The filters of a request; :class:`BadRequest` naming the one that is not valid."""
    unit = args.get("unit", "").strip() or None
    period = args.get("period", "").strip() or None
    if unit is not None and unit not in unit_codes():
        raise BadRequest(f"unit {unit[:40]!r} is not in the unit register", path="unit")
    if period is None:
        this_month = at.day.replace(day=1)
        return Filters(unit, None, _months_back(this_month, MONTHS - 1), this_month.isoformat()[:7])
    found = _PERIOD.match(period)
    if found is None:
        raise BadRequest("period must be YYYY or YYYY-MM (2000 to 2099)", path="period")
    first, last = reports.parse_period(period)
    return Filters(unit, period, first[:7], last[:7])


def _months_back(month: dt.date, n: int) -> str:
    index = month.year * 12 + month.month - 1 - n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def period_choices(at: reports.Today, chosen: str | None) -> list[str]:
    """The periods offered: the last three years and the last twelve months (and the
    one chosen, if it is neither)."""
    this_month = at.day.replace(day=1)
    years = [str(at.day.year - n) for n in range(3)]
    months = [_months_back(this_month, n) for n in range(MONTHS)]
    found = years + months
    if chosen and chosen not in found:
        found.append(chosen)
    return found


def unit_names() -> dict[str, str]:
    """The unit register's names, by code."""
    return {code: row["nama"] for code, row in register("perangkat_daerah").rows.items()}


@dataclass
class Overview:
    """The page of service levels: figures by month and by unit, and the steps overdue."""

    at: reports.Today
    filters: Filters
    by_month: list[tuple[str, dict[str, Any]]]
    by_unit: list[tuple[str, dict[str, Any]]]
    total: dict[str, Any]
    response_days: Counter[int]
    overdue_units: list[tuple[str, int]]
    overdue: list[dict[str, Any]] = field(default_factory=list)
    overdue_total: int = 0


@dataclass(frozen=True)
class PeriodFigures:
    """The figures of the filters' months and unit, by month and by unit."""

    months: Mapping[tuple[str, str], reports.Figures]
    units: Mapping[tuple[str, str], reports.Figures]


# The figures of recent pages, kept until the ledger changes or the day does (per process:
# each worker keeps its own). Keyed by the node's database, the filters, the day and the
# ledger's version (gateway.cases.reports.version).
_KEPT: OrderedDict[tuple[Any, ...], PeriodFigures] = OrderedDict()
_KEPT_LOCK = threading.Lock()
_KEPT_MAX = 64


def figures(node: Node, filters: Filters, at: reports.Today) -> PeriodFigures:
    """The figures of the filters' months and unit, summed by month and by unit."""
    key = (node.config.database_url, filters.first, filters.last, filters.unit, at,
           reports.version(node))  # fmt: skip
    with _KEPT_LOCK:
        found = _KEPT.get(key)
        if found is not None:
            _KEPT.move_to_end(key)
            return found
    found = PeriodFigures(
        months=reports.monthly(node, filters.first, filters.last, unit=filters.unit, at=at,
                               by="month"),
        units=reports.monthly(node, filters.first, filters.last, unit=filters.unit, at=at,
                              by="unit"),
    )  # fmt: skip
    with _KEPT_LOCK:
        _KEPT[key] = found
        while len(_KEPT) > _KEPT_MAX:
            _KEPT.popitem(last=False)
    return found


def _summaries(
    found: PeriodFigures, filters: Filters
) -> tuple[dict[str, reports.Figures], dict[str, reports.Figures], reports.Figures]:
    """Every month of the period (those with nothing due too), the units, and the total."""
    months = reports.combine(found.months, by="month")
    by_month = {m: months.get(m, reports.Figures())
                for m in reports.months_between(filters.first, filters.last)}  # fmt: skip
    total = reports.Figures()
    for f in by_month.values():
        total.add(f)
    return by_month, reports.combine(found.units, by="unit"), total


def overview(node: Node, filters: Filters, at: reports.Today) -> Overview:
    """What the service-levels page shows for ``filters``, read on ``at``."""
    by_month, by_unit, total = _summaries(figures(node, filters, at), filters)
    overdue = reports.overdue_steps(node, unit=filters.unit, limit=OVERDUE_SHOWN, at=at)
    for step in overdue:
        step["days_overdue"] = (at.day - dt.date.fromisoformat(step["due_on"])).days
    counts = reports.overdue_by_unit(node, at=at)
    return Overview(
        at=at,
        filters=filters,
        by_month=[(m, f.as_dict()) for m, f in by_month.items()],
        by_unit=[(u, f.as_dict()) for u, f in by_unit.items()],
        total=total.as_dict(),
        response_days=total.response_days,
        overdue_units=overdue_units(by_unit),
        overdue=overdue,
        overdue_total=counts.get(filters.unit, 0) if filters.unit else sum(counts.values()),
    )


def chart(
    name: str,
    found: PeriodFigures,
    filters: Filters,
    *,
    labels: charts.Labels,
    month_label: Callable[[str], str],
) -> str:
    """The SVG of chart ``name`` (one of :data:`CHARTS`) of these figures."""
    by_month, by_unit, total = _summaries(found, filters)
    if name == "share-on-time":
        return charts.share_on_time(
            [(month_label(m), f.share_on_time) for m, f in by_month.items()], labels
        )
    if name == "overdue-by-month":
        return charts.bars([(month_label(m), f.overdue) for m, f in by_month.items()], labels)
    if name == "overdue-by-unit":
        return charts.bars(overdue_units(by_unit), labels, horizontal=True)
    if name == "response-days":
        return charts.response_days(total.response_days, labels)
    raise ValueError(f"no chart {name!r}: one of {', '.join(CHARTS)}")


def overdue_units(by_unit: Mapping[str, reports.Figures]) -> list[tuple[str, int]]:
    """The units with steps overdue, the most first, at most :data:`UNITS_CHARTED`."""
    found = sorted(((u or "?", f.overdue) for u, f in by_unit.items() if f.overdue),
                   key=lambda item: (-item[1], item[0]))  # fmt: skip
    return found[:UNITS_CHARTED]
