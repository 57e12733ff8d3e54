"""Sealing pending outbox records into batches and delivering them to the peer.

Sealing and delivery are separate, idempotent steps. Sealing claims pending
records in one transaction; delivery posts each sealed batch and marks it
delivered only once the peer's signed receipt verifies. A batch posted twice
(a retry after a lost answer, or two runs at once) is stored once by the
receiver and answered with the same receipt.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# requests is imported where it is used: a node's HTTP workers make no outbound
# request and do not load it (about 4 MiB each; docs/PERFORMANCE.md).
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from gateway.cases import projection
from gateway.crypto import strict_json
from gateway.crypto.envelope import (
    BatchHeader,
    ChunkInfo,
    DocumentSizes,
    document_sizes,
    forms_digest,
    seal_batch_forms,
    seal_chunk,
    seal_manifest,
    verify_receipt,
)
from gateway.errors import GatewayError, VerificationFailed
from gateway.node import outbound_tls
from gateway.node.config import DatasetAgreement
from gateway.node.node import Node
from gateway.peers import signed_requests, witness
from gateway.store import audit_entries
from gateway.store.tables import (
    outbound_batches,
    outbound_chunks,
    outbox_record_bodies,
    outbox_records,
)
from gateway.timestamps import iso, parse
from gateway.tlog import merkle

__all__ = [
    "BATCHES_PATH",
    "Poster",
    "TransferReport",
    "accept_receipt",
    "chunk_fields",
    "digest_fields",
    "flows_with_work",
    "lock_name",
    "pending_to",
    "run",
    "run_flows",
    "seal_pending",
    "seal_stored_chunk",
    "send_pending",
    "stored_header",
]

log = logging.getLogger(__name__)

BATCHES_PATH = "/exchange/v1/batches"
JOSE_MEDIA_TYPE = "application/jose"

# (url, body, timeout, headers) -> (status, json body or None). Tests cut the network here.
Poster = Callable[[str, bytes, float, Mapping[str, str]], tuple[int, Any]]
# The same with the headers that sign the request added: what sending calls.
_SignedPoster = Callable[[str, bytes, float], tuple[int, Any]]


# A receiver answers with a receipt or a progress note; anything longer is not read.
MAX_ANSWER_BYTES = 256 * 1024


def http_post(url: str, body: bytes, timeout: float, headers: Mapping[str, str]) -> tuple[int, Any]:
    """POST an envelope; the answer's status and JSON body (None if it is not JSON).

    Redirects are not followed (an envelope goes to the base URL of the
    agreement, nowhere else), and an answer over :data:`MAX_ANSWER_BYTES` is
    treated as no answer.
    """
    import requests

    with requests.post(
        url,
        data=body,
        timeout=timeout,
        headers={**headers, "Content-Type": JOSE_MEDIA_TYPE},
        stream=True,
        allow_redirects=False,
        **outbound_tls.tls_for(url),
    ) as response:
        raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
        status = response.status_code
    if len(raw) > MAX_ANSWER_BYTES:
        return status, None
    try:
        return status, strict_json.loads(raw)
    except ValueError:
        return status, None


# Partners' flows one scheduled run sends at once (sending.run_flows); each holds a
# database connection while it seals, so keep it under the pool's size.
FLOWS_AT_ONCE = 4


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
    """Seal every pending record of the flow ``dataset`` (its dataset, to its receiver)
    into batches within the agreed limits."""
    _adopt_unnamed(node, dataset)
    sealed: list[str] = []
    while (batch_id := _seal_one(node, dataset)) is not None:
        sealed.append(batch_id)
    return sealed


def pending_to(node: Node, flow: DatasetAgreement) -> ColumnElement[bool]:
    """The condition on outbox records that they are for the flow's receiver: named, or
    from before revision 0015 (no receiver) while the dataset has that one receiver."""
    c = outbox_records.c
    if node.config.agreement.receivers(flow.name, sender=node.party_id) == (flow.receiver,):
        return or_(c.receiver == flow.receiver, c.receiver.is_(None))
    return c.receiver == flow.receiver


def _adopt_unnamed(node: Node, flow: DatasetAgreement) -> None:
    """Give the flow the pending records that name no receiver, if it is their dataset's one.

    A record submitted before revision 0015 names no receiver: it was for the one
    receiver its dataset then had. While the dataset still goes to that one party
    its records join the party's channel here; once the dataset goes to several,
    nothing tells whom such a record was for: it waits, with a warning at every run
    (:func:`flows_with_work`), until the operator names its receiver in the database
    (docs/OPERATIONS.md).
    """
    if node.config.agreement.receivers(flow.name, sender=node.party_id) != (flow.receiver,):
        return
    c = outbox_records.c
    with node.store.write() as conn:
        conn.execute(
            update(outbox_records)
            .where(c.dataset == flow.name, c.batch_id.is_(None), c.receiver.is_(None))
            .values(receiver=flow.receiver)
        )


# Pending records read per query while a batch is sealed.
_SEAL_PAGE = 1000


@dataclass
class _Chunk:
    """A chunk being cut from the pending records: its count, digest and seq range."""

    first_seq: int
    last_seq: int = 0
    record_count: int = 0
    size: int = 0  # bytes of canonical records and commas
    digest: Any = field(default_factory=lambda: hashlib.sha256(b"["))

    def add(self, seq: int, record: bytes) -> None:
        if self.record_count:
            self.digest.update(b",")
        self.digest.update(record)
        self.record_count += 1
        self.size += len(record) + 1
        self.last_seq = seq

    def info(self) -> ChunkInfo:
        digest = self.digest.copy()
        digest.update(b"]")
        return ChunkInfo(self.record_count, digest.hexdigest())


@dataclass
class _Cut:
    """The pending records claimed for a batch, cut into chunks within the agreed limits.

    Every document sealed must pass the receiver's checks of the agreed limits
    (docs/ENVELOPE.md section 10): each envelope's signed document (a whole
    batch, a chunk, the manifest) within max_chunk_bytes, a chunked batch's
    chunks together within max_batch_bytes, and the records within
    max_records_per_batch. The batch ends before the record that would break one.
    """

    dataset: DatasetAgreement
    sizes: DocumentSizes
    chunks: list[_Chunk] = field(default_factory=list)
    first_forms: list[bytes] = field(default_factory=list)  # kept while it fits one envelope
    tree: merkle.Frontier = field(default_factory=merkle.Frontier)
    documents: int = 0  # the chunks' signed documents' bytes, at most
    count: int = 0  # records

    def take(self, seq: int, record: bytes, digest: str) -> bool:
        """Add a record to the batch; False, adding nothing, if it would break a limit."""
        dataset, sizes, chunks = self.dataset, self.sizes, self.chunks
        limit = dataset.max_chunk_bytes
        chunk_room = limit - max(sizes.whole, sizes.chunk) + 1  # records' bytes in one
        grow = len(record) + 1
        if chunks and chunks[-1].size + grow <= chunk_room:
            if self.documents + grow > dataset.max_batch_bytes:
                return False
            self.documents += grow
        else:
            if chunks and chunks[-1].record_count == 0:
                raise AssertionError("a record larger than a chunk was accepted")
            if self.count and (
                # The manifest lists every chunk: it must stay within the limit too.
                sizes.manifest + (len(chunks) + 1) * sizes.entry > limit
                or self.documents + sizes.chunk + grow - 1 > dataset.max_batch_bytes
            ):
                return False
            if grow > chunk_room:
                raise AssertionError("a record larger than a chunk was accepted")
            chunks.append(_Chunk(first_seq=seq))
            self.documents += sizes.chunk + grow - 1
            if len(chunks) > 1:
                self.first_forms = []
        chunks[-1].add(seq, record)
        if len(chunks) == 1:
            self.first_forms.append(record)
        self.tree.append(merkle.leaf_hash(bytes.fromhex(digest)))
        self.count += 1
        return True


def _seal_one(node: Node, dataset: DatasetAgreement) -> str | None:
    """Claim the oldest pending records of one schema version as a new batch.

    The records are read a page at a time and cut into chunks of at most the
    agreed chunk size, so memory stays bounded whatever the batch size. A batch
    of one chunk is sealed whole (one envelope); a larger one is stored as its
    chunks' record ranges under a signed manifest, and each chunk is sealed when
    it is sent.
    """
    with node.store.write() as conn:
        # Replicas on PostgreSQL must not claim the same pending records.
        node.store.serialize(conn, f"seal:{dataset.name}:{dataset.receiver}")
        header = _next_header(node, conn, dataset)
        if header is None:
            return None
        cut = _claim(conn, dataset, header)
        envelope, digests = _seal_cut(node, conn, dataset, header, cut)
        _store_sealed(node, conn, dataset, header, cut, envelope, digests)
    return header.batch_id


def _next_header(node: Node, conn: Connection, dataset: DatasetAgreement) -> BatchHeader | None:
    """The header of the channel's next batch, or None if no record is pending.

    The channel is the flow's dataset to its receiver. The batch takes the oldest
    pending record's schema version, a new id and the channel's next number.
    """
    c = outbox_records.c
    first = conn.execute(
        select(c.schema_version)
        .where(
            c.dataset == dataset.name,
            c.receiver == dataset.receiver,
            c.batch_id.is_(None),
        )
        .order_by(c.seq)
        .limit(1)
    ).first()
    if first is None:
        return None
    version = first[0]
    batch_id = str(uuid.uuid4())
    now = node.now()
    # The channel's next number; sealing runs one at a time per channel.
    sequence = 1 + int(
        conn.execute(
            select(func.coalesce(func.max(outbound_batches.c.sequence), 0)).where(
                outbound_batches.c.receiver == dataset.receiver,
                outbound_batches.c.dataset == dataset.name,
            )
        ).scalar_one()
    )
    return BatchHeader(
        sender=node.party_id,
        receiver=dataset.receiver,
        dataset=dataset.name,
        schema_version=version,
        batch_id=batch_id,
        created_at=now,
        sequence=sequence,
    )


def _claim(conn: Connection, dataset: DatasetAgreement, header: BatchHeader) -> _Cut:
    """Claim pending records of the header's schema version for the header's batch.

    Oldest first, a page at a time, until the batch is full or none is left.
    """
    c = outbox_records.c
    cut = _Cut(dataset, document_sizes(header, dataset.max_records_per_batch))
    after = 0
    full = False
    while not full:
        rows = conn.execute(
            select(c.seq, outbox_record_bodies.c.record, c.record_sha256)
            # Outer: a record without its content is an error, not a record to pass over
            # (each run would find it pending and claim nothing).
            .join_from(outbox_records, outbox_record_bodies, isouter=True)
            .where(
                c.dataset == dataset.name,
                c.receiver == dataset.receiver,
                c.batch_id.is_(None),
                c.schema_version == header.schema_version,
                c.seq > after,
            )
            .order_by(c.seq)
            .limit(min(_SEAL_PAGE, dataset.max_records_per_batch - cut.count))
        ).all()
        taken: list[int] = []
        for seq, text, digest in rows:
            if text is None:
                raise GatewayError(f"outbox record {seq} has no stored content")
            if not cut.take(seq, text.encode("utf-8"), digest):
                full = True
                break
            taken.append(seq)
        for start in range(0, len(taken), _SEAL_PAGE // 2):
            conn.execute(
                update(outbox_records)
                .where(c.seq.in_(taken[start : start + _SEAL_PAGE // 2]))
                .values(batch_id=header.batch_id)
            )
        if not rows or cut.count >= dataset.max_records_per_batch:
            full = True
        else:
            after = rows[-1][0]
    return cut


def _seal_cut(
    node: Node, conn: Connection, dataset: DatasetAgreement, header: BatchHeader, cut: _Cut
) -> tuple[str, dict[str, Any]]:
    """The envelope of a claimed batch and the digests that name its records.

    One chunk is sealed whole; more are sealed as a manifest, and their record
    ranges are stored for sealing each chunk when it is sent.
    """
    chunks = cut.chunks
    recipient = node.peers.encryption_key_of(dataset.receiver)
    if len(chunks) == 1:
        digest = chunks[0].info().records_sha256  # of the forms, as they were taken
        envelope = seal_batch_forms(
            header,
            cut.first_forms,
            signing_key=node.keys.signing,
            recipient_key=recipient,
            max_bytes=dataset.max_chunk_bytes,
            records_sha256=digest,
        )
        return envelope, {"records_sha256": digest}
    infos = [chunk.info() for chunk in chunks]
    root = cut.tree.root().hex()
    envelope = seal_manifest(
        header,
        records_root=root,
        chunks=infos,
        signing_key=node.keys.signing,
        recipient_key=recipient,
        max_bytes=dataset.max_chunk_bytes,
    )
    conn.execute(
        outbound_chunks.insert(),
        [
            {
                "batch_id": header.batch_id,
                "idx": i,
                "record_count": info.record_count,
                "records_sha256": info.records_sha256,
                "first_seq": chunk.first_seq,
                "last_seq": chunk.last_seq,
            }
            for i, (chunk, info) in enumerate(zip(chunks, infos, strict=True))
        ],
    )
    return envelope, {"records_root": root, "chunk_count": len(chunks)}


def _store_sealed(
    node: Node,
    conn: Connection,
    dataset: DatasetAgreement,
    header: BatchHeader,
    cut: _Cut,
    envelope: str,
    digests: dict[str, Any],
) -> None:
    """Store a sealed batch in the outbound table and its batch_sealed entry in the audit log."""
    conn.execute(
        outbound_batches.insert().values(
            batch_id=header.batch_id,
            dataset=dataset.name,
            schema_version=header.schema_version,
            receiver=dataset.receiver,
            record_count=cut.count,
            envelope=envelope,
            status="sealed",
            attempts=0,
            created_at=iso(header.created_at),
            sequence=header.sequence,
            chunk_count=len(cut.chunks),
            chunks_acked=0,
            records_sha256=digests.get("records_sha256"),
            records_root=digests.get("records_root"),
        )
    )
    audit_entries.append(
        conn,
        event="batch_sealed",
        actor=node.party_id,
        at=header.created_at,
        dataset=dataset.name,
        schema_version=header.schema_version,
        batch_id=header.batch_id,
        sequence=header.sequence,
        peer=dataset.receiver,
        record_count=cut.count,
        envelope_sha256=hashlib.sha256(envelope.encode()).hexdigest(),
        **digests,
    )


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
        audit_entries.append(
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
            audit_entries.append(
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
    import requests

    report = TransferReport()
    peer = node.config.agreement.party(dataset.receiver)
    url = peer.base_url + BATCHES_PATH

    def signed_post(url: str, body: bytes, timeout: float) -> tuple[int, Any]:
        return post(url, body, timeout, signed_requests.headers(node, peer, "POST", url, body))

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
            if row["chunk_count"] > 1:
                status, answer = _send_chunked(node, dataset, row, url, signed_post)
            else:
                status, answer = signed_post(
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
            _fail(node, dataset, row, f"http_{status}" if status != 200 else "bad_answer")
            report.failed.append(batch_id)
            continue
        try:
            accept_receipt(node, row, receipt)
        except VerificationFailed as exc:
            log.error("batch %s to %s: receipt rejected: %s", batch_id, peer.id, exc)
            _fail(node, dataset, row, "bad_receipt")
            report.failed.append(batch_id)
            continue
        report.delivered.append(batch_id)
    if progress is not None:
        progress(dataset.name, len(rows), len(rows))
    return report


def accept_receipt(node: Node, row: Any, receipt: str) -> None:
    """Verify the receiver's receipt for a sealed batch, then mark the batch delivered.

    Raises :class:`VerificationFailed` if the receipt is not the receiver's
    signed statement about this batch; the batch is then left as it was.
    """
    b = outbound_batches.c
    batch_id = row["batch_id"]
    verified = verify_receipt(
        receipt,
        peer_keys=node.peers,
        receiver=row["receiver"],
        batch_id=batch_id,
        records_sha256=row["records_sha256"],
        records_root=row["records_root"],
    )
    now = node.now()
    with node.store.write() as conn:
        marked = conn.execute(
            update(outbound_batches)
            .where(b.batch_id == batch_id, b.status != "delivered")
            .values(
                status="delivered",
                chunks_acked=row["chunk_count"],
                attempts=b.attempts + 1,
                last_attempt_at=iso(now),
                delivered_at=iso(now),
                receipt=receipt,
                last_error=None,
                next_attempt_at=None,
            )
        )
        if marked.rowcount == 0:
            return  # delivered meanwhile (another run, or a pulling receiver): audited then
        common = {"dataset": row["dataset"], "batch_id": batch_id, "peer": row["receiver"]}
        audit_entries.append(
            conn,
            event="batch_sent",
            actor=node.party_id,
            at=now,
            **common,
            record_count=row["record_count"],
            envelope_sha256=hashlib.sha256(row["envelope"].encode()).hexdigest(),
            **chunk_fields(row),
        )
        audit_entries.append(
            conn,
            event="receipt_verified",
            actor=node.party_id,
            at=now,
            **common,
            **digest_fields(row),
            signer_kid=verified.signer_kid,
            receipt_sha256=hashlib.sha256(receipt.encode()).hexdigest(),
        )
        # The case ledger takes the batch after this transaction (gateway.cases.projection).
        projection.enqueue(
            conn,
            node,
            batch_id=batch_id,
            dataset=row["dataset"],
            schema_version=row["schema_version"],
            sender=node.party_id,
            receiver=row["receiver"],
            receipt_at=verified.received_at,
            record_count=row["record_count"],
            source="outbox",
        )


def digest_fields(row: Any) -> dict[str, Any]:
    """The batch's digest, as its audit entries name it."""
    if row["records_root"] is not None:
        return {"records_root": row["records_root"]}
    return {"records_sha256": row["records_sha256"]}


