"""The node-to-node API: public keys, sealed batch delivery and witnessing.

Every POST here, and the GET of a batch's evidence, is a signed request of a
party of the agreement (:mod:`gateway.peers.signed_requests`: its registered key, a
fresh timestamp, a single-use id and the body's digest), checked before any endpoint runs; a
request that fails a check is answered 401 with nothing more, and audited.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request

from gateway.crypto.keyring import KEYRING_FILE, Keyring
from gateway.errors import Unauthorized
from gateway.exchange import chunked_receiving, receiving
from gateway.exchange.sending import JOSE_MEDIA_TYPE
from gateway.http.console import evidence
from gateway.http.request_helpers import (
    authenticate_peer,
    check_media_type,
    node,
    read_bounded,
    signature_refused,
)
from gateway.peers import witness

bp = Blueprint("exchange", __name__, url_prefix="/exchange/v1")


# A GET here has no body.
_MAX_GET_BYTES = 1024


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "exchange.jwks":
        return  # the JWKS is public
    if request.method != "POST":
        authenticate_peer(_MAX_GET_BYTES)
        return
    witnessing = request.endpoint == "exchange.add_checkpoint"
    limit = witness.MAX_REQUEST_BYTES if witnessing else current_app.config["GATEWAY_MAX_BODY"]
    authenticate_peer(int(limit))


bp.register_error_handler(Unauthorized, signature_refused)


def _envelope() -> bytes:
    check_media_type(JOSE_MEDIA_TYPE)
    # Compact serialisation has no white space; tolerate a trailing newline from a file.
    return read_bounded(int(current_app.config["GATEWAY_MAX_BODY"])).strip()


@bp.get("/jwks")
def jwks() -> Response:
    """Every key of the node with its validity, as the key ring says now.

    Read from the ring at each request, so that a revocation is published the
    moment ``gateway keys revoke`` writes it, before the node restarts.
    """
    key_dir = node().config.key_dir
    if (key_dir / KEYRING_FILE).exists():
        published = Keyring.load(key_dir).public_jwks()
    else:
        published = node().keys.public_jwks()
    response = jsonify(published)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.post("/batches")
def receive_batch() -> Response:
    delivery = receiving.receive(node(), _envelope(), requester=g.peer)
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
    return jsonify(
        chunked_receiving.receive_manifest(node(), batch_id, _envelope(), requester=g.peer)
    )


@bp.post("/batches/<batch_id>/chunks/<int:index>")
def receive_chunk(batch_id: str, index: int) -> Response:
    """One chunk; the answer to the last is the batch's receipt."""
    return jsonify(
        chunked_receiving.receive_chunk(node(), batch_id, index, _envelope(), requester=g.peer)
    )


@bp.get("/audit/batches/<batch_id>")
def batch_evidence(batch_id: str) -> Response:
    """This node's evidence bundle of a batch, for the batch's other party (its console
    shows the exchange on both nodes); any other batch is 404 alike."""
    return jsonify(evidence.peer_bundle(node(), g.peer, batch_id))


@bp.post("/witness/add-checkpoint")
def add_checkpoint() -> Response:
    """C2SP tlog-witness: cosign a peer's checkpoint that is consistent with the last one."""
    answer = witness.add_checkpoint(
        node(), read_bounded(witness.MAX_REQUEST_BYTES), requester=g.peer
    )
    return Response(answer.body, status=answer.status, content_type=answer.content_type)
