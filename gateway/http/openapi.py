"""The HTTP API's contract: an OpenAPI 3.1 document, built by apispec from marshmallow schemas.

Every operation that a node serves is declared once, in :data:`OPERATIONS`, next
to the marshmallow schemas of its bodies below; :func:`document` turns them
into the document that ``GET /openapi.json`` serves, ``GET /docs/api`` renders
and ``gateway openapi`` prints. The records of a submission are the agreed
dataset schemas of :mod:`schemas.registry`, converted as ``gateway schemas
export`` converts them (:func:`schemas.export.schema_body`).

The document describes what a node does, not one node's configuration: the
datasets are every registered one, of which a node's agreement may use some,
and the limits that its config sets (body size, records per submission) are
named in words. The tests hold it to the app (docs/API.md): every route is
documented with its methods, every documented operation is a route, and a fuzzer
that reads the document gets no answer from a node that the document does not list.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import EXCLUDE, Schema, fields, validate

from gateway.cases.reports import CASE_STATUSES
from gateway.cases.reports import MAX_LIMIT as MAX_CASE_PAGE
from gateway.crypto.envelope import BATCH_ID
from gateway.exchange import pull
from gateway.exchange.sending import JOSE_MEDIA_TYPE
from gateway.exchange.validation import MAX_ERRORS
from gateway.peers import signed_requests, witness
from schemas import registry
from schemas.export import schema_body

__all__ = [
    "BEARER",
    "OPENAPI_VERSION",
    "OPERATIONS",
    "SIGNATURE",
    "Operation",
    "document",
    "openapi_path",
]

OPENAPI_VERSION = "3.1.0"
TITLE = "Bekasi-Ombudsman data-exchange gateway"
API_VERSION = "1"

JSON = "application/json"
TEXT = "text/plain"
BEARER = "bearerAuth"
SIGNATURE = "gatewaySignature"

# -- bodies ------------------------------------------------------------------------------------


class _Body(Schema):
    """An answer or request body; members not named here may be added in a later release."""

    class Meta:
        unknown = EXCLUDE  # no additionalProperties: clients ignore members they do not know


def _id(description: str, **kwargs: Any) -> fields.String:
    return fields.String(
        required=True,
        metadata={"description": description, "format": "uuid"},
        validate=validate.Regexp(BATCH_ID.pattern),
        **kwargs,
    )


def _str(description: str, *, required: bool = True, **kwargs: Any) -> fields.String:
    return fields.String(required=required, metadata={"description": description}, **kwargs)


def _int(description: str, *, required: bool = True, **kwargs: Any) -> fields.Integer:
    return fields.Integer(
        required=required, metadata={"description": description}, strict=True, **kwargs
    )


def _moment(description: str, *, allow_none: bool = False) -> fields.String:
    return fields.String(
        required=True,
        allow_none=allow_none,
        metadata={"description": description, "format": "date-time"},
    )


def _sha256(description: str, *, allow_none: bool = False) -> fields.String:
    return fields.String(
        required=True,
        allow_none=allow_none,
        validate=validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": description},
    )


class FieldErrorSchema(_Body):
    path = _str("JSON Pointer to the value, e.g. /records/3/pelapor/nik")
    code = _str("stable error code")
    message = _str("why, in Bahasa Indonesia or English (Accept-Language)")


class ErrorDetailSchema(_Body):
    code = _str("stable, machine-readable error code, e.g. validation_failed")
    message = _str("what went wrong, for people")
    path = _str("where: a JSON Pointer into the body, or a parameter's name", required=False)
    receivers = fields.List(
        fields.String(),
        metadata={
            "description": "receiver_required, unknown_receiver: the parties a submission of "
            "the dataset may name as its receiver"
        },
    )
    errors = fields.List(
        fields.Nested(FieldErrorSchema),
        validate=validate.Length(max=MAX_ERRORS),
        metadata={
            "description": f"the problems of a refused submission (validation_failed), in "
            f"record order: every one, or the first {MAX_ERRORS} (see truncated)"
        },
    )
    error_count = _int(
        "validation_failed: how many problems were found in all (exact: every record is "
        "validated), of which errors lists the first",
        required=False,
        validate=validate.Range(min=1),
    )
    truncated = fields.Boolean(
        metadata={
            "description": f"validation_failed: true when there were more than {MAX_ERRORS} "
            "problems and errors lists only the first"
        }
    )


class ErrorSchema(_Body):
    error = fields.Nested(ErrorDetailSchema, required=True)


class SubmissionResultSchema(_Body):
    submission_id = _id("the submission's id (UUID version 7)")
    dataset = _str("the dataset")
    receiver = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "the party the records go to (null for a submission stored "
            "before receivers were named, to its dataset's one receiver)"
        },
    )
    schema_version = _str("the schema version the records were validated against")
    record_count = _int("records stored")
    records_sha256 = _sha256("SHA-256 of the JSON array of the records' canonical forms")
    received_at = _moment("when the records were stored")


class SubmissionBatchSchema(_Body):
    batch_id = _id("a batch that holds records of the submission")
    status = fields.String(
        required=True, validate=validate.OneOf(["sealed", "delivered", "dead", "cancelled"]))
    receiver = _str("the receiving party")
    sequence = _int("the batch's number on its channel")
    created_at = _moment("when it was sealed")
    delivered_at = fields.String(allow_none=True, metadata={"description": "when its receipt "
                                 "verified", "format": "date-time"})
    purged_at = fields.String(allow_none=True, metadata={"description": "when its records "
                              "were purged under the flow's retention", "format": "date-time"})
    record_count = _int("records of the submission in the batch")


class SubmissionStatusSchema(SubmissionResultSchema):
    state = fields.String(
        required=True,
        validate=validate.OneOf(["pending", "in_progress", "delivered", "failed"]),
        metadata={"description": "pending: none sealed yet; delivered: every record's batch "
                                 "has a verified receipt; failed: a batch is dead or cancelled"})
    records = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "records by state: pending, sealed, "
                                                   "delivered, dead, cancelled"})
    batches = fields.List(fields.Nested(SubmissionBatchSchema), required=True)


class ClientSubmitSchema(_Body):
    dataset = _str("a dataset the client may submit")
    receiver = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "the party it goes to, when it goes to one (a submission need not "
            "name it); null when it goes to several (a submission names one of receivers)"
        },
    )
    receivers = fields.List(fields.String(), required=True)
    schema_versions = fields.List(fields.String(), required=True)


class ClientPullSchema(_Body):
    dataset = _str("a dataset the client may pull")
    senders = fields.List(fields.String(), required=True)


class ClientLimitsSchema(_Body):
    max_records_per_submission = _int("records one submission may hold")
    max_body_bytes = _int("bytes one request body may hold")


class ClientSchema(_Body):
    client_id = _str("the calling client")
    party = _str("the node's party")
    submit = fields.List(fields.Nested(ClientSubmitSchema), required=True)
    pull = fields.List(fields.Nested(ClientPullSchema), required=True)
    roles = fields.List(fields.String(), required=True)
    limits = fields.Nested(ClientLimitsSchema, required=True)


class BatchSummarySchema(_Body):
    batch_id = _id("the batch's id, as the sender sealed it")
    cursor = _str("page with ?after= this value to list the batches after this one")
    dataset = _str("the dataset")
    schema_version = _str("the schema version of its records")
    sender = _str("the sending party")
    record_count = _int("records in the batch")
    records_sha256 = _sha256("digest of a single batch's records", allow_none=True)
    records_root = _str("Merkle root of a chunked batch's records", allow_none=True)
    chunk_count = _int("1 for a single batch, the number of chunks of a chunked one")
    received_at = _moment("when this node stored it")
    acknowledged_at = _moment("when a client acknowledged it", allow_none=True)
    purged_at = _moment("when its records were purged (retention)", allow_none=True)


class BatchListingSchema(_Body):
    dataset = _str("the dataset")
    batches = fields.List(fields.Nested(BatchSummarySchema), required=True)
    next_cursor = _str("the cursor to page on with", allow_none=True)


class ProvenanceSchema(_Body):
    sender = _str("the sending party")
    signer_kid = _str("the thumbprint of the sender's key that signed")
    created_at = _moment("when the sender sealed the batch")
    receipt = _str("this node's signed receipt (compact JWS)")


class BatchProvenanceSchema(ProvenanceSchema):
    records_sha256 = _sha256("digest of the records")
    signed_batch = _str("the sender's signed batch (compact JWS), as received")


class ManifestProvenanceSchema(ProvenanceSchema):
    records_root = _str("Merkle root of the records of every chunk")
    signed_manifest = _str("the sender's signed manifest (compact JWS), as received")


_RECORDS = fields.List(
    fields.Dict(),
    required=True,
    metadata={"description": "the records, of the batch's dataset and schema version"},
)


class BatchSchema(BatchSummarySchema):
    records = _RECORDS
    provenance = fields.Nested(BatchProvenanceSchema, required=True)


class ChunkInfoSchema(_Body):
    index = _int("the chunk's index, from 0")
    record_count = _int("records in the chunk")
    records_sha256 = _sha256("digest of the chunk's records")


class ChunkedBatchSchema(BatchSummarySchema):
    chunks = fields.List(fields.Nested(ChunkInfoSchema), required=True)
    provenance = fields.Nested(ManifestProvenanceSchema, required=True)


class ChunkProvenanceSchema(_Body):
    sender = _str("the sending party")
    signer_kid = _str("the thumbprint of the sender's key that signed")
    signed_chunk = _str("the sender's signed chunk (compact JWS), as received")


class ChunkSchema(_Body):
    batch_id = _id("the batch")
    index = _int("the chunk's index")
    chunk_count = _int("chunks in the batch")
    record_count = _int("records in the chunk")
    records_sha256 = _sha256("digest of the chunk's records")
    records = _RECORDS
    provenance = fields.Nested(ChunkProvenanceSchema, required=True)


class AcknowledgementSchema(_Body):
    batch_id = _id("the batch")
    acknowledged_at = _moment("when it was first acknowledged")
    acknowledged_by = _str("the client that first acknowledged it")


class FlowSchema(_Body):
    sender = _str("sending party")
    receiver = _str("receiving party")


class SchemaEntrySchema(_Body):
    dataset = _str("the dataset")
    version = _str("the schema version")
    accepted_by = fields.List(
        fields.Nested(FlowSchema),
        required=True,
        metadata={"description": "the flows of the agreement that accept this version"},
    )
    url = _str("where its JSON Schema is")


class SchemaListSchema(_Body):
    schemas = fields.List(fields.Nested(SchemaEntrySchema), required=True)


class WitnessedLogSchema(_Body):
    origin = _str("the log's origin")
    size = _int("size of the last checkpoint cosigned")
    checkpoint = _str("that checkpoint, a signed note")
    updated_at = _moment("when it was cosigned")


class WitnessedSchema(_Body):
    logs = fields.List(fields.Nested(WitnessedLogSchema), required=True)


class CheckpointEntrySchema(_Body):
    size = _int("the tree size")
    checkpoint = _str("the signed note")
    created_at = _moment("when it was signed")


class CheckpointPageSchema(_Body):
    checkpoints = fields.List(fields.Nested(CheckpointEntrySchema), required=True)
    next_after = _int("page on with ?after= this value; null on the last page", allow_none=True)


class EntrySchema(_Body):
    index = _int("the entry's index in the log")
    entry = _str("the exact text hashed: canonical JSON")
    leaf_hash = _str("base64 leaf hash in the tree; null if not yet in it", allow_none=True)


class EntriesPageSchema(_Body):
    start = _int("first index asked for")
    end = _int("index after the last asked for")
    tree_size = _int("entries in the tree now")
    entries = fields.List(fields.Nested(EntrySchema), required=True)


class SearchPageSchema(_Body):
    entries = fields.List(fields.Nested(EntrySchema), required=True)
    next_after = _int("page on with ?after= this value; null on the last page", allow_none=True)


class InclusionProofSchema(_Body):
    index = _int("the entry")
    tree_size = _int("the checkpoint's size")
    leaf_hash = _str("base64 leaf hash of the entry")
    hashes = fields.List(fields.String(), required=True, metadata={"description": "base64"})
    checkpoint = _str("the checkpoint, a signed note with its cosignatures")


class ConsistencyProofSchema(_Body):
    old_size = _int("the older tree size")
    new_size = _int("the newer tree size")
    hashes = fields.List(fields.String(), required=True, metadata={"description": "base64"})
    checkpoint = _str("the newer checkpoint, a signed note with its cosignatures")


class JwksSchema(_Body):
    keys = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "public JWKs with their validity (docs/ENVELOPE.md 2.3)"},
    )


class DeliverySchema(_Body):
    batch_id = _id("the batch")
    receipt = _str("the receiver's signed receipt (compact JWS)")
    duplicate = fields.Boolean(
        required=True, metadata={"description": "true: stored before; the first receipt"}
    )


class ChunkProgressSchema(_Body):
    batch_id = _id("the batch")
    chunks_received = _int("chunks stored so far: the index of the next one to send")
    chunk_count = _int("chunks in the batch")


class OutboxBatchSchema(_Body):
    batch_id = _id("the batch")
    dataset = _str("the dataset")
    sequence = _int("the batch's number in its channel")
    chunk_count = _int("chunks; 1 for a single batch")
    record_count = _int("records")


class OutboxListingSchema(_Body):
    batches = fields.List(fields.Nested(OutboxBatchSchema), required=True)


class ReceiptSchema(_Body):
    receipt = _str(
        "the receiver's signed receipt (compact JWS)",
        validate=validate.Regexp(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"),
    )


class ReceiptTakenSchema(_Body):
    batch_id = _id("the batch")
    status = fields.String(required=True, validate=validate.OneOf(["delivered"]))


class RefusalSchema(_Body):
    """A pulling receiver's word that it refused a batch; no reason (docs/ENVELOPE.md 9.5.2)."""


