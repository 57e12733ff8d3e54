"""The exceptions of the gateway client.

Every error the client raises on purpose derives from :class:`GatewayClientError`.
An answer of the node with an error status becomes an :class:`APIError` (a subclass
chosen by the error's stable code, else by the HTTP status) that carries what the
node said: ``status``, ``code``, ``message``, ``path`` and, for a refused
submission, every field error with its JSON Pointer path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationFailed",
    "ConnectionFailed",
    "FieldError",
    "GatewayClientError",
    "Gone",
    "IdempotencyKeyReused",
    "InvalidIdentifier",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "ValidationFailed",
    "error_from_answer",
]

_RECORD_PATH = re.compile(r"^/records/(\d+)(/.*)?$")


class GatewayClientError(Exception):
    """Root of every error the gateway client raises on purpose."""


class ConnectionFailed(GatewayClientError):
    """The node could not be reached, or did not answer in time, after every retry."""


class ProtocolError(GatewayClientError):
    """The node answered something this client cannot use (not JSON, a wrong digest...)."""


class InvalidIdentifier(ProtocolError, ValueError):
    """An id or name that cannot be used safely in a URL path or a file name.

    The node's ids (batches, submissions) must be lower-case UUIDs, and a name
    put in a URL path (a dataset) must not be ``.`` or ``..``. Raised before
    anything is sent or written, for an id the node answered (a batch id
    ``../../x`` in a listing, say) as for one a caller passes in; a
    :class:`ProtocolError` and a :class:`ValueError` both. ``value``: as it came.
    """

    def __init__(self, message: str, *, value: object) -> None:
        super().__init__(message)
        self.value = value


@dataclass(frozen=True)
class FieldError:
    """One problem the node found with one value: where (JSON Pointer), what, why."""

    path: str
    code: str
    message: str

    @property
    def record_index(self) -> int | None:
        """The index in the submitted ``records`` array the path points into, if any."""
        found = _RECORD_PATH.match(self.path)
        return int(found.group(1)) if found else None

    @property
    def field_path(self) -> str:
        """The path within that record (``/pelapor/nik``; empty for the record itself)."""
        found = _RECORD_PATH.match(self.path)
        return (found.group(2) or "") if found else self.path


class APIError(GatewayClientError):
    """The node answered with an error: its HTTP status, stable code, message and path."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        path: str | None = None,
        errors: tuple[FieldError, ...] = (),
        error_count: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        # The node lists the first field errors only (docs/API.md) and counts them all.
        self.errors = errors
        self.error_count = len(errors) if error_count is None else max(error_count, len(errors))
        self.request_id = request_id
        self.retry_after = retry_after

    @property
    def truncated(self) -> bool:
        """Whether the node found more field errors than it listed in :attr:`errors`."""
        return self.error_count > len(self.errors)

    def __str__(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        return f"HTTP {self.status} {self.code}: {self.message}{where}"


class AuthenticationFailed(APIError):
    """401: no valid bearer token."""


class PermissionDenied(APIError):
    """403: this client may not do that (e.g. submit a dataset its node does not send)."""


class NotFound(APIError):
    """404: no such dataset, batch or submission for this client."""


class Gone(APIError):
    """410: a batch's records were purged under the agreed retention period."""


class PayloadTooLarge(APIError):
    """413: too many records, too large a record, or too large a request body."""


class ValidationFailed(APIError):
    """422 ``validation_failed``: records break the agreed schema; nothing was stored."""


class IdempotencyKeyReused(APIError):
    """422 ``idempotency_key_reused``: the key was used before with another request body."""


class RateLimited(APIError):
    """429: over the client's rate limit, still after the retries."""


class ServerError(APIError):
    """5xx: the node failed, or was unavailable after the retries."""


_BY_CODE: dict[str, type[APIError]] = {
    "validation_failed": ValidationFailed,
    "idempotency_key_reused": IdempotencyKeyReused,
}
_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    410: Gone,
    413: PayloadTooLarge,
    429: RateLimited,
}


def error_from_answer(
    status: int,
    body: Any,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    reason: str = "",
) -> APIError:
    """The :class:`APIError` for an error answer; ``body`` is its parsed JSON, if any.

    The node's errors are ``{"error": {"code", "message", "path"?, "errors"?}}``; an
    answer in another shape (from a proxy in front of the node, say) keeps its
    status, with the code ``http_<status>``.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    code = code if isinstance(code, str) else f"http_{status}"
    message = error.get("message")
    message = message if isinstance(message, str) else (reason or f"HTTP {status}")
    path = error.get("path")
    fields = tuple(
        FieldError(str(e.get("path", "")), str(e.get("code", "")), str(e.get("message", "")))
        for e in error.get("errors", ())
        if isinstance(e, dict)
    )
    count = error.get("error_count")
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status)
    if kind is None:
        kind = ServerError if status >= 500 else APIError
    return kind(
        status,
        code,
        message,
        path=path if isinstance(path, str) else None,
        errors=fields,
        # An int, not a bool (JSON true is an int in Python), and not below what is listed.
        error_count=count if type(count) is int and count >= 0 else None,
        request_id=request_id,
        retry_after=retry_after,
    )
