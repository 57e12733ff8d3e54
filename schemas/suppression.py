"""Auditing complementary suppression in a table of counts that share one total.

The table: a *total*, and *dimensions* that each split that same total into cells
(the same reports counted by channel, by classification, ...), and a *follow-up
chain* attached to one cell of one dimension, the *received* cell: of the reports
received, ``timely`` were followed up in time, ``overdue`` were not, ``closed``
were closed, with ``timely + overdue <= received`` and ``closed <= timely +
overdue``. A count is either shown or suppressed (withheld).

What a recipient knows of a suppressed count. Counts from 1 to the small limit
(4) are always suppressed; a zero is always shown; any larger count may be
suppressed too, to protect a small one (complementary suppression). So the
recipient knows a suppressed count only to be at least 1, and reads it two ways:

* *wide*: any count of at least 1;
* *narrow*: a small count (1 to 4), as a suppressed count usually is; applied to
  one group of suppressed counts at a time (the total; the cells of one
  dimension; the follow-up chain) and to all of them at once, whenever that
  reading agrees with the table at all.

A suppressed count is *derivable* when either reading leaves it one value. For a
dimension with ``k`` suppressed cells whose sum ``S`` is known (the total minus
the shown cells): one suppressed cell is ``S`` itself; ``k`` cells summing to
``k`` are all 1 (both readings); ``k`` cells summing to ``4k`` are all 4 (the
narrow reading). Other sums leave every cell open. With the total suppressed too,
``S`` is known only within bounds, and the bounds follow from the other
dimensions and the chain.

The feasible values of each count form an interval, found in a fixed number of
steps per dimension (no search): each constraint is a sum of cells of one
dimension, or the chain, and they meet only at the total and the received cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CHAIN",
    "CLOSED",
    "EXCEEDS_FOLLOWED_UP",
    "EXCEEDS_RECEIVED",
    "OVERDUE",
    "RECEIVED",
    "SMALL",
    "SUM_EXCEEDS_RECEIVED",
    "TIMELY",
    "TOTAL",
    "Dimension",
    "Table",
    "chain_conflicts",
    "derivable",
    "received_range",
    "total_conflict",
]

SMALL = 4  # the largest count that is always suppressed
_WIDE = 1 << 62  # no upper bound: larger than any count

# The keys of the counts that are not cells of a dimension (those are keyed by index).
TOTAL = "total"
RECEIVED = "received"
TIMELY = "timely"
OVERDUE = "overdue"
CLOSED = "closed"
CHAIN = (TIMELY, OVERDUE, CLOSED)

# How the follow-up chain can disagree with the received cell (chain_conflicts).
EXCEEDS_RECEIVED = "exceeds_received"  # one count of the chain is more than received
SUM_EXCEEDS_RECEIVED = "sum_exceeds_received"  # timely + overdue is more than received
EXCEEDS_FOLLOWED_UP = "exceeds_followed_up"  # closed is more than timely + overdue

Key = str | int
Interval = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Dimension:
    """One dimension: the sum of its shown cells, how many are suppressed, and whether
    the received cell is one of the suppressed ones."""

    shown: int
    hidden: int
    holds_received: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """The counts as a recipient sees them; ``None`` is a suppressed count.

    ``received`` is the received cell's count when shown (0 when no dimension has the
    cell); when it is suppressed, the dimension that holds it says so.
    """

    total: int | None
    dimensions: tuple[Dimension, ...]
    received: int | None = 0
    chain: tuple[int | None, int | None, int | None] = (0, 0, 0)  # timely, overdue, closed


def _interval(count: int | None, upper: int) -> Interval:
    return (count, count) if count is not None else (1, upper)


def total_conflict(table: Table) -> int | None:
    """The index of the first dimension whose cells cannot add up to the total together
    with the dimensions before it (wide reading, follow-up chain aside); None if all can."""
    low, high = _interval(table.total, _WIDE)
    for index, dim in enumerate(table.dimensions):
        low = max(low, dim.shown + dim.hidden)
        high = min(high, dim.shown + dim.hidden * _WIDE)
        if low > high:
            return index
    return None


def received_range(table: Table) -> Interval:
    """The values the received cell may take (wide reading, follow-up chain aside).
    Call it on a table without a :func:`total_conflict`."""
    if table.received is not None:
        return (table.received, table.received)
    low, high = _interval(table.total, _WIDE)
    for dim in table.dimensions:
        low = max(low, dim.shown + dim.hidden)
        high = min(high, dim.shown + dim.hidden * _WIDE)
    dim = next(d for d in table.dimensions if d.holds_received)
    rest = dim.hidden - 1
    return (max(1, low - dim.shown - rest * _WIDE), high - dim.shown - rest)


def chain_conflicts(table: Table) -> list[tuple[str, str]]:
    """How the follow-up chain disagrees with itself or with the received cell (wide
    reading): ``(key, kind)`` pairs, the key of the count at fault (:data:`OVERDUE` for
    a sum). Call it on a table without a :func:`total_conflict`."""
    _, r_hi = received_range(table)
    (t_lo, t_hi), (o_lo, o_hi), (c_lo, _) = (_interval(v, _WIDE) for v in table.chain)
    found = [(key, EXCEEDS_RECEIVED) for key, lo in zip(CHAIN, (t_lo, o_lo, c_lo), strict=True)
             if lo > r_hi]  # fmt: skip
    if not found and t_lo + o_lo > r_hi:
        found.append((OVERDUE, SUM_EXCEEDS_RECEIVED))
    if c_lo > t_hi + o_hi and c_lo <= r_hi:
        found.append((CLOSED, EXCEEDS_FOLLOWED_UP))
    return found


def _chain_ranges(table: Table, received: Interval, upper: int) -> dict[Key, Interval] | None:
    (t_lo, t_hi), (o_lo, o_hi), (c_lo, c_hi) = (_interval(v, upper) for v in table.chain)
    r_hi = received[1]
    if max(t_lo + o_lo, c_lo) > r_hi or c_lo > t_hi + o_hi:
        return None
    found = {
        TIMELY: (max(t_lo, c_lo - o_hi), min(t_hi, r_hi - o_lo)),
        OVERDUE: (max(o_lo, c_lo - t_hi), min(o_hi, r_hi - t_lo)),
        CLOSED: (c_lo, min(c_hi, t_hi + o_hi, r_hi)),
    }
    return {key: found[key] for key, count in zip(CHAIN, table.chain, strict=True)
            if count is None}  # fmt: skip


def _ranges(table: Table, upper: Sequence[int]) -> dict[Key, Interval] | None:
    """The interval of every suppressed count, with ``upper`` the largest value a
    suppressed count may take: ``upper[0]`` the total's, ``upper[1 + i]`` dimension i's,
    ``upper[-1]`` the chain's. None if no values agree with the table."""
    dims = table.dimensions
    (t_lo, _), (o_lo, _), (c_lo, _) = (_interval(v, upper[-1]) for v in table.chain)
    needed = max(1, t_lo + o_lo, c_lo)  # the fewest reports received the chain allows
    low, high = _interval(table.total, upper[0])
    for index, dim in enumerate(dims):
        top = upper[1 + index]
        least = dim.hidden + (needed - 1 if dim.holds_received else 0)
        if dim.holds_received and needed > top:
            return None
        low, high = max(low, dim.shown + least), min(high, dim.shown + dim.hidden * top)
        if low > high:
            return None
    found: dict[Key, Interval] = {}
    if table.total is None:
        found[TOTAL] = (low, high)
    received = _interval(table.received, 0)
    for index, dim in enumerate(dims):
        top, k = upper[1 + index], dim.hidden
        s_lo, s_hi = low - dim.shown, high - dim.shown
        if not k:
            continue
        if dim.holds_received:
            received = (max(needed, s_lo - (k - 1) * top), min(top, s_hi - (k - 1)))
            found[RECEIVED] = received
            if k > 1:
                found[index] = (max(1, s_lo - (k - 1) * top), min(top, s_hi - needed - (k - 2)))
        else:
            found[index] = (max(1, s_lo - (k - 1) * top), min(top, s_hi - (k - 1)))
    chain = _chain_ranges(table, received, upper[-1])
    if chain is None:
        return None
    found.update(chain)
    return found if all(lo <= hi for lo, hi in found.values()) else None