class RefusalTakenSchema(_Body):
    batch_id = _id("the batch")
    status = fields.String(required=True, validate=validate.OneOf(["dead"]))


class BundleEntrySchema(_Body):
    index = fields.Integer(required=True, metadata={"description": "the entry's leaf index"})
    entry = fields.String(required=True, metadata={"description": "the entry as hashed"})
    proof = fields.String(metadata={"description": "C2SP tlog-proof of its inclusion"})


class BundleKeysSchema(_Body):
    log = fields.String(required=True, metadata={"description": "C2SP vkey of the log key"})
    witnesses = fields.List(fields.String(), required=True,
                            metadata={"description": "C2SP vkeys of the witnesses"})


class EvidenceBundleSchema(_Body):
    format = fields.String(required=True,
                           validate=validate.OneOf(["bekasi-ombudsman-gateway/audit-bundle@v1"]))
    batch_id = _id("the batch")
    party = fields.String(required=True, metadata={"description": "whose log it is"})
    origin = fields.String(required=True, metadata={"description": "the log's origin"})
    checkpoint = fields.String(
        required=True,
        metadata={"description": "the signed checkpoint with its cosignatures; empty if none "
                                 "has been signed yet"})
    keys = fields.Nested(BundleKeysSchema, required=True)
    entries = fields.List(fields.Nested(BundleEntrySchema), required=True,
                          metadata={"description": "the entries the checkpoint covers"})
    unproven = fields.List(
        fields.Nested(BundleEntrySchema),
        metadata={"description": "entries written after the checkpoint (no proof yet)"})


