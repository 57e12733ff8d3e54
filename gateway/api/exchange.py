"""The node-to-node API: public keys and sealed batch delivery."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gateway import chunked, inbox, witness
from gateway.api._common import node, read_body
from gateway.transfer import JOSE_MEDIA_TYPE

bp = Blueprint("exchange", __name__, url_prefix="/exchange/v1")


@bp.get("/jwks")
def jwks() -> Response:
    response = jsonify(node().keys.public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/batches")
def receive_batch() -> Response:
    # Compact serialisation has no white space; tolerate a trailing newline from a file.
    token = read_body(JOSE_MEDIA_TYPE).strip()
    delivery = inbox.receive(node(), token)
    return jsonify(
        {
            "batch_id": delivery.batch_id,
            "receipt": delivery.receipt,
            "duplicate": delivery.duplicate,
        }
    )


@bp.post("/batches/<batch_id>/manifest")
def receive_manifest(batch_id: str) -> Response:
    """The manifest of a batch sent as chunks; the answer says how many chunks are here."""
    token = read_body(JOSE_MEDIA_TYPE).strip()
    return jsonify(chunked.receive_manifest(node(), batch_id, token))


@bp.post("/batches/<batch_id>/chunks/<int:index>")
def receive_chunk(batch_id: str, index: int) -> Response:
    """One chunk; the answer to the last is the batch's receipt."""
    token = read_body(JOSE_MEDIA_TYPE).strip()
    return jsonify(chunked.receive_chunk(node(), batch_id, index, token))


@bp.post("/witness/add-checkpoint")
def add_checkpoint() -> Response:
    """C2SP tlog-witness: cosign a peer's checkpoint that is consistent with the last one."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    length = req.content_length
    if length is not None and length > witness.MAX_REQUEST_BYTES:
        answer = witness.WitnessAnswer(400, "request too large\n")
    else:
        answer = witness.add_checkpoint(node(), req.get_data(cache=False))
    return Response(answer.body, status=answer.status, content_type=answer.content_type)