def _readings(table: Table) -> list[tuple[int, ...]]:
    """The upper bounds of the wide reading, then of the narrow one for all groups of
    suppressed counts together and for each group alone."""
    groups = [table.total is None]
    groups += [dim.hidden > 0 for dim in table.dimensions]
    groups.append(None in table.chain)
    wide = (_WIDE,) * len(groups)
    readings = [wide]
    if any(groups):
        readings.append(tuple(SMALL if g else _WIDE for g in groups))
    if sum(groups) > 1:
        for index, suppressed in enumerate(groups):
            if suppressed:
                readings.append(tuple(SMALL if i == index else _WIDE for i in range(len(groups))))
    return readings


def derivable(table: Table) -> frozenset[Key]:
    """The suppressed counts that a recipient can work out: :data:`TOTAL`,
    :data:`RECEIVED`, a chain key, or a dimension's index (its suppressed cells other
    than the received cell, which all share one interval).

    Call it on a table whose counts agree (no :func:`total_conflict`, a chain within
    :func:`received_range`): otherwise the wide reading has no values, and nothing is
    claimed."""
    found: set[Key] = set()
    for number, upper in enumerate(_readings(table)):
        ranges = _ranges(table, upper)
        if ranges is None:
            if number == 0:  # the wide reading: the counts do not agree
                return frozenset()
            continue  # a narrow reading that the table rules out tells nothing
        found.update(key for key, (lo, hi) in ranges.items() if lo == hi)
    return frozenset(found)