class ReadinessSchema(_Body):
    status = fields.String(
        required=True, validate=validate.OneOf(["ready", "degraded", "not_ready"]),
        metadata={"description": "degraded: only the peers or the schedule fail (the node "
                                 "still accepts submissions); not_ready: the database or keys"})
    checks = fields.Dict(
        keys=fields.String(), values=fields.Raw(), required=True,
        metadata={"description": "database, keys, scheduler, peers: ok, fail or skipped "
                                 "(with the operator role: an object with the findings)"})


class AgreementSchema(_Body):
    id = _str("the agreement's id")
    version = _int("its version (0: one unsigned agreement file)")
    sha256 = _str("SHA-256 (hex) of its RFC 8785 canonical form, what its parties signed")
    status = fields.String(
        required=True, validate=validate.OneOf(["in_force", "ended", "suspended"])
    )
    parties = fields.List(fields.String(), required=True, metadata={"description": "party ids"})
    flows = _int("how many flows (dataset, sender, receiver) it agrees")
    ends_on = fields.String(allow_none=True, required=True,
                            metadata={"description": "first day it no longer holds",
                                      "format": "date"})  # fmt: skip
    taken_up_at = fields.String(allow_none=True, required=True,
                                metadata={"description": "when this node took it up",
                                          "format": "date-time"})  # fmt: skip
    ended_reason = fields.String(allow_none=True, required=True,
                                 metadata={"description": "why it ended"})  # fmt: skip


class RefusedAgreementSchema(_Body):
    file = _str("the agreement file's name")
    agreement_id = fields.String(
        allow_none=True, required=True, metadata={"description": "its id, if it was read"}
    )
    reason = _str("why it is not taken up")


class AgreementListingSchema(_Body):
    agreements = fields.List(fields.Nested(AgreementSchema), required=True)
    refused = fields.List(fields.Nested(RefusedAgreementSchema), required=True)


class HealthSchema(_Body):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


# -- query parameters ---------------------------------------------------------------------------


def _q_int(description: str, *, minimum: int = 0, maximum: int | None = None,
           required: bool = False) -> fields.Integer:  # fmt: skip
    return fields.Integer(
        required=required,
        validate=validate.Range(min=minimum, max=maximum),
        metadata={"description": description},
    )


class BatchListQuery(Schema):
    after = fields.String(
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "a cursor from an earlier answer: the batches after it"},
    )
    limit = _q_int("batches at most (default 100)", minimum=1, maximum=1000)


class CheckpointQuery(Schema):
    size = _q_int("the checkpoint of this size instead of the latest")
    cosigned = _q_int(
        "the latest checkpoint that carries at least this many cosignatures "
        "(1: the latest that a witness has cosigned)"
    )


class CheckpointsQuery(Schema):
    after = _q_int("the checkpoints of a larger size than this")
    limit = _q_int("checkpoints at most (default 1000)", minimum=1, maximum=1000)


class EntriesQuery(Schema):
    start = _q_int("the first index (default 0)")
    end = _q_int("the index after the last (default start + 1000; at most start + 10000)")
    format = fields.String(
        validate=validate.OneOf(["lines"]),
        metadata={"description": "lines: text, a line per entry: <index> <leaf hash> <entry>"},
    )


class SearchQuery(Schema):
    batch_id = fields.String(metadata={"description": "entries of this batch"})
    dataset = fields.String(metadata={"description": "entries of this dataset"})
    event = fields.String(metadata={"description": "entries of this event, e.g. batch_received"})
    party = fields.String(metadata={"description": "entries whose actor or peer is this party"})
    since = fields.String(
        metadata={"description": "at or after this moment (with a UTC offset)",
                  "format": "date-time"})  # fmt: skip
    until = fields.String(
        metadata={"description": "before this moment (with a UTC offset)", "format": "date-time"}
    )
    after = _q_int("entries of a larger index than this")
    limit = _q_int("entries at most (default 100)", minimum=1, maximum=1000)


class InclusionQuery(Schema):
    index = _q_int("the entry", required=True)
    size = _q_int("the checkpoint's size (default: the latest)", minimum=1)
    format = fields.String(
        validate=validate.OneOf(["tlog-proof"]),
        metadata={"description": "tlog-proof: the C2SP tlog-proof text instead of JSON"},
    )


class ConsistencyQuery(Schema):
    old = _q_int("the older size", required=True)
    new = _q_int("the newer size (default: the latest checkpoint)", minimum=1)


class OutboxQuery(Schema):
    dataset = fields.String(metadata={"description": "only this dataset's batches"})
    limit = _q_int(
        f"batches at most (default {pull.DEFAULT_LIMIT})", minimum=1, maximum=pull.MAX_LIMIT
    )


# -- the operations ------------------------------------------------------------------------------

Responses = dict[int, Any]