def chunk_fields(row: Any) -> dict[str, Any]:
    """A chunked batch's chunk count, as its audit entries name it."""
    return {"chunk_count": row["chunk_count"]} if row["chunk_count"] > 1 else {}


def _send_chunked(
    node: Node, dataset: DatasetAgreement, row: Any, url: str, post: _SignedPoster
) -> tuple[int, Any]:
    """Send a chunked batch: its manifest, then each chunk the receiver does not have.

    Answers with the exchange that failed, or the one that carried the receipt.
    After an interruption the manifest's answer says how many chunks from the
    first the receiver holds, and sending resumes there. A few chunks are in
    flight at a time, each sealed by the thread that sends it, so the receiver
    can verify and validate one while it stores another.
    """
    batch_id = row["batch_id"]
    base = f"{url}/{batch_id}"
    timeout = node.config.peer_timeout_seconds
    manifest = row["envelope"].encode("ascii")
    status, answer = post(f"{base}/manifest", manifest, timeout)
    if status != 200 or not isinstance(answer, dict) or "receipt" in answer:
        return status, answer
    total = int(row["chunk_count"])
    received = answer.get("chunks_received")
    if type(received) is not int or not 0 <= received < total:
        return status, None
    if received:
        _acknowledged(node, row, received, resumed=True)
    header = stored_header(node, row)

    def send(index: int) -> tuple[int, Any]:
        envelope = seal_stored_chunk(node, dataset, header, index)
        return post(f"{base}/chunks/{index}", envelope, timeout)

    noted_at, noted, acked = time.monotonic(), received, received
    # The note of what the receiver holds is written beside the sending, not in its
    # way: on SQLite it waits for the write lock, which sealing the next batch holds
    # for a few seconds, and meanwhile no chunk would be sent.
    noting: tuple[Future[None], int] | None = None
    failed: tuple[int, Any] | None = None
    final: tuple[int, Any] | None = None
    in_flight: collections.deque[Future[tuple[int, Any]]] = collections.deque()
    upcoming = iter(range(received, total))
    try:
        with ThreadPoolExecutor(_CHUNKS_IN_FLIGHT + 1, thread_name_prefix="send-chunk") as pool:
            while True:
                while failed is None and len(in_flight) < _CHUNKS_IN_FLIGHT:
                    index = next(upcoming, None)
                    if index is None:
                        break
                    in_flight.append(pool.submit(send, index))
                if not in_flight:
                    break
                status, answer = in_flight.popleft().result()
                if status != 200 or not isinstance(answer, dict):
                    failed = failed or (status, answer)
                    continue
                if "receipt" in answer:
                    final = (status, answer)
                    continue
                prefix = answer.get("chunks_received")
                if type(prefix) is int and prefix > acked:
                    acked = prefix
                # Noted every few seconds for the operator's status, and when sending
                # stops; after an interruption the receiver's answer to the manifest
                # is what sending resumes from.
                if time.monotonic() - noted_at >= _NOTE_ACKS_SECONDS and (
                    noting is None or noting[0].done()
                ):
                    if noting is not None:
                        noting[0].result()  # a note that failed is raised here
                        noted = noting[1]
                    noting = (pool.submit(_acknowledged, node, row, acked), acked)
                    noted_at = time.monotonic()
    finally:
        # The pool has ended: a note in progress has been written, or has failed.
        if noting is not None and noting[0].exception() is None:
            noted = noting[1]
        if acked > noted and final is None:
            _acknowledged(node, row, acked)
    if failed is not None:
        return failed
    if final is not None:
        return final
    # Every chunk is there but the answers that said so crossed: the manifest's
    # answer for a committed batch is its receipt.
    return post(f"{base}/manifest", manifest, timeout)


