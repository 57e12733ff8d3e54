"""Figures of the case ledger cheap enough to read at every Prometheus scrape.

The metrics of ``gateway.http.metrics`` read them: the cases per status (as
:mod:`gateway.cases.reports` defines the statuses) and, through
:func:`gateway.cases.reports.overdue_by_unit`, the steps overdue per unit. Each is
one or two aggregate queries over the ``cases`` table's ``state`` index, never a
read of every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from gateway.cases.reports import CASE_STATUSES, Today, today
from gateway.store.tables import cases

if TYPE_CHECKING:
    from gateway.node.node import Node

__all__ = ["cases_by_status"]


def cases_by_status(node: Node, *, at: Today | None = None) -> dict[str, int]:
    """How many cases have each of :data:`~gateway.cases.reports.CASE_STATUSES` on ``at``
    (default: today in Asia/Jakarta); every status is named, with 0 when none has it."""
    at = at or today(node)
    day, soon = at.day.isoformat(), at.soon.isoformat()
    c = cases.c
    found = dict.fromkeys(CASE_STATUSES, 0)
    with node.store.read() as conn:
        for state, n in conn.execute(
            select(c.state, func.count()).where(c.state != "open").group_by(c.state)
        ):
            if state in found:
                found[state] = int(n)
        # Whether an open case is overdue or due soon depends on the day: its next due date.
        total, overdue, due_soon = conn.execute(
            select(
                func.count(),
                func.count().filter(c.next_due_on < day),
                func.count().filter(c.next_due_on >= day, c.next_due_on <= soon),
            ).where(c.state == "open")
        ).one()
    found["overdue"] = int(overdue or 0)
    found["due_soon"] = int(due_soon or 0)
    found["open"] = int(total or 0) - found["overdue"] - found["due_soon"]
    return found
