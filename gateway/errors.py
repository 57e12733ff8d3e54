"""The gateway's exception tree.

Every error raised by the core derives from :class:`GatewayError`. Each class
carries a stable machine-readable ``code`` and the HTTP status the API layer
answers with, so errors are translated into JSON in exactly one place
(:mod:`gateway.http.error_responses`). The errors of the transparency log, the
witness and the tools are in the tree too, marked ``internal``: no request is
answered with one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.messages import field_message


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    code = "gateway_error"
    status = 500
    # True for the errors of the node's own machinery (proofs, signed notes, a witness's
    # reply, the auditor's and the development CA's tools), which no request is answered
    # with: one that escapes a request is answered as any unexpected exception is, with a
    # reference to the log and never its message (gateway.http.error_responses).
    internal = False

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.path is not None:
            body["path"] = self.path
        return body


class ConfigError(GatewayError):
    """Configuration is missing or invalid; names the file and the key."""

    code = "config_error"

    def __init__(self, file: str, key: str, problem: str) -> None:
        super().__init__(f"{file}: {key}: {problem}", path=key)
        self.file = file
        self.key = key
        self.problem = problem


class KeyMaterialError(GatewayError):
    """A key file is missing, unreadable or of the wrong type."""

    code = "key_error"


class BadRequest(GatewayError):
    code = "bad_request"
    status = 400


class InvalidJSON(BadRequest, ValueError):
    """JSON the gateway refuses to read (:mod:`gateway.crypto.strict_json`): malformed, not
    UTF-8, a duplicate member name, NaN or Infinity, or nested too deep."""

    code = "invalid_json"


class UnsupportedMediaType(GatewayError):
    code = "unsupported_media_type"
    status = 415


class PayloadTooLarge(GatewayError):
    code = "payload_too_large"
    status = 413


class InvalidIdempotencyKey(BadRequest):
    """An ``Idempotency-Key`` header that is not 1 to 255 printable ASCII characters."""

    code = "invalid_idempotency_key"


class IdempotencyKeyReused(GatewayError):
    """An ``Idempotency-Key`` the client used before, for another request.

    draft-ietf-httpapi-idempotency-key-header: the same key with a different
    payload is answered 422; the first request's result stands.
    """

    code = "idempotency_key_reused"
    status = 422


class Unauthorized(GatewayError):
    code = "unauthorized"
    status = 401


class Gone(GatewayError):
    """What was asked for existed, and was purged under the agreed retention period."""

    code = "purged"
    status = 410


class RateLimited(GatewayError):
    """A client made more requests than its rate limit allows (gateway.http.ratelimit)."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthThrottled(RateLimited):
    """A source address that failed to authenticate too often (gateway.node.refusals)."""

    code = "auth_throttled"


class RequestRejected(Unauthorized):
    """A signed node-to-node request failed a check (gateway.peers.signed_requests).

    Like :class:`EnvelopeRejected`: ``detail`` is for the operator's log only and
    ``reason`` a short stable word for the audit log; the caller is told nothing
    but the generic message. ``party`` is the requesting party once its signature
    has verified, else None.
    """

    def __init__(self, detail: str, *, reason: str, party: str | None = None) -> None:
        super().__init__("request signature rejected")
        self.detail = detail
        self.reason = reason
        self.party = party


class Forbidden(GatewayError):
    code = "forbidden"
    status = 403


class NotFound(GatewayError):
    code = "not_found"
    status = 404


class UnknownDataset(NotFound):
    code = "unknown_dataset"


class UnknownSchemaVersion(GatewayError):
    """A submission under a schema version the dataset does not have: its body is wrong (422)."""

    code = "unknown_schema_version"
    status = 422


class ReceiverNotChosen(GatewayError):
    """A submission that names no receiver, or one the dataset does not go to (422).

    A node may send a dataset to several partners (one flow per agreement): a
    submission then names its ``receiver``. ``receivers`` are those it may name.
    The message is in English or Bahasa Indonesia (gateway.messages).
    """

    code = "receiver_required"
    status = 422

    def __init__(self, dataset: str, receivers: Sequence[str], *, given: str | None = None) -> None:
        self.dataset = dataset
        self.receivers = tuple(receivers)
        self.given = given
        super().__init__(self._summary("en"), path="/receiver")

    def _summary(self, language: str) -> str:
        names = ", ".join(self.receivers) or "-"
        return f"{field_message(self.code, language)} {names} ({self.dataset})"

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        body = super().to_dict()
        body["message"] = self._summary(language)
        body["receivers"] = list(self.receivers)
        return body


