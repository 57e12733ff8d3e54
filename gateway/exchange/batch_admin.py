"""What operators see and steer of the transfers: status, retry, cancel.

Every change an operator makes is recorded in the audit log with the
operator's stated identity (``--operator``, by default the login name).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update

from gateway.errors import BadRequest, NotFound
from gateway.exchange import sending
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.tables import outbound_batches, outbox_records
from gateway.timestamps import age_seconds, iso

__all__ = ["cancel", "retry", "status"]


def _age(now: dt.datetime, stamp: str | None) -> float | None:
    if stamp is None:
        return None
    return round(age_seconds(now, stamp), 1)


def status(node: Node) -> list[dict[str, Any]]:
    """Per outgoing flow: records pending and batches per state, with the oldest's age.

    ``pending``: records not yet sealed; ``in_flight``: sealed batches never
    tried; ``retrying``: sealed batches that failed and wait for their next
    attempt (for both, how many of their chunks the receiver acknowledged);
    ``dead``: given up on; ``cancelled``; ``delivered``: with a verified receipt.
    """
    now = node.now()
    c, b = outbox_records.c, outbound_batches.c
    out = []
    with node.store.read() as conn:
        for flow in node.config.agreement.outgoing(node.party_id):
            row: dict[str, Any] = {"dataset": flow.name, "peer": flow.receiver}
            count, oldest = conn.execute(
                select(func.count(), func.min(c.created_at)).where(
                    c.dataset == flow.name, c.batch_id.is_(None), sending.pending_to(node, flow)
                )
            ).one()
            row["pending"] = {"records": count, "oldest_age_seconds": _age(now, oldest)}
            state = b.status
            kinds = {
                "in_flight": (state == "sealed") & (b.attempts == 0),
                "retrying": (state == "sealed") & (b.attempts > 0),
                "dead": state == "dead",
                "cancelled": state == "cancelled",
                "delivered": state == "delivered",
            }
            for name, condition in kinds.items():
                count, records, oldest, chunks, acked = conn.execute(
                    select(
                        func.count(),
                        func.sum(b.record_count),
                        func.min(b.created_at),
                        func.sum(b.chunk_count),
                        func.sum(b.chunks_acked),
                    ).where(b.dataset == flow.name, b.receiver == flow.receiver, condition)
                ).one()
                row[name] = {
                    "batches": count,
                    "records": int(records or 0),
                    "oldest_age_seconds": None if name == "delivered" else _age(now, oldest),
                }
                if name in ("in_flight", "retrying"):
                    # Of chunked batches under way: how far the receiver has acknowledged.
                    row[name]["chunks"] = {"total": int(chunks or 0), "acked": int(acked or 0)}
            out.append(row)
    return out


def _batch(conn: Any, batch_id: str) -> Any:
    row = (
        conn.execute(select(outbound_batches).where(outbound_batches.c.batch_id == batch_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no outgoing batch {batch_id}", path="batch_id")
    return row


def retry(node: Node, batch_id: str, *, operator: str) -> dict[str, Any]:
    """Send a dead (or waiting) batch again at the next run, with a fresh attempt count."""
    with node.store.write() as conn:
        row = _batch(conn, batch_id)
        if row["status"] not in ("dead", "sealed"):
            raise BadRequest(
                f"batch {batch_id} is {row['status']}; only a dead or waiting batch can be retried",
                path="batch_id",
            )
        conn.execute(
            update(outbound_batches)
            .where(outbound_batches.c.batch_id == batch_id)
            .values(status="sealed", attempts=0, next_attempt_at=None)
        )
        audit_entries.append(
            conn,
            event="batch_retry_requested",
            actor=operator,
            at=node.now(),
            dataset=row["dataset"],
            batch_id=batch_id,
            peer=row["receiver"],
            attempts=row["attempts"],
        )
    return {"batch_id": batch_id, "status": "sealed", "previous_status": row["status"]}


def cancel(node: Node, batch_id: str, *, operator: str, release: bool) -> dict[str, Any]:
    """Stop sending a batch that is not delivered.

    ``release``: put its records back in the outbox, to be sealed into a new
    batch at the next run (for a batch the receiver can never take as it is);
    otherwise its records are not sent at all.
    """
    with node.store.write() as conn:
        row = _batch(conn, batch_id)
        if row["status"] in ("delivered", "cancelled"):
            raise BadRequest(f"batch {batch_id} is already {row['status']}", path="batch_id")
        conn.execute(
            update(outbound_batches)
            .where(outbound_batches.c.batch_id == batch_id)
            .values(status="cancelled", next_attempt_at=None, last_attempt_at=iso(node.now()))
        )
        released = 0
        if release:
            released = conn.execute(
                update(outbox_records)
                # With the dataset, the outbox's index (dataset, batch_id, seq) finds them.
                .where(
                    outbox_records.c.dataset == row["dataset"],
                    outbox_records.c.batch_id == batch_id,
                )
                .values(batch_id=None)
            ).rowcount
        audit_entries.append(
            conn,
            event="batch_cancelled",
            actor=operator,
            at=node.now(),
            dataset=row["dataset"],
            batch_id=batch_id,
            peer=row["receiver"],
            record_count=row["record_count"],
            reason="records_released" if release else "records_withheld",
        )
    return {"batch_id": batch_id, "status": "cancelled", "records_released": released}
