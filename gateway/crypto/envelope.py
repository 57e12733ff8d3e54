"""Sealed batch envelopes and signed receipts: a JOSE profile (RFC 7515/7516/7517).

A batch is *signed, then encrypted* (a nested JWS inside a JWE):

* inner JWS, compact serialization, ``alg`` ``Ed25519`` (RFC 9864), ``kid`` = the
  sender's RFC 7638 key thumbprint, ``typ`` ``gw-batch+jws``; the payload is the
  RFC 8785 canonical JSON of the batch document (sender, receiver, dataset,
  schema version, batch id, record count, created-at, records digest, records);
* outer JWE, compact serialization, ``alg`` ``ECDH-ES+A256KW`` on the receiver's
  X25519 key (``kid`` its thumbprint), ``enc`` ``A256GCM``, ``cty`` ``JOSE``.

A receipt is a JWS (``typ`` ``gw-receipt+jws``) by the receiver over the batch
id, digest and received-at. ``docs/ENVELOPE.md`` is the normative profile.

Pure: imports neither Flask nor the database. Every failure to open an
envelope raises :class:`EnvelopeRejected` carrying the detail for the
operator's log; callers show a peer only the generic message.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from joserfc import jwe, jws
from joserfc.jwk import OKPKey

from gateway import timestamps
from gateway.crypto import canonical, compact_jws, strict_json
from gateway.crypto.compact_jws import JWSRefused, protected_header
from gateway.crypto.keys import ENC_ALG, PeerKey, PeerKeys
from gateway.errors import EnvelopeRejected, InvalidJSON, VerificationFailed
from gateway.tlog import merkle

__all__ = [
    "ENVELOPE_VERSION",
    "BatchHeader",
    "ChunkInfo",
    "DocumentSizes",
    "Manifest",
    "OpenedBatch",
    "OpenedChunk",
    "Receipt",
    "document_sizes",
    "envelope_limit",
    "forms_digest",
    "open_batch",
    "open_chunk",
    "open_manifest",
    "record_leaf",
    "records_budget",
    "records_digest",
    "seal_batch",
    "seal_batch_forms",
    "seal_chunk",
    "seal_manifest",
    "sign_receipt",
    "signed_payload",
    "verify_receipt",
]

ENVELOPE_VERSION = 1
BATCH_JWS_TYP = "gw-batch+jws"
BATCH_JWE_TYP = "gw-batch+jwe"
RECEIPT_TYP = "gw-receipt+jws"
MANIFEST_JWS_TYP = "gw-manifest+jws"
MANIFEST_JWE_TYP = "gw-manifest+jwe"
CHUNK_JWS_TYP = "gw-chunk+jws"
CHUNK_JWE_TYP = "gw-chunk+jwe"
ENC = "A256GCM"
# Batch ids are UUIDs in canonical lower-case form.
BATCH_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Slack for the headers, key, IV and tag around a payload, and base64url growth.
_OVERHEAD = 4096


def envelope_limit(max_bytes: int) -> int:
    """The largest envelope that can carry a signed document of ``max_bytes``.

    The document is base64url-encoded twice (JWS payload, then JWE ciphertext),
    so an envelope is up to (4/3)^2 = 16/9 times the document, plus headers.
    """
    return max_bytes * 16 // 9 + _OVERHEAD


# Room for the batch document's own fields around its records.
_DOCUMENT_FIELDS_ALLOWANCE = 1024


def records_budget(max_batch_bytes: int) -> int:
    """How many bytes of canonical records fit in a batch of ``max_batch_bytes``."""
    return max_batch_bytes - _DOCUMENT_FIELDS_ALLOWANCE


def records_digest(records: Sequence[Any]) -> str:
    """Lower-case hex SHA-256 of the RFC 8785 canonical JSON of the records array."""
    return hashlib.sha256(canonical.dumps(list(records))).hexdigest()


def _utc_iso(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return timestamps.iso(moment)


def _is_utc_stamp(value: Any) -> bool:
    """Whether ``value`` is RFC 3339 text in UTC, as :func:`_utc_iso` writes it."""
    if not isinstance(value, str) or not value.endswith("Z") or len(value) > 40:
        return False
    try:
        timestamps.parse(value)
    except ValueError:
        return False
    return True


# A receipt is a few hundred bytes; its JWS may hold no more than this.
_RECEIPT_MAX = 64 * 1024


def signed_payload(signed: str) -> Any:
    """The JSON payload of a JWS verified before (a stored batch, chunk or manifest).

    Read without verifying it again, and without joserfc's default cap of 128 kB,
    which a batch or chunk is over by design.
    """
    token = signed.encode("ascii")
    protected_header(token)
    return strict_json.loads(
        jws.extract_compact(token, registry=compact_jws.registry(len(token))).payload
    )


def _jwe_registry(max_ciphertext: int) -> jwe.JWERegistry:
    registry = jwe.JWERegistry(algorithms=[ENC_ALG, ENC])
    registry.max_ciphertext_length = max_ciphertext
    return registry


MAX_SEQUENCE = 2**53 - 1  # exact in every JSON implementation (RFC 8785 numbers)


@dataclass(frozen=True)
class BatchHeader:
    """What the sender signs about a batch, besides the records themselves."""

    sender: str
    receiver: str
    dataset: str
    schema_version: str
    batch_id: str
    created_at: dt.datetime
    # The batch's number on its channel (sender, receiver, dataset): 1, 2, 3 ...
    # in the order sealed, so that the receiver notices a gap or a replay.
    sequence: int = 1

    def __post_init__(self) -> None:
        if not BATCH_ID.fullmatch(self.batch_id):
            raise ValueError(f"batch id must be a lower-case UUID, got {self.batch_id!r}")
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence must be from 1 to {MAX_SEQUENCE}, got {self.sequence}")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


@dataclass(frozen=True)
class OpenedBatch:
    header: BatchHeader
    records: list[Any]
    record_count: int
    records_sha256: str
    signer_kid: str
    signed: str  # the verified inner JWS, kept as the sender's proof of origin
    document_bytes: int  # size of the signed document, for the agreed batch limit

    @property
    def document(self) -> dict[str, Any]:
        return signed_payload(self.signed)  # type: ignore[no-any-return]


def seal_batch(
    header: BatchHeader,
    records: Sequence[Any],
    *,
    signing_key: OKPKey,
    recipient_key: OKPKey,
    max_bytes: int,
) -> str:
    """Sign the batch as the sender, then encrypt it to the receiver."""
    return seal_batch_forms(
        header,
        [canonical.dumps(r) for r in records],
        signing_key=signing_key,
        recipient_key=recipient_key,
        max_bytes=max_bytes,
    )


def seal_batch_forms(
    header: BatchHeader,
    forms: Sequence[bytes],
    *,
    signing_key: OKPKey,
    recipient_key: OKPKey,
    max_bytes: int,
    records_sha256: str | None = None,
) -> str:
    """:func:`seal_batch` for records already in their RFC 8785 canonical form
    (``records_sha256`` as for :func:`seal_chunk`)."""
    fields: dict[str, Any] = {
        **_header_fields(header),
        "sequence": header.sequence,
        "created_at": _utc_iso(header.created_at),
        "record_count": len(forms),
        "records_sha256": forms_digest(forms) if records_sha256 is None else records_sha256,
    }
    payload = _with_records(fields, forms)
    if len(payload) > max_bytes:
        raise ValueError(f"batch payload is {len(payload)} bytes, over the limit of {max_bytes}")
    return _seal(payload, BATCH_JWS_TYP, BATCH_JWE_TYP, signing_key, recipient_key)


def _header_fields(header: BatchHeader) -> dict[str, Any]:
    """The members every signed document of a batch starts with."""
    return {
        "v": ENVELOPE_VERSION,
        "sender": header.sender,
        "receiver": header.receiver,
        "dataset": header.dataset,
        "schema_version": header.schema_version,
        "batch_id": header.batch_id,
    }


def forms_digest(forms: Sequence[bytes]) -> str:
    """:func:`records_digest` of records given in their canonical form."""
    # The canonical form of an array is its elements' canonical forms, comma-separated.
    digest = hashlib.sha256(b"[")
    for i, form in enumerate(forms):
        if i:
            digest.update(b",")
        digest.update(form)
    digest.update(b"]")
    return digest.hexdigest()


def record_leaf(form: bytes) -> bytes:
    """A record's leaf in the batch's records tree: the RFC 9162 leaf hash of its SHA-256."""
    return merkle.leaf_hash(hashlib.sha256(form).digest())


_RECORDS_SLOT = b'"records":[]'


def _with_records(fields: dict[str, Any], forms: Sequence[bytes]) -> bytes:
    """The canonical JSON of ``fields`` plus ``records``, from the records' canonical forms.

    The canonical form of an object with a ``records`` array is that of the object
    with an empty array, with the elements' canonical forms written into the
    brackets; a quote inside a string is always escaped, so the empty array's
    bytes occur exactly once. This spares parsing and re-serialising every record.
    """
    head, slot, tail = canonical.dumps({**fields, "records": []}).partition(_RECORDS_SLOT)
    if not slot:
        raise AssertionError("the canonical document has no records member")
    return b"".join((head, b'"records":[', b",".join(forms), b"]", tail))


# Above this size, sealing or opening an envelope ends with a young-generation
# garbage collection: joserfc's JWE objects refer to each other (a message and its
# recipient), so they, and the MiB-sized buffers they hold, are freed only when the
# cyclic collector runs, which a few large objects do not make it do. Without this
# a sender's memory grew by 3 MiB per chunk until a full collection came
# (docs/PERFORMANCE.md).
_COLLECT_ABOVE = 256 * 1024
# Large envelopes ended while others were under way, after which the collection runs
# all the same (see _Collector).
_COLLECT_OWED_MAX = 8


class _Collector:
    """Runs that collection once no other envelope is being sealed or opened.

    A collection promotes what it finds in use to the next generation: run while
    another thread's envelope is half made, it would move that one's objects to the
    oldest generation, where their cycles (and buffers) wait for a full collection
    once they are garbage. Two threads sealing chunks at once (the sender keeps two in
    flight) kept 95 MiB that way over 120 chunks, one thread 1 MiB (docs/PERFORMANCE.md,
    "Fifth round"). So the last envelope to end runs the collection that those ended
    meanwhile owe, and none begins while it runs; after :data:`_COLLECT_OWED_MAX` owed,
    a full collection runs anyway, so that envelopes overlapping without end still get
    collected (what it promotes, the next one frees).
    """

    def __init__(self) -> None:
        # Re-entrant: a finalizer that the collection runs may seal or open in turn.
        self._lock = threading.RLock()
        self._under_way = 0
        self._owed = 0

    @contextmanager
    def around(self, size: int) -> Iterator[None]:
        with self._lock:
            self._under_way += 1
        try:
            yield
        finally:
            with self._lock:
                self._under_way -= 1
                self._owed += size > _COLLECT_ABOVE
                if self._owed and (not self._under_way or self._owed >= _COLLECT_OWED_MAX):
                    self._owed = 0
                    # With others under way, a full collection: it also frees what the
                    # last such one had to promote.
                    gc.collect(2 if self._under_way else 1)


_collector = _Collector()


def _seal(
    payload: bytes, jws_typ: str, jwe_typ: str, signing_key: OKPKey, recipient_key: OKPKey
) -> str:
    with _collector.around(len(payload)):
        return _seal_now(payload, jws_typ, jwe_typ, signing_key, recipient_key)


def _seal_now(
    payload: bytes, jws_typ: str, jwe_typ: str, signing_key: OKPKey, recipient_key: OKPKey
) -> str:
    signed = compact_jws.sign(payload, signing_key, typ=jws_typ, max_payload=len(payload))
    return jwe.encrypt_compact(
        {
            "alg": ENC_ALG,
            "enc": ENC,
            "kid": recipient_key.thumbprint(),
            "cty": "JOSE",
            "typ": jwe_typ,
        },
        signed,
        recipient_key,
        registry=_jwe_registry(len(signed) + _OVERHEAD),
    )


def _require(document: dict[str, Any], name: str, kind: type) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EnvelopeRejected(
            f"signed document field {name!r} missing or not {kind.__name__}", reason="malformed"
        )
    return value


@dataclass(frozen=True)
class _Opened:
    document: dict[str, Any]
    sender: str
    receiver: str
    signer_kid: str
    signed: bytes
    payload_bytes: int
    # The document holds nothing that canonical.dumps has to check for (no
    # float, no integer beyond 2**53 - 1, no character above U+FFFF).
    plain: bool = False


# What a refused inner JWS of an envelope is called, by the step that refused it.
_INNER_REFUSED = {
    "malformed": "inner JWS unreadable: {detail}",
    "unknown_key": "signed with unknown key id {kid!r}",
    "signature": "signature does not verify: {detail}",
}


def _recipient_key(raw: bytes, keys: OKPKey | Mapping[str, OKPKey]) -> OKPKey:
    """The key an envelope is encrypted to, of this node's keys that may still decrypt.

    The JWE header is read here whatever the keys, so that one joserfc would read
    differently (a parameter given twice: it keeps the last) is refused first.
    """
    try:
        header = protected_header(raw)
    except InvalidJSON as exc:  # JSON, but not as RFC 7516 section 5.2 lets us accept it
        raise EnvelopeRejected(f"JWE header refused: {exc}", reason="malformed") from None
    except Exception as exc:  # as the library would fail on it
        raise EnvelopeRejected(
            f"cannot decrypt: JWE header unreadable: {type(exc).__name__}: {exc}",
            reason="decrypt",
        ) from None
    if isinstance(keys, OKPKey):
        return keys
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        # Encrypted to a key this node never had, or retired or revoked.
        raise EnvelopeRejected(f"encrypted to key id {str(kid)[:64]!r}", reason="recipient_key")
    return key


def _open(
    token: str | bytes,
    jws_typ: str,
    jwe_typ: str,
    *,
    own_party: str,
    decryption_key: OKPKey | Mapping[str, OKPKey],
    peer_keys: PeerKeys,
    max_bytes: int,
) -> _Opened:
    """Decrypt and verify an envelope of one kind; the signer must be its sender."""
    with _collector.around(len(token)):
        return _open_now(
            token,
            jws_typ,
            jwe_typ,
            own_party=own_party,
            decryption_key=decryption_key,
            peer_keys=peer_keys,
            max_bytes=max_bytes,
        )


def _open_now(
    token: str | bytes,
    jws_typ: str,
    jwe_typ: str,
    *,
    own_party: str,
    decryption_key: OKPKey | Mapping[str, OKPKey],
    peer_keys: PeerKeys,
    max_bytes: int,
) -> _Opened:
    raw = token.encode("ascii", "replace") if isinstance(token, str) else token
    if len(raw) > envelope_limit(max_bytes):
        raise EnvelopeRejected(
            f"envelope is {len(raw)} bytes, over {envelope_limit(max_bytes)}", reason="size"
        )
    key = _recipient_key(raw, decryption_key)
    try:
        decrypted = jwe.decrypt_compact(raw, key, registry=_jwe_registry(len(raw)))
    except Exception as exc:  # any library error means the same thing to the peer
        raise EnvelopeRejected(
            f"cannot decrypt: {type(exc).__name__}: {exc}", reason="decrypt"
        ) from None
    protected = decrypted.protected
    if (
        protected.get("kid") != key.thumbprint()
        or protected.get("typ") != jwe_typ
        or protected.get("cty") != "JOSE"
    ):
        raise EnvelopeRejected(f"unexpected JWE header {protected!r}", reason="header")
    signed = decrypted.plaintext or b""
    try:
        verified = compact_jws.verify(
            signed,
            lambda kid: peer_keys.signing_key(str(kid)),
            max_payload=len(signed),
            parse_first=False,
        )
    except JWSRefused as refused:
        raise EnvelopeRejected(
            _INNER_REFUSED[refused.step].format(detail=refused.detail, kid=refused.kid),
            reason=refused.step,
        ) from None
    signer, kid = verified.signer, verified.kid
    if verified.headers.get("typ") != jws_typ:
        raise EnvelopeRejected(f"inner JWS typ is not {jws_typ}", reason="header")
    try:
        document = strict_json.loads(verified.payload, mark_plain=True)
    except ValueError as exc:
        raise EnvelopeRejected(f"signed payload is not JSON: {exc}", reason="malformed") from None
    if not isinstance(document, dict) or document.get("v") != ENVELOPE_VERSION:
        raise EnvelopeRejected("unsupported envelope version", reason="version")
    sender = _require(document, "sender", str)
    receiver = _require(document, "receiver", str)
    if sender != signer.party:
        raise EnvelopeRejected(
            f"document names sender {sender!r} but key {kid!r} belongs to {signer.party!r}",
            reason="sender_mismatch",
        )
    if receiver != own_party:
        raise EnvelopeRejected(
            f"addressed to {receiver!r}, not to {own_party!r}", reason="wrong_receiver"
        )
    return _Opened(
        document=document,
        sender=sender,
        receiver=receiver,
        signer_kid=str(kid),
        signed=signed,
        payload_bytes=len(verified.payload),
        plain=isinstance(document, strict_json.PlainObject),
    )


def open_batch(
    token: str | bytes,
    *,
    own_party: str,
    decryption_key: OKPKey | Mapping[str, OKPKey],
    peer_keys: PeerKeys,
    max_bytes: int,
) -> OpenedBatch:
    """Decrypt, verify and parse an envelope addressed to ``own_party``.

    Raises :class:`EnvelopeRejected` whatever is wrong; its ``detail`` says what.
    """
    opened = _open(
        token,
        BATCH_JWS_TYP,
        BATCH_JWE_TYP,
        own_party=own_party,
        decryption_key=decryption_key,
        peer_keys=peer_keys,
        max_bytes=max_bytes,
    )
    digest = _require(opened.document, "records_sha256", str)
    records, _ = _checked_records(opened, digest)
    return OpenedBatch(
        header=_header(opened),
        records=records,
        record_count=len(records),
        records_sha256=digest,
        signer_kid=opened.signer_kid,
        signed=opened.signed.decode("ascii"),
        document_bytes=opened.payload_bytes,
    )


def _checked_records(opened: _Opened, digest: str) -> tuple[list[Any], list[bytes]]:
    """The records of a signed document and their canonical forms, checked against
    its ``record_count`` and ``digest``; raises EnvelopeRejected."""
    records = _require(opened.document, "records", list)
    count = _require(opened.document, "record_count", int)
    if count != len(records):
        raise EnvelopeRejected(
            f"record_count {count} but {len(records)} records", reason="count_mismatch"
        )
    dumps = canonical.dumps_plain if opened.plain else canonical.dumps
    try:
        forms = [dumps(r) for r in records]
    except Exception as exc:  # RFC 8785 refuses numbers outside the I-JSON range
        raise EnvelopeRejected(
            f"records cannot be canonicalised: {exc}", reason="malformed"
        ) from None
    actual = forms_digest(forms)
    if actual != digest:
        raise EnvelopeRejected(
            f"records digest: expected {digest}, got {actual}", reason="digest_mismatch"
        )
    return records, forms


def _header(opened: _Opened) -> BatchHeader:
    document = opened.document
    try:
        return BatchHeader(
            sender=opened.sender,
            receiver=opened.receiver,
            dataset=_require(document, "dataset", str),
            schema_version=_require(document, "schema_version", str),
            batch_id=_require(document, "batch_id", str),
            created_at=timestamps.parse(_require(document, "created_at", str)),
            sequence=_require(document, "sequence", int),
        )
    except ValueError as exc:
        raise EnvelopeRejected(f"bad batch header: {exc}", reason="malformed") from None


# -- chunked batches (docs/ENVELOPE.md section 10) ------------------------------------------


@dataclass(frozen=True)
class ChunkInfo:
    """What the manifest says of one chunk."""

    record_count: int
    records_sha256: str


@dataclass(frozen=True)
class Manifest:
    """A chunked batch's signed manifest: the batch header and what each chunk holds."""

    header: BatchHeader
    record_count: int
    records_root: str  # hex RFC 9162 root over the records' SHA-256 digests
    chunks: tuple[ChunkInfo, ...]
    signer_kid: str
    signed: str
    document_bytes: int


