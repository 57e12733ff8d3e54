"""Request helpers shared by the API blueprints."""

from __future__ import annotations

from typing import IO, Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import LimitedStream

from gateway.crypto import strict_json
from gateway.errors import (
    AuthThrottled,
    InvalidJSON,
    PayloadTooLarge,
    RateLimited,
    RequestRejected,
    Unauthorized,
    UnsupportedMediaType,
)
from gateway.http.error_responses import error_response
from gateway.node import refusals
from gateway.node.config import ClientConfig
from gateway.node.node import Node
from gateway.peers import signed_requests


def node() -> Node:
    found: Node = current_app.extensions["gateway.node"]
    return found


def refuse(
    kind: str,
    *,
    subject: str | None = None,
    failure: tuple[refusals.Throttle, str] | None = None,
) -> None:
    """Count a refusal that gets no audit entry of its own, in the database and the metrics."""
    refusals.count(node(), kind, subject=subject, failure=failure)
    current_app.extensions["gateway.request_metrics"].refuse(kind)


def client() -> ClientConfig:
    """The authenticated client of this request, counted against its rate limit.

    A source address that failed to authenticate too often is refused before its
    token is looked at (even a valid one), until its window ends; a token of no
    valid client is counted against its source, a request without one is not.
    Neither is audited one by one (gateway.node.refusals).
    """
    gateway = node()
    throttle: refusals.Throttle = current_app.extensions["gateway.auth_throttle"]
    source = throttle.source(request.remote_addr)
    wait = throttle.retry_after(source)
    if wait is not None:
        refuse("throttled")
        raise AuthThrottled(
            "too many failed authentications from this address; try again later",
            retry_after=wait,
        )
    header = request.headers.get("Authorization")
    try:
        found = gateway.authenticate(header)
    except Unauthorized:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            refuse("unknown_token", failure=(throttle, source))
        else:
            # No token guesses nothing: counted, not held against its source.
            refuse("missing_token")
        raise
    g.client_id = found.id  # for the request's log line
    try:
        current_app.extensions["gateway.client_limits"].check(found)
    except RateLimited:
        refuse("rate_limited", subject=found.id)
        raise
    return found


_RAW_BODY = "gateway.raw_body"


def read_bounded(limit: int) -> bytes:
    """The raw body, refused before it is read when it says it is over ``limit`` bytes.

    Read once a request: a second call (a signed request's body is hashed before
    the view reads it) gets the same bytes.
    """
    # Kept in the request's WSGI environ, not in g: g belongs to the app context, which
    # several requests share where one is pushed around them (tests, scripts).
    environ = request.environ
    body: bytes | None = environ.get(_RAW_BODY)
    if body is None:
        body = environ[_RAW_BODY] = _read_body(limit)
    if len(body) > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    return body


def _read_body(limit: int) -> bytes:
    req = request._get_current_object()  # type: ignore[attr-defined]
    length = req.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
    stream = req.stream
    if length is not None and isinstance(stream, LimitedStream) and not stream.tell():
        # Its length said up front, and nothing of it read yet: read that many bytes
        # from the server's input, as WSGI lets an application do (PEP 3333: no more
        # than CONTENT_LENGTH). Werkzeug's reads of 64 KiB until the stream ends each
        # made gunicorn copy what it had read ahead (up to 1 MiB), a tenth of a
        # receiving worker's CPU; its read of the whole length copies the body twice
        # more (into a zeroed buffer of that length, then out of it), a chunk's MiBs
        # into fresh pages each time.
        return _read_exactly(req.environ["wsgi.input"], length)
    # A chunked body has no length up front; Werkzeug stops reading one byte past
    # the limit (MAX_CONTENT_LENGTH), which is how an oversized one is told apart.
    read: bytes = req.get_data(cache=False)
    return read


def _read_exactly(stream: IO[bytes], length: int) -> bytes:
    """``length`` bytes of ``stream``, or fewer if it ends first; a connection that
    fails while it is read is :class:`ClientDisconnected` (400), as in Werkzeug's stream."""
    try:
        body = stream.read(length) or b""
        while len(body) < length:
            more = stream.read(length - len(body))
            if not more:
                break
            body += more
    except (OSError, ValueError) as exc:
        raise ClientDisconnected() from exc
    return body


def authenticate_peer(limit: int) -> bytes:
    """Check that the request is signed by a peer party (gateway.peers.signed_requests).

    The header is checked (key, signature, claims, time, replay) before a byte of
    the body is read: a request that fails is refused unread. Only then is the
    body read, refused over ``limit`` bytes (unread, when its length says so), and
    compared with the signed digest; it is returned, and ``g.peer`` is the
    requesting party.
    """
    read: list[bytes] = []

    def body() -> bytes:
        # Kept for the request (the same bytes, not a copy): the view reads it again.
        read.append(read_bounded(limit))
        return read[0]

    query = request.query_string.decode("latin-1")
    try:
        verified = signed_requests.authenticate(
            node(),
            request.headers.get("Authorization"),
            method=request.method,
            target=request.path + (f"?{query}" if query else ""),
            body=body,
        )
    except RequestRejected as exc:  # counted in the database by authenticate
        current_app.extensions["gateway.request_metrics"].refuse(refusals.signed_kind(exc.reason))
        raise
    g.peer = verified.party
    return read[0]


def signature_refused(exc: Unauthorized) -> Response:
    """The answer to a node-to-node request that is not signed as it must be."""
    response = error_response(exc.status, {"code": exc.code, "message": exc.message})
    response.headers["WWW-Authenticate"] = f'{signed_requests.SCHEME} realm="exchange"'
    return response


def check_media_type(media_type: str) -> None:
    if request.mimetype != media_type:
        raise UnsupportedMediaType(
            f"Content-Type must be {media_type}, got {request.mimetype or 'none'!r}"
        )


def read_body(media_type: str, limit: int | None = None) -> bytes:
    """The raw body, after checking its type and size (before reading it)."""
    check_media_type(media_type)
    return read_bounded(int(current_app.config["GATEWAY_MAX_BODY"]) if limit is None else limit)


# No request body of this API nests deeper (a record of the agreed schemas is a few levels
# inside {"records": [...]}); RFC 8259 section 9 lets a parser set such a limit.
MAX_JSON_DEPTH = strict_json.MAX_DEPTH


def read_json() -> Any:
    return parse_json(read_body("application/json"))


def parse_json(raw: bytes) -> Any:
    """A request body read with :func:`read_body`, parsed as JSON
    (:mod:`gateway.crypto.strict_json`:
    UTF-8, no duplicate member names, no NaN or Infinity, bounded nesting)."""
    try:
        # RFC 8259 section 8.1: JSON exchanged between systems is UTF-8.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJSON("the body is not UTF-8") from None
    # Marked when plain: intake then writes the records' canonical forms without a check.
    return strict_json.loads(text, max_depth=MAX_JSON_DEPTH, mark_plain=True)
