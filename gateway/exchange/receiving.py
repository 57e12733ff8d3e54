"""Receiving sealed batches from peers, and handing them to the node's own systems."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.cases import projection
from gateway.crypto.envelope import (
    BATCH_ID,
    BatchHeader,
    Manifest,
    OpenedBatch,
    open_batch,
    sign_receipt,
    signed_payload,
)
from gateway.errors import (
    BadRequest,
    EnvelopeRejected,
    Forbidden,
    Gone,
    NotFound,
    UnknownDataset,
)
from gateway.exchange.validation import validator_for
from gateway.node import audit_log
from gateway.node.config import ClientConfig, DatasetAgreement, PersonalData
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.tables import MAX_INTEGER, inbound_batches, inbound_chunks, inbound_transfers
from gateway.timestamps import iso

__all__ = [
    "Delivery",
    "acknowledge",
    "audit_duplicate",
    "check_flow",
    "check_records",
    "check_sequence",
    "checkpoint_after",
    "commit",
    "get_batch",
    "get_chunk",
    "in_transfer",
    "list_batches",
    "receive",
    "record_refusal",
]

log = logging.getLogger(__name__)

# A received batch's columns but its payload, which is decrypted only when it is served.
_WITHOUT_PAYLOAD = [c for c in inbound_batches.c if c.key != "signed"]
# A cursor as this API hands them out: a batch's row number in ASCII digits, within a
# 64-bit integer (int() also takes a full-width digit, "1_0", or a number no database stores).
_CURSOR = re.compile(r"^[0-9]{1,10}$")


@dataclass(frozen=True)
class Delivery:
    batch_id: str
    receipt: str
    duplicate: bool


def _check_policy(node: Node, batch: OpenedBatch) -> None:
    """The agreement's rules for an authenticated batch; raises EnvelopeRejected."""
    h = batch.header
    agreed = check_flow(
        node, h, record_count=batch.record_count, document_bytes=batch.document_bytes
    )
    check_records(h.dataset, h.schema_version, batch.records, personal=agreed.personal_data)


def check_flow(
    node: Node, h: BatchHeader, *, record_count: int, document_bytes: int
) -> DatasetAgreement:
    """Whether the agreement lets this sender send this batch to us; raises EnvelopeRejected."""
    agreed = node.config.agreement.flow(h.dataset, sender=h.sender, receiver=node.party_id)
    if agreed is None:
        raise EnvelopeRejected(
            f"{h.sender} may not send dataset {h.dataset!r} to {node.party_id}", reason="policy"
        )
    if h.schema_version not in agreed.schema_versions:
        raise EnvelopeRejected(
            f"schema version {h.schema_version!r} of {h.dataset!r} not accepted",
            reason="schema_version",
        )
    if record_count > agreed.max_records_per_batch:
        raise EnvelopeRejected(
            f"{record_count} records, over the batch limit {agreed.max_records_per_batch}",
            reason="batch_limit",
        )
    if document_bytes > agreed.max_chunk_bytes:
        raise EnvelopeRejected(
            f"signed document of {document_bytes} bytes, over the envelope limit "
            f"{agreed.max_chunk_bytes}",
            reason="batch_limit",
        )
    return agreed


def check_requester(sender: str, requester: str | None) -> None:
    """A party delivers only what it signed: the request's signer is the envelope's sender."""
    if requester is not None and requester != sender:
        raise EnvelopeRejected(
            f"an envelope of {sender} delivered by {requester}", reason="wrong_requester"
        )


# The errors a refused batch's log line names, and the length of each path named: an
# unknown member's name is the peer's text, of any length.
_LOGGED_ERRORS = 5
_LOGGED_PATH = 120


