"""Feeding the case ledger: delivered batches queued with their delivery, projected after.

The transaction that makes a batch of a ledger dataset delivered (at the receiver,
the one that stores it and signs its receipt; at the sender, the one that verifies
that receipt) adds one row to ``case_inbox`` (:func:`enqueue`): the batch, its
receipt's ``received_at``, and where its records' facts are. The facts were picked
when the records were in hand (at intake, ``outbox_records.case_facts``; when a
chunk was stored, ``inbound_chunks.case_facts``; a whole batch received: in the
row itself). Nothing is lost or counted twice: the row comes and goes with the
delivery, and :func:`project` moves it into the ledger in transactions of its own,
a slice of about ``budget`` records each, resuming where the last one stopped.

So keeping the ledger costs the delivery one row, and the work of the ledger runs
beside the transfers (the schedule's ``cases:project`` job, every few seconds)
instead of in their way. A case's steps are computed from all its events, so the
order batches are projected in does not change the ledger (gateway.cases.ledger).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Connection

from gateway.cases import ledger
from gateway.cases.facts import LEDGER_DATASETS, fact_of, json_text
from gateway.crypto import strict_json
from gateway.crypto.envelope import signed_payload
from gateway.store.locks import serialize
from gateway.store.tables import case_inbox, inbound_chunks, outbox_record_bodies, outbox_records

if TYPE_CHECKING:
    from gateway.node.node import Node

__all__ = ["SOURCES", "chunk_facts", "enqueue", "pending", "project", "project_all"]

# Where a queued batch's facts are: the sender's outbox, the receiver's chunks, the row.
SOURCES = ("outbox", "chunks", "inline")
BUDGET = 10_000  # records per projecting transaction

Facts = list[tuple[int, Mapping[str, Any]]]


def chunk_facts(dataset: str, records: Iterable[Any]) -> str | None:
    """What the ledger keeps of a chunk's records until its batch is projected (JSON);
    None for a dataset the ledger does not read."""
    if dataset not in LEDGER_DATASETS:
        return None
    found = [[i, f] for i, r in enumerate(records) if (f := fact_of(dataset, r)) is not None]
    return json_text(found)


def enqueue(
    conn: Connection,
    node: Node,
    *,
    batch_id: str,
    dataset: str,
    schema_version: str,
    sender: str,
    receiver: str,
    receipt_at: str,
    record_count: int,
    source: str,
    records: Iterable[Any] | None = None,
) -> None:
    """Queue a delivered batch for the ledger, in its delivery's transaction.

    ``records``: for ``source="inline"``, the batch's records (their facts are kept
    in the row).
    """
    if not node.config.case_ledger or dataset not in LEDGER_DATASETS:
        return
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    conn.execute(
        case_inbox.insert().values(
            batch_id=batch_id,
            dataset=dataset,
            schema_version=schema_version,
            sender=sender,
            receiver=receiver,
            receipt_at=receipt_at,
            record_count=record_count,
            source=source,
            facts=chunk_facts(dataset, records or ()) if source == "inline" else None,
            projected=0,
        )
    )


def pending(node: Node, peer: str | None = None) -> int:
    """How many delivered batches wait to be projected into the ledger (exchanged with
    ``peer``, if given: the queue is short, counted without an index)."""
    query = select(func.count()).select_from(case_inbox)
    if peer is not None:
        query = query.where(or_(case_inbox.c.sender == peer, case_inbox.c.receiver == peer))
    with node.store.read() as conn:
        return int(conn.execute(query).scalar_one())


def project(node: Node, *, budget: int = BUDGET) -> int:
    """Project one slice (about ``budget`` records) of the oldest queued batch.

    One transaction: the slice's events and cases, and the batch's progress (its
    row goes once all of it is in). Returns the number of records the slice
    covered; 0 when nothing waits.
    """
    with node.store.write() as conn:
        serialize(conn, "case-ledger")
        q = case_inbox.c
        row = (
            conn.execute(select(case_inbox).order_by(q.receipt_at, q.batch_id).limit(1))
            .mappings()
            .first()
        )
        if row is None:
            return 0
        start = int(row["projected"])
        facts, end = _slice(conn, row, start, budget)
        ledger.record_batch(
            conn,
            node,
            batch_id=row["batch_id"],
            dataset=row["dataset"],
            schema_version=row["schema_version"],
            sender=row["sender"],
            receiver=row["receiver"],
            receipt_at=row["receipt_at"],
            facts=facts,
        )
        done = q.batch_id == row["batch_id"]
        if end >= int(row["record_count"]):
            conn.execute(delete(case_inbox).where(done))
        else:
            conn.execute(update(case_inbox).where(done).values(projected=end))
        return max(end - start, 1)


def project_all(node: Node, *, budget: int = BUDGET) -> int:
    """Project everything queued; returns the number of records covered."""
    total = 0
    while taken := project(node, budget=budget):
        total += taken
    return total


def _slice(conn: Connection, row: Any, start: int, budget: int) -> tuple[Facts, int]:
    """The facts of a queued batch's records from place ``start``, and where they end."""
    if row["source"] == "inline":
        kept = orjson.loads(row["facts"] or "[]")
        return [(i, f) for i, f in kept if i >= start], int(row["record_count"])
    if row["source"] == "outbox":
        return _outbox_slice(conn, row, start, budget)
    return _chunks_slice(conn, row, start, budget)


