"""Reading the case ledger: cases by unit, status and period; steps overdue; monthly figures.

The status of a step on a given day (Asia/Jakarta):

- ``done_on_time``: done on or before its due date; ``done_late``: after it;
- ``overdue``: not done, and its due date has passed;
- ``due_soon``: not done, due within the agreement's ``due_soon_working_days``
  working days (today included);
- ``open``: not done, due later.

A case is ``overdue`` when one of its open steps is, else ``due_soon``, else
``open`` while a step is open (or none has started yet); a case whose steps are
all done is ``done_late`` when one was late, else ``done_on_time``.

Monthly figures count the steps that fall due in a month, per unit: done on
time, done late, overdue, still open; the share on time is those done on time
of those due (done, or overdue); response times are working days from a step's
start to its end, their median and 90th percentile by the nearest-rank method
over the steps done.

At a hub, each case names its ``peer`` (gateway.cases.ledger): the list and the
digest can be read for one partner (``peer=``). A case with no single peer (NULL)
counts with every peer.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select

from gateway.cases import projection
from gateway.cases.calendar import wib_date
from gateway.cases.ledger import deadlines_for
from gateway.errors import BadRequest, NotFound
from gateway.store.tables import (
    case_events,
    case_ledger_version,
    case_step_stats,
    case_steps,
    cases,
)

if TYPE_CHECKING:
    from gateway.node.node import Node

__all__ = [
    "CASE_STATUSES",
    "Figures",
    "Today",
    "case_detail",
    "digest",
    "list_cases",
    "monthly",
    "overdue_by_unit",
    "overdue_steps",
    "parse_month",
    "parse_period",
    "today",
    "version",
]

CASE_STATUSES = ("open", "due_soon", "overdue", "done_on_time", "done_late")
MAX_LIMIT = 1000
_PERIOD = re.compile(r"([1-9]\d{3})(?:-(0[1-9]|1[0-2]))?\Z")
_UNIT = re.compile(r"[0-9A-Za-z._-]{1,32}\Z")


@dataclass(frozen=True)
class Today:
    """The day the statuses are read on, and the last day that counts as due soon."""

    day: dt.date
    soon: dt.date


def today(node: Node, day: dt.date | None = None) -> Today:
    """Today in Asia/Jakarta at this node (or ``day``), with its due-soon horizon."""
    rules = deadlines_for(node)
    day = day or wib_date(node.now())
    return Today(day, rules.add_working_days(day, rules.levels.due_soon_working_days))


def version(node: Node) -> int:
    """The ledger's version: it grows with every change (0 before the first), so that
    what is computed from the ledger on a day can be kept until it changes."""
    v = case_ledger_version.c
    with node.store.read() as conn:
        found = conn.execute(select(v.version).where(v.id == 1)).scalar()
    return int(found or 0)


def step_status(due_on: str, done_on: str | None, at: Today) -> str:
    """The status of one step on ``at``."""
    if done_on is not None:
        return "done_late" if done_on > due_on else "done_on_time"
    if due_on < at.day.isoformat():
        return "overdue"
    return "due_soon" if due_on <= at.soon.isoformat() else "open"


def case_status(state: str, next_due_on: str | None, at: Today) -> str:
    """The status of a case on ``at``, from its row."""
    if state != "open":
        return state
    if next_due_on is None:
        return "open"
    return step_status(next_due_on, None, at)


def _status_clause(status: str, at: Today) -> ColumnElement[bool]:
    c = cases.c
    day, soon = at.day.isoformat(), at.soon.isoformat()
    if status in ("done_on_time", "done_late"):
        return c.state == status
    if status == "overdue":
        return and_(c.state == "open", c.next_due_on < day)
    if status == "due_soon":
        return and_(c.state == "open", c.next_due_on >= day, c.next_due_on <= soon)
    return and_(c.state == "open", or_(c.next_due_on.is_(None), c.next_due_on > soon))


def parse_period(text: str, *, path: str = "period") -> tuple[str, str]:
    """``YYYY`` or ``YYYY-MM``: its first and last day, as ``YYYY-MM-DD``."""
    found = _PERIOD.match(text)
    if found is None:
        raise BadRequest(f"period must be YYYY or YYYY-MM, got {text[:20]!r}", path=path)
    year = int(found.group(1))
    if found.group(2) is None:
        return f"{year:04d}-01-01", f"{year:04d}-12-31"
    month = int(found.group(2))
    last = calendar.monthrange(year, month)[1]
    return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{last:02d}"


def parse_month(text: str, *, path: str = "month") -> str:
    """A month ``YYYY-MM``, checked."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        raise BadRequest(f"month must be YYYY-MM, got {text[:20]!r}", path=path)
    return text


