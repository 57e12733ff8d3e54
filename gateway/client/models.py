"""What the node answers, as typed values.

Each class is built from the node's JSON by ``from_json``, which raises
:class:`~gateway.client.errors.ProtocolError` when a member it needs is missing
or of the wrong type; members it does not know are ignored, so that a newer
node can add some.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.client.errors import InvalidIdentifier, ProtocolError

__all__ = [
    "Acknowledgement",
    "Batch",
    "BatchPage",
    "BatchSummary",
    "ClientInfo",
    "PullRight",
    "Submission",
    "SubmissionBatch",
    "SubmissionStatus",
    "SubmitRight",
    "check_id",
]

T = TypeVar("T")

# The node's ids (batches, submissions) are UUIDs in canonical lower-case form, as
# it mints them. Nothing else is taken: an id becomes a URL path segment and, of
# a batch, a file name, where "../x" or "x/.." would lead elsewhere. Upper case
# is refused too: the node never sends it, and one batch must not get two names.
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_id(value: Any, *, what: str = "batch id", origin: str = "") -> str:
    """``value`` if it is a lower-case UUID; :class:`InvalidIdentifier` if not.

    ``what`` and ``origin`` (`` from the node``) name it in the message, which
    shows the value escaped and shortened, on one line.
    """
    if not isinstance(value, str) or not _ID.fullmatch(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise InvalidIdentifier(
            f"{what} {shown}{origin} is not a lower-case UUID; refused", value=value
        )
    return value


def _get(data: Any, name: str, kind: type[T], *, optional: bool = False) -> T:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"expected a JSON object with {name!r}, got {type(data).__name__}")
    value = data.get(name)
    if value is None and optional:
        return value  # type: ignore[return-value]
    if kind is int and isinstance(value, bool):
        raise ProtocolError(f"member {name!r} is not an integer")
    if not isinstance(value, kind):
        raise ProtocolError(f"member {name!r} is missing or not of type {kind.__name__}")
    return value


def _str(data: Any, name: str) -> str:
    return _get(data, name, str)


def _opt_str(data: Any, name: str) -> str | None:
    return _get(data, name, str, optional=True)


def _int(data: Any, name: str) -> int:
    return _get(data, name, int)


@dataclass(frozen=True)
class Submission:
    """A submission the node accepted (202): every record is stored durably in its outbox.

    ``replayed``: the answer to an earlier request with the same idempotency key;
    nothing was stored by this one.
    """

    submission_id: str
    dataset: str
    schema_version: str
    record_count: int
    records_sha256: str
    received_at: str
    replayed: bool = False
    # The party the records go to (None from a node of an earlier release).
    receiver: str | None = None

    @classmethod
    def from_json(cls, data: Any, *, replayed: bool = False) -> Submission:
        return cls(
            submission_id=_str(data, "submission_id"),
            dataset=_str(data, "dataset"),
            schema_version=_str(data, "schema_version"),
            record_count=_int(data, "record_count"),
            records_sha256=_str(data, "records_sha256"),
            received_at=_str(data, "received_at"),
            replayed=replayed,
            receiver=_opt_str(data, "receiver"),
        )


@dataclass(frozen=True)
class SubmissionBatch:
    """A batch that holds records of a submission, and how many of them."""

    batch_id: str
    status: str  # sealed | delivered | dead | cancelled
    record_count: int
    receiver: str
    sequence: int
    created_at: str
    delivered_at: str | None
    purged_at: str | None

    @classmethod
    def from_json(cls, data: Any) -> SubmissionBatch:
        return cls(
            batch_id=_str(data, "batch_id"),
            status=_str(data, "status"),
            record_count=_int(data, "record_count"),
            receiver=_str(data, "receiver"),
            sequence=_int(data, "sequence"),
            created_at=_str(data, "created_at"),
            delivered_at=_opt_str(data, "delivered_at"),
            purged_at=_opt_str(data, "purged_at"),
        )


@dataclass(frozen=True)
class SubmissionStatus:
    """Where a submission's records are (``GET /api/v1/submissions/<id>``).

    ``state``: ``pending`` (none in a batch yet), ``in_progress``, ``delivered``
    (all in batches the receiver has taken) or ``failed`` (some in a batch given
    up on or cancelled). ``records``: how many records are pending, and in
    sealed, delivered, dead and cancelled batches.
    """

    submission_id: str
    dataset: str
    schema_version: str
    record_count: int
    records_sha256: str
    received_at: str
    state: str
    records: Mapping[str, int]
    batches: tuple[SubmissionBatch, ...]

    @classmethod
    def from_json(cls, data: Any) -> SubmissionStatus:
        records = _get(data, "records", dict)
        return cls(
            submission_id=_str(data, "submission_id"),
            dataset=_str(data, "dataset"),
            schema_version=_str(data, "schema_version"),
            record_count=_int(data, "record_count"),
            records_sha256=_str(data, "records_sha256"),
            received_at=_str(data, "received_at"),
            state=_str(data, "state"),
            records={str(k): int(v) for k, v in records.items()},
            batches=tuple(SubmissionBatch.from_json(b) for b in _get(data, "batches", list)),
        )


@dataclass(frozen=True)
class BatchSummary:
    """A batch received by the node, as listed (without its records)."""

    batch_id: str
    cursor: str
    dataset: str
    schema_version: str
    sender: str
    record_count: int
    records_sha256: str | None  # of a batch sent whole
    records_root: str | None  # of a chunked batch
    chunk_count: int
    received_at: str
    acknowledged_at: str | None
    purged_at: str | None

    @classmethod
    def from_json(cls, data: Any) -> BatchSummary:
        return cls(
            batch_id=check_id(_str(data, "batch_id"), origin=" from the node"),
            cursor=_str(data, "cursor"),
            dataset=_str(data, "dataset"),
            schema_version=_str(data, "schema_version"),
            sender=_str(data, "sender"),
            record_count=_int(data, "record_count"),
            records_sha256=_opt_str(data, "records_sha256"),
            records_root=_opt_str(data, "records_root"),
            chunk_count=_int(data, "chunk_count"),
            received_at=_str(data, "received_at"),
            acknowledged_at=_opt_str(data, "acknowledged_at"),
            purged_at=_opt_str(data, "purged_at"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "cursor": self.cursor,
            "dataset": self.dataset,
            "schema_version": self.schema_version,
            "sender": self.sender,
            "record_count": self.record_count,
            "records_sha256": self.records_sha256,
            "records_root": self.records_root,
            "chunk_count": self.chunk_count,
            "received_at": self.received_at,
            "acknowledged_at": self.acknowledged_at,
            "purged_at": self.purged_at,
        }


@dataclass(frozen=True)
class BatchPage:
    """One page of a dataset's received batches, and the cursor to ask for the next."""

    dataset: str
    batches: tuple[BatchSummary, ...]
    next_cursor: str | None

    @classmethod
    def from_json(cls, data: Any) -> BatchPage:
        return cls(
            dataset=_str(data, "dataset"),
            batches=tuple(BatchSummary.from_json(b) for b in _get(data, "batches", list)),
            next_cursor=_opt_str(data, "next_cursor"),
        )


