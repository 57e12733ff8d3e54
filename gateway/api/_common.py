"""Request helpers shared by the API blueprints."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, request

from gateway.config import ClientConfig
from gateway.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType
from gateway.node import Node


def node() -> Node:
    found: Node = current_app.extensions["gateway.node"]
    return found


def client() -> ClientConfig:
    """The authenticated client of this request, counted against its rate limit."""
    found = node().authenticate(request.headers.get("Authorization"))
    current_app.extensions["gateway.client_limits"].check(found)
    return found


def read_body(media_type: str) -> bytes:
    """The raw body, after checking its type and size (before reading it)."""
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.mimetype != media_type:
        raise UnsupportedMediaType(
            f"Content-Type must be {media_type}, got {req.mimetype or 'none'!r}"
        )
    limit = int(current_app.config["GATEWAY_MAX_BODY"])
    length = req.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    # A chunked body has no length up front; Werkzeug stops reading one byte past
    # the limit (MAX_CONTENT_LENGTH), which is how an oversized one is told apart.
    body: bytes = req.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    return body


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not valid JSON")


# Built once: json.loads with options builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def read_json() -> Any:
    raw = read_body("application/json")
    try:
        # RFC 8259 section 8.1: JSON exchanged between systems is UTF-8.
        return _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidJSON("the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSON(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path=""
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InvalidJSON(f"malformed JSON: {exc}", path="") from None