@dataclass(frozen=True)
class Operation:
    """One operation, as the document and the docs page describe it."""

    method: str  # lower case, as OpenAPI writes it
    path: str  # an OpenAPI path template: /api/v1/batches/{batch_id}
    operation_id: str
    tag: str
    summary: str
    responses: Responses
    description: str = ""
    # Security requirements, each {scheme: [role, ...]}; () for a public operation.
    security: tuple[dict[str, list[str]], ...] = ()
    query: type[Schema] | None = None
    body: dict[str, Any] | None = None
    header_parameters: tuple[str, ...] = ()  # names of parameter components

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "operationId": self.operation_id,
            "tags": [self.tag],
            "summary": self.summary,
        }
        if self.description:
            out["description"] = self.description
        out["security"] = list(self.security)
        responses = dict(self.responses)
        if _PARAM.search(self.path):
            # A value the route does not take (a negative index, a slash) matches no route.
            responses.setdefault(404, "NotFound")
        out["responses"] = {str(status): r for status, r in sorted(responses.items())}
        parameters: list[Any] = list(self.header_parameters)
        if self.query is not None:
            parameters.append({"in": "query", "schema": self.query})
        if parameters:
            out["parameters"] = parameters
        if self.body is not None:
            out["requestBody"] = self.body
        return out


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _content(media_type: str, description: str, schema: Any = None) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {"schema": schema or {"type": "string"}}},
    }


def _one_of(*schemas: Any) -> dict[str, Any]:
    return {"oneOf": list(schemas)}


# A JWE in compact serialization (RFC 7516): five base64url parts joined by dots.
_B64URL = "[A-Za-z0-9_-]"
_JWE = {
    "type": "string",
    "pattern": rf"^{_B64URL}+\.{_B64URL}*\.{_B64URL}+\.{_B64URL}+\.{_B64URL}+$",
    "description": "a JWE in compact serialization (docs/ENVELOPE.md section 5), ASCII",
}


def _envelope_body(what: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": f"{what}: a JWE in compact serialization (RFC 7516), media type "
        f"{JOSE_MEDIA_TYPE}; white space around it is ignored",
        "content": {JOSE_MEDIA_TYPE: {"schema": _JWE}},
    }


def _internal(*roles: str) -> tuple[dict[str, list[str]], ...]:
    return ({BEARER: list(roles)},)


_SIGNED: tuple[dict[str, list[str]], ...] = ({SIGNATURE: []},)

# The errors every bearer-token operation may answer, and every signed one.
_CLIENT_ERRORS: Responses = {401: "Unauthorized", 429: "TooManyRequests"}
_PEER_ERRORS: Responses = {401: "SignatureRejected", 413: "PayloadTooLarge"}


def _submissions() -> list[Operation]:
    """One operation per dataset: each path takes the records of its own dataset only."""
    return [
        Operation(
            "post", f"/api/v1/datasets/{dataset}/records",
            "submit" + "".join(word.title() for word in dataset.split("_")), "records",
            f"Submit {dataset} records",
            {202: _json(SubmissionResultSchema, "Every record is valid and stored in the outbox"),
             400: "BadRequest", 403: "Forbidden", 404: "NotFound", 413: "PayloadTooLarge",
             415: "UnsupportedMediaType", 422: "ValidationFailed", **_CLIENT_ERRORS},
            "Validates every record against the agreed schema and stores all of them "
            "durably, or none: a refusal lists every problem with its JSON Pointer path. "
            "404 if the node's agreement has no such flow; 403 if this node does not send "
            "the dataset or the client may not submit it. With an Idempotency-Key, a repeat "
            "of the same request is answered with the first result (Idempotent-Replayed: "
            "true) and stores nothing; the same key with another body is 422 "
            "idempotency_key_reused.",
            security=_internal("submit"), body=_submission_body(dataset),
            header_parameters=("Accept-Language", "Idempotency-Key"),
        )
        for dataset in registry.dataset_names()
    ]  # fmt: skip


def _submission_body(dataset: str) -> dict[str, Any]:
    versions = [f"Submission.{dataset}.{v}" for v in registry.versions(dataset)]
    return {
        "required": True,
        "description": "The records, all valid or none stored, under a schema version that "
        "the agreement accepts for the flow; at most the node's max_records_per_submission "
        "records and max_body_bytes bytes.",
        "content": {JSON: {"schema": versions[0] if len(versions) == 1 else _one_of(*versions)}},
    }


def _operations() -> tuple[Operation, ...]:
    """Every operation, in the order of the document's paths."""
    return (
        *_submissions(),
        *_record_operations(),
        *_schema_operations(),
        *_audit_operations(),
        *_case_operations(),
        *_exchange_operations(),
        *_outbox_operations(),
        *_node_operations(),
    )


def _record_operations() -> list[Operation]:
    """The node's own systems: a submission's state, the client, received batches."""
    batch_answers: Responses = {
        200: _json(_one_of(BatchSchema, ChunkedBatchSchema),
                   "The batch with its records, or of a chunked batch its chunks"),
        404: "NotFound",
        410: "Gone",
    }  # fmt: skip
    return [
        Operation(
            "get", "/api/v1/submissions/{submission_id}", "getSubmission", "records",
            "Where a submission's records are",
            {200: _json(SubmissionStatusSchema, "The submission and the batches that hold "
                        "its records"),
             404: "NotFound", **_CLIENT_ERRORS},
            "Only the client that submitted it may ask; any other submission is 404 alike.",
            security=_internal("submit"),
        ),
        Operation(
            "get", "/api/v1/client", "describeClient", "records",
            "The calling client: what it may submit and pull, the node's limits",
            {200: _json(ClientSchema, "The client as the node knows it"), **_CLIENT_ERRORS},
            security=_internal(),
        ),
        Operation(
            "get", "/api/v1/datasets/{dataset}/batches", "listBatches", "records",
            "List received batches of a dataset",
            {200: _json(BatchListingSchema, "The batches after the cursor, oldest first"),
             400: "BadRequest", 403: "Forbidden", 404: "NotFound", **_CLIENT_ERRORS},
            security=_internal("pull"), query=BatchListQuery,
        ),
        Operation(
            "get", "/api/v1/batches/{batch_id}", "getBatch", "records",
            "A received batch with its provenance",
            {**batch_answers, **_CLIENT_ERRORS},
            "A batch that the client may not pull is answered 404, as an unknown one.",
            security=_internal("pull"),
        ),
        Operation(
            "get", "/api/v1/batches/{batch_id}/chunks/{index}", "getChunk", "records",
            "One chunk of a received chunked batch",
            {200: _json(ChunkSchema, "The chunk's records, with the sender's signed chunk"),
             404: "NotFound", 410: "Gone", **_CLIENT_ERRORS},
            security=_internal("pull"),
        ),
        Operation(
            "post", "/api/v1/batches/{batch_id}/ack", "acknowledgeBatch", "records",
            "Acknowledge a received batch (idempotent)",
            {200: _json(AcknowledgementSchema, "Acknowledged, now or before"),
             404: "NotFound", **_CLIENT_ERRORS},
            security=_internal("pull"),
        ),
    ]


