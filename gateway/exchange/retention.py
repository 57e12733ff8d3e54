"""Purging delivered payloads after the retention period the agreement sets per flow.

For a flow with ``retention_days``:

* the sender purges a batch that many days after it was delivered: the records
  in its outbox and the sealed envelope (or manifest) are emptied;
* the receiver purges a batch that many days after its own system
  acknowledged it: the signed batch (or manifest) and its chunks are emptied.
  A batch nobody has acknowledged is never purged.

The flows of ended agreements count too (their data is kept for their retention
period, not beyond): those of the merged view's ``ended`` members, and those of
agreements whose file was removed, from the content the node stored when it took
them up (gateway.node.agreement_reload).

Counts, digests, the receipt and the sequence number stay, and every purge is
an audit entry with the batch's digest, so the log still proves what was
exchanged. Purged batches are answered ``410 purged`` to clients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from gateway.exchange import sending
from gateway.node import agreement_reload
from gateway.node.agreement_reload import RetainedFlow
from gateway.node.config import DatasetAgreement
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.tables import (
    inbound_batches,
    inbound_chunks,
    outbound_batches,
    outbox_record_bodies,
    outbox_records,
)
from gateway.timestamps import iso

__all__ = ["PurgeReport", "purge"]


@dataclass
class PurgeReport:
    sent: list[str] = field(default_factory=list)  # batch ids purged as the sender
    received: list[str] = field(default_factory=list)  # and as the receiver


def _audit(conn: Connection, node: Node, now: dt.datetime, row: Any, *, peer: str) -> None:
    audit_entries.append(
        conn,
        event="batch_purged",
        actor=node.party_id,
        at=now,
        dataset=row["dataset"],
        batch_id=row["batch_id"],
        peer=peer,
        record_count=row["record_count"],
        **sending.digest_fields(row),
        **sending.chunk_fields(row),
    )


def purge(node: Node) -> PurgeReport:
    """Purge every batch past its flow's retention period; one transaction per batch."""
    report = PurgeReport()
    now = node.now()
    outgoing, incoming = _flows(node)
    b, i = outbound_batches.c, inbound_batches.c
    for flows, due in _due(outgoing, now, peer="receiver"):
        for flow, row in _rows(
            node,
            select(outbound_batches).where(
                b.dataset.in_(sorted({f.name for f in flows.values()})),
                b.receiver.in_(sorted({f.receiver for f in flows.values()})),
                b.status == "delivered",
                b.purged_at.is_(None),
                b.delivered_at <= due,
            ),
            flows,
            peer="receiver",
        ):
            with node.store.write() as conn:
                conn.execute(
                    update(outbox_record_bodies)
                    .where(
                        outbox_record_bodies.c.seq.in_(
                            select(outbox_records.c.seq).where(
                                outbox_records.c.dataset == flow.name,
                                outbox_records.c.batch_id == row["batch_id"],
                            )
                        )
                    )
                    .values(record="")
                )
                conn.execute(
                    update(outbound_batches)
                    .where(b.batch_id == row["batch_id"])
                    .values(envelope="", purged_at=iso(now))
                )
                _audit(conn, node, now, row, peer=flow.receiver)
            report.sent.append(row["batch_id"])
    for flows, due in _due(incoming, now, peer="sender"):
        for flow, row in _rows(
            node,
            select(*[c for c in inbound_batches.c if c.key != "signed"]).where(
                i.dataset.in_(sorted({f.name for f in flows.values()})),
                i.sender.in_(sorted({f.sender for f in flows.values()})),
                i.purged_at.is_(None),
                i.acked_at.is_not(None),
                i.acked_at <= due,
            ),
            flows,
            peer="sender",
        ):
            with node.store.write() as conn:
                conn.execute(
                    update(inbound_chunks)
                    .where(inbound_chunks.c.batch_id == row["batch_id"])
                    .values(signed="", leaves=b"")
                )
                conn.execute(
                    update(inbound_batches)
                    .where(i.seq == row["seq"])
                    .values(signed="", purged_at=iso(now))
                )
                _audit(conn, node, now, row, peer=flow.sender)
            report.received.append(row["batch_id"])
    return report


_Flow = DatasetAgreement | RetainedFlow


def _flows(node: Node) -> tuple[list[_Flow], list[_Flow]]:
    """The flows this node sends and receives whose data it keeps: those in force, and
    those of ended agreements (a flow in force again takes its new agreement's period)."""
    agreement = node.config.agreement
    found: dict[tuple[str, str, str], _Flow] = {}
    for flows in (
        agreement_reload.ended_flows(node.store),
        agreement.ended_flows,
        agreement.flows,
    ):
        found.update({(f.name, f.sender, f.receiver): f for f in flows})
    party = node.party_id
    return (
        [f for f in found.values() if f.sender == party],
        [f for f in found.values() if f.receiver == party],
    )


def _due(
    flows: Iterable[_Flow], now: dt.datetime, *, peer: str
) -> list[tuple[dict[tuple[str, str], _Flow], str]]:
    """The flows that keep payloads for a time, grouped by that time and keyed by dataset
    and ``peer`` (``"receiver"`` or ``"sender"``), each group with the moment before which
    to purge: one query per retention period, not one per flow (a hub has hundreds of
    flows, and few periods)."""
    groups: dict[int, dict[tuple[str, str], _Flow]] = {}
    for flow in flows:
        if flow.retention_days is not None:
            key = (flow.name, getattr(flow, peer))
            groups.setdefault(flow.retention_days, {})[key] = flow
    return [
        (group, iso(now - dt.timedelta(days=days))) for days, group in sorted(groups.items())
    ]


def _rows(
    node: Node, statement: Any, flows: dict[tuple[str, str], _Flow], *, peer: str
) -> list[tuple[_Flow, Any]]:
    """The rows ``statement`` finds, each with its flow; rows of other pairs of dataset
    and peer (the query asks for every dataset with every peer of the group) left out."""
    with node.store.read() as conn:
        rows = conn.execute(statement).mappings().all()
    found = []
    for row in rows:
        flow = flows.get((row["dataset"], row[peer]))
        if flow is not None:
            found.append((flow, row))
    return found