def _manifest_document(
    header: BatchHeader, records_root: str, chunks: Sequence[ChunkInfo]
) -> dict[str, Any]:
    return {
        **_header_fields(header),
        "sequence": header.sequence,
        "created_at": _utc_iso(header.created_at),
        "record_count": sum(c.record_count for c in chunks),
        "records_root": records_root,
        "chunk_count": len(chunks),
        "chunks": [
            {"record_count": c.record_count, "records_sha256": c.records_sha256} for c in chunks
        ],
    }


def seal_manifest(
    header: BatchHeader,
    *,
    records_root: str,
    chunks: Sequence[ChunkInfo],
    signing_key: OKPKey,
    recipient_key: OKPKey,
    max_bytes: int | None = None,
) -> str:
    """Sign and encrypt the manifest of a batch sent as ``len(chunks)`` chunks.

    ``max_bytes``: the agreed limit of one signed document, which the manifest is
    held to like any other (docs/ENVELOPE.md section 10).
    """
    payload = canonical.dumps(_manifest_document(header, records_root, chunks))
    if max_bytes is not None and len(payload) > max_bytes:
        raise ValueError(f"manifest payload is {len(payload)} bytes, over the limit of {max_bytes}")
    return _seal(payload, MANIFEST_JWS_TYP, MANIFEST_JWE_TYP, signing_key, recipient_key)