# Chunks sent at once: the receiver works on one while another travels or is stored.
_CHUNKS_IN_FLIGHT = 2
_NOTE_ACKS_SECONDS = 2.0


def stored_header(node: Node, row: Any) -> BatchHeader:
    """The header a stored outbound batch was sealed with."""
    return BatchHeader(
        sender=node.party_id,
        receiver=row["receiver"],
        dataset=row["dataset"],
        schema_version=row["schema_version"],
        batch_id=row["batch_id"],
        created_at=parse(row["created_at"]),
        sequence=max(1, int(row["sequence"])),
    )


def seal_stored_chunk(
    node: Node, dataset: DatasetAgreement, header: BatchHeader, index: int
) -> bytes:
    """Seal chunk ``index`` of a stored batch from its records, as they were claimed.

    Used when a chunk is sent, and when a receiver in peer-pull mode fetches it.
    """
    c = outbox_records.c
    k = outbound_chunks.c
    with node.store.read() as conn:
        chunk = conn.execute(
            select(k.first_seq, k.last_seq, k.record_count, k.records_sha256).where(
                k.batch_id == header.batch_id, k.idx == index
            )
        ).one()
        forms = [
            text.encode("utf-8")
            for (text,) in conn.execute(
                select(outbox_record_bodies.c.record)
                .join_from(outbox_records, outbox_record_bodies)
                .where(
                    c.dataset == header.dataset,
                    c.batch_id == header.batch_id,
                    c.seq >= chunk.first_seq,
                    c.seq <= chunk.last_seq,
                )
                .order_by(c.seq)
            )
        ]
    digest = forms_digest(forms)
    if len(forms) != chunk.record_count or digest != chunk.records_sha256:
        raise GatewayError(
            f"batch {header.batch_id}: the stored records of chunk {index} no longer match "
            "its digest"
        )
    return seal_chunk(
        header,
        index,
        forms,
        signing_key=node.keys.signing,
        recipient_key=node.peers.encryption_key_of(header.receiver),
        max_bytes=dataset.max_chunk_bytes,
        records_sha256=digest,
    ).encode("ascii")


