"""The node-to-node API: public keys and sealed batch delivery."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway import inbox
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
