"""HTTP API blueprints, wired into an app by :func:`init_app`."""

from __future__ import annotations

from flask import Flask

from gateway.api import apidocs, audit, errors, exchange, observe, outbox, probes, records, schemas
from gateway.metrics import metrics_registry
from gateway.readiness import Readiness

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    node = app.extensions["gateway.node"]
    registry, request_metrics = metrics_registry(node)
    app.extensions["gateway.metrics_registry"] = registry
    app.extensions["gateway.request_metrics"] = request_metrics
    app.extensions["gateway.readiness"] = Readiness(node)
    observe.init_app(app)
    errors.init_app(app)
    app.register_blueprint(records.bp)
    app.register_blueprint(exchange.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(schemas.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(apidocs.bp)
    app.register_blueprint(probes.bp)
