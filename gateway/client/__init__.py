"""A client of a gateway node for the institution's own systems.

:class:`GatewayClient` submits records (with idempotency keys, so a repeated
call stores nothing twice), follows submissions, pulls received batches
(assembling chunked ones) and acknowledges them; every call is retried, a
bounded number of times, when the node cannot be reached or answers 429 or 503.
The node's error answers become :class:`APIError` subclasses with its code,
message and path. ``gateway-client`` (:mod:`gateway.client.cli`) is the command
built on it.

This package needs only ``requests`` (and ``rfc8785`` to check digests); it
may import nothing of the node itself, not even gateway.errors (import-linter's
client-standalone contract), so that it can be used without the node's
dependencies. See docs/CLIENT.md.
"""

from __future__ import annotations

from gateway.client.api import (
    GatewayClient,
    RetryPolicy,
    new_idempotency_key,
    records_sha256,
)
from gateway.client.errors import (
    APIError,
    AuthenticationFailed,
    ConnectionFailed,
    FieldError,
    GatewayClientError,
    Gone,
    IdempotencyKeyReused,
    InvalidIdentifier,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProtocolError,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from gateway.client.models import (
    Acknowledgement,
    Batch,
    BatchPage,
    BatchSummary,
    ClientInfo,
    PullRight,
    Submission,
    SubmissionBatch,
    SubmissionStatus,
    SubmitRight,
)

__all__ = [
    "APIError",
    "Acknowledgement",
    "AuthenticationFailed",
    "Batch",
    "BatchPage",
    "BatchSummary",
    "ClientInfo",
    "ConnectionFailed",
    "FieldError",
    "GatewayClient",
    "GatewayClientError",
    "Gone",
    "IdempotencyKeyReused",
    "InvalidIdentifier",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProtocolError",
    "PullRight",
    "RateLimited",
    "RetryPolicy",
    "ServerError",
    "Submission",
    "SubmissionBatch",
    "SubmissionStatus",
    "SubmitRight",
    "ValidationFailed",
    "new_idempotency_key",
    "records_sha256",
]