def _acknowledged(node: Node, row: Any, count: int, *, resumed: bool = False) -> None:
    """Note that the receiver holds the batch's first ``count`` chunks."""
    b = outbound_batches.c
    with node.store.write() as conn:
        conn.execute(
            update(outbound_batches)
            .where(b.batch_id == row["batch_id"], b.chunks_acked < count)
            .values(chunks_acked=count)
        )
        if resumed:
            audit_entries.append(
                conn,
                event="batch_resumed",
                actor=node.party_id,
                at=node.now(),
                dataset=row["dataset"],
                batch_id=row["batch_id"],
                peer=row["receiver"],
                chunk=count,
                chunk_count=row["chunk_count"],
            )


def _seal_and_send(
    node: Node, dataset: DatasetAgreement, *, post: Poster, progress: Progress | None
) -> TransferReport:
    """Seal pending records and send the batches, sending each as soon as it is sealed.

    Sealing runs in a thread beside the sending, so that a large backlog keeps
    the receiver busy while the next batch is cut (the two write the database
    at different moments: sealing once per batch, sending once per batch and
    every few seconds between chunks).
    """
    report = TransferReport()
    shown = False

    def relay(name: str, done: int, total: int) -> None:
        nonlocal shown
        if progress is not None and total:  # passes that found nothing to send stay quiet
            shown = True
            progress(name, done, total)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="seal") as pool:
        sealing = pool.submit(seal_pending, node, dataset)
        while True:
            finished = sealing.done()
            part = send_pending(node, dataset, post=post, progress=relay)
            report.merge(part)
            if finished and not part.delivered:
                break  # nothing more will be sealed, and nothing more could be sent
            if not part.delivered and not part.failed:
                # Wait for the next batch to be sealed, or for sealing to end.
                with contextlib.suppress(TimeoutError):
                    sealing.result(timeout=_SEAL_POLL_SECONDS)
        report.sealed += sealing.result()
    if progress is not None and not shown:
        progress(dataset.name, 0, 0)
    return report


