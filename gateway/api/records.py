"""The API for the node's own systems: submit records, pull received batches."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from gateway import inbox, outbox
from gateway.api._common import client, node, read_json
from gateway.errors import BadRequest, GatewayError

bp = Blueprint("records", __name__, url_prefix="/api/v1")


@bp.post("/datasets/<dataset>/records")
def submit_records(dataset: str) -> tuple[Response, int]:
    gateway = node()
    client_id = None
    try:
        who = client()
        client_id = who.id
        outbox.may_submit(gateway, who, dataset)  # before the body is read
        body = read_json()
        result = outbox.submit(gateway, who, dataset, body)
    except GatewayError as exc:
        outbox.record_rejection(gateway, client_id=client_id, dataset=dataset, reason=exc.code)
        # Labelled with agreed names only: the path's dataset is whatever a client sent.
        known = dataset if dataset in gateway.config.agreement.dataset_names else "unknown"
        current_app.extensions["gateway.request_metrics"].reject(known, exc.code)
        raise
    return jsonify(result), 202


@bp.get("/datasets/<dataset>/batches")
def list_batches(dataset: str) -> Response:
    who = client()
    raw_limit = request.args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise BadRequest("limit must be an integer from 1 to 1000", path="limit")
    return jsonify(
        inbox.list_batches(
            node(), who, dataset, after=request.args.get("after"), limit=int(raw_limit)
        )
    )


@bp.get("/batches/<batch_id>")
def get_batch(batch_id: str) -> Response:
    return jsonify(inbox.get_batch(node(), client(), batch_id))


@bp.get("/batches/<batch_id>/chunks/<int:index>")
def get_chunk(batch_id: str, index: int) -> Response:
    return jsonify(inbox.get_chunk(node(), client(), batch_id, index))


@bp.post("/batches/<batch_id>/ack")
def ack_batch(batch_id: str) -> Response:
    return jsonify(inbox.acknowledge(node(), client(), batch_id))