@dataclass(frozen=True)
class DocumentSizes:
    """Bytes of a batch's signed documents besides their records, at most.

    For a batch of ``header`` with at most ``max_records`` records (so at most as
    many chunks): numbers are counted with the digits of ``max_records`` and
    :data:`MAX_SEQUENCE`, the largest they can be. A document whose records have
    ``size`` bytes counted as the sender cuts them (each record's canonical form
    and one comma) is at most ``whole`` (or ``chunk``) + ``size`` - 1 bytes; a
    manifest of ``n`` chunks at most ``manifest`` + ``n`` * ``entry``.
    """

    whole: int  # a whole batch with no records
    chunk: int  # a chunk with no records
    manifest: int  # a manifest that lists no chunks
    entry: int  # one entry of a manifest's chunks, with its comma


def document_sizes(header: BatchHeader, max_records: int) -> DocumentSizes:
    """:class:`DocumentSizes` measured on the very documents that are sealed."""
    widest = replace(header, sequence=MAX_SEQUENCE)
    digest = "0" * 64
    whole: dict[str, Any] = {
        **_header_fields(widest),
        "sequence": widest.sequence,
        "created_at": _utc_iso(widest.created_at),
        "record_count": max_records,
        "records_sha256": digest,
    }
    chunk: dict[str, Any] = {
        **_header_fields(widest),
        "chunk": max_records,
        "record_count": max_records,
        "records_sha256": digest,
    }
    manifest = _manifest_document(widest, digest, [])
    manifest.update(record_count=max_records, chunk_count=max_records)
    entry = {"record_count": max_records, "records_sha256": digest}
    return DocumentSizes(
        whole=len(_with_records(whole, [])),
        chunk=len(_with_records(chunk, [])),
        manifest=len(canonical.dumps(manifest)),
        entry=len(canonical.dumps(entry)) + 1,
    )