def _check_unit(unit: str | None) -> None:
    if unit is not None and not _UNIT.match(unit):
        raise BadRequest("unit must be a unit code such as 3275.DISDUKCAPIL", path="unit")


def _peer_clause(node: Node, peer: str) -> ColumnElement[bool]:
    """The cases with ``peer`` (a party of this node's agreements, in force or ended,
    other than the node's own), and those with no single peer."""
    if peer == node.party_id or peer not in node.config.agreement.known_party_ids:
        raise BadRequest(
            f"peer must be the id of a party this node exchanges with, got {peer[:64]!r}",
            path="peer",
        )
    return or_(cases.c.peer == peer, cases.c.peer.is_(None))


def list_cases(
    node: Node,
    *,
    unit: str | None = None,
    status: str | None = None,
    period: str | None = None,
    after: str | None = None,
    limit: int = 100,
    at: Today | None = None,
    peer: str | None = None,
) -> dict[str, Any]:
    """One page of cases, by case number, with their status; ``next`` continues the list.

    ``peer``: the cases with that party (and those with no single peer).
    """
    _check_unit(unit)
    if status is not None and status not in CASE_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(CASE_STATUSES)}", path="status")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1 to {MAX_LIMIT}", path="limit")
    if after is not None and not 0 < len(after) <= 64:
        raise BadRequest("after must be a case number from a previous page", path="after")
    at = at or today(node)
    c = cases.c
    query = select(
        c.case_number, c.unit, c.opened_on, c.state, c.next_due_on,
        c.steps, c.open_steps, c.late_steps, c.events, c.updated_at, c.peer,
    )  # fmt: skip
    if peer is not None:
        query = query.where(_peer_clause(node, peer))
    if unit is not None:
        query = query.where(c.unit == unit)
    if status is not None:
        query = query.where(_status_clause(status, at))
    if period is not None:
        first, last = parse_period(period)
        query = query.where(c.opened_on >= first, c.opened_on <= last)
    if after is not None:
        query = query.where(c.case_number > after)
    with node.store.read() as conn:
        # One more than asked: whether there is a next page.
        rows = conn.execute(query.order_by(c.case_number).limit(limit + 1)).mappings().all()
    items = [_case_item(row, at) for row in rows[:limit]]
    return {
        "as_of": at.day.isoformat(),
        "cases": items,
        "next": items[-1]["case_number"] if len(rows) > limit else None,
    }


def _case_item(row: Any, at: Today) -> dict[str, Any]:
    return {
        "case_number": row["case_number"],
        "unit": row["unit"],
        "status": case_status(row["state"], row["next_due_on"], at),
        "opened_on": row["opened_on"],
        "next_due_on": row["next_due_on"],
        "steps": row["steps"],
        "open_steps": row["open_steps"],
        "late_steps": row["late_steps"],
        "events": row["events"],
        "updated_at": row["updated_at"],
        "peer": row["peer"],
    }


def case_detail(node: Node, number: str, *, at: Today | None = None) -> dict[str, Any]:
    """One case with its steps and the exchanges (events) they come from."""
    at = at or today(node)
    with node.store.read() as conn:
        row = conn.execute(select(cases).where(cases.c.case_number == number)).mappings().first()
        if row is None:
            raise NotFound(f"no case {number[:64]!r} in the ledger", path="case_number")
        steps = conn.execute(
            select(case_steps)
            .where(case_steps.c.case_number == number)
            .order_by(case_steps.c.start_on, case_steps.c.step)
        ).mappings()
        step_items = [_step_item(s, at) for s in steps]
        e = case_events.c
        events = conn.execute(
            select(e.batch_id, e.idx, e.dataset, e.schema_version, e.sender, e.receiver,
                   e.receipt_at)
            .where(e.case_number == number)
            .order_by(e.receipt_at, e.batch_id, e.idx)
        ).mappings()  # fmt: skip
        event_items = [
            {
                "ref": f"{ev['batch_id']}#{ev['idx']}",
                "batch_id": ev["batch_id"],
                "index": ev["idx"],
                "dataset": ev["dataset"],
                "schema_version": ev["schema_version"],
                "direction": "sent" if ev["sender"] == node.party_id else "received",
                "sender": ev["sender"],
                "receiver": ev["receiver"],
                "receipt_at": ev["receipt_at"],
            }
            for ev in events
        ]
    return {
        **_case_item(row, at),
        "as_of": at.day.isoformat(),
        "digest": row["digest"],
        "steps": step_items,
        "exchanges": event_items,
    }