def check_records(
    dataset: str,
    version: str,
    records: list[Any],
    offset: int = 0,
    *,
    personal: PersonalData | None = None,
) -> None:
    """Validate records against the agreed schema and the flow's personal-data rule
    (``personal``); raises EnvelopeRejected.

    Every record is validated and every error counted, but only the first few are
    kept, and named in the (bounded) detail.
    """
    found = validator_for(dataset, version).report(
        records, limit=_LOGGED_ERRORS, personal=personal
    )
    if found.total:
        # Paths and codes only: the values may be personal data.
        where = ", ".join(f"{_short(e.path)} {e.code}" for e in found.errors)
        raise EnvelopeRejected(
            f"{found.total} schema errors in {found.invalid_records} records "
            f"(records from {offset}): {where}",
            reason="schema",
        )


def _short(path: str) -> str:
    return path if len(path) <= _LOGGED_PATH else path[: _LOGGED_PATH - 3] + "..."


def receive(node: Node, token: bytes, *, requester: str | None = None) -> Delivery:
    """Open, verify, check and store a batch; answer with a signed receipt.

    The same batch delivered again is stored once and answered with the same
    receipt. Every refusal is audited and logged with its detail, then raised
    as :class:`EnvelopeRejected`, whose public message says nothing more.
    ``requester``: the party whose signed request delivered it (None: not over HTTP).
    """
    envelope_sha256 = hashlib.sha256(token).hexdigest()
    max_bytes = node.config.agreement.largest_incoming_envelope(node.party_id)
    peer: str | None = None
    batch_id: str | None = None
    try:
        batch = open_batch(
            token,
            own_party=node.party_id,
            decryption_key=node.keys.decryption,
            peer_keys=node.peers,
            max_bytes=max_bytes,
        )
        peer, batch_id = batch.header.sender, batch.header.batch_id
        check_requester(peer, requester)
        # A batch already accepted is answered with its receipt even if the agreement
        # has changed since, so that the sender stops resending it; the id of a chunked
        # batch under way is refused as taken before the agreement's checks too.
        if not _seen(node, batch_id):
            _refuse_transfer_id(node, batch_id)
            _check_policy(node, batch)
        delivery = _store(node, batch, envelope_sha256)
    except EnvelopeRejected as exc:
        record_refusal(node, exc, envelope_sha256, peer=peer, batch_id=batch_id)
        raise
    if not delivery.duplicate:
        checkpoint_after(node, delivery.batch_id)
    return delivery


def record_refusal(
    node: Node,
    exc: EnvelopeRejected,
    envelope_sha256: str,
    *,
    peer: str | None,
    batch_id: str | None,
    chunk: int | None = None,
) -> None:
    """Log a refused envelope with its detail, and audit it with the reason code only."""
    log.warning("envelope %s rejected (%s): %s", envelope_sha256[:16], exc.reason, exc.detail)
    with node.store.write() as conn:
        audit_entries.append(
            conn,
            event="envelope_rejected",
            actor=peer or "unauthenticated",
            at=node.now(),
            peer=peer,
            batch_id=batch_id,
            chunk=chunk,
            reason=exc.reason,
            envelope_sha256=envelope_sha256,
        )


def checkpoint_after(node: Node, batch_id: str) -> None:
    """A new checkpoint after each batch received; the schedule has it cosigned."""
    try:
        audit_log.checkpoint(node)
    except Exception:  # the batch is stored and its receipt signed; the schedule retries
        log.exception("checkpoint after batch %s failed", batch_id)


def _seen(node: Node, batch_id: str) -> bool:
    with node.store.read() as conn:
        found = conn.execute(
            select(inbound_batches.c.seq).where(inbound_batches.c.batch_id == batch_id)
        ).first()
    return found is not None


def _refuse_transfer_id(node: Node, batch_id: str) -> None:
    with node.store.read() as conn:
        if in_transfer(conn, batch_id):
            raise EnvelopeRejected(
                f"batch id {batch_id} is a chunked batch under way", reason="batch_id_conflict"
            )