_SEAL_POLL_SECONDS = 0.2


def lock_name(flow: DatasetAgreement) -> str:
    """The leader lock of a flow: one replica (or command) seals and sends it at a time."""
    return f"transfer:{flow.name}:{flow.receiver}"


def flows_with_work(node: Node, dataset: str) -> list[DatasetAgreement]:
    """The flows of ``dataset`` from this node with pending records or sealed batches due.

    Two indexed queries (the pending records' and the due batches' receivers), not a
    look at every partner: their cost follows the work waiting, not the number of
    parties the dataset goes to. Pending records that name no receiver (from before
    revision 0015) belong to the dataset's one flow; if it has several now, they are
    left, with a warning.
    """
    agreement = node.config.agreement
    c, b = outbox_records.c, outbound_batches.c
    due = iso(node.now())
    with node.store.read() as conn:
        pending = conn.execute(
            select(c.receiver).distinct().where(c.dataset == dataset, c.batch_id.is_(None))
        ).scalars()
        named = set(pending)
        named |= set(
            conn.execute(
                select(b.receiver)
                .distinct()
                .where(
                    b.status == "sealed",
                    b.dataset == dataset,
                    or_(b.next_attempt_at.is_(None), b.next_attempt_at <= due),
                )
            ).scalars()
        )
    flows: list[DatasetAgreement] = []
    if None in named:
        named.discard(None)
        only = agreement.flow(dataset, sender=node.party_id)
        if only is not None:
            named.add(only.receiver)
        else:
            log.warning(
                "pending records of %s from before revision 0015 name no receiver, and the "
                "dataset goes to several parties now: they wait until their receiver is named "
                "(docs/OPERATIONS.md)",
                dataset,
            )
    for receiver in sorted(r for r in named if r is not None):
        flow = agreement.flow(dataset, sender=node.party_id, receiver=receiver)
        if flow is not None:  # else an ended agreement's: nothing more is sent
            flows.append(flow)
    return flows


