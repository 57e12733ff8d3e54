"""Per request: its id, its metrics and its log line.

* The request id: the client's ``X-Request-Id`` when it is a short, plain token
  (gateway.ops.logs.safe_request_id), else a new random one; in ``g.request_id``,
  in every log line written while the request is answered, and in the answer's
  ``X-Request-Id`` header.
* The metrics (gateway.http.metrics.RequestMetrics): a count by method, route
  template and status, and the duration by method and route template. The route
  is the URL rule (``/api/v1/batches/<batch_id>``), never the path asked for,
  so that the number of series stays bounded whatever clients ask.
* One log line per request (logger ``gateway.request``, INFO; DEBUG for the
  probes and metrics scrapes): method, route template, status, duration,
  request id, and the authenticated client's id or the requesting peer party.
  Never a token, a body, a query or a path.
"""

from __future__ import annotations

import logging
import os
import time

from flask import Flask, Response, g, request

from gateway.http.metrics import UNMATCHED_ROUTE, RequestMetrics
from gateway.ops.logs import REQUEST_LOGGER, safe_request_id

__all__ = ["init_app"]

log = logging.getLogger(REQUEST_LOGGER)

# Answered often and to machines: their request lines are written at DEBUG only.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def init_app(app: Flask) -> None:
    metrics: RequestMetrics = app.extensions["gateway.request_metrics"]

    @app.before_request
    def _begin() -> None:
        g.request_started = time.perf_counter()
        # request.headers.get("X-Request-Id"), without building the headers' view.
        sent = request.environ.get("HTTP_X_REQUEST_ID")
        g.request_id = safe_request_id(sent) or os.urandom(16).hex()

    @app.after_request
    def _end(response: Response) -> Response:
        # The objects behind the context proxies, looked up once each.
        req = request._get_current_object()  # type: ignore[attr-defined]
        ctx = g._get_current_object()
        started = getattr(ctx, "request_started", None)
        seconds = time.perf_counter() - (time.perf_counter() if started is None else started)
        url_rule = req.url_rule
        rule = url_rule.rule if url_rule is not None else None
        status = response.status_code
        method = req.method
        metrics.observe(method, rule, status, seconds)
        route = rule or UNMATCHED_ROUTE
        fields: dict[str, object] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_seconds": round(seconds, 6),
        }
        who = ""
        client_id = getattr(ctx, "client_id", None)
        peer = getattr(ctx, "peer", None)
        if client_id:
            fields["client"] = client_id
            who = f" client={client_id}"
        if peer:
            fields["peer"] = peer
            who += f" peer={peer}"
        # Probes and scrapes come every few seconds: their lines only at DEBUG.
        level = logging.DEBUG if rule in _QUIET_ROUTES else logging.INFO
        log.log(level, "%s %s %d %.3fs%s", method, route, status, seconds, who, extra=fields)
        return response
