"""Operations endpoints: liveness, readiness and Prometheus metrics.

``GET /healthz``
    liveness: the process answers; nothing else is looked at. Anyone may ask.
``GET /readyz``
    readiness (gateway.http.readiness): ``200 {"status": "ready" | "degraded", "checks":
    {name: "ok" | "fail" | "skipped"}}``, or ``503`` with ``"not_ready"``. Without
    credentials (as probes ask) the answer names only the checks and their
    outcomes; a client with the ``operator`` role gets each check's findings too.
    Credentials that are sent must be valid and the operator's (401, 403).
``GET /metrics``
    Prometheus metrics (gateway.http.metrics), for the ``operator`` role.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.errors import Forbidden
from gateway.http.request_helpers import client

__all__ = ["bp"]

bp = Blueprint("probes", __name__)


def _require_operator() -> None:
    if "operator" not in client().roles:
        raise Forbidden("this client does not have the operator role")


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    detailed = request.headers.get("Authorization") is not None
    if detailed:
        _require_operator()
    report = current_app.extensions["gateway.readiness"].run()
    body = report.detailed() if detailed else report.public()
    return jsonify(body), report.http_status


@bp.get("/metrics")
def metrics() -> Response:
    _require_operator()
    registry = current_app.extensions["gateway.metrics_registry"]
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
