"""Audit events: an append-only record of every step of an exchange.

Each event is written in the same transaction as the change it records, so
the log and the data cannot disagree. An entry holds identifiers, counts,
digests and short reason codes only, never record contents or personal data;
:func:`append` accepts nothing else. The later Merkle log (RFC 6962) hashes the
stored ``entry`` (RFC 8785 canonical JSON) as its leaf.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import rfc8785
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

from gateway.storage import FastInsert, audit_events, scalar

__all__ = ["ENTRY_VERSION", "EVENTS", "append"]

ENTRY_VERSION = 1

EVENTS = frozenset(
    {
        "submission_accepted",
        "submission_rejected",
        "batch_sealed",
        "batch_sent",
        "batch_send_failed",
        "receipt_verified",
        "batch_received",
        "batch_received_duplicate",
        "envelope_rejected",
        "batch_pulled",
        "batch_acknowledged",
    }
)

# What an entry may say besides its index, time, event and actor.
_FIELDS = (
    "dataset",
    "schema_version",
    "batch_id",
    "submission_id",
    "peer",
    "client",
    "record_count",
    "records_sha256",
    "envelope_sha256",
    "receipt_sha256",
    "signer_kid",
    "reason",
    "status",
)

# Built once: constructing statements per call costs more than running them.
_NEXT_INDEX = select(func.coalesce(func.max(audit_events.c.idx) + 1, 0))
_NEXT_INDEX_SQLITE = "SELECT coalesce(max(idx) + 1, 0) FROM audit_events"
_INSERT = FastInsert(
    audit_events,
    ["idx", "at", "event", "actor", "dataset", "batch_id", "submission_id", "entry"],
)
_PG_LOCK = text("SELECT pg_advisory_xact_lock(:k)")

# A fixed advisory-lock key so that audit appends on PostgreSQL are serialised.
_PG_LOCK_KEY = 0x6761_7564  # "gaud"


def append(conn: Connection, *, event: str, actor: str, at: dt.datetime, **fields: Any) -> int:
    """Append one event inside the caller's transaction; returns its index."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise ValueError(f"audit entries may not carry {sorted(unknown)}")
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_LOCK, {"k": _PG_LOCK_KEY})
    idx = scalar(conn, _NEXT_INDEX, _NEXT_INDEX_SQLITE)
    stamp = at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    entry = {"v": ENTRY_VERSION, "index": idx, "at": stamp, "event": event, "actor": actor}
    entry.update({k: v for k, v in fields.items() if v is not None})
    _INSERT.execute(
        conn,
        [
            {
                "idx": idx,
                "at": stamp,
                "event": event,
                "actor": actor,
                "dataset": fields.get("dataset"),
                "batch_id": fields.get("batch_id"),
                "submission_id": fields.get("submission_id"),
                "entry": rfc8785.dumps(entry).decode("utf-8"),
            }
        ],
    )
    return int(idx)
