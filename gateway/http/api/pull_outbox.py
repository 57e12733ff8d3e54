"""The sender's outbox for receivers in peer-pull mode (docs/ENVELOPE.md section 9.5).

Every request is signed by the requesting party's registered key
(:mod:`gateway.peers.signed_requests`), checked before any endpoint runs; a request
that fails a check is answered 401 with nothing more.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from gateway.errors import BadRequest, Unauthorized
from gateway.exchange import pull
from gateway.exchange.sending import JOSE_MEDIA_TYPE
from gateway.http.request_helpers import authenticate_peer, node, read_json, signature_refused

bp = Blueprint("outbox", __name__, url_prefix=pull.OUTBOX_PATH)

# A receipt is well under a kilobyte; no request here needs more.
_MAX_REQUEST_BYTES = 64 * 1024


@bp.before_request
def _authenticate() -> None:
    authenticate_peer(_MAX_REQUEST_BYTES)


bp.register_error_handler(Unauthorized, signature_refused)


def _limit() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return pull.DEFAULT_LIMIT
    # isascii: str.isdigit() is true of "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= pull.MAX_LIMIT:
        raise BadRequest(f"limit must be an integer from 1 to {pull.MAX_LIMIT}", path="limit")
    return int(raw)


@bp.get("")
def listing() -> Response:
    """The sealed, undelivered batches of pull flows addressed to the requesting party."""
    return jsonify(
        pull.outbox_listing(node(), g.peer, dataset=request.args.get("dataset"), limit=_limit())
    )


@bp.get("/<batch_id>")
def envelope(batch_id: str) -> Response:
    """The sealed batch, or of a chunked batch its sealed manifest."""
    return Response(pull.outbox_envelope(node(), g.peer, batch_id), content_type=JOSE_MEDIA_TYPE)


@bp.get("/<batch_id>/chunks/<int:index>")
def chunk(batch_id: str, index: int) -> Response:
    """One chunk of a chunked batch, sealed when asked for."""
    return Response(
        pull.outbox_chunk(node(), g.peer, batch_id, index), content_type=JOSE_MEDIA_TYPE
    )


@bp.post("/<batch_id>/receipt")
def receipt(batch_id: str) -> Response:
    """The receiver's signed receipt: the batch is delivered when it verifies."""
    body = read_json()
    token = body.get("receipt") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise BadRequest('the body must be {"receipt": "<compact JWS>"}', path="/receipt")
    return jsonify(pull.take_receipt(node(), g.peer, batch_id, token))


@bp.post("/<batch_id>/refusal")
def refusal(batch_id: str) -> Response:
    """The receiver refused the batch it fetched: the batch is dead here, audited."""
    body = read_json()
    if not isinstance(body, dict) or body:
        raise BadRequest("the body must be {}: a refusal says no reason", path="")
    return jsonify(pull.take_refusal(node(), g.peer, batch_id))
