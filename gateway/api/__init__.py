"""HTTP API blueprints, wired into an app by :func:`init_app`."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from gateway.api import audit, errors, exchange, records, schemas

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(records.bp)
    app.register_blueprint(exchange.bp)
    app.register_blueprint(schemas.bp)
    app.register_blueprint(audit.bp)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})