def _schema_operations() -> list[Operation]:
    """The agreed dataset schemas, for the node's own systems."""
    return [
        Operation(
            "get", "/api/v1/schemas", "listSchemas", "schemas",
            "The agreed dataset versions",
            {200: _json(SchemaListSchema, "Every registered version, with the flows that "
                        "accept it"), **_CLIENT_ERRORS},
            security=_internal(),
        ),
        Operation(
            "get", "/api/v1/schemas/{dataset}/{version}", "getSchema", "schemas",
            "The JSON Schema (2020-12) of one record of a dataset version",
            {200: _content("application/schema+json", "The JSON Schema",
                           {"type": "object"}),
             404: "NotFound", **_CLIENT_ERRORS},
            security=_internal(),
            description="An unknown dataset is answered 404 `unknown_dataset` (path `dataset`), "
            "an unknown version of a dataset 404 `unknown_schema_version` (path `version`).",
        ),
    ]


def _audit_operations() -> list[Operation]:
    """The audit log, for auditors: checkpoints, entries and proofs."""
    return [
        Operation(
            "get", "/api/v1/audit/checkpoint", "getCheckpoint", "audit",
            "The latest checkpoint, a signed note with its cosignatures",
            {200: _content(TEXT, "The checkpoint (C2SP signed note)"),
             400: "BadRequest", 403: "Forbidden", 404: "NotFound", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=CheckpointQuery,
        ),
        Operation(
            "get", "/api/v1/audit/checkpoints", "listCheckpoints", "audit",
            "Every signed checkpoint, oldest first",
            {200: _json(CheckpointPageSchema, "A page of checkpoints"),
             400: "BadRequest", 403: "Forbidden", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=CheckpointsQuery,
        ),
        Operation(
            "get", "/api/v1/audit/witnessed", "listWitnessed", "audit",
            "The other parties' logs that this node witnesses",
            {200: _json(WitnessedSchema, "The last checkpoint cosigned of each"),
             403: "Forbidden", **_CLIENT_ERRORS},
            security=_internal("auditor"),
        ),
        Operation(
            "get", "/api/v1/audit/entries", "listEntries", "audit",
            "Entries of the audit log by index",
            {200: {"description": "The entries, with the leaf hash the tree holds",
                   "content": {JSON: {"schema": EntriesPageSchema}, TEXT: {"schema": {
                       "type": "string"}}}},
             400: "BadRequest", 403: "Forbidden", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=EntriesQuery,
        ),
        Operation(
            "get", "/api/v1/audit/search", "searchEntries", "audit",
            "Entries by batch, dataset, party, event and time",
            {200: _json(SearchPageSchema, "Matching entries, oldest first"),
             400: "BadRequest", 403: "Forbidden", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=SearchQuery,
        ),
        Operation(
            "get", "/api/v1/audit/proof/inclusion", "inclusionProof", "audit",
            "The inclusion proof of an entry in a checkpoint",
            {200: {"description": "The proof (RFC 9162), as JSON or C2SP tlog-proof text",
                   "content": {JSON: {"schema": InclusionProofSchema},
                               TEXT: {"schema": {"type": "string"}}}},
             400: "BadRequest", 403: "Forbidden", 404: "NotFound", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=InclusionQuery,
        ),
        Operation(
            "get", "/api/v1/audit/proof/consistency", "consistencyProof", "audit",
            "The consistency proof between two checkpoints",
            {200: _json(ConsistencyProofSchema, "The proof (RFC 9162)"),
             400: "BadRequest", 403: "Forbidden", 404: "NotFound", **_CLIENT_ERRORS},
            security=_internal("auditor"), query=ConsistencyQuery,
        ),
    ]


def _exchange_operations() -> list[Operation]:
    """Node to node: the keys, delivering sealed batches, witnessing checkpoints."""
    return [
        Operation(
            "get", "/exchange/v1/jwks", "getJwks", "exchange",
            "The node's public keys",
            {200: _json(JwksSchema, "The JWKS, as the key ring says now")},
        ),
        Operation(
            "post", "/exchange/v1/batches", "deliverBatch", "exchange",
            "Deliver a sealed batch; answered with a signed receipt",
            {200: _json(DeliverySchema, "Stored (now, or before: duplicate)"),
             400: "EnvelopeRejected", 415: "UnsupportedMediaType", **_PEER_ERRORS},
            "docs/ENVELOPE.md section 9.1.", security=_SIGNED,
            body=_envelope_body("The sealed batch"),
        ),
        Operation(
            "post", "/exchange/v1/batches/{batch_id}/manifest", "deliverManifest", "exchange",
            "Announce a chunked batch by its sealed manifest",
            {200: _json(_one_of(ChunkProgressSchema, DeliverySchema),
                        "How many chunks are here; of a batch stored before, its receipt"),
             400: "EnvelopeRejected", 415: "UnsupportedMediaType", **_PEER_ERRORS},
            "docs/ENVELOPE.md section 9.4.", security=_SIGNED,
            body=_envelope_body("The sealed manifest"),
        ),
        Operation(
            "post", "/exchange/v1/batches/{batch_id}/chunks/{index}", "deliverChunk", "exchange",
            "Deliver one chunk of a chunked batch, in order",
            {200: _json(_one_of(ChunkProgressSchema, DeliverySchema),
                        "How many chunks are here; after the last, the receipt"),
             400: "EnvelopeRejected", 415: "UnsupportedMediaType", **_PEER_ERRORS},
            "docs/ENVELOPE.md section 9.4.", security=_SIGNED,
            body=_envelope_body("The sealed chunk"),
        ),
        Operation(
            "post", "/exchange/v1/witness/add-checkpoint", "addCheckpoint", "exchange",
            "C2SP tlog-witness: cosign a checkpoint of the peer's audit log",
            {200: _content(TEXT, "The witness's cosignature line(s)"),
             400: _content(TEXT, "A malformed request"),
             403: _content(TEXT, "The checkpoint is not signed by the log's key"),
             404: _content(TEXT, "A log this node does not witness"),
             409: _content(witness.SIZE_MEDIA_TYPE, "The old size is not the size this witness "
                           "cosigned last: that size"),
             422: _content(TEXT, "The consistency proof does not verify"),
             **_PEER_ERRORS},
            "Status codes and bodies as C2SP tlog-witness defines them (docs/AUDIT.md).",
            security=_SIGNED,
            body={"required": True, "description": "old size, consistency proof and checkpoint",
                  "content": {TEXT: {"schema": {"type": "string",
                                                "maxLength": witness.MAX_REQUEST_BYTES}}}},
        ),
    ]


def _outbox_operations() -> list[Operation]:
    """Node to node: the pull-mode outbox, and a batch's audit evidence for its peer."""
    return [
        Operation(
            "get", "/exchange/v1/outbox", "listOutbox", "outbox",
            "Pull mode: the sealed batches waiting for the requesting party",
            {200: _json(OutboxListingSchema, "Oldest first"), 400: "BadRequest",
             **_PEER_ERRORS},
            "docs/ENVELOPE.md section 9.5.", security=_SIGNED, query=OutboxQuery,
        ),
        # Among the outbox's operations, not the exchange's: the document lists its paths in
        # the order of OPERATIONS, and that order stays as published.
        Operation(
            "get", "/exchange/v1/audit/batches/{batch_id}", "getPeerEvidence", "exchange",
            "A batch's audit evidence, for the batch's other party",
            {200: _json(EvidenceBundleSchema, "This node's entries of the batch with their "
                        "inclusion proofs (docs/CONSOLE.md section 3)"),
             404: "NotFound", **_PEER_ERRORS},
            "Answered only to the party that sent or received the batch; any other batch is "
            "404 alike. The auditor console shows the peer's side of a batch from it.",
            security=_SIGNED,
        ),
        Operation(
            "get", "/exchange/v1/outbox/{batch_id}", "getOutboxBatch", "outbox",
            "Pull mode: a sealed batch, or of a chunked one its sealed manifest",
            {200: _content(JOSE_MEDIA_TYPE, "The envelope as sealed (JWE, compact)", _JWE),
             404: "NotFound", **_PEER_ERRORS},
            security=_SIGNED,
        ),
        Operation(
            "get", "/exchange/v1/outbox/{batch_id}/chunks/{index}", "getOutboxChunk", "outbox",
            "Pull mode: one chunk of a chunked batch, sealed when asked for",
            {200: _content(JOSE_MEDIA_TYPE, "The sealed chunk (JWE, compact)", _JWE),
             404: "NotFound", **_PEER_ERRORS},
            security=_SIGNED,
        ),
        Operation(
            "post", "/exchange/v1/outbox/{batch_id}/receipt", "takeReceipt", "outbox",
            "Pull mode: hand back the receipt of a pulled batch",
            {200: _json(ReceiptTakenSchema, "The receipt verifies: the batch is delivered"),
             400: "BadRequest", 404: "NotFound", 415: "UnsupportedMediaType",
             **_PEER_ERRORS},
            "A receipt that does not verify is answered 400 receipt_rejected.",
            security=_SIGNED,
            body={"required": True, "content": {JSON: {"schema": ReceiptSchema}}},
        ),
        Operation(
            "post", "/exchange/v1/outbox/{batch_id}/refusal", "takeRefusal", "outbox",
            "Pull mode: the receiver refused the batch it fetched; the sender dead-letters it",
            {200: _json(RefusalTakenSchema, "The batch is dead at the sender (also when it "
                        "was already)"),
             400: "BadRequest", 404: "NotFound", 415: "UnsupportedMediaType",
             **_PEER_ERRORS},
            "Sent by a pulling receiver, once, for a batch whose signed content it refused "
            "(docs/ENVELOPE.md 9.5.3); the body is an empty JSON object and says no reason.",
            security=_SIGNED,
            body={"required": True, "content": {JSON: {"schema": RefusalSchema}}},
        ),
    ]


def _node_operations() -> list[Operation]:
    """The node's operations: metrics, probes and this contract."""
    return [
        Operation(
            "get", "/metrics", "metrics", "operations",
            "Prometheus metrics of the node",
            {200: _content(TEXT, "Prometheus text exposition format"), 403: "Forbidden",
             **_CLIENT_ERRORS},
            security=_internal("operator"),
        ),
        Operation(
            "get", "/api/v1/agreements", "listAgreements", "operations",
            "The agreements in force and ended, and the agreement files refused",
            {200: _json(AgreementListingSchema, "As the worker that answers sees them"),
             403: "Forbidden", **_CLIENT_ERRORS},
            "For the auditor and operator roles (docs/OPERATIONS.md, 'Add a partner "
            "institution').",
            security=_internal("auditor", "operator"),
        ),
        Operation(
            "get", "/healthz", "health", "operations", "Liveness",
            {200: _json(HealthSchema, "The node answers")},
        ),
        Operation(
            "get", "/readyz", "readiness", "operations", "Readiness",
            {200: _json(ReadinessSchema, "Ready, or degraded"),
             503: _json(ReadinessSchema, "Not ready: the database or the keys fail"),
             401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"},
            "Without credentials, each check's outcome only; with an operator token, the "
            "findings too (docs/OPERATIONS.md).",
            security=({}, *_internal("operator")),
        ),
        Operation(
            "get", "/openapi.json", "openapi", "operations",
            "This document (OpenAPI 3.1)",
            {200: _json({"type": "object"}, "The OpenAPI document"),
             304: {"description": "Not modified (If-None-Match)"}},
        ),
        Operation(
            "get", "/docs/api", "apiDocs", "operations",
            "This document as a page to read",
            {200: _content("text/html", "The page"),
             304: {"description": "Not modified (If-None-Match)"}},
        ),
    ]


# -- the case ledger (gateway.cases.reports) -----------------------------------------------------

_CASE_STATUS = validate.OneOf(list(CASE_STATUSES))
_CASE_READERS: tuple[dict[str, list[str]], ...] = (
    {BEARER: ["auditor"]}, {BEARER: ["submit"]}, {BEARER: ["pull"]},
)  # fmt: skip
CASES_TAG = ("cases", "The case ledger: the agreement's service levels (docs/API.md)")
CASE_NUMBER_PARAMETER: dict[str, Any] = {
    "description": "a case number (nomor laporan), e.g. 0941/LM/IX/2026/JKT; its slashes "
    "are part of the path",
    "schema": {"type": "string", "minLength": 1},
}


def _date(description: str, *, allow_none: bool = False) -> fields.String:
    return fields.String(
        required=True, allow_none=allow_none,
        metadata={"description": description, "format": "date"},
    )  # fmt: skip


class CaseSummarySchema(_Body):
    case_number = _str("the case number (nomor laporan)")
    unit = _str("the responsible unit's code (register perangkat_daerah)", allow_none=True)
    status = fields.String(
        required=True, validate=_CASE_STATUS,
        metadata={"description": "on as_of: overdue, due_soon or open while a step is open; "
                                 "done_on_time or done_late when every step is done"})  # fmt: skip
    opened_on = _date("the day its first step started (Asia/Jakarta)")
    next_due_on = _date("the earliest due date of its open steps", allow_none=True)
    steps = _int("steps")
    open_steps = _int("steps not done")
    late_steps = _int("steps done after their due date")
    events = _int("records of the case that crossed the gateway")
    updated_at = _moment("the receipt of its latest record")
    peer = _str("the other party of its records, from this node's point of view; null when "
                "they are with more than one party, or for a case from before revision 0017 "
                "not yet rebuilt", allow_none=True)


class CaseListSchema(_Body):
    as_of = _date("the day (Asia/Jakarta) the statuses are read on")
    cases = fields.List(fields.Nested(CaseSummarySchema), required=True)
    next = _str("page on with ?after= this value; null on the last page", allow_none=True)


class CaseStepSchema(_Body):
    case_number = _str("the case")
    step = _str("the step, e.g. klarifikasi/1 or tindakan_korektif/LHP-ID/1")
    kind = _str("klarifikasi, tindakan_korektif, rekomendasi or klarifikasi_tindak_lanjut")
    unit = _str("the responsible unit's code", allow_none=True)
    status = fields.String(required=True, validate=_CASE_STATUS)
    start_on = _date("the day it started")
    start_basis = fields.String(
        required=True, validate=validate.OneOf(["receipt", "declared"]),
        metadata={"description": "receipt: the day of the signed receipt of the record "
                                 "that opened it; declared: the day a follow-up report "
                                 "states"})  # fmt: skip
    due_on = _date("its due date, by the agreement's rule for its kind")
    done_on = _date("the day of the receipt of the record that closed it", allow_none=True)
    response_days = _int("working days from start to done", allow_none=True)
    outcome = _str("the Ombudsman's verdict on it", allow_none=True)
    opened_by = _str("the record that opened it: batch_id#index")
    closed_by = _str("the record that closed it: batch_id#index", allow_none=True)


class CaseExchangeSchema(_Body):
    ref = _str("batch_id#index")
    batch_id = _id("the batch")
    index = _int("the record's place in the batch")
    dataset = _str("the dataset")
    schema_version = _str("its schema version")
    direction = fields.String(required=True, validate=validate.OneOf(["sent", "received"]))
    sender = _str("the sending party")
    receiver = _str("the receiving party")
    receipt_at = _moment("when the receiver signed its receipt")


class CaseDetailSchema(CaseSummarySchema):
    as_of = _date("the day (Asia/Jakarta) the statuses are read on")
    digest = _sha256("of its steps and events: the same at both nodes")
    steps = fields.List(fields.Nested(CaseStepSchema), required=True)  # type: ignore[assignment]
    exchanges = fields.List(fields.Nested(CaseExchangeSchema), required=True)


def _peer_member() -> fields.String:
    return _str("the party of ?peer=: the digest is of the cases with it (and of those with "
                "no single party); null without ?peer=", allow_none=True)


_PEER_QUERY = (
    "a party id of the node's agreements (in force or ended), not the node's own: the cases "
    "with that party, and those with no single party (from before revision 0017, or with "
    "several); another value is 400 bad_request, path peer"
)


class LedgerDigestSchema(_Body):
    cases = _int("cases in the ledger")
    digest = _sha256("over the buckets' digests")
    buckets = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[0-9a-f]{2}$")),
        values=fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$")), required=True,
        metadata={"description": "per bucket (the first two hex digits of the SHA-256 of the "
                                 "case number) the digest of its cases"})  # fmt: skip
    pending = _int("delivered batches the ledger has not taken yet (a difference may be "
                   "only that)")
    peer = _peer_member()


class BucketDigestSchema(_Body):
    bucket = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{2}$"))
    peer = _peer_member()
    cases = fields.Dict(
        keys=fields.String(), values=fields.String(validate=validate.Regexp(r"^[0-9a-f]{64}$")),
        required=True, metadata={"description": "each case number of the bucket: its digest"},
    )  # fmt: skip


class CaseListQuery(Schema):
    unit = fields.String(
        validate=validate.Regexp(r"^[0-9A-Za-z._-]{1,32}$"),
        metadata={"description": "the cases of this unit, e.g. 3275.DISDUKCAPIL"})  # fmt: skip
    status = fields.String(
        validate=_CASE_STATUS, metadata={"description": "the cases of this status today"}
    )
    period = fields.String(
        validate=validate.Regexp(r"^[0-9]{4}(-(0[1-9]|1[0-2]))?$"),
        metadata={"description": "YYYY or YYYY-MM: the cases opened then"})  # fmt: skip
    after = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the next of an earlier answer: the cases after it"})  # fmt: skip
    limit = _q_int("cases at most (default 100)", minimum=1, maximum=MAX_CASE_PAGE)
    peer = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": _PEER_QUERY}
    )


class CaseDigestQuery(Schema):
    bucket = fields.String(
        validate=validate.Regexp(r"^[0-9a-f]{2}$"),
        metadata={"description": "two lowercase hex digits: that bucket's cases and digests"},
    )
    peer = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": _PEER_QUERY}
    )


def _case_operations() -> list[Operation]:
    """The case ledger, for auditors and the systems that feed it."""
    readers = (
        "Open to clients with the auditor role and to those that submit or pull a "
        "dataset of a case (permintaan_klarifikasi, tanggapan_klarifikasi, lahp, "
        "monitoring_tindak_lanjut, penilaian_tindak_lanjut); others are 403. "
    )
    strict = (
        "A query parameter the operation does not read, or one given twice, is 400 "
        "with the parameter as path."
    )
    return [
        Operation(
            "get", "/api/v1/cases", "listCases", "cases",
            "Cases by unit, status, period and partner",
            {200: _json(CaseListSchema, "A page of cases by case number"),
             400: "BadRequest", 403: "Forbidden", **_CLIENT_ERRORS},
            readers + "Statuses are read on today's date in Asia/Jakarta. " + strict,
            security=_CASE_READERS, query=CaseListQuery,
        ),
        Operation(
            "get", "/api/v1/cases/{case_number}", "getCase", "cases",
            "One case with its steps and the exchanges they come from",
            {200: _json(CaseDetailSchema, "The case"), 400: "BadRequest", 403: "Forbidden",
             **_CLIENT_ERRORS},
            readers + "A case not in the ledger is 404 not_found, path case_number. " + strict,
            security=_CASE_READERS,
        ),
        Operation(
            "get", "/api/v1/cases-digest", "getCasesDigest", "cases",
            "The ledger's digest, to compare two nodes' ledgers",
            {200: _json(_one_of(LedgerDigestSchema, BucketDigestSchema),
                        "The digest over buckets; with ?bucket=, that bucket's cases"),
             400: "BadRequest", 403: "Forbidden", **_CLIENT_ERRORS},
            readers + "gateway audit reconcile reads it, with ?peer= the other node's party "
            "(docs/AUDIT.md). " + strict,
            security=_CASE_READERS, query=CaseDigestQuery,
        ),
    ]  # fmt: skip


OPERATIONS: tuple[Operation, ...] = _operations()

# -- shared components -----------------------------------------------------------------------------

_PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    # The registered datasets, for clients and fuzzers alike; another is answered 404.
    "dataset": {
        "description": "an agreed dataset",
        "schema": {"type": "string", "enum": registry.dataset_names()},
    },
    "version": {"description": "a schema version, e.g. 1.0", "schema": {"type": "string"}},
    "batch_id": {
        "description": "a batch id (a lower-case UUID)",
        "schema": {"type": "string", "format": "uuid", "pattern": BATCH_ID.pattern},
    },
    "index": {
        "description": "a chunk's index, from 0",
        "schema": {"type": "integer", "minimum": 0},
    },
    "submission_id": {
        "description": "a submission id (a lower-case UUID)",
        "schema": {"type": "string", "format": "uuid", "pattern": BATCH_ID.pattern},
    },
    "case_number": CASE_NUMBER_PARAMETER,
}

_ERRORS: dict[str, tuple[str, dict[str, Any]]] = {
    "BadRequest": ("A malformed request: bad_request, invalid_json", {}),
    "Unauthorized": (
        "No valid bearer token (unauthorized)",
        {"WWW-Authenticate": 'Bearer realm="gateway"'},
    ),
    "SignatureRejected": (
        "The request is not signed as docs/ENVELOPE.md 9.5.1 says (unauthorized); "
        "the reason is in the node's log only",
        {"WWW-Authenticate": f'{signed_requests.SCHEME} realm="exchange"'},
    ),
    "Forbidden": ("The client lacks the right or role (forbidden)", {}),
    "NotFound": ("Unknown, or not for this client: not_found, unknown_dataset", {}),
    "Gone": ("Purged under the agreed retention period (purged)", {}),
    "PayloadTooLarge": ("Over the node's limit (payload_too_large)", {}),
    "UnsupportedMediaType": ("Another Content-Type than the one documented", {}),
    "ValidationFailed": (
        f"validation_failed (with the first {MAX_ERRORS} field errors, their count and "
        "whether there were more), unknown_schema_version, not_canonicalisable, "
        "idempotency_key_reused, receiver_required (the dataset goes to several parties: "
        "name one, from receivers, in the body's receiver) or unknown_receiver",
        {},
    ),
    "TooManyRequests": (
        "The client is over its rate limit (rate_limited), or its source address failed "
        "to authenticate too often (auth_throttled; valid tokens wait too)",
        {"Retry-After": "seconds to wait"},
    ),
    "EnvelopeRejected": (
        "envelope_rejected, with no detail by design (docs/ENVELOPE.md 7); "
        "or bad_request for a malformed body",
        {},
    ),
}


def _error_response(description: str, headers: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {JSON: {"schema": "Error"}}}
    if headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return out


_SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "A client of the node's own systems (`gateway clients`, or [[clients]] "
        "in the node config). The roles an operation names: submit and pull are the "
        "client's per-dataset rights (submit = [...], pull = [...]), auditor and operator "
        "its roles; an operation that names none is open to every client.",
    },
    SIGNATURE: {
        "type": "http",
        "scheme": signed_requests.SCHEME,
        "description": "A signed node-to-node request: `Authorization: GatewaySignature "
        "<compact JWS>` signed by the requesting party's registered Ed25519 key over the "
        "method, path and query, time, a single-use id and the body's SHA-256 "
        "(docs/ENVELOPE.md 9.5.1).",
    },
}

