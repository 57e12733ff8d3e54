"""The agreements a node has in force, for auditors and operators.

``GET /api/v1/agreements``
    the agreements in force and ended (id, version, SHA-256 of the signed content,
    parties, number of flows, ``ends_on``, when taken up, why ended) and the agreement
    files refused, with the reason (gateway.node.agreement_reload). As the worker that
    answers sees them: every worker takes a change up within ``agreements_poll_seconds``.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from gateway.errors import Forbidden
from gateway.http.request_helpers import client
from gateway.node import agreement_reload

__all__ = ["bp"]

bp = Blueprint("agreements", __name__)


@bp.get("/api/v1/agreements")
def list_agreements() -> Response:
    if not client().roles & {"auditor", "operator"}:
        raise Forbidden("this client has neither the auditor nor the operator role")
    return jsonify(agreement_reload.report(current_app.extensions["gateway.node"]))
