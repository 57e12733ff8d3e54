"""Refusals that are counted, not audited one by one, and failed sign-ins per source.

The audit log is what auditors trust, so a stranger must not be able to grow
it. Who is authenticated:

* a caller of the API with a bearer token that belongs to a valid client;
* a peer node whose signed request (gateway.peers.signed_requests) verified with a key
  registered for it, names this node, method, path and body, is fresh and is
  not a replay.

A refusal of anyone else (no token, an unknown, expired or revoked one, a source
throttled for its failures, a console sign-in that fails, a node-to-node request
unsigned, badly signed, stale, replayed or aimed elsewhere) is counted here: one
row per kind, subject and interval in ``refusal_counts``, upserted by whichever
worker or replica answered, so the count is shared and survives a crash. A
client over its own rate limit is counted the same way, with the client as the
subject: such refusals are as cheap to make as the others. :func:`roll_up`
writes each closed interval as one ``requests_refused`` audit entry (kind,
count, interval bounds, the peer or client if any) and deletes its row. A
refusal of an authenticated caller (an invalid record, a dataset the client may
not submit, a peer delivering another party's envelope) is still audited
individually, where it happens.

:class:`Throttle` counts failed authentications per source address in fixed
windows (``auth_failures``), in the same database: a source over the limit is
refused before its token is even looked at, valid or not, until the window
ends. The address is kept only as a keyed hash, and never enters the log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from typing import Any

from limits import RateLimitItem, parse
from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Insert

from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.database import Store
from gateway.store.tables import auth_failures, refusal_counts
from gateway.timestamps import from_unix

__all__ = [
    "EVENT",
    "KINDS",
    "ROLL_UP_GRACE_SECONDS",
    "SIGNED_REASONS",
    "Throttle",
    "count",
    "interval_of",
    "roll_up",
    "signed_kind",
]

EVENT = "requests_refused"
# The checks of a signed node-to-node request (gateway.peers.signed_requests), by reason code.
SIGNED_REASONS = (
    "missing",
    "scheme",
    "malformed",
    "unknown_key",
    "signature",
    "header",
    "wrong_issuer",
    "wrong_audience",
    "wrong_method",
    "wrong_target",
    "body_mismatch",
    "stale",
    "replay",
)
# Every kind of counted refusal: the audit entries' reason and the metric's label.
KINDS = (
    "missing_token",  # API: no bearer token
    "unknown_token",  # API: a token of no valid client (unknown, expired, revoked)
    "throttled",  # API: the source failed too often; its token was not looked at
    "rate_limited",  # API: a valid client over its own rate limit (subject: the client)
    "console_sign_in",  # console: a sign-in with a token of no auditor
    "console_throttled",  # console: the source failed to sign in too often
    # Node-to-node, by the check that failed (subject: the peer, once its key verified).
    *(f"request_{reason}" for reason in SIGNED_REASONS),
    "request_other",
)
_KIND_SET = frozenset(KINDS)
# How long after an interval ends it is written to the log: a refusal counted at
# its very end may still be committing, on another worker or replica.
ROLL_UP_GRACE_SECONDS = 5
_ROLL_UP_LOCK = "audit:refusals"


def signed_kind(reason: str) -> str:
    """The kind of a refused signed request, by its reason code."""
    kind = f"request_{reason}"
    return kind if kind in _KIND_SET else "request_other"


def interval_of(moment: dt.datetime, seconds: int) -> tuple[int, int]:
    """The interval (Unix seconds, start and end) that ``moment`` falls in."""
    start = math.floor(moment.timestamp() / seconds) * seconds
    return start, start + seconds


class _Upsert:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET count = count + excluded.count``.

    Built once per dialect. On SQLite it runs on the driver's cursor, as
    :class:`gateway.store.database.FastInsert` does: SQLAlchemy's execution machinery
    costs more than the statement, and a flood runs one per request.
    """

    def __init__(self, table: Table, keys: list[str]) -> None:
        self.statements: dict[str, Insert] = {}
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql)):
            stmt: Any = dialect.insert(table)
            self.statements[name] = stmt.on_conflict_do_update(
                index_elements=keys, set_={"count": table.c.count + stmt.excluded.count}
            )
        compiled = self.statements["sqlite"].compile(
            dialect=sqlite.dialect(), column_keys=[c.name for c in table.columns]
        )
        self.sqlite_sql = str(compiled)
        self.order = tuple(compiled.positiontup or ())

    def execute(self, conn: Connection, values: dict[str, Any]) -> None:
        if conn.dialect.name != "sqlite":
            conn.execute(self.statements[conn.dialect.name], values)
            return
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sqlite_sql, [values[k] for k in self.order])
        finally:
            cursor.close()