def _store(node: Node, batch: OpenedBatch, envelope_sha256: str, *, retry: bool = True) -> Delivery:
    h = batch.header
    try:
        with node.store.write() as conn:
            # One transaction at a time per batch id, whole or chunked (the lock a
            # manifest and a chunk take first), then per cursor: batches are committed
            # in the order of their cursor (seq), so that a client paging "after" a
            # cursor never skips one committed late.
            node.store.serialize(conn, f"inbound:{h.batch_id}")
            node.store.serialize(conn, "inbound")
            existing = (
                conn.execute(
                    select(*_WITHOUT_PAYLOAD).where(inbound_batches.c.batch_id == h.batch_id)
                )
                .mappings()
                .first()
            )
            now = node.now()
            if existing is not None:
                same = (h.sender, h.dataset, h.schema_version, batch.records_sha256)
                if same != (
                    existing["sender"],
                    existing["dataset"],
                    existing["schema_version"],
                    existing["records_sha256"],
                ):
                    raise EnvelopeRejected(
                        f"batch id {h.batch_id} already received with other content",
                        reason="batch_id_conflict",
                    )
                audit_duplicate(conn, node, h, envelope_sha256)
                return Delivery(batch_id=h.batch_id, receipt=existing["receipt"], duplicate=True)
            if in_transfer(conn, h.batch_id):
                # The id of a chunked batch under way: another content, whatever this is.
                raise EnvelopeRejected(
                    f"batch id {h.batch_id} is a chunked batch under way",
                    reason="batch_id_conflict",
                )
            receipt = commit(conn, node, batch, envelope_sha256, now)
            return Delivery(batch_id=h.batch_id, receipt=receipt, duplicate=False)
    except IntegrityError:
        # A concurrent delivery of the same batch won the race; answer as a duplicate.
        if not retry:
            raise
        return _store(node, batch, envelope_sha256, retry=False)


def in_transfer(conn: Connection, batch_id: str) -> bool:
    """Whether ``batch_id`` names a chunked batch under way (its manifest taken)."""
    t = inbound_transfers.c
    return conn.execute(select(t.batch_id).where(t.batch_id == batch_id)).first() is not None


def commit(
    conn: Any, node: Node, batch: OpenedBatch | Manifest, envelope_sha256: str, now: Any
) -> str:
    """Store a verified batch (of a chunked one: its manifest) and sign its receipt."""
    h = batch.header
    digest: dict[str, Any] = (
        {"records_root": batch.records_root, "chunk_count": len(batch.chunks)}
        if isinstance(batch, Manifest)
        else {"records_sha256": batch.records_sha256}
    )
    check_sequence(conn, h)
    i = inbound_batches.c
    channel = (i.sender == h.sender) & (i.dataset == h.dataset)
    last = int(
        conn.execute(select(func.coalesce(func.max(i.sequence), 0)).where(channel)).scalar_one()
    )
    receipt = sign_receipt(batch, received_at=now, signing_key=node.keys.signing)
    conn.execute(
        inbound_batches.insert().values(
            sender=h.sender,
            batch_id=h.batch_id,
            dataset=h.dataset,
            schema_version=h.schema_version,
            record_count=batch.record_count,
            signer_kid=batch.signer_kid,
            signed=batch.signed,
            receipt=receipt,
            received_at=iso(now),
            sequence=h.sequence,
            **digest,
        )
    )
    # The case ledger takes the batch after this transaction (gateway.cases.projection).
    projection.enqueue(
        conn,
        node,
        batch_id=h.batch_id,
        dataset=h.dataset,
        schema_version=h.schema_version,
        sender=h.sender,
        receiver=h.receiver,
        receipt_at=iso(now),  # the receipt's received_at
        record_count=batch.record_count,
        source="chunks" if isinstance(batch, Manifest) else "inline",
        records=None if isinstance(batch, Manifest) else batch.records,
    )
    if h.sequence > last + 1:
        # Batches are numbered in the order sealed; the ones between have not
        # arrived (yet): retried, dead at the sender, or lost. Accepted, recorded.
        log.warning(
            "batch %s from %s: sequence %d, expected %d (a gap)",
            h.batch_id,
            h.sender,
            h.sequence,
            last + 1,
        )
        audit_entries.append(
            conn,
            event="batch_sequence_gap",
            actor=h.sender,
            at=now,
            peer=h.sender,
            dataset=h.dataset,
            batch_id=h.batch_id,
            sequence=h.sequence,
            expected_sequence=last + 1,
        )
    audit_entries.append(
        conn,
        event="batch_received",
        actor=h.sender,
        at=now,
        peer=h.sender,
        dataset=h.dataset,
        schema_version=h.schema_version,
        batch_id=h.batch_id,
        sequence=h.sequence,
        record_count=batch.record_count,
        envelope_sha256=envelope_sha256,
        **digest,
        signer_kid=batch.signer_kid,
        receipt_sha256=hashlib.sha256(receipt.encode()).hexdigest(),
    )
    return receipt