def _outbox_slice(conn: Connection, row: Any, start: int, budget: int) -> tuple[Facts, int]:
    """From the sender's outbox: the facts taken at intake, by the records' order.

    A record stored before the ledger existed has none (null): its fact is taken from
    the record itself now.
    """
    c = outbox_records.c
    rows = conn.execute(
        select(c.seq, c.case_facts)
        # The dataset too, so that the outbox's index (dataset, batch_id, seq) serves it:
        # by the batch alone, every slice read the whole outbox.
        .where(c.dataset == row["dataset"], c.batch_id == row["batch_id"])
        .order_by(c.seq)
        .limit(budget)
        .offset(start)
    ).all()
    missing = [seq for seq, facts in rows if facts is None]
    late: dict[int, Any] = {}
    for at in range(0, len(missing), 500):
        for seq, record in conn.execute(
            select(outbox_record_bodies.c.seq, outbox_record_bodies.c.record).where(
                outbox_record_bodies.c.seq.in_(missing[at : at + 500])
            )
        ):
            late[seq] = fact_of(row["dataset"], strict_json.loads(record))
    found: Facts = []
    for i, (seq, facts) in enumerate(rows, start=start):
        fact = late[seq] if facts is None else orjson.loads(facts)
        if fact:
            found.append((i, fact))
    return found, start + len(rows) if rows else int(row["record_count"])


def _chunks_slice(conn: Connection, row: Any, start: int, budget: int) -> tuple[Facts, int]:
    """From the receiver's chunks: the facts taken as each was stored, whole chunks at a
    time; a chunk stored before the ledger existed (null) is read again."""
    k = inbound_chunks.c
    found: Facts = []
    offset, end = 0, start
    for idx, count, kept in conn.execute(
        select(k.idx, k.record_count, k.case_facts)
        .where(k.batch_id == row["batch_id"])
        .order_by(k.idx)
    ):
        if offset >= start and end - start >= budget:
            break
        if offset >= start:
            if kept is None:
                signed = conn.execute(
                    select(k.signed).where(k.batch_id == row["batch_id"], k.idx == idx)
                ).scalar_one()
                kept = chunk_facts(row["dataset"], signed_payload(signed)["records"])
            found.extend((offset + i, f) for i, f in orjson.loads(kept or "[]"))
            end = offset + count
        offset += count
    return found, end if end > start else int(row["record_count"])
