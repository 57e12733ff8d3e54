"""Audit events: an append-only record of every step of an exchange.

Each event is written in the same transaction as the change it records, so
the log and the data cannot disagree. An entry holds identifiers, counts,
digests and short reason codes only, never record contents or personal data;
:func:`append` accepts nothing else. The later Merkle log (RFC 6962) hashes the
stored ``entry`` (RFC 8785 canonical JSON) as its leaf.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gateway.crypto import canonical
from gateway.store.database import FastInsert, Store, scalar
from gateway.store.tables import audit_events
from gateway.timestamps import iso

__all__ = ["ENTRY_VERSION", "EVENTS", "PreparedEvent", "append", "append_prepared", "prepare"]

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
        # This node as a witness refused a peer's checkpoint: a rollback or a fork.
        "witness_alert",
        # A batch given up on after its last attempt, and what operators did about one.
        "batch_dead_lettered",
        "batch_retry_requested",
        "batch_cancelled",
        # A batch arrived with a channel number above the next expected one.
        "batch_sequence_gap",
        # Chunked batches: a receiver took a manifest, then each chunk; a sender
        # took up a batch again from the first chunk its receiver had not acknowledged.
        "batch_transfer_started",
        "batch_chunk_received",
        "batch_resumed",
        # A receiver dropped a chunked batch left half-way past the flow's expiry.
        "batch_transfer_expired",
        # Clients managed with "gateway clients", by the operator named as actor.
        "client_added",
        "client_rotated",
        "client_revoked",
        # A batch's records purged after the flow's retention period; its digests stay.
        "batch_purged",
        # Peer-pull mode: a signed request to this node's outbox that failed a check,
        # and a receipt for a pulled batch that did not verify.
        "request_rejected",
        "receipt_rejected",
        # The node's own keys (gateway keys rotate|retire|revoke), by the operator as actor.
        "key_rotated",
        "key_retired",
        "key_revoked",
        # Refusals of callers that did not authenticate (and of clients over their
        # rate limit), counted per kind and interval (gateway.node.refusals).
        "requests_refused",
        # Signed agreements taken up (new, or a new version), ended (ends_on reached, or
        # the file removed) and refused (a file that does not verify, or a rollback),
        # while the node runs (gateway.node.agreement_reload).
        "agreement_taken_up",
        "agreement_ended",
        "agreement_refused",
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
    "records_root",
    "chunk_count",
    "chunk",
    "chunks_received",
    "envelope_sha256",
    "receipt_sha256",
    "signer_kid",
    "reason",
    "status",
    "tree_size",
    "witnessed_size",
    "attempts",
    "sequence",
    "expected_sequence",
    "kid",
    "key_use",
    "count",
    "interval_start",
    "interval_end",
    "agreement_id",
    "version",
    "previous_version",
    "agreement_sha256",
    "parties",
    "file",
    "file_sha256",
    "detail",
)

_FIELD_SET = frozenset(_FIELDS)

# Built once: constructing statements per call costs more than running them.
_NEXT_INDEX = select(func.coalesce(func.max(audit_events.c.idx) + 1, 0))
_NEXT_INDEX_SQLITE = "SELECT coalesce(max(idx) + 1, 0) FROM audit_events"
_INSERT = FastInsert(
    audit_events,
    ["idx", "at", "event", "actor", "dataset", "batch_id", "submission_id", "peer", "entry"],
)
# Appends, and the tree's integration of them, take turns on this lock (PostgreSQL).
APPEND_LOCK = "audit:append"


@dataclass(frozen=True)
class PreparedEvent:
    """An audit event checked and serialised up to its index.

    Everything but the index is done before the write transaction, so that the
    transaction (which holds the node's one write lock) only numbers and stores.
    """

    columns: dict[str, Any]
    _before: str  # canonical members whose names sort before "index"
    _after: str  # and after it

    def entry(self, index: int) -> str:
        """The RFC 8785 canonical JSON of the entry with its index.

        RFC 8785 writes an object's members in the order of their names; all
        names here are ASCII, so the members before and after ``index`` can be
        serialised ahead and joined around it.
        """
        members = [m for m in (self._before, f'"index":{index}', self._after) if m]
        return "{" + ",".join(members) + "}"


def prepare(*, event: str, actor: str, at: dt.datetime, **fields: Any) -> PreparedEvent:
    """Check an event and serialise everything but its index."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}")
    if not _FIELD_SET.issuperset(fields):
        raise ValueError(f"audit entries may not carry {sorted(set(fields) - _FIELD_SET)}")
    stamp = iso(at)
    # "at", "actor" and "event" sort before "index", "v" after it.
    before: dict[str, Any] = {"at": stamp, "event": event, "actor": actor}
    after: dict[str, Any] = {"v": ENTRY_VERSION}
    for name, value in fields.items():
        if value is not None:
            (before if name < "index" else after)[name] = value
    return PreparedEvent(
        columns={
            "at": stamp,
            "event": event,
            "actor": actor,
            "dataset": fields.get("dataset"),
            "batch_id": fields.get("batch_id"),
            "submission_id": fields.get("submission_id"),
            "peer": fields.get("peer"),
        },
        _before=canonical.dumps(before).decode("utf-8")[1:-1],
        _after=canonical.dumps(after).decode("utf-8")[1:-1],
    )


def append_prepared(conn: Connection, events: Sequence[PreparedEvent]) -> list[int]:
    """Number and store prepared events, in order, inside the caller's transaction."""
    Store.serialize(conn, APPEND_LOCK)
    first = int(scalar(conn, _NEXT_INDEX, _NEXT_INDEX_SQLITE))
    indexes = list(range(first, first + len(events)))
    _INSERT.execute(
        conn,
        [
            {**e.columns, "idx": idx, "entry": e.entry(idx)}
            for e, idx in zip(events, indexes, strict=True)
        ],
    )
    return indexes


def append(conn: Connection, *, event: str, actor: str, at: dt.datetime, **fields: Any) -> int:
    """Append one event inside the caller's transaction; returns its index."""
    return append_prepared(conn, [prepare(event=event, actor=actor, at=at, **fields)])[0]