_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _digest_field(document: dict[str, Any], name: str) -> str:
    value = _require(document, name, str)
    if not _HEX_DIGEST.fullmatch(value):
        raise EnvelopeRejected(f"{name} is not a lower-case hex SHA-256", reason="malformed")
    return str(value)


def open_manifest(
    token: str | bytes,
    *,
    own_party: str,
    decryption_key: OKPKey | Mapping[str, OKPKey],
    peer_keys: PeerKeys,
    max_bytes: int,
) -> Manifest:
    """Decrypt, verify and parse a manifest addressed to ``own_party``."""
    opened = _open(
        token,
        MANIFEST_JWS_TYP,
        MANIFEST_JWE_TYP,
        own_party=own_party,
        decryption_key=decryption_key,
        peer_keys=peer_keys,
        max_bytes=max_bytes,
    )
    document = opened.document
    header = _header(opened)
    count = _require(document, "record_count", int)
    chunk_count = _require(document, "chunk_count", int)
    entries = _require(document, "chunks", list)
    if chunk_count != len(entries) or chunk_count < 1:
        raise EnvelopeRejected(
            f"chunk_count {chunk_count} but {len(entries)} chunks", reason="count_mismatch"
        )
    chunks: list[ChunkInfo] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise EnvelopeRejected("a chunks entry is not an object", reason="malformed")
        records = _require(entry, "record_count", int)
        if records < 1:
            raise EnvelopeRejected("a chunk must hold at least one record", reason="malformed")
        chunks.append(ChunkInfo(records, _digest_field(entry, "records_sha256")))
    if count != sum(c.record_count for c in chunks):
        raise EnvelopeRejected(
            f"record_count {count} is not the sum of the chunks' counts", reason="count_mismatch"
        )
    return Manifest(
        header=header,
        record_count=count,
        records_root=_digest_field(document, "records_root"),
        chunks=tuple(chunks),
        signer_kid=opened.signer_kid,
        signed=opened.signed.decode("ascii"),
        document_bytes=opened.payload_bytes,
    )


