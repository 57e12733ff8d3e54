"""The case ledger: each case's steps and deadlines, from the records that crossed.

Fed only by the exchange, in the transaction that makes a batch delivered: at
the receiver when it stores the batch and signs its receipt, at the sender when
it verifies that receipt (:func:`record_batch`). Every record of a ledger dataset
becomes one event, stamped with the receipt's ``received_at``: the day a request
reached Pemkot is the day of the receiving node's signed proof of delivery, not
a date someone typed. Both nodes hold the same receipts and records, so they
compute the same ledger.

A case's steps are computed from all its events, in the order of their receipts
(:func:`derive`), again whenever one of its events comes: the ledger does not
depend on the order in which a node learns of them (a sender may verify a
receipt late). A step starts on the day (in Asia/Jakarta) of the receipt of the
record that opens it, falls due by the rule for its kind of the agreement under
which that record crossed (its ``[service_levels]``, :class:`Deadlines`,
:func:`deadlines_for`), and is done on the day of the receipt of the record that
closes it:

- ``klarifikasi/N``: a clarification request of round N, closed by Pemkot's next
  answer;
- ``tindakan_korektif/LHP/ID``: a corrective action of an LHP, closed by the
  first follow-up report on it;
- ``rekomendasi/REF/ID``: an action of a recommendation. The recommendation does
  not cross the gateway, so the step starts on the day received that the
  follow-up report declares (``start_basis = "declared"``) and ends with that
  report;
- ``klarifikasi_tindak_lanjut/REF/ID/N``: the Ombudsman's verdict "perlu
  klarifikasi" on a follow-up report, closed by the next report on the action.

A verdict is kept as the ``outcome`` of the step whose report it assesses.
Nothing personal is kept: case numbers, document numbers, dates, unit codes,
statuses.

Each case names its ``peer``: the other party of its events, from this node's point
of view. A hub holds the cases of many partners, and ``gateway audit reconcile``
compares the hub's cases with one partner (gateway.cases.reports.digest). A case
whose events are with more than one peer (one report number used with two
partners) names none (NULL), as do the rows from before revision 0017 until
``gateway cases rebuild``; such a case counts with every peer.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from gateway.cases.calendar import CalendarNotCovered, WorkingCalendar, load_calendar, wib_date
from gateway.cases.facts import json_text
from gateway.node.config import ServiceLevels
from gateway.store.database import FastInsert
from gateway.store.locks import serialize
from gateway.store.tables import (
    case_events,
    case_ledger_version,
    case_step_stats,
    case_steps,
    cases,
)
from gateway.timestamps import parse

if TYPE_CHECKING:
    from gateway.node.node import Node

__all__ = [
    "Deadlines",
    "Event",
    "RulesOf",
    "Step",
    "bucket_of",
    "deadlines_for",
    "derive",
    "rebuild",
    "record_batch",
    "rules_of",
]

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # case numbers per IN (...) list
# Rows built and written at a time: a slice of 10,000 records would otherwise hold
# all its events' and steps' row dicts at once (docs/PERFORMANCE.md).
_WRITE_ROWS = 1000

_INSERT_EVENT = FastInsert(
    case_events,
    [
        "batch_id",
        "idx",
        "case_number",
        "dataset",
        "schema_version",
        "sender",
        "receiver",
        "receipt_at",
        "facts",
    ],
)
_STEP_COLUMNS = [c.name for c in case_steps.columns]
_INSERT_STEP = FastInsert(case_steps, _STEP_COLUMNS)
_INSERT_CASE = FastInsert(cases, [c.name for c in cases.columns])
# The known cases among a batch's, in one statement on SQLite (the numbers as a JSON array).
_SQLITE_EXISTING = (
    "SELECT case_number FROM cases WHERE case_number IN (SELECT value FROM json_each(?))"
)


class Deadlines:
    """The agreement's deadline rules over the working-day calendar.

    Beyond the years the calendar holds, working days are the weekdays (logged
    once per year): a node must not stop recording because next year's decree
    is not shipped yet; ``gateway calendar`` reports the missing year.
    """

    def __init__(self, levels: ServiceLevels, calendar: WorkingCalendar) -> None:
        self.levels = levels
        self.calendar = calendar
        self._warned: set[int] = set()
        # Each answer computed once: a batch's steps mostly start, and end, on a few days.
        self.due = functools.lru_cache(maxsize=16384)(self._due)
        self.working_days_between = functools.lru_cache(maxsize=16384)(self._working_days_between)

    def _due(self, kind: str, start: dt.date, stated: str | None = None) -> dt.date:
        """When a step of ``kind`` that starts on ``start`` falls due."""
        rule = self.levels.deadlines[kind]
        if rule.stated and stated is not None:
            return dt.date.fromisoformat(stated)
        if rule.days is not None:
            return start + dt.timedelta(days=rule.days)
        return self.add_working_days(start, rule.working_days or 0)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        try:
            return self.calendar.add_working_days(start, n)
        except CalendarNotCovered:
            self._warn(start.year)
            day = start
            while n > 0:
                day += dt.timedelta(days=1)
                if day.weekday() < 5 and self._working(day):
                    n -= 1
            return day

    def _working_days_between(self, start: dt.date, end: dt.date) -> int:
        try:
            return self.calendar.working_days_between(start, end)
        except CalendarNotCovered:
            self._warn(end.year)
            count, day = 0, start
            while day < end:
                day += dt.timedelta(days=1)
                if day.weekday() < 5 and self._working(day):
                    count += 1
            return count

    def _working(self, day: dt.date) -> bool:
        return not self.calendar.covers(day) or self.calendar.is_working_day(day)

    def _warn(self, year: int) -> None:
        if year not in self._warned:
            self._warned.add(year)
            log.warning(
                "the working-day calendar has no year %d: counting weekdays only "
                "(add the year's holidays: gateway calendar)",
                year,
            )


# One Deadlines per distinct rule table and calendar, whichever agreements share them:
# its answers (lru caches) serve every partner whose agreement has those rules.
_DEADLINES: dict[tuple[str, tuple[Any, ...]], Deadlines] = {}

# The rules of the agreement with a peer (the case events' ``peer``).
RulesOf = Callable[[str], Deadlines]


def deadlines_for(node: Node, peer: str | None = None) -> Deadlines:
    """The deadline rules of the agreement under which this node exchanges with
    ``peer`` (:meth:`Agreement.service_levels_between`), over the node's calendar.

    Without ``peer``: the rules of the node's first agreement in force, for what is
    read node-wide (the due-soon horizon of the statuses). Read once per configuration.
    """
    agreement = node.config.agreement
    levels = (
        agreement.service_levels
        if peer is None
        else agreement.service_levels_between(node.party_id, peer)
    )
    files = node.config.calendar_files
    key = (repr(levels), files)
    found = _DEADLINES.get(key)
    if found is None:
        found = _DEADLINES[key] = Deadlines(levels, load_calendar(*files))
    return found


def rules_of(node: Node) -> RulesOf:
    """The rules with each peer, looked up once per peer for one pass over the ledger."""
    known: dict[str, Deadlines] = {}

    def of(peer: str) -> Deadlines:
        found = known.get(peer)
        if found is None:
            found = known[peer] = deadlines_for(node, peer or None)
        return found

    return of


@dataclass(frozen=True)
class Event:
    """One record of a ledger dataset that crossed: where it is, when, and its fact.

    ``peer``: the other party of its batch, from this node's point of view ("" when
    not known: the node's first agreement's rules apply).
    """

    batch_id: str
    idx: int
    dataset: str
    receipt_at: str
    facts: Mapping[str, Any]
    peer: str = ""

    @property
    def ref(self) -> str:
        return f"{self.batch_id}#{self.idx}"

    @property
    def day(self) -> dt.date:
        return _day_of(self.receipt_at)


@functools.lru_cache(maxsize=4096)
def _day_of(receipt_at: str) -> dt.date:
    """The day in Asia/Jakarta of a receipt time (a batch's records share one)."""
    return wib_date(parse(receipt_at))


@dataclass
class Step:
    """One step of a case, as derived from its events."""

    case_number: str
    step: str
    kind: str
    unit: str | None
    start_on: dt.date
    start_basis: str
    due_on: dt.date
    opened_by: str
    done_on: dt.date | None = None
    response_days: int | None = None
    outcome: str | None = None
    closed_by: str | None = None

    @property
    def late(self) -> bool:
        return self.done_on is not None and self.done_on > self.due_on

    def close(self, event: Event, day: dt.date, rules: Deadlines) -> None:
        # Working days between two days depend on the calendar only, the node's one.
        self.done_on = day
        self.closed_by = event.ref
        self.response_days = rules.working_days_between(self.start_on, day)

    def row(self) -> dict[str, Any]:
        return {
            "case_number": self.case_number,
            "step": self.step,
            "kind": self.kind,
            "unit": self.unit,
            "start_on": self.start_on.isoformat(),
            "start_basis": self.start_basis,
            "due_on": self.due_on.isoformat(),
            "done_on": None if self.done_on is None else self.done_on.isoformat(),
            "response_days": self.response_days,
            "outcome": self.outcome,
            "opened_by": self.opened_by,
            "closed_by": self.closed_by,
        }


@dataclass
class _Derivation:
    case_number: str
    rules_of: RulesOf
    steps: dict[str, Step] = field(default_factory=dict)
    requests: int = 0

    def open(self, key: str, kind: str, event: Event, day: dt.date, **kw: Any) -> Step | None:
        if key in self.steps:
            return None  # the same step again (a request re-sent): the first one counts
        step = Step(self.case_number, key, kind, opened_by=event.ref, start_on=day, **kw)
        self.steps[key] = step
        return step

    def request(self, event: Event, day: dt.date) -> None:
        f = event.facts
        self.requests += 1
        round_ = f.get("round") or self.requests
        due = self.rules_of(event.peer).due("klarifikasi", day, f.get("due"))
        self.open(
            f"klarifikasi/{round_}", "klarifikasi", event, day,
            unit=f.get("unit"), start_basis="receipt", due_on=due,
        )  # fmt: skip

    def answer(self, event: Event, day: dt.date) -> None:
        waiting = [s for s in self.steps.values() if s.kind == "klarifikasi" and s.done_on is None]
        if waiting:
            first = min(waiting, key=lambda s: (s.start_on, _round(s.step)))
            first.close(event, day, self.rules_of(event.peer))

    def lhp(self, event: Event, day: dt.date) -> None:
        f = event.facts
        for action in f.get("actions", ()):
            self.open(
                f"tindakan_korektif/{f.get('ref', '')}/{action['id']}", "tindakan_korektif",
                event, day, unit=action.get("unit"), start_basis="receipt",
                due_on=self.rules_of(event.peer).due("tindakan_korektif", day, action.get("due")),
            )  # fmt: skip

    def followup(self, event: Event, day: dt.date) -> None:
        f = event.facts
        kind, ref, action = f.get("ref_kind"), f.get("ref"), f.get("action")
        if kind not in ("tindakan_korektif", "rekomendasi") or ref is None or action is None:
            return
        key = f"{kind}/{ref}/{action}"
        if key not in self.steps:
            # The LHP or recommendation did not cross here: the step starts on the day
            # received that the report declares.
            start = dt.date.fromisoformat(f["received_on"]) if "received_on" in f else day
            self.open(
                key, kind, event, start, unit=f.get("unit"), start_basis="declared",
                due_on=self.rules_of(event.peer).due(kind, start, f.get("due")),
            )  # fmt: skip
        for step in self._of_action(kind, ref, action):
            if step.done_on is None:
                step.close(event, day, self.rules_of(event.peer))

    def verdict(self, event: Event, day: dt.date) -> None:
        f = event.facts
        kind, ref, action = f.get("ref_kind"), f.get("ref"), f.get("action")
        done = [s for s in self._of_action(kind, ref, action) if s.done_on is not None]
        if done:
            max(done, key=lambda s: (s.done_on, s.step)).outcome = f.get("verdict")
        if f.get("verdict") == "perlu_klarifikasi" and kind is not None and ref is not None:
            steps = list(self._of_action(kind, ref, action))
            n = 1 + sum(1 for s in steps if s.kind == "klarifikasi_tindak_lanjut")
            unit = f.get("unit") or next((s.unit for s in steps if s.unit), None)
            self.open(
                f"klarifikasi_tindak_lanjut/{ref}/{action}/{n}", "klarifikasi_tindak_lanjut",
                event, day, unit=unit, start_basis="receipt",
                due_on=self.rules_of(event.peer).due(
                    "klarifikasi_tindak_lanjut", day, f.get("due")),
            )  # fmt: skip

    def _of_action(self, kind: Any, ref: Any, action: Any) -> Iterator[Step]:
        """The steps of one action: its own and its verdicts' clarifications."""
        own = f"{kind}/{ref}/{action}"
        asked = f"klarifikasi_tindak_lanjut/{ref}/{action}/"
        for step in self.steps.values():
            if step.step == own or step.step.startswith(asked):
                yield step


_HANDLERS = {
    "request": _Derivation.request,
    "answer": _Derivation.answer,
    "lhp": _Derivation.lhp,
    "followup": _Derivation.followup,
    "verdict": _Derivation.verdict,
}


def _round(step: str) -> int:
    tail = step.rpartition("/")[2]
    return int(tail) if tail.isdigit() else 0


def _ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.receipt_at, e.batch_id, e.idx))