def _step_item(row: Any, at: Today) -> dict[str, Any]:
    return {
        "case_number": row["case_number"],
        "step": row["step"],
        "kind": row["kind"],
        "unit": row["unit"],
        "status": step_status(row["due_on"], row["done_on"], at),
        "start_on": row["start_on"],
        "start_basis": row["start_basis"],
        "due_on": row["due_on"],
        "done_on": row["done_on"],
        "response_days": row["response_days"],
        "outcome": row["outcome"],
        "opened_by": row["opened_by"],
        "closed_by": row["closed_by"],
    }


def overdue_steps(
    node: Node, *, unit: str | None = None, limit: int = 500, at: Today | None = None
) -> list[dict[str, Any]]:
    """The open steps past their due date, the longest overdue first."""
    _check_unit(unit)
    at = at or today(node)
    s = case_steps.c
    query = select(case_steps).where(s.done_on.is_(None), s.due_on < at.day.isoformat())
    if unit is not None:
        query = query.where(s.unit == unit)
    with node.store.read() as conn:
        rows = conn.execute(query.order_by(s.due_on, s.case_number, s.step).limit(limit))
        return [_step_item(r, at) for r in rows.mappings()]


def overdue_by_unit(node: Node, *, at: Today | None = None) -> dict[str, int]:
    """How many steps are overdue per unit ("" for a unit not known)."""
    at = at or today(node)
    s = case_steps.c
    # Grouped by an expression, not the column: the unit's index would have the database
    # read every step; the index of open steps by due date reads only the overdue ones.
    unit = func.coalesce(s.unit, "")
    with node.store.read() as conn:
        rows = conn.execute(
            select(unit, func.count())
            .where(s.done_on.is_(None), s.due_on < at.day.isoformat())
            .group_by(unit)
        ).all()
    return {unit_: int(n) for unit_, n in rows}


@dataclass
class Figures:
    """What the steps due in one month (of one unit, or of all) add up to."""

    on_time: int = 0
    late: int = 0
    overdue: int = 0
    pending: int = 0  # open, not yet due
    response_days: Counter[int] = field(default_factory=Counter)

    def add(self, other: Figures) -> None:
        self.on_time += other.on_time
        self.late += other.late
        self.overdue += other.overdue
        self.pending += other.pending
        self.response_days.update(other.response_days)

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.overdue + self.pending

    @property
    def share_on_time(self) -> float | None:
        counted = self.on_time + self.late + self.overdue
        return None if counted == 0 else self.on_time / counted

    def percentile(self, p: float) -> int | None:
        """The nearest-rank ``p``-th percentile of the response times, in working days."""
        total = sum(self.response_days.values())
        if total == 0:
            return None
        rank, seen = max(1, math.ceil(p / 100 * total)), 0
        for days in sorted(self.response_days):
            seen += self.response_days[days]
            if seen >= rank:
                return days
        raise AssertionError("unreachable")

    def as_dict(self) -> dict[str, Any]:
        share = self.share_on_time
        return {
            "due": self.due,
            "done_on_time": self.on_time,
            "done_late": self.late,
            "overdue": self.overdue,
            "open": self.pending,
            "share_on_time": None if share is None else round(share, 4),
            "median_response_days": self.percentile(50),
            "p90_response_days": self.percentile(90),
        }