_DESCRIPTION = """\
The HTTP API of a gateway node of the data exchange between Pemerintah Kota Bekasi and \
Ombudsman Republik Indonesia: the internal API for the institution's own systems \
(/api/v1), the node-to-node exchange (/exchange/v1), and the node's operations.

Every error is JSON, `{"error": {"code", "message", "path"?}}` (schema Error), but the \
witness's, which C2SP tlog-witness defines as text. Every answer carries X-Request-Id. \
Bodies are limited to the node's max_body_bytes (64 KiB on the outbox and witness)."""

_TAGS = (
    ("records", "Submit records; pull and acknowledge received batches"),
    ("schemas", "The agreed dataset schemas"),
    ("audit", "The audit log: checkpoints, entries and proofs (docs/AUDIT.md)"),
    CASES_TAG,
    ("exchange", "Node to node: keys, sealed batches, witnessing (docs/ENVELOPE.md 9)"),
    ("outbox", "Node to node, pull mode: the sender's outbox (docs/ENVELOPE.md 9.5)"),
    ("operations", "Health, metrics and this contract"),
)


def _register_components(spec: APISpec) -> None:
    spec.components.schema("Error", schema=ErrorSchema)
    for name, (description, headers) in _ERRORS.items():
        spec.components.response(name, _error_response(description, headers))
    for name, param in _PATH_PARAMETERS.items():
        spec.components.parameter(name, "path", {**param, "required": True})
    spec.components.parameter(
        "Accept-Language",
        "header",
        {
            "description": "the language of field error messages: id or en (default)",
            "schema": {"type": "string"},
        },
    )
    spec.components.parameter(
        "Idempotency-Key",
        "header",
        {
            "description": "draft-ietf-httpapi-idempotency-key-header: 1 to 255 printable "
            "ASCII characters (an RFC 8941 string, or a bare value without a comma); sent "
            "once; unique per client",
            "schema": {"type": "string", "minLength": 1, "maxLength": 257},
        },
    )
    for name, scheme in _SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            _register_dataset(spec, dataset, version)


