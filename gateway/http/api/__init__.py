"""HTTP API blueprints, wired into an app by :func:`init_app`.

One blueprint per audience: ``records`` (the node's own systems), ``exchange``
(peer nodes), ``pull_outbox`` (peers pulling in pull mode), ``audit_log``
(auditors), ``cases`` (the case ledger, for auditors and the systems that feed
it), ``schemas``, ``probes`` (operators), ``agreements`` (auditors
and operators) and ``apidocs``; ``observe`` gives
every request its id, metrics and log line.

A blueprint may import gateway.http's shared modules (request_helpers,
error_responses, metrics, readiness, openapi), gateway.exchange, gateway.ops and
everything below them; the work a route does lives in those layers, not here.
"""

from __future__ import annotations

from flask import Flask

from gateway.http import error_responses
from gateway.http.api import (
    agreements,
    apidocs,
    audit_log,
    cases,
    exchange,
    observe,
    probes,
    pull_outbox,
    records,
    schemas,
)
from gateway.http.metrics import metrics_registry
from gateway.http.readiness import Readiness

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    node = app.extensions["gateway.node"]
    registry, request_metrics = metrics_registry(node)
    app.extensions["gateway.metrics_registry"] = registry
    app.extensions["gateway.request_metrics"] = request_metrics
    app.extensions["gateway.readiness"] = Readiness(node)
    observe.init_app(app)
    error_responses.init_app(app)
    app.register_blueprint(records.bp)
    app.register_blueprint(exchange.bp)
    app.register_blueprint(pull_outbox.bp)
    app.register_blueprint(schemas.bp)
    app.register_blueprint(audit_log.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(apidocs.bp)
    app.register_blueprint(probes.bp)
    app.register_blueprint(agreements.bp)
