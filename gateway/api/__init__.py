"""HTTP API blueprints, wired into an app by :func:`init_app`."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from gateway.api import apidocs, audit, errors, exchange, outbox, records, schemas
from gateway.api._common import client
from gateway.errors import Forbidden
from gateway.metrics import NodeCollector

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(records.bp)
    app.register_blueprint(exchange.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(schemas.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(apidocs.bp)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(app.extensions["gateway.node"]))

    @app.get("/metrics")
    def metrics() -> Response:
        who = client()
        if "operator" not in who.roles:
            raise Forbidden("this client does not have the operator role")
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})
