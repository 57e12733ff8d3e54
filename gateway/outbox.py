"""Accepting records from the node's own systems into the durable outbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from gateway import audit, canonical
from gateway.config import ClientConfig, DatasetAgreement
from gateway.envelope import records_budget
from gateway.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    UnknownDataset,
    UnknownSchemaVersion,
)
from gateway.ids import uuid7
from gateway.node import Node, iso
from gateway.storage import FastInsert, outbox_records, submissions
from gateway.validation import validator_for

__all__ = ["may_submit", "record_rejection", "submit"]

_BODY_KEYS = {"schema_version", "records"}
_INSERT_SUBMISSION = FastInsert(
    submissions,
    [
        "id",
        "client_id",
        "dataset",
        "schema_version",
        "record_count",
        "records_sha256",
        "received_at",
    ],
)
_INSERT_RECORD = FastInsert(
    outbox_records,
    ["submission_id", "dataset", "schema_version", "record", "record_sha256", "created_at"],
)


def may_submit(node: Node, client: ClientConfig, dataset: str) -> DatasetAgreement:
    """The flow ``client`` submits ``dataset`` into; refused before any body is read."""
    agreement = node.config.agreement
    if dataset not in agreement.dataset_names:
        raise UnknownDataset(f"dataset {dataset!r} is not in the agreement", path="dataset")
    agreed = agreement.flow(dataset, sender=node.party_id)
    if agreed is None or dataset not in client.submit:
        raise Forbidden(f"client {client.id!r} may not submit {dataset!r}")
    return agreed


def submit(node: Node, client: ClientConfig, dataset: str, body: Any) -> dict[str, Any]:
    """Validate every record and store all of them, or none; returns the submission."""
    agreed = may_submit(node, client, dataset)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", path="")
    extra = sorted(set(body) - _BODY_KEYS)
    if extra:
        raise BadRequest(
            f"unknown member {extra[0]!r}; expected schema_version and records", path=f"/{extra[0]}"
        )
    version = body.get("schema_version")
    if not isinstance(version, str):
        raise BadRequest("schema_version must be a string", path="/schema_version")
    records = body.get("records")
    if not isinstance(records, list) or not records:
        raise BadRequest("records must be a non-empty array", path="/records")
    limit = node.config.max_records_per_submission
    if len(records) > limit:
        raise PayloadTooLarge(
            f"{len(records)} records, over the limit of {limit} per submission", path="/records"
        )
    validator = validator_for(dataset, version)
    if version not in agreed.schema_versions:
        # Registered, but not (or no longer) accepted under the agreement.
        raise UnknownSchemaVersion(
            f"schema version {version!r} of {dataset!r} is not accepted under the agreement "
            f"(accepted: {list(agreed.schema_versions)})",
            path="/schema_version",
        )
    validator.check(records)

    forms = [canonical.dumps(r) for r in records]
    # A record that cannot fit in any batch would block its dataset's queue.
    budget = records_budget(agreed.max_chunk_bytes)
    for i, c in enumerate(forms):
        if len(c) + 1 > budget:
            raise PayloadTooLarge(
                f"record is {len(c)} bytes; a batch of {dataset} carries at most {budget}",
                path=f"/records/{i}",
            )
    digests = [hashlib.sha256(c).hexdigest() for c in forms]
    submission_id = uuid7()
    now = node.now()
    stamp = iso(now)
    seal = node.store.seal  # the records are encrypted at rest (gateway.atrest)
    # The canonical form of an array is its elements' canonical forms, comma-separated.
    total = hashlib.sha256(b"[" + b",".join(forms) + b"]").hexdigest()

    event = audit.prepare(
        event="submission_accepted",
        actor=client.id,
        at=now,
        dataset=dataset,
        schema_version=version,
        submission_id=submission_id,
        record_count=len(records),
        records_sha256=total,
    )
    write = _Write(
        submission={
            "id": submission_id,
            "client_id": client.id,
            "dataset": dataset,
            "schema_version": version,
            "record_count": len(records),
            "records_sha256": total,
            "received_at": stamp,
        },
        records=[
            {
                "submission_id": submission_id,
                "dataset": dataset,
                "schema_version": version,
                "record": seal(c.decode("utf-8")),
                "record_sha256": d,
                "created_at": stamp,
            }
            for c, d in zip(forms, digests, strict=True)
        ],
        event=event,
    )
    # Durable before the answer: run() returns only after the commit that holds it.
    node.store.group("submissions", _store_writes).run(write)
    return {
        "submission_id": submission_id,
        "dataset": dataset,
        "schema_version": version,
        "record_count": len(records),
        "records_sha256": total,
        "received_at": stamp,
    }


@dataclass(frozen=True)
class _Write:
    """One submission's rows, prepared before the write transaction."""

    submission: dict[str, Any]
    records: list[dict[str, Any]]
    event: audit.PreparedEvent


def _store_writes(conn: Connection, writes: list[_Write]) -> list[None]:
    """Store a group of submissions with one statement per table."""
    _INSERT_SUBMISSION.execute(conn, [w.submission for w in writes])
    _INSERT_RECORD.execute(conn, [r for w in writes for r in w.records])
    audit.append_prepared(conn, [w.event for w in writes])
    return [None] * len(writes)


def record_rejection(
    node: Node, *, client_id: str | None, dataset: str | None, reason: str
) -> None:
    """Audit a refused submission (identifiers and the error code only)."""
    known = dataset if dataset in node.config.agreement.dataset_names else None
    with node.store.write() as conn:
        audit.append(
            conn,
            event="submission_rejected",
            actor=client_id or "anonymous",
            at=node.now(),
            dataset=known,
            reason=reason,
        )
