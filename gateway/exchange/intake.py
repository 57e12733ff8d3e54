"""Accepting records from the node's own systems into the durable outbox.

A submission may carry the client's idempotency key
(draft-ietf-httpapi-idempotency-key-header): the same key with the same request
body is answered with the first submission's result and stores nothing; with
another body it is refused (:class:`~gateway.errors.IdempotencyKeyReused`). The
key is unique per client in the database, so two requests with one key that
race on different workers or replicas store one submission.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from gateway.cases.facts import LEDGER_DATASETS, fact_of, json_text
from gateway.crypto import canonical, strict_json
from gateway.crypto.envelope import forms_digest, records_budget
from gateway.errors import (
    BadRequest,
    Forbidden,
    IdempotencyKeyReused,
    NotCanonicalisable,
    NotFound,
    PayloadTooLarge,
    ReceiverNotChosen,
    UnknownDataset,
    UnknownReceiver,
    UnknownSchemaVersion,
)
from gateway.exchange.validation import validator_for
from gateway.ids import uuid7
from gateway.node.config import ClientConfig, DatasetAgreement
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.database import FastInsert, new_keys
from gateway.store.tables import outbound_batches, outbox_record_bodies, outbox_records, submissions
from gateway.timestamps import iso

__all__ = [
    "Idempotency",
    "may_submit",
    "receiving_flow",
    "record_rejection",
    "replay",
    "status",
    "submit",
    "submit_once",
]

_BODY_KEYS = {"schema_version", "records", "receiver"}
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
        "idempotency_key",
        "request_sha256",
        "receiver",
    ],
)
_INSERT_RECORD = FastInsert(
    outbox_records,
    [
        "seq",
        "submission_id",
        "dataset",
        "schema_version",
        "record_sha256",
        "created_at",
        "case_facts",
        "receiver",
    ],
)
_INSERT_BODY = FastInsert(outbox_record_bodies, ["seq", "record"])


def may_submit(node: Node, client: ClientConfig, dataset: str) -> tuple[str, ...]:
    """Whom ``client`` may submit ``dataset`` for (one or more parties); refused before
    any body is read."""
    agreement = node.config.agreement
    if dataset not in agreement.dataset_names:
        raise UnknownDataset(f"dataset {dataset!r} is not in the agreement", path="dataset")
    receivers = agreement.receivers(dataset, sender=node.party_id)
    if not receivers or dataset not in client.submit:
        raise Forbidden(f"client {client.id!r} may not submit {dataset!r}")
    return receivers


def receiving_flow(node: Node, dataset: str, receiver: Any) -> DatasetAgreement:
    """The flow a submission of ``dataset`` naming ``receiver`` (None: not named) goes into.

    Unnamed, it is the dataset's one flow from this node; where the node sends the
    dataset to several parties the submission must name one (:class:`ReceiverNotChosen`,
    ``receiver_required``), and one it does not go to is refused (:class:`UnknownReceiver`).
    """
    agreement = node.config.agreement
    receivers = agreement.receivers(dataset, sender=node.party_id)
    if receiver is None:
        agreed = agreement.flow(dataset, sender=node.party_id)
        if agreed is None:
            raise ReceiverNotChosen(dataset, receivers)
        return agreed
    if not isinstance(receiver, str):
        raise BadRequest("receiver must be a string: a party's id", path="/receiver")
    agreed = agreement.flow(dataset, sender=node.party_id, receiver=receiver)
    if agreed is None:
        raise UnknownReceiver(dataset, receivers, given=receiver)
    return agreed


@dataclass(frozen=True)
class Idempotency:
    """A client's idempotency key, and the SHA-256 (hex) of the request body it came with."""

    key: str
    request_sha256: str