def derive(
    case_number: str, events: Iterable[Event], rules: Deadlines | RulesOf
) -> list[Step]:
    """The steps of one case from all its events, in the order of their receipts.

    ``rules``: one set of rules for every event, or the rules with each event's peer
    (:func:`rules_of`): a step falls due by the rules of the agreement under which the
    record that opens it crossed.
    """
    if isinstance(rules, Deadlines):
        same: Deadlines = rules
        derivation = _Derivation(case_number, lambda _peer: same)
    else:
        derivation = _Derivation(case_number, rules)
    for event in _ordered(events):
        handler = _HANDLERS.get(str(event.facts.get("kind")))
        if handler is not None:
            handler(derivation, event, event.day)
    return list(derivation.steps.values())


def case_row(
    case_number: str,
    steps: Sequence[Step],
    events: Sequence[Event],
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``cases`` row of a case: what its steps add up to, and their digest.

    ``rows``: the steps' rows (:meth:`Step.row`), when the caller has them already.
    """
    ordered = _ordered(events) if len(events) > 1 else list(events)
    open_steps = [s for s in steps if s.done_on is None]
    late = sum(1 for s in steps if s.late)
    unit = next((s.unit for s in steps if s.unit), None) or next(
        (e.facts["unit"] for e in ordered if e.facts.get("unit")), None
    )
    starts = [s.start_on for s in steps] or [ordered[0].day]
    peers = {e.peer for e in ordered}
    state = "open" if open_steps or not steps else ("done_late" if late else "done_on_time")
    # The digest: the steps' values in the table's column order, by step, then the
    # events' places; both nodes compute it alike (gateway audit reconcile compares it).
    values = sorted([r[c] for c in _STEP_COLUMNS] for r in (rows or [s.row() for s in steps]))
    digest = hashlib.sha256(
        json_text([values, [e.ref for e in ordered]]).encode()
    ).hexdigest()
    return {
        "case_number": case_number,
        "unit": unit,
        "opened_on": min(starts).isoformat(),
        "state": state,
        "next_due_on": min((s.due_on for s in open_steps), default=None),
        "steps": len(steps),
        "open_steps": len(open_steps),
        "late_steps": late,
        "events": len(ordered),
        "updated_at": ordered[-1].receipt_at,
        "digest": digest,
        "bucket": bucket_of(case_number),
        # Not in the digest: each node names the other.
        "peer": (peers.pop() or None) if len(peers) == 1 else None,
    }


def bucket_of(case_number: str) -> str:
    """The case's reconciliation bucket: the first two hex digits of its number's SHA-256."""
    return hashlib.sha256(case_number.encode()).hexdigest()[:2]


def _stat_key(row: Any) -> tuple[str, str, str, bool, int] | None:
    """A done step's place in ``case_step_stats``; None for an open one."""
    if row["done_on"] is None:
        return None
    due = str(row["due_on"])
    return (row["unit"] or "", due[:7], row["kind"], str(row["done_on"]) > due,
            int(row["response_days"] or 0))  # fmt: skip


def record_batch(
    conn: Connection,
    node: Node,
    *,
    batch_id: str,
    dataset: str,
    schema_version: str,
    sender: str,
    receiver: str,
    receipt_at: str,
    facts: Iterable[tuple[int, Mapping[str, Any]]],
) -> int:
    """Record the facts of a delivered batch's records and update their cases.

    ``facts``: (the record's place in the batch, its fact), for the records that
    have one. Runs in the caller's transaction, the one that marks the batch
    delivered. Returns the number of events recorded.
    """
    if not node.config.case_ledger:
        return 0
    peer = _peer(node.party_id, sender, receiver)
    events = [Event(batch_id, idx, dataset, receipt_at, fact, peer) for idx, fact in facts]
    if not events:
        return 0
    # Replicas on PostgreSQL: one ledger writer at a time, or two deliveries of one case
    # would each replace its steps. Taken last, after the exchange's own locks.
    serialize(conn, "case-ledger")
    for start in range(0, len(events), _WRITE_ROWS):
        _INSERT_EVENT.execute(
            conn,
            [
                {
                    "batch_id": batch_id,
                    "idx": e.idx,
                    "case_number": e.facts["case"],
                    "dataset": dataset,
                    "schema_version": schema_version,
                    "sender": sender,
                    "receiver": receiver,
                    "receipt_at": receipt_at,
                    "facts": json_text(e.facts, sort_keys=True),
                }
                for e in events[start : start + _WRITE_ROWS]
            ],
        )
    by_case: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_case[e.facts["case"]].append(e)
    known = _existing(conn, list(by_case))
    if known:
        # Cases seen before: computed again from all their events, this batch's included.
        by_case.update(_events_of(conn, known, node.party_id))
    _replace(conn, rules_of(node), by_case, known)
    _changed(conn)
    return len(events)


def _peer(party: str, sender: str, receiver: str) -> str:
    """The other party of a batch between ``sender`` and ``receiver``, seen from ``party``."""
    return receiver if sender == party else sender


def _changed(conn: Connection) -> None:
    """Move the ledger's version on (``case_ledger_version``), in the changing transaction."""
    v = case_ledger_version.c
    moved = conn.execute(
        update(case_ledger_version).where(v.id == 1).values(version=v.version + 1)
    )
    if moved.rowcount == 0:
        conn.execute(case_ledger_version.insert().values(id=1, version=1))


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _existing(conn: Connection, numbers: Sequence[str]) -> list[str]:
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            rows = cursor.execute(_SQLITE_EXISTING, (json.dumps(list(numbers)),)).fetchall()
        finally:
            cursor.close()
        return [number for (number,) in rows]
    found: list[str] = []
    for part in _chunks(numbers):
        found.extend(
            conn.execute(select(cases.c.case_number).where(cases.c.case_number.in_(part)))
            .scalars()
            .all()
        )
    return found


def _events_of(conn: Connection, numbers: Sequence[str], party: str) -> dict[str, list[Event]]:
    """The stored events of these cases; ``party``: this node's, to name each one's peer."""
    e = case_events.c
    found: dict[str, list[Event]] = defaultdict(list)
    for part in _chunks(numbers):
        rows = conn.execute(
            select(
                e.case_number, e.batch_id, e.idx, e.dataset, e.receipt_at, e.facts,
                e.sender, e.receiver,
            ).where(e.case_number.in_(part))
        )  # fmt: skip
        for number, batch_id, idx, dataset, receipt_at, facts, sender, receiver in rows:
            found[number].append(
                Event(batch_id, idx, dataset, receipt_at, orjson.loads(facts),
                      _peer(party, sender, receiver))
            )  # fmt: skip
    return found


def _replace(
    conn: Connection, rules: RulesOf, by_case: Mapping[str, list[Event]], known: Sequence[str]
) -> None:
    """Write the steps and rows of these cases, replacing those of the ``known`` ones."""
    delta: Counter[tuple[str, str, str, bool, int]] = Counter()
    s = case_steps.c
    for part in _chunks(known):
        for old in conn.execute(select(case_steps).where(s.case_number.in_(part))).mappings():
            key = _stat_key(old)
            if key is not None:
                delta[key] -= 1
        conn.execute(delete(case_steps).where(s.case_number.in_(part)))
        conn.execute(delete(cases).where(cases.c.case_number.in_(part)))
    step_rows: list[dict[str, Any]] = []
    case_rows: list[dict[str, Any]] = []
    for number, events in by_case.items():
        steps = derive(number, events, rules)
        rows = [step.row() for step in steps]
        for row in rows:
            key = _stat_key(row)
            if key is not None:
                delta[key] += 1
        step_rows.extend(rows)
        case_rows.append(_dated(case_row(number, steps, events, rows)))
        if len(step_rows) >= _WRITE_ROWS or len(case_rows) >= _WRITE_ROWS:
            _write(conn, step_rows, case_rows)
            step_rows, case_rows = [], []
    _write(conn, step_rows, case_rows)
    _count(conn, delta)


def _write(
    conn: Connection, step_rows: Sequence[Mapping[str, Any]], case_rows: Sequence[Mapping[str, Any]]
) -> None:
    if step_rows:
        _INSERT_STEP.execute(conn, step_rows)
    if case_rows:
        _INSERT_CASE.execute(conn, case_rows)


def _dated(row: dict[str, Any]) -> dict[str, Any]:
    due = row["next_due_on"]
    return {**row, "next_due_on": None if due is None else due.isoformat()}


def _count(conn: Connection, delta: Mapping[tuple[str, str, str, bool, int], int]) -> None:
    """Add ``delta`` to the monthly figures of done steps."""
    changes = [
        {"unit": k[0], "month": k[1], "kind": k[2], "late": k[3], "response_days": k[4],
         "count": n}
        for k, n in sorted(delta.items())
        if n
    ]  # fmt: skip
    if not changes:
        return
    insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
    statement = insert(case_step_stats)
    statement = statement.on_conflict_do_update(
        index_elements=["unit", "month", "kind", "late", "response_days"],
        set_={"count": case_step_stats.c.count + statement.excluded.count},
    )
    conn.execute(statement, changes)


def rebuild(conn: Connection, node: Node) -> int:
    """Compute every case again from the stored events (after the rules or the
    calendar changed). Returns the number of cases."""
    serialize(conn, "case-ledger")
    conn.execute(delete(case_steps))
    conn.execute(delete(cases))
    conn.execute(delete(case_step_stats))
    numbers = list(conn.execute(select(case_events.c.case_number).distinct()).scalars())
    rules = rules_of(node)
    for start in range(0, len(numbers), 5000):
        part = numbers[start : start + 5000]
        _replace(conn, rules, _events_of(conn, part, node.party_id), [])
    _changed(conn)
    return len(numbers)