@dataclass(frozen=True)
class Batch:
    """A received batch with all its records (of a chunked batch: every chunk's, in order).

    ``provenance``: the sender, its key id, the signed batch (or manifest) and the
    receiver's signed receipt, as the node gives them; ``chunks``: of a chunked
    batch, each chunk's index, record count, digest and signed chunk.
    """

    summary: BatchSummary
    records: list[Any]
    provenance: dict[str, Any]
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def batch_id(self) -> str:
        return self.summary.batch_id

    def metadata(self) -> dict[str, Any]:
        """Everything but the records, as JSON."""
        document = {**self.summary.to_json(), "provenance": self.provenance}
        if self.chunks:
            document["chunks"] = self.chunks
        return document


@dataclass(frozen=True)
class Acknowledgement:
    """A batch taken over by the client's system (``POST /api/v1/batches/<id>/ack``)."""

    batch_id: str
    acknowledged_at: str
    acknowledged_by: str

    @classmethod
    def from_json(cls, data: Any) -> Acknowledgement:
        return cls(
            batch_id=_str(data, "batch_id"),
            acknowledged_at=_str(data, "acknowledged_at"),
            acknowledged_by=_str(data, "acknowledged_by"),
        )


@dataclass(frozen=True)
class SubmitRight:
    """A dataset the client may submit: to whom it goes, which schema versions are agreed."""

    dataset: str
    # The one party it goes to; None where it goes to several: a submission then names
    # one of ``receivers``.
    receiver: str | None
    schema_versions: tuple[str, ...]
    receivers: tuple[str, ...] = ()

    @property
    def newest_version(self) -> str:
        """The highest agreed schema version (versions compare as numbers: 1.10 > 1.9)."""
        return max(self.schema_versions, key=_version_key)


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in version.split("."))


@dataclass(frozen=True)
class PullRight:
    """A dataset the client may pull, and which parties send it to this node."""

    dataset: str
    senders: tuple[str, ...]


@dataclass(frozen=True)
class ClientInfo:
    """The calling client as its node knows it (``GET /api/v1/client``)."""

    client_id: str
    party: str
    submit: tuple[SubmitRight, ...]
    pull: tuple[PullRight, ...]
    roles: tuple[str, ...]
    max_records_per_submission: int
    max_body_bytes: int

    @classmethod
    def from_json(cls, data: Any) -> ClientInfo:
        limits = _get(data, "limits", dict)
        return cls(
            client_id=_str(data, "client_id"),
            party=_str(data, "party"),
            submit=tuple(
                SubmitRight(
                    dataset=_str(s, "dataset"),
                    receiver=_opt_str(s, "receiver"),
                    schema_versions=tuple(str(v) for v in _get(s, "schema_versions", list)),
                    # A node of an earlier release names the one receiver only.
                    receivers=tuple(
                        str(r)
                        for r in _get(s, "receivers", list, optional=True)
                        or [_opt_str(s, "receiver")]
                        if r is not None
                    ),
                )
                for s in _get(data, "submit", list)
            ),
            pull=tuple(
                PullRight(
                    dataset=_str(p, "dataset"),
                    senders=tuple(str(v) for v in _get(p, "senders", list)),
                )
                for p in _get(data, "pull", list)
            ),
            roles=tuple(str(r) for r in _get(data, "roles", list)),
            max_records_per_submission=_int(limits, "max_records_per_submission"),
            max_body_bytes=_int(limits, "max_body_bytes"),
        )

    def submit_right(self, dataset: str) -> SubmitRight | None:
        return next((s for s in self.submit if s.dataset == dataset), None)
