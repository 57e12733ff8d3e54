"""Receiving a batch sent as chunks under a signed manifest (docs/ENVELOPE.md section 10).

The sender first posts the sealed manifest: the batch header, the record count,
each chunk's record count and digest, and ``records_root``, an RFC 9162 Merkle
root over the SHA-256 of every record. Then it posts the chunks in order, each
its own sealed envelope. The receiver

* verifies each chunk on arrival (signature, its digest as the manifest states
  it, the agreed schema) and stores it with its records' leaves before it
  acknowledges it. Chunks may come in any order (a sender keeps a few in
  flight); the records tree is folded over the chunks from the first without a
  gap, and the answer says how many those are, so a sender that was
  interrupted resumes there;
* commits the batch (a row in ``inbound_batches``, the pull cursor) in the same
  transaction as the last chunk, and only if the records tree of all chunks
  has the signed root. Until then no client sees any of its records.

Every refusal is audited and logged with its detail, and raised as
:class:`EnvelopeRejected`, whose public message says nothing more.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import threading
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from gateway.cases import projection
from gateway.crypto.envelope import (
    BATCH_ID,
    MAX_SEQUENCE,
    BatchHeader,
    ChunkInfo,
    Manifest,
    OpenedChunk,
    open_chunk,
    open_manifest,
    record_leaf,
    signed_payload,
)
from gateway.errors import EnvelopeRejected
from gateway.exchange.receiving import (
    audit_duplicate,
    check_flow,
    check_records,
    check_requester,
    check_sequence,
    checkpoint_after,
    commit,
    record_refusal,
)
from gateway.node.config import DEFAULT_TRANSFER_EXPIRY_HOURS, DatasetAgreement
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.tables import inbound_batches, inbound_chunks, inbound_transfers
from gateway.timestamps import iso, parse
from gateway.tlog.merkle import HASH_SIZE, Frontier

__all__ = ["expire_transfers", "receive_chunk", "receive_manifest"]

# One chunk at a time per process is opened, validated and made ready to store: the
# objects of its records (about 16 MiB for a chunk of 1 MiB) are what a worker's
# memory peaks at, and two chunks in one worker would take turns at the interpreter
# lock anyway. Storing (and its durable commit) is outside, without the records.
_PREPARING = threading.Lock()


def _opening(node: Node) -> dict[str, Any]:
    """What opening an envelope addressed to this node takes."""
    return {
        "own_party": node.party_id,
        "decryption_key": node.keys.decryption,
        "peer_keys": node.peers,
        "max_bytes": node.config.agreement.largest_incoming_envelope(node.party_id),
    }


def _audited(batch_id: str) -> str | None:
    """The batch id of a URL path as an audit entry may name it: a well-formed one only."""
    return batch_id if BATCH_ID.fullmatch(batch_id) else None


def _audited_index(index: int) -> int | None:
    """The chunk index of a URL path as an audit entry may name it: one that canonical
    JSON holds exactly (RFC 8785 refuses a larger integer); no chunk has a larger one."""
    return index if index <= MAX_SEQUENCE else None


def _sha256(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()


def receive_manifest(
    node: Node, batch_id: str, token: bytes, *, requester: str | None = None
) -> dict[str, Any]:
    """Take a batch's manifest; answer how many of its chunks this node holds.

    Idempotent: the same manifest again gets the same answer, and for a batch
    already committed the answer is its receipt.
    """
    envelope_sha256 = _sha256(token)
    peer: str | None = None
    try:
        manifest = open_manifest(token, **_opening(node))
        h = manifest.header
        peer = h.sender
        check_requester(peer, requester)
        if h.batch_id != batch_id:
            raise EnvelopeRejected(
                f"manifest of batch {h.batch_id} posted for {batch_id}", reason="batch_id_mismatch"
            )
        with node.store.write() as conn:
            node.store.serialize(conn, f"inbound:{batch_id}")
            committed = _committed(conn, h, root=manifest.records_root)
            if committed is not None:
                audit_duplicate(conn, node, h, envelope_sha256)
                return {"batch_id": batch_id, "receipt": committed, "duplicate": True}
            row = _transfer(conn, batch_id)
            if row is not None:
                # The same batch announced again (the same manifest, or one sealed anew
                # with the same content) resumes; another batch under this id is refused.
                if row["manifest"] != manifest.signed and _content(_manifest(row)) != _content(
                    manifest
                ):
                    raise EnvelopeRejected(
                        f"batch id {batch_id} already announced with another manifest",
                        reason="batch_id_conflict",
                    )
                return _progress(row["chunks_received"], row["chunk_count"], batch_id)
            check_flow(
                node,
                h,
                record_count=manifest.record_count,
                document_bytes=manifest.document_bytes,
            )
            check_sequence(conn, h)
            now = node.now()
            conn.execute(
                inbound_transfers.insert().values(
                    batch_id=batch_id,
                    sender=h.sender,
                    dataset=h.dataset,
                    schema_version=h.schema_version,
                    sequence=h.sequence,
                    record_count=manifest.record_count,
                    chunk_count=len(manifest.chunks),
                    records_root=manifest.records_root,
                    manifest=manifest.signed,
                    manifest_sha256=envelope_sha256,
                    signer_kid=manifest.signer_kid,
                    chunks_received=0,
                    bytes_received=0,
                    frontier=Frontier().to_bytes(),
                    started_at=iso(now),
                    updated_at=iso(now),
                )
            )
            audit_entries.append(
                conn,
                event="batch_transfer_started",
                actor=h.sender,
                at=now,
                peer=h.sender,
                dataset=h.dataset,
                schema_version=h.schema_version,
                batch_id=batch_id,
                sequence=h.sequence,
                record_count=manifest.record_count,
                records_root=manifest.records_root,
                chunk_count=len(manifest.chunks),
                envelope_sha256=envelope_sha256,
                signer_kid=manifest.signer_kid,
            )
            return _progress(0, len(manifest.chunks), batch_id)
    except EnvelopeRejected as exc:
        record_refusal(node, exc, envelope_sha256, peer=peer, batch_id=_audited(batch_id))
        raise


def receive_chunk(
    node: Node, batch_id: str, index: int, token: bytes, *, requester: str | None = None
) -> dict[str, Any]:
    """Verify and store chunk ``index``; the last one commits the batch and gets its receipt."""
    envelope_sha256 = _sha256(token)
    peer: str | None = None
    try:
        with _PREPARING:
            chunk = open_chunk(token, **_opening(node))
            peer = chunk.sender
            check_requester(peer, requester)
            if (chunk.batch_id, chunk.index) != (batch_id, index):
                raise EnvelopeRejected(
                    f"chunk {chunk.batch_id}/{chunk.index} posted as {batch_id}/{index}",
                    reason="batch_id_mismatch",
                )
            with node.store.read() as conn:
                row = _transfer(conn, batch_id, manifest=False)
                # None as well if the transfer ended between the two reads (committed by
                # its last chunk, or expired): answered as if it had ended before.
                manifest = None if row is None else _manifest_of(conn, row)
                if row is None or manifest is None:
                    receipt = _receipt_of(conn, batch_id, sender=chunk.sender)
                    if receipt is None:
                        _refuse_other_batch(conn, batch_id)
                        raise EnvelopeRejected(
                            f"chunk of batch {batch_id}, whose manifest has not come",
                            reason="no_manifest",
                        )
                    return {"batch_id": batch_id, "receipt": receipt, "duplicate": True}
            agreed = _check_chunk(node, manifest, row, chunk)
            check_records(
                chunk.dataset, chunk.schema_version, chunk.records, personal=agreed.personal_data
            )
            leaves = b"".join([record_leaf(form) for form in chunk.forms])
            facts = projection.chunk_facts(chunk.dataset, chunk.records)
            # What is stored, without the records' objects: the next chunk may be opened.
            chunk = dataclasses.replace(chunk, records=[], forms=[])
        receipt, received = _store_chunk(node, manifest, chunk, leaves, facts, envelope_sha256)
    except EnvelopeRejected as exc:
        record_refusal(
            node,
            exc,
            envelope_sha256,
            peer=peer,
            batch_id=_audited(batch_id),
            chunk=_audited_index(index),
        )
        raise
    if receipt is None:
        return _progress(received, row["chunk_count"], batch_id)
    checkpoint_after(node, batch_id)
    return {"batch_id": batch_id, "receipt": receipt, "duplicate": False}


def _check_chunk(
    node: Node, manifest: Manifest, row: Any, chunk: OpenedChunk
) -> DatasetAgreement:
    """A chunk's agreement with its manifest and its flow; the flow."""
    h = manifest.header
    if (chunk.sender, chunk.dataset, chunk.schema_version) != (
        h.sender,
        h.dataset,
        h.schema_version,
    ):
        raise EnvelopeRejected(
            f"chunk {chunk.index} names another sender, dataset or version than its manifest",
            reason="chunk_mismatch",
        )
    if chunk.index >= len(manifest.chunks):
        raise EnvelopeRejected(
            f"chunk {chunk.index} of a batch of {len(manifest.chunks)}", reason="chunk_mismatch"
        )
    expected = manifest.chunks[chunk.index]
    if expected != ChunkInfo(len(chunk.records), chunk.records_sha256):
        raise EnvelopeRejected(
            f"chunk {chunk.index} is not the chunk the manifest describes", reason="chunk_mismatch"
        )
    agreed = check_flow(
        node, h, record_count=manifest.record_count, document_bytes=chunk.document_bytes
    )
    if row["bytes_received"] + chunk.document_bytes > agreed.max_batch_bytes:
        raise EnvelopeRejected(
            f"chunks over the batch limit of {agreed.max_batch_bytes} bytes", reason="batch_limit"
        )
    return agreed


