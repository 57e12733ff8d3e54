"""Sealing pending outbox records into batches and delivering them to the peer.

Sealing and delivery are separate, idempotent steps. Sealing claims pending
records in one transaction; delivery posts each sealed batch and marks it
delivered only once the peer's signed receipt verifies. A batch posted twice
(a retry after a lost answer, or two runs at once) is stored once by the
receiver and answered with the same receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import func, or_, select, update

from gateway import audit
from gateway.config import DatasetAgreement
from gateway.envelope import (
    BatchHeader,
    records_budget,
    records_digest,
    seal_batch,
    verify_receipt,
)
from gateway.errors import GatewayError, VerificationFailed
from gateway.node import Node, iso
from gateway.storage import outbound_batches, outbox_records

__all__ = ["BATCHES_PATH", "Poster", "TransferReport", "run", "seal_pending", "send_pending"]

log = logging.getLogger(__name__)

BATCHES_PATH = "/exchange/v1/batches"
JOSE_MEDIA_TYPE = "application/jose"

# (url, body, timeout) -> (status, json body or None). Tests cut the network here.
Poster = Callable[[str, bytes, float], tuple[int, Any]]


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, Any]:
    response = requests.post(
        url, data=body, timeout=timeout, headers={"Content-Type": JOSE_MEDIA_TYPE}
    )
    try:
        payload = response.json()
    except ValueError:
        payload = None
    return response.status_code, payload


@dataclass
class TransferReport:
    sealed: list[str] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # datasets whose run raised

    def merge(self, other: TransferReport) -> None:
        self.sealed += other.sealed
        self.delivered += other.delivered
        self.failed += other.failed
        self.errors += other.errors


def seal_pending(node: Node, dataset: DatasetAgreement) -> list[str]:
    """Seal every pending record of ``dataset`` into batches within the agreed limits."""
    recipient = node.peers.encryption_key_of(dataset.receiver)
    sealed: list[str] = []
    c = outbox_records.c
    while True:
        with node.store.write() as conn:
            # Replicas on PostgreSQL must not claim the same pending records.
            node.store.serialize(conn, f"seal:{dataset.name}")
            first = conn.execute(
                select(c.schema_version)
                .where(c.dataset == dataset.name, c.batch_id.is_(None))
                .order_by(c.seq)
                .limit(1)
            ).first()
            if first is None:
                return sealed
            version = first[0]
            rows = conn.execute(
                select(c.seq, c.record)
                .where(c.dataset == dataset.name, c.batch_id.is_(None), c.schema_version == version)
                .order_by(c.seq)
                .limit(dataset.max_records_per_batch)
            ).all()
            # Keep the signed document under the agreed byte limit.
            budget = records_budget(dataset.max_batch_bytes)
            take: list[tuple[int, str]] = []
            size = 0
            for seq, record in rows:
                size += len(record.encode("utf-8")) + 1
                if take and size > budget:
                    break
                take.append((seq, record))
            records = [json.loads(r) for _, r in take]
            now = node.now()
            batch_id = str(uuid.uuid4())
            # The channel's next number; sealing runs one at a time per dataset.
            sequence = 1 + int(
                conn.execute(
                    select(func.coalesce(func.max(outbound_batches.c.sequence), 0)).where(
                        outbound_batches.c.receiver == dataset.receiver,
                        outbound_batches.c.dataset == dataset.name,
                    )
                ).scalar_one()
            )
            header = BatchHeader(
                sender=node.party_id,
                receiver=dataset.receiver,
                dataset=dataset.name,
                schema_version=version,
                batch_id=batch_id,
                created_at=now,
                sequence=sequence,
            )
            envelope = seal_batch(
                header,
                records,
                signing_key=node.keys.signing,
                recipient_key=recipient,
                max_bytes=dataset.max_batch_bytes,
            )
            digest = records_digest(records)
            conn.execute(
                update(outbox_records)
                .where(c.seq.in_([s for s, _ in take]))
                .values(batch_id=batch_id)
            )
            conn.execute(
                outbound_batches.insert().values(
                    batch_id=batch_id,
                    dataset=dataset.name,
                    schema_version=version,
                    receiver=dataset.receiver,
                    record_count=len(records),
                    records_sha256=digest,
                    envelope=envelope,
                    status="sealed",
                    attempts=0,
                    created_at=iso(now),
                    sequence=sequence,
                )
            )
            audit.append(
                conn,
                event="batch_sealed",
                actor=node.party_id,
                at=now,
                dataset=dataset.name,
                schema_version=version,
                batch_id=batch_id,
                sequence=sequence,
                peer=dataset.receiver,
                record_count=len(records),
                records_sha256=digest,
                envelope_sha256=hashlib.sha256(envelope.encode()).hexdigest(),
            )
        sealed.append(batch_id)


def _fail(node: Node, dataset: DatasetAgreement, row: Any, reason: str) -> None:
    """Record a failed attempt: wait with backoff, or give the batch up (dead) after the last."""
    now = node.now()
    attempts = int(row["attempts"]) + 1
    policy = dataset.retry
    dead = attempts >= policy.max_attempts
    wait = dt.timedelta(seconds=policy.delay(attempts, _jitter()))
    common = {"dataset": row["dataset"], "batch_id": row["batch_id"], "peer": row["receiver"]}
    with node.store.write() as conn:
        conn.execute(
            update(outbound_batches)
            .where(outbound_batches.c.batch_id == row["batch_id"])
            .values(
                attempts=attempts,
                last_attempt_at=iso(now),
                last_error=reason,
                status="dead" if dead else "sealed",
                next_attempt_at=None if dead else iso(now + wait),
            )
        )
        audit.append(
            conn,
            event="batch_send_failed",
            actor=node.party_id,
            at=now,
            **common,
            reason=reason,
            attempts=attempts,
        )
        if dead:
            log.error(
                "batch %s to %s: dead after %d attempts (last: %s); "
                "'gateway transfer retry %s' sends it again",
                row["batch_id"],
                row["receiver"],
                attempts,
                reason,
                row["batch_id"],
            )
            audit.append(
                conn,
                event="batch_dead_lettered",
                actor=node.party_id,
                at=now,
                **common,
                reason=reason,
                attempts=attempts,
            )


def _jitter() -> float:
    return random.random()  # noqa: S311 (spreading retries, not a secret)


# (dataset, batches done, batches to send) after each batch: for progress bars.
Progress = Callable[[str, int, int], None]


def send_pending(
    node: Node,
    dataset: DatasetAgreement,
    *,
    post: Poster = http_post,
    progress: Progress | None = None,
) -> TransferReport:
    """Deliver every sealed, undelivered batch of ``dataset``, oldest first."""
    report = TransferReport()
    peer = node.config.agreement.party(dataset.receiver)
    url = peer.base_url + BATCHES_PATH
    b = outbound_batches.c
    due = iso(node.now())
    with node.store.read() as conn:
        rows = (
            conn.execute(
                select(outbound_batches)
                .where(
                    b.dataset == dataset.name,
                    b.receiver == dataset.receiver,
                    b.status == "sealed",
                    or_(b.next_attempt_at.is_(None), b.next_attempt_at <= due),
                )
                .order_by(b.created_at, b.batch_id)
            )
            .mappings()
            .all()
        )
    for done, row in enumerate(rows):
        if progress is not None:
            progress(dataset.name, done, len(rows))
        batch_id = row["batch_id"]
        try:
            status, answer = post(
                url, row["envelope"].encode("ascii"), node.config.peer_timeout_seconds
            )
        except requests.RequestException as exc:
            log.warning(
                "batch %s to %s: peer unreachable: %s", batch_id, peer.id, type(exc).__name__
            )
            _fail(node, dataset, row, "peer_unreachable")
            report.failed.append(batch_id)
            # The peer is down: the remaining batches would fail the same way.
            break
        receipt = answer.get("receipt") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(receipt, str):
            error = answer.get("error") if isinstance(answer, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            log.warning(
                "batch %s to %s: refused with HTTP %s (%s)", batch_id, peer.id, status, code
            )
            _fail(node, dataset, row, f"http_{status}")
            report.failed.append(batch_id)
            continue
        try:
            verified = verify_receipt(
                receipt,
                peer_keys=node.peers,
                receiver=peer.id,
                batch_id=batch_id,
                records_sha256=row["records_sha256"],
            )
        except VerificationFailed as exc:
            log.error("batch %s to %s: receipt rejected: %s", batch_id, peer.id, exc)
            _fail(node, dataset, row, "bad_receipt")
            report.failed.append(batch_id)
            continue
        now = node.now()
        with node.store.write() as conn:
            conn.execute(
                update(outbound_batches)
                .where(b.batch_id == batch_id)
                .values(
                    status="delivered",
                    attempts=b.attempts + 1,
                    last_attempt_at=iso(now),
                    delivered_at=iso(now),
                    receipt=receipt,
                    last_error=None,
                    next_attempt_at=None,
                )
            )
            common = {"dataset": row["dataset"], "batch_id": batch_id, "peer": peer.id}
            audit.append(
                conn,
                event="batch_sent",
                actor=node.party_id,
                at=now,
                **common,
                record_count=row["record_count"],
                envelope_sha256=hashlib.sha256(row["envelope"].encode()).hexdigest(),
            )
            audit.append(
                conn,
                event="receipt_verified",
                actor=node.party_id,
                at=now,
                **common,
                records_sha256=row["records_sha256"],
                signer_kid=verified.signer_kid,
                receipt_sha256=hashlib.sha256(receipt.encode()).hexdigest(),
            )
        report.delivered.append(batch_id)
    if progress is not None:
        progress(dataset.name, len(rows), len(rows))
    return report


def run(
    node: Node,
    *,
    dataset: str | None = None,
    post: Poster = http_post,
    progress: Progress | None = None,
) -> TransferReport:
    """Seal and deliver what is pending, for one outgoing dataset or all of them."""
    report = TransferReport()
    outgoing = node.config.agreement.outgoing(node.party_id)
    if dataset is not None:
        outgoing = [d for d in outgoing if d.name == dataset]
        if not outgoing:
            raise GatewayError(f"{node.party_id} sends no dataset named {dataset!r}")
    for agreed in outgoing:
        try:
            report.sealed += seal_pending(node, agreed)
            report.merge(send_pending(node, agreed, post=post, progress=progress))
        except Exception:
            # One dataset's failure must not hold back the others; the next run retries it.
            log.exception("transfer of %s failed", agreed.name)
            report.errors.append(agreed.name)
    if report.delivered:
        # A new checkpoint after each transfer, cosigned by the peers' witnesses.
        from gateway import witness

        try:
            witness.publish(node)
        except Exception:  # the transfer is done; the checkpoint schedule retries
            log.exception("checkpoint after the transfer failed")
    return report
