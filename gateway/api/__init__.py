"""HTTP API blueprints, wired into an app by :func:`init_app`."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from gateway.api import errors, exchange, records

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(records.bp)
    app.register_blueprint(exchange.bp)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})