def _store_chunk(
    node: Node,
    manifest: Manifest,
    chunk: OpenedChunk,
    leaves: bytes,
    facts: str | None,
    envelope_sha256: str,
) -> tuple[str | None, int]:
    """Store a verified chunk and fold what is now contiguous into the records tree.

    Returns the receipt when this completed the batch (which is then committed
    in the same transaction), and how many chunks from the first are here.
    Chunks may arrive in any order (a sender may have several in flight); the
    tree is folded over the run of chunks from the first without a gap.
    """
    h = manifest.header
    batch_id = h.batch_id
    total = len(manifest.chunks)
    record_count = manifest.chunks[chunk.index].record_count  # the chunk's, as checked
    t = inbound_transfers.c
    k = inbound_chunks.c
    with node.store.write() as conn:
        node.store.serialize(conn, f"inbound:{batch_id}")
        row = _transfer(conn, batch_id, manifest=False)
        if row is None:  # another copy of the last chunk committed the batch meanwhile
            receipt = _receipt_of(conn, batch_id, sender=h.sender)
            if receipt is None:
                raise EnvelopeRejected(f"batch {batch_id} vanished", reason="no_manifest")
            return receipt, total
        held = conn.execute(
            select(k.idx).where(k.batch_id == batch_id, k.idx == chunk.index)
        ).first()
        if held is not None:  # a copy of this chunk crossed this one
            return None, int(row["chunks_received"])
        now = node.now()
        conn.execute(
            inbound_chunks.insert().values(
                batch_id=batch_id,
                idx=chunk.index,
                record_count=record_count,
                records_sha256=chunk.records_sha256,
                signer_kid=chunk.signer_kid,
                signed=chunk.signed,
                leaves=leaves,
                case_facts=facts,
            )
        )
        audit_entries.append(
            conn,
            event="batch_chunk_received",
            actor=h.sender,
            at=now,
            peer=h.sender,
            dataset=h.dataset,
            batch_id=batch_id,
            chunk=chunk.index,
            record_count=record_count,
            records_sha256=chunk.records_sha256,
            envelope_sha256=envelope_sha256,
        )
        received = int(row["chunks_received"])
        tree = Frontier.from_bytes(row["frontier"])
        while received < total:
            found = (
                leaves
                if received == chunk.index
                else conn.execute(
                    select(k.leaves).where(k.batch_id == batch_id, k.idx == received)
                ).scalar()
            )
            if found is None:
                break
            for start in range(0, len(found), HASH_SIZE):
                tree.append(found[start : start + HASH_SIZE])
            received += 1
        if received < total:
            conn.execute(
                update(inbound_transfers)
                .where(t.batch_id == batch_id)
                .values(
                    chunks_received=received,
                    bytes_received=t.bytes_received + chunk.document_bytes,
                    frontier=tree.to_bytes(),
                    updated_at=iso(now),
                )
            )
            return None, received
        if tree.root().hex() != manifest.records_root:
            raise EnvelopeRejected(
                f"the records of batch {batch_id} do not have the signed records_root",
                reason="records_root_mismatch",
            )
        # Batches are committed in the order of their cursor (see inbox._store).
        node.store.serialize(conn, "inbound")
        # A whole batch under this id cannot come while the transfer is under way
        # (inbox._store refuses it), but one stored before that rule must not make
        # this chunk fail on the unique batch id: it is the same conflict.
        _refuse_other_batch(conn, batch_id)
        conn.execute(delete(inbound_transfers).where(t.batch_id == batch_id))
        return commit(conn, node, manifest, row["manifest_sha256"], now), total