_COUNT = _Upsert(refusal_counts, ["kind", "subject", "interval_start"])
_FAIL = _Upsert(auth_failures, ["scope", "source", "window_end"])
_FAILURES_SQLITE = (
    "SELECT count FROM auth_failures WHERE scope = ? AND source = ? AND window_end = ?"
)


def count(
    node: Node,
    kind: str,
    *,
    subject: str | None = None,
    failure: tuple[Throttle, str] | None = None,
) -> None:
    """Count one refusal of ``kind``; ``failure``: also one failed authentication of a source.

    ``subject``: the peer whose key signed, or the client over its rate limit;
    only ever a name from the agreement or the node's clients.
    """
    if kind not in _KIND_SET:
        raise ValueError(f"unknown kind of refusal {kind!r}")
    now = node.now()
    start, end = interval_of(now, node.config.refusal_interval_seconds)
    # Not fsynced (Store.write): a crashed process loses nothing committed; a power
    # loss may lose the last counts, which is acceptable for counters.
    with node.store.transaction() as conn:
        _COUNT.execute(
            conn,
            {
                "kind": kind,
                "subject": subject or "",
                "interval_start": start,
                "interval_end": end,
                "count": 1,
            },
        )
        if failure is not None:
            throttle, source = failure
            _FAIL.execute(
                conn,
                {
                    "scope": throttle.scope,
                    "source": source,
                    "window_end": throttle.window_end(now),
                    "count": 1,
                },
            )




def roll_up(node: Node) -> int:
    """Write every closed interval's counts to the audit log, one entry each; how many.

    Idempotent and safe on replicas: the rows are deleted in the transaction
    that appends their entries, under a lock, so an interval is written once.
    Also deletes the failed-authentication counts of windows that have passed.
    """
    now = node.now()
    closed_before = int(now.timestamp()) - ROLL_UP_GRACE_SECONDS
    r = refusal_counts.c
    with node.store.write() as conn:
        Store.serialize(conn, _ROLL_UP_LOCK)
        # DELETE ... RETURNING: a count that a replica adds meanwhile waits for
        # this transaction and starts a new row, rather than being lost.
        rows = conn.execute(
            delete(refusal_counts)
            .where(r.interval_end <= closed_before)
            .returning(r.kind, r.subject, r.interval_start, r.interval_end, r.count)
        ).all()
        conn.execute(delete(auth_failures).where(auth_failures.c.window_end <= now.timestamp()))
        events = []
        for kind, subject, start, end, refused in sorted(rows, key=lambda x: (x[2], x[0], x[1])):
            named: dict[str, str | None] = {"peer": None, "client": None}
            if subject:
                named["client" if kind == "rate_limited" else "peer"] = subject
            events.append(
                audit_entries.prepare(
                    event=EVENT,
                    actor=node.party_id,
                    at=now,
                    reason=kind,
                    count=int(refused),
                    interval_start=from_unix(int(start)),
                    interval_end=from_unix(int(end)),
                    **named,
                )
            )
        if events:
            audit_entries.append_prepared(conn, events)
    return len(events)


class Throttle:
    """At most ``rate`` failed authentications per source address, in one ``scope``.

    Fixed windows (of the rate's period, aligned to the Unix epoch) counted in
    the node's database, so shared by its workers and replicas.
    """

    def __init__(self, node: Node, *, scope: str, rate: str) -> None:
        self.node = node
        self.scope = scope
        self.rate: RateLimitItem = parse(rate)
        self._period = int(self.rate.get_expiry())
        cipher = node.store.cipher
        # A keyed hash: the table names no address, and a copy of it reveals none.
        self._key = b"" if cipher is None else cipher.derive_secret("gateway source address v1")

    def source(self, address: str | None) -> str:
        """The key of a source address (``request.remote_addr``)."""
        return hmac.new(self._key, (address or "-").encode(), hashlib.sha256).hexdigest()

    def window_end(self, moment: dt.datetime) -> int:
        return interval_of(moment, self._period)[1]

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may try again if it is over the limit, else None."""
        now = self.node.now()
        end = self.window_end(now)
        store = self.node.store
        if store.can_peek:
            # On every authenticated request: the cheapest read there is (Store.peek).
            row = store.peek(_FAILURES_SQLITE, (self.scope, source, end))
            failed = None if row is None else row[0]
        else:
            f = auth_failures.c
            with store.read() as conn:
                failed = conn.execute(
                    select(f.count).where(
                        f.scope == self.scope, f.source == source, f.window_end == end
                    )
                ).scalar()
        if failed is None or failed < self.rate.amount:
            return None
        return max(1, math.ceil(end - now.timestamp()))