def run(
    node: Node,
    *,
    dataset: str | None = None,
    receiver: str | None = None,
    post: Poster = http_post,
    progress: Progress | None = None,
    exclusive: bool = False,
) -> TransferReport:
    """Seal and deliver what is pending, for one outgoing dataset or all of them, to
    one receiver or every one with work (:func:`flows_with_work`)."""
    agreement = node.config.agreement
    names = sorted({d.name for d in agreement.outgoing(node.party_id)})
    if dataset is not None:
        if dataset not in names:
            raise GatewayError(f"{node.party_id} sends no dataset named {dataset!r}")
        names = [dataset]
    if receiver is not None and not any(
        agreement.flow(name, sender=node.party_id, receiver=receiver) for name in names
    ):
        what = f"dataset {dataset!r}" if dataset is not None else "no dataset"
        raise GatewayError(f"{node.party_id} sends {what} to no party named {receiver!r}")
    flows = [
        flow
        for name in names
        for flow in flows_with_work(node, name)
        if receiver in (None, flow.receiver)
    ]
    return run_flows(node, flows, post=post, progress=progress, exclusive=exclusive)


def run_flows(
    node: Node,
    flows: list[DatasetAgreement],
    *,
    post: Poster = http_post,
    progress: Progress | None = None,
    exclusive: bool = False,
) -> TransferReport:
    """Seal and deliver the pending records of these flows, then publish one checkpoint.

    ``exclusive``: take each flow's leader lock (:func:`lock_name`), as the scheduled
    job does, and skip a flow that another replica runs: different partners' flows
    run at once on different replicas.
    """
    report = TransferReport()
    if exclusive and len(flows) > 1:
        # A hub's job has many partners' flows: a few at a time, so that one slow
        # partner does not hold back the others, and the run's length is the work
        # divided among them, not the sum of every partner's round trips.
        with ThreadPoolExecutor(FLOWS_AT_ONCE, thread_name_prefix="transfer") as pool:
            for done in pool.map(lambda f: _one_flow(node, f, post, progress, True), flows):
                report.merge(done)
    else:
        for agreed in flows:
            report.merge(_one_flow(node, agreed, post, progress, exclusive))
    if report.delivered:
        # A new checkpoint after each transfer, cosigned by the peers' witnesses.
        try:
            witness.publish(node)
        except Exception:  # the transfer is done; the checkpoint schedule retries
            log.exception("checkpoint after the transfer failed")
    return report


def _one_flow(
    node: Node,
    agreed: DatasetAgreement,
    post: Poster,
    progress: Progress | None,
    exclusive: bool,
) -> TransferReport:
    """One flow's run; under its leader lock if ``exclusive``. Never raises: a flow's
    failure must not hold back the others, and the next run retries it."""
    try:
        if not exclusive:
            return _run_flow(node, agreed, post=post, progress=progress)
        with node.store.try_lock(lock_name(agreed)) as leader:
            if not leader:
                log.info(
                    "transfer of %s to %s runs on another replica; skipped here",
                    agreed.name,
                    agreed.receiver,
                )
                return TransferReport()
            return _run_flow(node, agreed, post=post, progress=progress)
    except Exception:
        log.exception("transfer of %s to %s failed", agreed.name, agreed.receiver)
        return TransferReport(errors=[agreed.name])


def _run_flow(
    node: Node, agreed: DatasetAgreement, *, post: Poster, progress: Progress | None
) -> TransferReport:
    if agreed.delivery == "pull":
        # The receiver fetches these batches from the outbox (gateway.exchange.pull).
        return TransferReport(sealed=seal_pending(node, agreed))
    return _seal_and_send(node, agreed, post=post, progress=progress)