def _progress(received: int, total: int, batch_id: str) -> dict[str, Any]:
    return {"batch_id": batch_id, "chunks_received": received, "chunk_count": total}


def _transfer(conn: Connection, batch_id: str, *, manifest: bool = True) -> Any:
    """A transfer in progress; without its stored manifest (sealed at rest, about 100 bytes
    a chunk) if ``manifest`` is False: each chunk reads it from :func:`_manifest_of`."""
    columns = [c for c in inbound_transfers.c if manifest or c.name != "manifest"]
    return (
        conn.execute(select(*columns).where(inbound_transfers.c.batch_id == batch_id))
        .mappings()
        .first()
    )


# The manifests of the transfers in progress, as each chunk's request needs them: read
# and parsed once per transfer, not once per chunk (a batch of 100,000 records is about
# 110 chunks). Keyed by the batch id and the digest of the manifest envelope stored when
# the transfer started: a transfer that expired and started again under another
# manifest has another key. Manifests are immutable; a few transfers run at once.
_MANIFESTS: collections.OrderedDict[tuple[str, str], Manifest] = collections.OrderedDict()
_MANIFESTS_HELD = 32
_manifests_lock = threading.Lock()


def _manifest_of(conn: Connection, row: Any) -> Manifest | None:
    """The manifest of the transfer ``row`` (read without it by :func:`_transfer`); None
    if that transfer is no longer there (on PostgreSQL each statement sees the latest
    commits: it may have been committed or expired since ``row`` was read)."""
    key = (str(row["batch_id"]), str(row["manifest_sha256"]))
    with _manifests_lock:
        found = _MANIFESTS.get(key)
        if found is not None:
            _MANIFESTS.move_to_end(key)
            return found
    t = inbound_transfers.c
    signed = conn.execute(
        select(t.manifest).where(t.batch_id == key[0], t.manifest_sha256 == key[1])
    ).scalar()
    if signed is None:
        return None
    manifest = _manifest({**row, "manifest": signed})
    with _manifests_lock:
        _MANIFESTS[key] = manifest
        while len(_MANIFESTS) > _MANIFESTS_HELD:
            _MANIFESTS.popitem(last=False)
    return manifest