def _register_dataset(spec: APISpec, dataset: str, version: str) -> None:
    record = f"Record.{dataset}.{version}"
    body = schema_body(registry.schema_class(dataset, version))
    spec.components.schema(record, component={"title": f"{dataset} {version}", **body})
    spec.components.schema(
        f"Submission.{dataset}.{version}",
        component={
            "title": f"a submission of {dataset} {version}",
            "type": "object",
            "required": ["schema_version", "records"],
            "properties": {
                "schema_version": {"const": version},
                "receiver": {
                    "type": "string",
                    "description": "the party the records are for: required when this "
                    "node sends the dataset to several (GET /api/v1/client lists them)",
                },
                "records": {"type": "array", "minItems": 1, "items": record},
            },
            "additionalProperties": False,
        },
    )


_PARAM = re.compile(r"\{([a-z_]+)\}")


def _path_parameters(path: str) -> list[str]:
    return _PARAM.findall(path)


@functools.cache
def _build() -> dict[str, Any]:
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
        tags=[{"name": name, "description": text} for name, text in _TAGS],
    )
    _register_components(spec)
    by_path: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        by_path.setdefault(operation.path, {})[operation.method] = operation.to_dict()
    for path, operations in by_path.items():
        # By name: apispec makes each a reference to the component (its hint says dicts).
        parameters: list[Any] = _path_parameters(path)
        spec.path(path=path, operations=operations, parameters=parameters)
    built = spec.to_dict()
    # The version and the info first, as people expect to read them.
    return {"openapi": built.pop("openapi"), "info": built.pop("info"), **built}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of a node's HTTP API (a copy: callers may change it)."""
    return copy.deepcopy(_build())


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path template: ``<int:index>`` becomes ``{index}``."""
    return re.sub(r"<(?:[a-z_]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule)