@dataclass(frozen=True)
class OpenedChunk:
    sender: str
    dataset: str
    schema_version: str
    batch_id: str
    index: int
    records: list[Any]
    forms: list[bytes]  # each record's canonical form, for the records tree
    records_sha256: str
    signer_kid: str
    signed: str
    document_bytes: int


def seal_chunk(
    header: BatchHeader,
    index: int,
    forms: Sequence[bytes],
    *,
    signing_key: OKPKey,
    recipient_key: OKPKey,
    max_bytes: int,
    records_sha256: str | None = None,
) -> str:
    """Sign and encrypt chunk ``index`` (from 0) of a batch: records in canonical form.

    ``records_sha256``: their :func:`forms_digest`, when the caller has just computed it
    from these ``forms`` (a sender checks its stored records against it), so that each
    record is hashed once; a wrong one makes the receiver refuse the chunk.
    """
    fields: dict[str, Any] = {
        **_header_fields(header),
        "chunk": index,
        "record_count": len(forms),
        "records_sha256": forms_digest(forms) if records_sha256 is None else records_sha256,
    }
    payload = _with_records(fields, forms)
    if len(payload) > max_bytes:
        raise ValueError(f"chunk payload is {len(payload)} bytes, over the limit of {max_bytes}")
    return _seal(payload, CHUNK_JWS_TYP, CHUNK_JWE_TYP, signing_key, recipient_key)