def _receipt_of(conn: Connection, batch_id: str, *, sender: str) -> str | None:
    i = inbound_batches.c
    row = conn.execute(
        select(i.receipt).where(i.batch_id == batch_id, i.sender == sender, i.chunk_count > 1)
    ).first()
    return None if row is None else str(row[0])


def _committed(conn: Connection, h: BatchHeader, *, root: str) -> str | None:
    """The receipt of this batch if it was committed already; refuses another batch's id."""
    i = inbound_batches.c
    row = (
        conn.execute(
            select(i.sender, i.dataset, i.schema_version, i.records_root, i.receipt).where(
                i.batch_id == h.batch_id
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if (row["sender"], row["dataset"], row["schema_version"], row["records_root"]) != (
        h.sender,
        h.dataset,
        h.schema_version,
        root,
    ):
        raise EnvelopeRejected(
            f"batch id {h.batch_id} already received with other content",
            reason="batch_id_conflict",
        )
    return str(row["receipt"])


def _refuse_other_batch(conn: Connection, batch_id: str) -> None:
    """Refuse a chunk whose batch id a batch received otherwise (whole, or another
    sender's) already holds."""
    i = inbound_batches.c
    if conn.execute(select(i.seq).where(i.batch_id == batch_id)).first() is not None:
        raise EnvelopeRejected(
            f"batch id {batch_id} already received with other content",
            reason="batch_id_conflict",
        )


def _content(manifest: Manifest) -> tuple[Any, ...]:
    """What makes two manifests announce the same batch: all they sign but the moment."""
    h = manifest.header
    return (
        h.sender,
        h.receiver,
        h.dataset,
        h.schema_version,
        h.sequence,
        manifest.record_count,
        manifest.records_root,
        manifest.chunks,
    )


def _manifest(row: Any) -> Manifest:
    """The manifest of a transfer in progress, from its stored, verified JWS."""
    document = signed_payload(row["manifest"])
    header = BatchHeader(
        sender=row["sender"],
        receiver=document["receiver"],
        dataset=row["dataset"],
        schema_version=row["schema_version"],
        batch_id=row["batch_id"],
        created_at=parse(document["created_at"]),
        sequence=row["sequence"],
    )
    return Manifest(
        header=header,
        record_count=row["record_count"],
        records_root=row["records_root"],
        chunks=tuple(ChunkInfo(c["record_count"], c["records_sha256"]) for c in document["chunks"]),
        signer_kid=row["signer_kid"],
        signed=row["manifest"],
        document_bytes=0,
    )


def expire_transfers(node: Node) -> list[str]:
    """Drop the chunked batches left half-way longer than their flow's expiry; audited.

    A transfer expires ``transfer_expiry_hours`` (from the agreement's flow) after
    its last chunk or its manifest came. Its chunks are deleted with it, in one
    transaction per transfer with an audit entry ``batch_transfer_expired`` (batch
    id, peer, dataset, sequence, the counts, and how many chunks had come: no
    records). A sender that comes back posts
    the manifest again (as the gateway always does first) and starts from chunk 0;
    a chunk posted without it is refused (``no_manifest``). Returns the batch ids.
    """
    now = node.now()
    agreement = node.config.agreement
    t = inbound_transfers.c
    with node.store.read() as conn:
        rows = conn.execute(select(t.batch_id, t.sender, t.dataset, t.updated_at)).all()
    expired: list[str] = []
    for row in rows:
        flow = agreement.flow(row.dataset, sender=row.sender, receiver=node.party_id)
        hours = flow.transfer_expiry_hours if flow is not None else DEFAULT_TRANSFER_EXPIRY_HOURS
        due = iso(now - dt.timedelta(hours=hours))
        if row.updated_at > due:
            continue
        with node.store.write() as conn:
            node.store.serialize(conn, f"inbound:{row.batch_id}")
            current = _transfer(conn, row.batch_id)
            if current is None or current["updated_at"] != row.updated_at:
                continue  # committed or moved on meanwhile
            k = inbound_chunks.c
            held = int(
                conn.execute(
                    select(func.count())
                    .select_from(inbound_chunks)
                    .where(k.batch_id == row.batch_id)
                ).scalar_one()
            )
            conn.execute(delete(inbound_chunks).where(k.batch_id == row.batch_id))
            conn.execute(delete(inbound_transfers).where(t.batch_id == row.batch_id))
            audit_entries.append(
                conn,
                event="batch_transfer_expired",
                actor=node.party_id,
                at=now,
                peer=current["sender"],
                dataset=current["dataset"],
                batch_id=row.batch_id,
                sequence=current["sequence"],
                record_count=current["record_count"],
                chunk_count=current["chunk_count"],
                chunks_received=held,
            )
        expired.append(row.batch_id)
    return expired