def audit_duplicate(conn: Connection, node: Node, h: BatchHeader, envelope_sha256: str) -> None:
    """Audit a batch delivered again; it is answered with the receipt it got the first time."""
    audit_entries.append(
        conn,
        event="batch_received_duplicate",
        actor=h.sender,
        at=node.now(),
        peer=h.sender,
        dataset=h.dataset,
        batch_id=h.batch_id,
        envelope_sha256=envelope_sha256,
    )


def check_sequence(conn: Any, h: BatchHeader) -> None:
    """Refuse a batch whose channel number another batch has taken (a replay)."""
    i = inbound_batches.c
    channel = (i.sender == h.sender) & (i.dataset == h.dataset)
    taken = conn.execute(select(i.batch_id).where(channel, i.sequence == h.sequence)).scalar()
    if taken is not None:
        # Another batch already came with this number: a replay under a new id.
        raise EnvelopeRejected(
            f"sequence {h.sequence} of {h.sender}/{h.dataset} was taken by batch {taken}",
            reason="sequence_reused",
        )


def _summary(row: Any) -> dict[str, Any]:
    return {
        "batch_id": row["batch_id"],
        "cursor": str(row["seq"]),
        "dataset": row["dataset"],
        "schema_version": row["schema_version"],
        "sender": row["sender"],
        "record_count": row["record_count"],
        "records_sha256": row["records_sha256"],
        "records_root": row["records_root"],
        "chunk_count": row["chunk_count"],
        "received_at": row["received_at"],
        "acknowledged_at": row["acked_at"],
        "purged_at": row["purged_at"],
    }


def list_batches(
    node: Node, client: ClientConfig, dataset: str, *, after: str | None, limit: int
) -> dict[str, Any]:
    if dataset not in node.config.agreement.dataset_names:
        raise UnknownDataset(f"dataset {dataset!r} is not in the agreement", path="dataset")
    if dataset not in client.pull:
        raise Forbidden(f"client {client.id!r} may not pull {dataset!r}")
    if after and (not _CURSOR.fullmatch(after) or int(after) > MAX_INTEGER):
        raise BadRequest("after must be a cursor returned by this API", path="after")
    cursor = int(after) if after else 0
    c = inbound_batches.c
    with node.store.read() as conn:
        rows = (
            conn.execute(
                select(*_WITHOUT_PAYLOAD)
                .where(c.dataset == dataset, c.seq > cursor)
                .order_by(c.seq)
                .limit(limit)
            )
            .mappings()
            .all()
        )
    items = [_summary(r) for r in rows]
    return {
        "dataset": dataset,
        "batches": items,
        "next_cursor": items[-1]["cursor"] if items else (after or None),
    }


def _load_for(
    node: Node, client: ClientConfig, batch_id: str, conn: Any, *, payload: bool = False
) -> Any:
    if not BATCH_ID.fullmatch(batch_id):  # PostgreSQL would refuse some, e.g. a NUL
        raise NotFound(f"no batch {batch_id!r} for this client", path="batch_id")
    columns = inbound_batches.c if payload else _WITHOUT_PAYLOAD
    row = (
        conn.execute(select(*columns).where(inbound_batches.c.batch_id == batch_id))
        .mappings()
        .first()
    )
    # A batch the client may not pull is reported as absent, not as forbidden,
    # so that batch ids of other datasets cannot be probed.
    if row is None or row["dataset"] not in client.pull:
        raise NotFound(f"no batch {batch_id!r} for this client", path="batch_id")
    return row