def months_between(first: str, last: str) -> list[str]:
    """The months from ``first`` to ``last`` (YYYY-MM), both included."""
    year, month = int(first[:4]), int(first[5:7])
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def monthly(
    node: Node,
    first: str,
    last: str,
    *,
    unit: str | None = None,
    at: Today | None = None,
    by: str | None = None,
) -> dict[tuple[str, str], Figures]:
    """Figures per (unit, month) for the steps due from month ``first`` to ``last``.

    ``by="month"`` or ``by="unit"``: summed over the other one by the database (whose
    key is then ``"*"``), for a period's figures by month and by unit without reading
    every unit's every month.
    """
    _check_unit(unit)
    if by not in (None, "month", "unit"):
        raise ValueError(f"by must be month or unit, not {by!r}")
    at = at or today(node)
    found: dict[tuple[str, str], Figures] = defaultdict(Figures)
    st, s = case_step_stats.c, case_steps.c
    st_unit = literal("*") if by == "month" else st.unit
    st_month = literal("*") if by == "unit" else st.month
    s_unit = literal("*") if by == "month" else s.unit
    s_month = literal("*") if by == "unit" else func.substr(s.due_on, 1, 7)
    overdue = s.due_on < at.day.isoformat()
    done = select(st_unit, st_month, st.late, st.response_days, func.sum(st.count)).where(
        st.month >= first, st.month <= last
    )
    open_ = select(s_unit, s_month, overdue, func.count()).where(
        s.done_on.is_(None), s.due_on >= f"{first}-01", s.due_on <= f"{last}-31"
    )
    if unit is not None:
        done, open_ = done.where(st.unit == unit), open_.where(s.unit == unit)
    with node.store.read() as conn:
        for unit_, month_, late, days, n in conn.execute(
            done.group_by(st_unit, st_month, st.late, st.response_days)
        ):
            figures = found[(unit_ or "", month_)]
            if late:
                figures.late += int(n)
            else:
                figures.on_time += int(n)
            figures.response_days[int(days)] += int(n)
        for unit_, month_, is_overdue, n in conn.execute(
            open_.group_by(s_unit, s_month, overdue)
        ):
            figures = found[(unit_ or "", month_)]
            if is_overdue:
                figures.overdue += int(n)
            else:
                figures.pending += int(n)
    return dict(found)


def combine(figures: Mapping[tuple[str, str], Figures], by: str) -> dict[str, Figures]:
    """Figures per month (``by="month"``) or per unit (``by="unit"``)."""
    out: dict[str, Figures] = defaultdict(Figures)
    for (unit, month), f in figures.items():
        out[month if by == "month" else unit].add(f)
    return dict(sorted(out.items()))


def digest(node: Node, *, bucket: str | None = None, peer: str | None = None) -> dict[str, Any]:
    """The ledger's digest for comparing two nodes' ledgers (``gateway audit reconcile``).

    Without ``bucket``: the number of cases, a digest per bucket (the first two hex
    digits of the SHA-256 of the case number, :func:`gateway.cases.ledger.bucket_of`)
    and one over them all. With a bucket: each of its cases' digests, to find the
    cases that differ. ``peer``: of the cases with that party only (and those with no
    single peer), so that a hub and one partner compare what both should hold.
    """
    c = cases.c
    where = [] if peer is None else [_peer_clause(node, peer)]
    if bucket is not None:
        if not re.fullmatch(r"[0-9a-f]{2}", bucket):
            raise BadRequest("bucket must be two lowercase hex digits", path="bucket")
        with node.store.read() as conn:
            rows = conn.execute(
                select(c.case_number, c.digest).where(c.bucket == bucket, *where)
            ).all()
        return {"bucket": bucket, "peer": peer, "cases": dict(sorted(rows))}
    per_bucket: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with node.store.read() as conn:
        # In no order: each bucket's digest sorts its cases (_digest_of), and the peer's
        # cases and those of no peer are two ranges of its index.
        for b, number, case_digest in conn.execute(
            select(c.bucket, c.case_number, c.digest).where(*where)
        ):
            per_bucket[b].append((number, case_digest))
    buckets = {b: _digest_of(per_bucket[b]) for b in sorted(per_bucket)}
    return {
        "peer": peer,
        "cases": sum(len(v) for v in per_bucket.values()),
        "digest": _digest_of(buckets.items()),
        "buckets": buckets,
        # Delivered batches not in the ledger yet: a difference may be only that.
        "pending": projection.pending(node, peer),
    }


def _digest_of(items: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for key, value in sorted(items):
        h.update(f"{key}\t{value}\n".encode())
    return h.hexdigest()
