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
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from joserfc.jwk import OKPKey

from gateway import canonical
from gateway.errors import EnvelopeRejected, VerificationFailed
from gateway.keys import ENC_ALG, SIG_ALG, PeerKeys

__all__ = [
    "ENVELOPE_VERSION",
    "BatchHeader",
    "OpenedBatch",
    "Receipt",
    "envelope_limit",
    "open_batch",
    "records_budget",
    "records_digest",
    "seal_batch",
    "sign_receipt",
    "verify_receipt",
]

ENVELOPE_VERSION = 1
BATCH_JWS_TYP = "gw-batch+jws"
BATCH_JWE_TYP = "gw-batch+jwe"
RECEIPT_TYP = "gw-receipt+jws"
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
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _jws_registry(max_payload: int) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=[SIG_ALG])
    # joserfc caps payloads at 128 kB by default; a batch is bigger by design.
    registry.max_payload_length = max_payload
    return registry


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
        if not BATCH_ID.match(self.batch_id):
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
        return json.loads(jws.extract_compact(self.signed.encode()).payload)  # type: ignore[no-any-return]


def seal_batch(
    header: BatchHeader,
    records: Sequence[Any],
    *,
    signing_key: OKPKey,
    recipient_key: OKPKey,
    max_bytes: int,
) -> str:
    """Sign the batch as the sender, then encrypt it to the receiver."""
    document: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "sender": header.sender,
        "receiver": header.receiver,
        "dataset": header.dataset,
        "schema_version": header.schema_version,
        "batch_id": header.batch_id,
        "sequence": header.sequence,
        "created_at": _utc_iso(header.created_at),
        "record_count": len(records),
        "records_sha256": records_digest(records),
        "records": list(records),
    }
    payload = canonical.dumps(document)
    if len(payload) > max_bytes:
        raise ValueError(f"batch payload is {len(payload)} bytes, over the limit of {max_bytes}")
    signed = jws.serialize_compact(
        {"alg": SIG_ALG, "kid": signing_key.thumbprint(), "typ": BATCH_JWS_TYP},
        payload,
        signing_key,
        registry=_jws_registry(len(payload)),
    )
    return jwe.encrypt_compact(
        {
            "alg": ENC_ALG,
            "enc": ENC,
            "kid": recipient_key.thumbprint(),
            "cty": "JOSE",
            "typ": BATCH_JWE_TYP,
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


def open_batch(
    token: str | bytes,
    *,
    own_party: str,
    decryption_key: OKPKey,
    peer_keys: PeerKeys,
    max_bytes: int,
) -> OpenedBatch:
    """Decrypt, verify and parse an envelope addressed to ``own_party``.

    Raises :class:`EnvelopeRejected` whatever is wrong; its ``detail`` says what.
    """
    raw = token.encode("ascii", "replace") if isinstance(token, str) else token
    if len(raw) > envelope_limit(max_bytes):
        raise EnvelopeRejected(
            f"envelope is {len(raw)} bytes, over {envelope_limit(max_bytes)}", reason="size"
        )
    try:
        decrypted = jwe.decrypt_compact(raw, decryption_key, registry=_jwe_registry(len(raw)))
    except Exception as exc:  # any library error means the same thing to the peer
        raise EnvelopeRejected(
            f"cannot decrypt: {type(exc).__name__}: {exc}", reason="decrypt"
        ) from None
    protected = decrypted.protected
    if (
        protected.get("kid") != decryption_key.thumbprint()
        or protected.get("typ") != BATCH_JWE_TYP
        or protected.get("cty") != "JOSE"
    ):
        raise EnvelopeRejected(f"unexpected JWE header {protected!r}", reason="header")
    signed = decrypted.plaintext or b""
    registry = _jws_registry(len(signed))
    try:
        kid = jws.extract_compact(signed, registry=registry).headers().get("kid")
    except Exception as exc:
        raise EnvelopeRejected(
            f"inner JWS unreadable: {type(exc).__name__}: {exc}", reason="malformed"
        ) from None
    signer = peer_keys.signing_key(str(kid))
    if signer is None:
        raise EnvelopeRejected(f"signed with unknown key id {kid!r}", reason="unknown_key")
    try:
        verified = jws.deserialize_compact(signed, signer.key, registry=registry)
    except Exception as exc:
        raise EnvelopeRejected(
            f"signature does not verify: {type(exc).__name__}: {exc}", reason="signature"
        ) from None
    if verified.headers().get("typ") != BATCH_JWS_TYP:
        raise EnvelopeRejected("inner JWS typ is not gw-batch+jws", reason="header")
    try:
        document = json.loads(verified.payload, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
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
    records = _require(document, "records", list)
    count = _require(document, "record_count", int)
    digest = _require(document, "records_sha256", str)
    if count != len(records):
        raise EnvelopeRejected(
            f"record_count {count} but {len(records)} records", reason="count_mismatch"
        )
    try:
        actual = records_digest(records)
    except Exception as exc:  # RFC 8785 refuses numbers outside the I-JSON range
        raise EnvelopeRejected(
            f"records cannot be canonicalised: {exc}", reason="malformed"
        ) from None
    if actual != digest:
        raise EnvelopeRejected(
            f"records digest: expected {digest}, got {actual}", reason="digest_mismatch"
        )
    try:
        header = BatchHeader(
            sender=sender,
            receiver=receiver,
            dataset=_require(document, "dataset", str),
            schema_version=_require(document, "schema_version", str),
            batch_id=_require(document, "batch_id", str),
            created_at=dt.datetime.fromisoformat(_require(document, "created_at", str)),
            sequence=_require(document, "sequence", int),
        )
    except ValueError as exc:
        raise EnvelopeRejected(f"bad batch header: {exc}", reason="malformed") from None
    return OpenedBatch(
        header=header,
        records=records,
        record_count=count,
        records_sha256=digest,
        signer_kid=str(kid),
        signed=signed.decode("ascii"),
        document_bytes=len(verified.payload),
    )


def _no_constants(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


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


def sign_receipt(batch: OpenedBatch, *, received_at: dt.datetime, signing_key: OKPKey) -> str:
    """The receiver's signed statement that it stored this batch."""
    document: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "batch_id": batch.header.batch_id,
        "sender": batch.header.sender,
        "receiver": batch.header.receiver,
        "dataset": batch.header.dataset,
        "record_count": batch.record_count,
        "records_sha256": batch.records_sha256,
        "received_at": _utc_iso(received_at),
    }
    return jws.serialize_compact(
        {"alg": SIG_ALG, "kid": signing_key.thumbprint(), "typ": RECEIPT_TYP},
        canonical.dumps(document),
        signing_key,
        registry=_jws_registry(64 * 1024),
    )


def verify_receipt(
    token: str, *, peer_keys: PeerKeys, receiver: str, batch_id: str, records_sha256: str
) -> Receipt:
    """Check a receipt's signature by one of ``receiver``'s keys, and that it is for our batch.

    Raises :class:`VerificationFailed` saying what was expected and what was found.
    """
    registry = _jws_registry(64 * 1024)
    try:
        kid = jws.extract_compact(token.encode("ascii"), registry=registry).headers().get("kid")
    except Exception as exc:
        raise VerificationFailed(f"receipt is not a JWS: {type(exc).__name__}: {exc}") from None
    signer = peer_keys.signing_key(str(kid))
    if signer is None or signer.party != receiver:
        raise VerificationFailed(
            f"receipt signed by key {kid!r}, not a registered signing key of {receiver!r}"
        )
    try:
        verified = jws.deserialize_compact(token, signer.key, registry=registry)
        document = json.loads(verified.payload)
    except Exception as exc:
        raise VerificationFailed(f"receipt does not verify: {type(exc).__name__}: {exc}") from None
    if verified.headers().get("typ") != RECEIPT_TYP or not isinstance(document, dict):
        raise VerificationFailed("receipt has the wrong typ or shape")
    for name, expected in (
        ("batch_id", batch_id),
        ("records_sha256", records_sha256),
        ("receiver", receiver),
        ("v", ENVELOPE_VERSION),
    ):
        if document.get(name) != expected:
            raise VerificationFailed(
                f"receipt {name}: expected {expected!r}, got {document.get(name)!r}"
            )
    return Receipt(
        batch_id=batch_id,
        sender=str(document.get("sender")),
        receiver=str(document.get("receiver")),
        dataset=str(document.get("dataset")),
        record_count=int(document.get("record_count", -1)),
        records_sha256=records_sha256,
        received_at=str(document.get("received_at")),
        signer_kid=str(verified.headers().get("kid")),
        token=token,
    )