def get_batch(node: Node, client: ClientConfig, batch_id: str) -> dict[str, Any]:
    """A batch with its records, or of a chunked batch the list of its chunks."""
    with node.store.write() as conn:
        row = _load_for(node, client, batch_id, conn, payload=True)
        _refuse_purged(row)
        _audit_pull(conn, node, client, row)
    document = signed_payload(row["signed"])
    provenance = {
        "sender": row["sender"],
        "signer_kid": row["signer_kid"],
        "created_at": document["created_at"],
        "records_sha256": row["records_sha256"],
        "signed_batch": row["signed"],
        "receipt": row["receipt"],
    }
    if row["chunk_count"] == 1:
        return {**_summary(row), "records": document["records"], "provenance": provenance}
    del provenance["records_sha256"], provenance["signed_batch"]
    return {
        **_summary(row),
        "chunks": [
            {"index": i, "record_count": c["record_count"], "records_sha256": c["records_sha256"]}
            for i, c in enumerate(document["chunks"])
        ],
        "provenance": {
            **provenance,
            "records_root": row["records_root"],
            "signed_manifest": row["signed"],
        },
    }


def get_chunk(node: Node, client: ClientConfig, batch_id: str, index: int) -> dict[str, Any]:
    """The records of one chunk of a chunked batch, with the sender's signed chunk."""
    with node.store.read() as conn:
        row = _load_for(node, client, batch_id, conn)
        _refuse_purged(row)
        # Checked before the query: an index from a URL can be beyond what a database stores.
        if index >= row["chunk_count"]:
            raise NotFound(f"batch {batch_id!r} has no chunk {index}", path="index")
        chunk = (
            conn.execute(
                select(inbound_chunks).where(
                    inbound_chunks.c.batch_id == batch_id, inbound_chunks.c.idx == index
                )
            )
            .mappings()
            .first()
        )
    if chunk is None:
        raise NotFound(f"batch {batch_id!r} has no chunk {index}", path="index")
    document = signed_payload(chunk["signed"])
    return {
        "batch_id": batch_id,
        "index": index,
        "chunk_count": row["chunk_count"],
        "record_count": chunk["record_count"],
        "records_sha256": chunk["records_sha256"],
        "records": document["records"],
        "provenance": {
            "sender": row["sender"],
            "signer_kid": chunk["signer_kid"],
            "signed_chunk": chunk["signed"],
        },
    }


def _refuse_purged(row: Any) -> None:
    if row["purged_at"] is not None:
        raise Gone(
            f"the records of batch {row['batch_id']} were purged at {row['purged_at']} under the "
            "agreed retention period; its digests are in the audit log"
        )


def _audit_pull(conn: Connection, node: Node, client: ClientConfig, row: Any) -> None:
    audit_entries.append(
        conn,
        event="batch_pulled",
        actor=client.id,
        at=node.now(),
        client=client.id,
        dataset=row["dataset"],
        batch_id=row["batch_id"],
        peer=row["sender"],
    )


def acknowledge(node: Node, client: ClientConfig, batch_id: str) -> dict[str, Any]:
    """Mark a batch as taken over by the client's system; idempotent."""
    with node.store.write() as conn:
        row = _load_for(node, client, batch_id, conn)
        if row["acked_at"] is None:
            now = node.now()
            conn.execute(
                update(inbound_batches)
                .where(inbound_batches.c.seq == row["seq"])
                .values(acked_at=iso(now), acked_by=client.id)
            )
            audit_entries.append(
                conn,
                event="batch_acknowledged",
                actor=client.id,
                at=now,
                client=client.id,
                dataset=row["dataset"],
                batch_id=batch_id,
                peer=row["sender"],
            )
            return {"batch_id": batch_id, "acknowledged_at": iso(now), "acknowledged_by": client.id}
    return {
        "batch_id": batch_id,
        "acknowledged_at": row["acked_at"],
        "acknowledged_by": row["acked_by"],
    }