def replay(
    node: Node, client: ClientConfig, dataset: str, idempotency: Idempotency
) -> dict[str, Any] | None:
    """The submission ``client`` made before with this key, or None if there is none.

    Raises :class:`IdempotencyKeyReused` if that submission came with another body
    (or to another dataset). The key itself appears in no message: it is the
    client's text, and may say anything.
    """
    s = submissions.c
    with node.store.read() as conn:
        row = (
            conn.execute(
                select(submissions).where(
                    s.client_id == client.id, s.idempotency_key == idempotency.key
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    if row["dataset"] != dataset or row["request_sha256"] != idempotency.request_sha256:
        # A body naming another receiver is another body: refused likewise.
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used before with another request; the submission "
            "made then stands, nothing was stored now: send a new request with a new key",
            path="Idempotency-Key",
        )
    return _result(row)


def _result(row: Any) -> dict[str, Any]:
    return {
        "submission_id": row["id"],
        "dataset": row["dataset"],
        # NULL for a submission from before revision 0015 (its dataset's one receiver).
        "receiver": row["receiver"],
        "schema_version": row["schema_version"],
        "record_count": row["record_count"],
        "records_sha256": row["records_sha256"],
        "received_at": row["received_at"],
    }


def submit(
    node: Node,
    client: ClientConfig,
    dataset: str,
    body: Any,
    *,
    idempotency: Idempotency | None = None,
) -> dict[str, Any]:
    """Validate every record and store all of them, or none; returns the submission."""
    return submit_once(node, client, dataset, body, idempotency=idempotency)[0]


def submit_once(
    node: Node,
    client: ClientConfig,
    dataset: str,
    body: Any,
    *,
    idempotency: Idempotency | None = None,
) -> tuple[dict[str, Any], bool]:
    """:func:`submit`, and whether the result is that of an earlier request with the same key.

    The caller has looked for an earlier submission with the key (:func:`replay`)
    already; this finds one only if it was stored meanwhile, by a concurrent request.
    """
    may_submit(node, client, dataset)
    _check_shape(body)
    agreed = receiving_flow(node, dataset, body.get("receiver"))
    version, records = _valid_records(node, agreed, dataset, body)
    # A body that strict_json marked plain holds nothing canonical.dumps has to look for.
    forms = _canonical_forms(records, plain=isinstance(body, strict_json.PlainObject))
    _check_fit(agreed, dataset, forms)
    facts = case_facts(dataset, records)
    write = _prepare(node, client, agreed, version, forms, idempotency, facts)
    try:
        # Durable before the answer: run() returns only after the commit that holds it.
        node.store.group("submissions", _store_writes).run(write)
    except (IntegrityError, sqlite3.IntegrityError):
        # On SQLite the rows go in through the driver's cursor (FastInsert).
        earlier = None if idempotency is None else replay(node, client, dataset, idempotency)
        if earlier is None:
            raise
        return earlier, True
    return _result(write.submission), False


def _check_shape(body: Any) -> None:
    """Refuse a body that is not an object of the known members."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", path="")
    extra = sorted(set(body) - _BODY_KEYS)
    if extra:
        raise BadRequest(
            f"unknown member {extra[0]!r}; expected schema_version, records and (optionally) "
            "receiver",
            path=f"/{extra[0]}",
        )


def _valid_records(
    node: Node, agreed: DatasetAgreement, dataset: str, body: dict[str, Any]
) -> tuple[str, list[Any]]:
    """The schema version and the records of a submission's body, every record valid.

    Refuses more records than the node takes in one submission, a version the
    agreement does not accept, and any invalid record.
    """
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
    validator.check(records, personal=agreed.personal_data)
    return version, records


def _check_fit(agreed: DatasetAgreement, dataset: str, forms: list[bytes]) -> None:
    """Refuse a record whose canonical form fits in no batch of the flow."""
    # A record that cannot fit in any batch would block its dataset's queue.
    budget = records_budget(agreed.max_chunk_bytes)
    if max(map(len, forms), default=0) + 1 <= budget:
        return  # all fit: nothing to look for one by one
    for i, c in enumerate(forms):
        if len(c) + 1 > budget:
            raise PayloadTooLarge(
                f"record is {len(c)} bytes; a batch of {dataset} carries at most {budget}",
                path=f"/records/{i}",
            )


def _prepare(
    node: Node,
    client: ClientConfig,
    agreed: DatasetAgreement,
    version: str,
    forms: list[bytes],
    idempotency: Idempotency | None,
    facts: list[str | None],
) -> _Write:
    """The rows and the audit entry of a submission of these canonical record forms."""
    dataset = agreed.name
    digests = [hashlib.sha256(c).hexdigest() for c in forms]
    submission_id = uuid7()
    now = node.now()
    stamp = iso(now)
    seal = node.store.seal  # the records are encrypted at rest (gateway.crypto.atrest)
    total = forms_digest(forms)  # the records' digest, as a batch's is taken

    event = audit_entries.prepare(
        event="submission_accepted",
        actor=client.id,
        at=now,
        dataset=dataset,
        schema_version=version,
        submission_id=submission_id,
        peer=agreed.receiver,
        record_count=len(forms),
        records_sha256=total,
    )
    return _Write(
        submission={
            "id": submission_id,
            "client_id": client.id,
            "dataset": dataset,
            "schema_version": version,
            "record_count": len(forms),
            "records_sha256": total,
            "received_at": stamp,
            "idempotency_key": None if idempotency is None else idempotency.key,
            "request_sha256": None if idempotency is None else idempotency.request_sha256,
            "receiver": agreed.receiver,
        },
        records=[
            {
                "submission_id": submission_id,
                "dataset": dataset,
                "schema_version": version,
                "record_sha256": d,
                "created_at": stamp,
                "case_facts": f,
                "receiver": agreed.receiver,
            }
            for d, f in zip(digests, facts, strict=True)
        ],
        bodies=[seal(c.decode("utf-8")) for c in forms],
        event=event,
    )


def case_facts(dataset: str, records: list[Any]) -> list[str | None]:
    """What the case ledger will keep of each record once its batch is delivered (JSON).

    ``{}`` for a record of a ledger dataset that gives no fact; null for another
    dataset (and for a record stored before the ledger, whose fact is taken when its
    batch is delivered).
    """
    if dataset not in LEDGER_DATASETS:
        return [None] * len(records)
    return [json_text(fact_of(dataset, r) or {}) for r in records]


def _canonical_forms(records: list[Any], *, plain: bool = False) -> list[bytes]:
    """The records' RFC 8785 forms; a record that has none is refused (NotCanonicalisable).

    ``plain``: the records hold no float, no integer beyond 2**53 - 1 and no
    character above U+FFFF (:class:`gateway.crypto.strict_json.PlainObject`).

    The agreed schemas refuse every value RFC 8785 cannot write (a number beyond
    2**53 - 1, a lone surrogate), so this is defence in depth: should a schema let
    one through, the client gets a clear 422 and the refusal is audited, not a 500.
    """
    dumps = canonical.dumps_plain if plain else canonical.dumps
    forms = []
    for i, record in enumerate(records):
        try:
            forms.append(dumps(record))
        except (ValueError, TypeError, RecursionError):  # rfc8785's errors are ValueErrors
            raise NotCanonicalisable(
                "the record has no canonical JSON form (RFC 8785): a number beyond "
                "2**53 - 1 or text that is not Unicode; nothing was stored",
                path=f"/records/{i}",
            ) from None
    return forms


@dataclass(frozen=True)
class _Write:
    """One submission's rows, prepared before the write transaction."""

    submission: dict[str, Any]
    records: list[dict[str, Any]]  # without their seq, given in the transaction
    bodies: list[str]  # each record's content, sealed, in the same order
    event: audit_entries.PreparedEvent


def _store_writes(conn: Connection, writes: list[_Write]) -> list[None]:
    """Store a group of submissions with one statement per table."""
    _INSERT_SUBMISSION.execute(conn, [w.submission for w in writes])
    records = [r for w in writes for r in w.records]
    seqs = new_keys(conn, outbox_records, len(records))
    for record, seq in zip(records, seqs, strict=True):
        record["seq"] = seq  # drawn again if the group is stored again
    _INSERT_RECORD.execute(conn, records)
    _INSERT_BODY.execute(
        conn,
        [
            {"seq": seq, "record": body}
            for seq, body in zip(seqs, (b for w in writes for b in w.bodies), strict=True)
        ],
    )
    audit_entries.append_prepared(conn, [w.event for w in writes])
    return [None] * len(writes)


def record_rejection(
    node: Node, *, client_id: str | None, dataset: str | None, reason: str
) -> None:
    """Audit a refused submission (identifiers and the error code only)."""
    known = dataset if dataset in node.config.agreement.dataset_names else None
    with node.store.write() as conn:
        audit_entries.append(
            conn,
            event="submission_rejected",
            actor=client_id or "anonymous",
            at=node.now(),
            dataset=known,
            reason=reason,
        )


_SUBMISSION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The states of a submission's records: not yet in a batch, or their batch's status.
RECORD_STATES = ("pending", "sealed", "delivered", "dead", "cancelled")


def status(node: Node, client: ClientConfig, submission_id: str) -> dict[str, Any]:
    """Where the records of one of ``client``'s submissions are: pending, or in which batches.

    A submission of another client is reported as absent, as an unknown one.
    ``state`` sums it up: ``pending`` (no record is in a batch yet), ``delivered``
    (every record is in a batch the receiver has taken), ``failed`` (some are in a
    batch given up on or cancelled: see ``gateway transfer status``), else
    ``in_progress``.
    """
    absent = NotFound(f"no submission {submission_id!r} for this client", path="submission_id")
    if not _SUBMISSION_ID.fullmatch(submission_id):
        raise absent
    o, b = outbox_records.c, outbound_batches.c
    with node.store.read() as conn:
        row = conn.execute(select(submissions).where(submissions.c.id == submission_id))
        found = row.mappings().first()
        if found is None or found["client_id"] != client.id:
            raise absent
        counts: dict[str | None, int] = dict(
            conn.execute(
                select(o.batch_id, func.count())
                .where(o.submission_id == submission_id)
                .group_by(o.batch_id)
            ).all()
        )
        in_batches = [k for k in counts if k is not None]
        batches = (
            conn.execute(
                select(
                    b.batch_id,
                    b.status,
                    b.receiver,
                    b.sequence,
                    b.created_at,
                    b.delivered_at,
                    b.purged_at,
                ).where(b.batch_id.in_(in_batches))
            )
            .mappings()
            .all()
            if in_batches
            else []
        )
    records = dict.fromkeys(RECORD_STATES, 0)
    records["pending"] = int(counts.get(None, 0))
    listed = []
    for batch in sorted(batches, key=lambda r: (r["sequence"], r["created_at"])):
        count = int(counts[batch["batch_id"]])
        records[batch["status"]] = records.get(batch["status"], 0) + count
        listed.append({**batch, "record_count": count})
    total = found["record_count"]
    if records["pending"] == total:
        state = "pending"
    elif records["delivered"] == total:
        state = "delivered"
    elif records["dead"] or records["cancelled"]:
        state = "failed"
    else:
        state = "in_progress"
    return {**_result(found), "state": state, "records": records, "batches": listed}