def open_chunk(
    token: str | bytes,
    *,
    own_party: str,
    decryption_key: OKPKey | Mapping[str, OKPKey],
    peer_keys: PeerKeys,
    max_bytes: int,
) -> OpenedChunk:
    """Decrypt, verify and parse a chunk; its digest is checked against its records."""
    opened = _open(
        token,
        CHUNK_JWS_TYP,
        CHUNK_JWE_TYP,
        own_party=own_party,
        decryption_key=decryption_key,
        peer_keys=peer_keys,
        max_bytes=max_bytes,
    )
    document = opened.document
    digest = _digest_field(document, "records_sha256")
    records, forms = _checked_records(opened, digest)
    index = _require(document, "chunk", int)
    batch_id = _require(document, "batch_id", str)
    if index < 0 or not BATCH_ID.fullmatch(batch_id):
        raise EnvelopeRejected("bad chunk index or batch id", reason="malformed")
    return OpenedChunk(
        sender=opened.sender,
        dataset=_require(document, "dataset", str),
        schema_version=_require(document, "schema_version", str),
        batch_id=batch_id,
        index=index,
        records=records,
        forms=forms,
        records_sha256=digest,
        signer_kid=opened.signer_kid,
        signed=opened.signed.decode("ascii"),
        document_bytes=opened.payload_bytes,
    )


