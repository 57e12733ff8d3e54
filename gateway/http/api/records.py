"""The API for the node's own systems: submit records, follow them, pull received batches."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from gateway.errors import BadRequest, GatewayError, InvalidIdempotencyKey, RateLimited
from gateway.exchange import intake, receiving
from gateway.http.request_helpers import client, node, parse_json, read_body

bp = Blueprint("records", __name__, url_prefix="/api/v1")

IDEMPOTENCY_KEY = "Idempotency-Key"
_KEY_PROBLEM = (
    "Idempotency-Key must be one string of 1 to 255 printable ASCII characters, "
    'preferably a structured-field string (RFC 8941) such as "4f9c0a1e-..."'
)


def _sf_string(value: str) -> str | None:
    """The text of an RFC 8941 sf-string (``"..."`` with ``\\"`` and ``\\\\``), or None."""
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(value[1:], start=1):
        if escaped:
            if ch not in '"\\':
                return None
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            return "".join(out) if i == len(value) - 1 else None  # no parameters
        else:
            out.append(ch)
    return None  # no closing quote


def idempotency_key() -> str | None:
    """The request's ``Idempotency-Key`` (draft-ietf-httpapi-idempotency-key-header), if any.

    The draft makes it an RFC 8941 string (``Idempotency-Key: "..."``); a bare
    value, which many clients send, is taken as it is unless it holds a comma.
    """
    # One look-up in the WSGI environ (headers.getlist would walk all of it). The
    # server joins a repeated field into one value with commas ('"a", "b"' or 'a,b'):
    # no string has that form, and a bare key may not hold a comma.
    value = request.headers.get(IDEMPOTENCY_KEY)
    if value is None:
        return None
    value = value.strip()
    key = _sf_string(value) if value.startswith('"') else value if "," not in value else None
    if key is None or not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise InvalidIdempotencyKey(_KEY_PROBLEM, path=IDEMPOTENCY_KEY)
    return key


def _accepted(result: dict[str, Any], *, replayed: bool) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # What jsonify answers (compact JSON and a newline, unless in debug mode), with its
    # status set at once rather than by the tuple that Flask would take apart.
    body = app.json.dumps(result, **({"indent": 2} if app.debug else {"separators": (",", ":")}))
    response: Response = app.response_class(f"{body}\n", status=202, mimetype="application/json")
    if replayed:
        # The answer to an earlier request with this key; nothing was stored now.
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/datasets/<dataset>/records")
def submit_records(dataset: str) -> Response:
    gateway = node()
    client_id = None
    try:
        who = client()
        client_id = who.id
        intake.may_submit(gateway, who, dataset)  # before the body is read
        key = idempotency_key()
        raw = read_body("application/json")
        keyed = None
        if key is not None:
            keyed = intake.Idempotency(key, hashlib.sha256(raw).hexdigest())
            earlier = intake.replay(gateway, who, dataset, keyed)
            if earlier is not None:
                return _accepted(earlier, replayed=True)
        result, replayed = intake.submit_once(
            gateway, who, dataset, parse_json(raw), idempotency=keyed
        )
    except GatewayError as exc:
        # Only an authenticated client's refusal is audited on its own; the others,
        # and a client over its rate limit, were counted by client() (gateway.node.refusals).
        if client_id is not None and not isinstance(exc, RateLimited):
            intake.record_rejection(gateway, client_id=client_id, dataset=dataset, reason=exc.code)
        # Labelled with agreed names only: the path's dataset is whatever a client sent.
        known = dataset if dataset in gateway.config.agreement.dataset_names else "unknown"
        current_app.extensions["gateway.request_metrics"].reject(known, exc.code)
        raise
    return _accepted(result, replayed=replayed)


@bp.get("/submissions/<submission_id>")
def submission_status(submission_id: str) -> Response:
    """Where a submission's records are: pending, or in which batches, in which state."""
    return jsonify(intake.status(node(), client(), submission_id))


@bp.get("/client")
def describe_client() -> Response:
    """The calling client: what it may submit and pull, its roles, the node's limits."""
    who = client()
    gateway = node()
    agreement = gateway.config.agreement
    submit = []
    for dataset in sorted(who.submit):
        receivers = agreement.receivers(dataset, sender=gateway.party_id)
        first = (
            agreement.flow(dataset, sender=gateway.party_id, receiver=receivers[0])
            if receivers
            else None
        )
        if first is None:  # as intake.may_submit decides
            continue
        submit.append(
            {
                "dataset": dataset,
                # The one receiver, when a submission need not name it; else null, and
                # a submission names one of receivers.
                "receiver": receivers[0] if len(receivers) == 1 else None,
                "receivers": list(receivers),
                "schema_versions": list(first.schema_versions),
            }
        )
    pull = [
        {
            "dataset": dataset,
            "senders": sorted(
                f.sender
                for f in agreement.flows
                if f.name == dataset and f.receiver == gateway.party_id
            ),
        }
        for dataset in sorted(who.pull)
        if dataset in agreement.dataset_names  # as receiving.list_batches decides
    ]
    return jsonify(
        {
            "client_id": who.id,
            "party": gateway.party_id,
            "submit": submit,
            "pull": pull,
            "roles": sorted(who.roles),
            "limits": {
                "max_records_per_submission": gateway.config.max_records_per_submission,
                "max_body_bytes": gateway.config.max_body_bytes,
            },
        }
    )


@bp.get("/datasets/<dataset>/batches")
def list_batches(dataset: str) -> Response:
    who = client()
    raw_limit = request.args.get("limit", "100")
    # isascii: str.isdigit() is true of "²", which int() refuses.
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= 1000:
        raise BadRequest("limit must be an integer from 1 to 1000", path="limit")
    return jsonify(
        receiving.list_batches(
            node(), who, dataset, after=request.args.get("after"), limit=int(raw_limit)
        )
    )


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    return jsonify(receiving.get_batch(node(), client(), batch_id))


@bp.get("/batches/<batch_id>/chunks/<int:index>")
def get_chunk(batch_id: str, index: int) -> Response:
    return jsonify(receiving.get_chunk(node(), client(), batch_id, index))


@bp.post("/batches/<batch_id>/ack")
def ack_batch(batch_id: str) -> Response:
    return jsonify(receiving.acknowledge(node(), client(), batch_id))
