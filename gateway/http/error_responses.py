"""Turning every error into one JSON shape: ``{"error": {"code", "message", "path"?}}``."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gateway.errors import (
    EnvelopeRejected,
    GatewayError,
    RateLimited,
    ReceiverNotChosen,
    SchemaViolation,
)
from gateway.messages import DEFAULT_LANGUAGE, LANGUAGES

log = logging.getLogger("gateway.http.api")

# Werkzeug's names for HTTP errors, as stable codes.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, body: dict[str, object]) -> Response:
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gateway"'
    return response


def _unexpected_error() -> Response:
    """The answer to an exception no request should meet: 500 with a reference to the
    log, where the exception is written with its traceback."""
    request_id = g.get("request_id") or uuid.uuid4().hex
    log.exception("request %s failed unexpectedly", request_id)
    return error_response(
        500, {"code": "internal_error", "message": f"internal error; reference {request_id}"}
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(GatewayError)
    def _gateway_error(exc: GatewayError) -> Response:
        if exc.internal:
            return _unexpected_error()
        if isinstance(exc, EnvelopeRejected):
            # The detail was logged and audited where it happened; a peer gets nothing more.
            return error_response(exc.status, {"code": exc.code, "message": exc.message})
        if exc.status >= 500:
            log.error("request %s failed: %s", g.get("request_id"), exc)
        if isinstance(exc, (SchemaViolation, ReceiverNotChosen)):
            # Field errors are for people to act on: in Bahasa Indonesia or English.
            language = request.accept_languages.best_match(LANGUAGES, default=DEFAULT_LANGUAGE)
            response = error_response(exc.status, exc.to_dict(language))
            response.headers["Content-Language"] = language
            response.vary.add("Accept-Language")
            return response
        response = error_response(exc.status, exc.to_dict())
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        message = {
            413: f"the request body is over the limit of {app.config['GATEWAY_MAX_BODY']} bytes",
            404: f"no such endpoint: {request.method} {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
        }.get(status, exc.description or code)
        return error_response(status, {"code": code, "message": message})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        return _unexpected_error()