class UnknownReceiver(ReceiverNotChosen):
    """A submission naming a receiver the dataset does not go to from this node (422)."""

    code = "unknown_receiver"


class SchemaVersionNotFound(NotFound):
    """A schema version asked for in a URL path that the dataset does not have (404)."""

    code = "unknown_schema_version"


@dataclass(frozen=True)
class FieldError:
    """One problem with one value: where (JSON Pointer), what (code), and why."""

    path: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class SchemaViolation(GatewayError):
    """One or more records break the agreed schema.

    ``errors`` may be the first of more (gateway.exchange.validation.MAX_ERRORS):
    ``total`` counts every error found and ``invalid_records`` every record
    with one; both default to what ``errors`` holds.
    """

    code = "validation_failed"
    status = 422

    def __init__(
        self,
        errors: Sequence[FieldError],
        *,
        record_count: int,
        total: int | None = None,
        invalid_records: int | None = None,
    ) -> None:
        self.bad = (
            len({e.path.split("/")[2] for e in errors if e.path.startswith("/records/")})
            if invalid_records is None
            else invalid_records
        )
        self.record_count = record_count
        self.errors = list(errors)
        self.total = len(self.errors) if total is None else total
        super().__init__(self._summary("en"))

    @property
    def truncated(self) -> bool:
        return self.total > len(self.errors)

    def _summary(self, language: str) -> str:
        if language == "id":
            text = (
                f"{self.bad} dari {self.record_count} rekaman tidak sesuai dengan skema yang "
                "disepakati; tidak ada yang disimpan"
            )
            if self.truncated:
                text += f" ({len(self.errors)} kesalahan pertama dari {self.total} dicantumkan)"
            return text
        text = (
            f"{self.bad} of {self.record_count} records do not match the agreed schema; "
            "nothing was stored"
        )
        if self.truncated:
            text += f" (the first {len(self.errors)} of {self.total} errors are listed)"
        return text

    def to_dict(self, language: str = "en") -> dict[str, Any]:
        """The error body, its messages in ``language`` (``en`` or ``id``)."""
        body = super().to_dict()
        body["message"] = self._summary(language)
        body["errors"] = [
            FieldError(e.path, e.code, field_message(e.code, language)).to_dict()
            for e in self.errors
        ]
        body["error_count"] = self.total
        body["truncated"] = self.truncated
        return body


class NotCanonicalisable(GatewayError):
    """A record that has no RFC 8785 canonical form (a number beyond the I-JSON range,
    text that is not Unicode). The agreed schemas refuse such values, so this is a
    second line of defence: the submission is refused, audited, and nothing is stored.
    The message names the record, never its values."""

    code = "not_canonicalisable"
    status = 422


class EnvelopeRejected(GatewayError):
    """An envelope failed decryption, verification or policy.

    ``detail`` is for the operator's log only: a peer is told nothing but the
    generic message, so it cannot probe which check failed. ``reason`` is a
    short stable word for the audit log (``decrypt``, ``signature``, ...).
    """

    code = "envelope_rejected"
    status = 400

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__("envelope rejected")
        self.detail = detail
        self.reason = reason


class ReceiptRejected(BadRequest):
    """A receipt handed back for a pulled batch did not verify; the batch stays sealed."""

    code = "receipt_rejected"


class VerificationFailed(GatewayError):
    """A signature, digest or receipt did not verify (internal callers see why)."""

    code = "verification_failed"


class PeerError(GatewayError):
    """The peer node could not be reached or answered with an error."""

    code = "peer_error"
    status = 502


class CalendarNotCovered(GatewayError):
    """A date outside the years of the working-day calendar (gateway.cases.calendar): no
    deadline is counted across a year whose holidays and cuti bersama are not known."""

    code = "calendar_not_covered"
    status = 422


class CalendarError(GatewayError):
    """A file of the working-day calendar that cannot be read: not TOML, a bad date, a
    missing field; the message names the file and the place."""

    code = "calendar_error"