@dataclass(frozen=True)
class Receipt:
    batch_id: str
    sender: str
    receiver: str
    dataset: str
    record_count: int
    records_sha256: str
    received_at: str
    signer_kid: str
    token: str


def sign_receipt(
    batch: OpenedBatch | Manifest, *, received_at: dt.datetime, signing_key: OKPKey
) -> str:
    """The receiver's signed statement that it stored this batch (every chunk of it)."""
    document: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "batch_id": batch.header.batch_id,
        "sender": batch.header.sender,
        "receiver": batch.header.receiver,
        "dataset": batch.header.dataset,
        "record_count": batch.record_count,
        "received_at": _utc_iso(received_at),
    }
    if isinstance(batch, Manifest):
        document["records_root"] = batch.records_root
        document["chunk_count"] = len(batch.chunks)
    else:
        document["records_sha256"] = batch.records_sha256
    return compact_jws.sign(
        canonical.dumps(document), signing_key, typ=RECEIPT_TYP, max_payload=_RECEIPT_MAX
    )


def verify_receipt(
    token: str,
    *,
    peer_keys: PeerKeys,
    receiver: str,
    batch_id: str,
    records_sha256: str | None = None,
    records_root: str | None = None,
) -> Receipt:
    """Check a receipt's signature by one of ``receiver``'s keys, and that it is for our batch.

    A batch sent whole is named by ``records_sha256``, a chunked one by ``records_root``.

    Raises :class:`VerificationFailed` saying what was expected and what was found.
    """
    def receivers_key(kid: Any) -> PeerKey | None:
        signer = peer_keys.signing_key(str(kid))
        return signer if signer is not None and signer.party == receiver else None

    try:
        verified = compact_jws.verify(
            token.encode("ascii"), receivers_key, max_payload=_RECEIPT_MAX
        )
        document = strict_json.loads(verified.payload)
    except JWSRefused as refused:
        if refused.step == "malformed":
            raise VerificationFailed(f"receipt is not a JWS: {refused.detail}") from None
        if refused.step == "unknown_key":
            raise VerificationFailed(
                f"receipt signed by key {refused.kid!r}, "
                f"not a registered signing key of {receiver!r}"
            ) from None
        raise VerificationFailed(f"receipt does not verify: {refused.detail}") from None
    except Exception as exc:
        raise VerificationFailed(f"receipt does not verify: {type(exc).__name__}: {exc}") from None
    if verified.headers.get("typ") != RECEIPT_TYP or not isinstance(document, dict):
        raise VerificationFailed("receipt has the wrong typ or shape")
    if (records_sha256 is None) == (records_root is None):
        raise ValueError("give exactly one of records_sha256 and records_root")
    count = document.get("record_count")
    if type(count) is not int:
        raise VerificationFailed(f"receipt record_count is not an integer: {count!r}")
    digest = (
        ("records_sha256", records_sha256)
        if records_root is None
        else ("records_root", records_root)
    )
    for name, expected in (
        ("batch_id", batch_id),
        digest,
        ("receiver", receiver),
        ("v", ENVELOPE_VERSION),
    ):
        if document.get(name) != expected:
            raise VerificationFailed(
                f"receipt {name}: expected {expected!r}, got {document.get(name)!r}"
            )
    received_at = document.get("received_at")
    if not _is_utc_stamp(received_at):
        raise VerificationFailed(f"receipt received_at is not a UTC timestamp: {received_at!r}")
    return Receipt(
        batch_id=batch_id,
        sender=str(document.get("sender")),
        receiver=str(document.get("receiver")),
        dataset=str(document.get("dataset")),
        record_count=count,
        records_sha256=str(digest[1]),
        received_at=str(received_at),
        signer_kid=str(verified.headers.get("kid")),
        token=token,
    )
