"""The Flask application factory."""

from __future__ import annotations

import logging
import os

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.http import api, console
from gateway.http.ratelimit import ClientLimits
from gateway.node.config import NodeConfig, load_node_config
from gateway.node.node import Node
from gateway.node.refusals import Throttle
from gateway.timestamps import Clock

__all__ = ["CONFIG_ENV", "create_app"]

CONFIG_ENV = "GATEWAY_CONFIG"


def create_app(config: NodeConfig | str | None = None, *, clock: Clock | None = None) -> Flask:
    """Build a node's app from a :class:`NodeConfig`, a config path, or ``$GATEWAY_CONFIG``."""
    if config is None:
        path = os.environ.get(CONFIG_ENV)
        if not path:
            raise RuntimeError(f"set {CONFIG_ENV} to the node's config file")
        config = path
    if isinstance(config, str):
        config = load_node_config(config)
    node = Node.from_config(config, clock=clock)

    app = Flask("gateway")
    app.config["GATEWAY_MAX_BODY"] = config.max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes + 1
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["gateway.node"] = node
    app.extensions["gateway.client_limits"] = ClientLimits(config)
    app.extensions["gateway.auth_throttle"] = Throttle(
        node, scope="api", rate=config.failed_auth_rate_limit
    )
    if config.trusted_proxies:
        # request.remote_addr becomes the client's address as the outermost trusted
        # proxy saw it (the Nth from the right in X-Forwarded-For); without any
        # trusted proxy the header is ignored, so a client cannot choose its address.
        # The scheme likewise (X-Forwarded-Proto), so that a console behind a proxy that
        # terminates TLS knows it is served over https.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=config.trusted_proxies,
            x_proto=config.trusted_proxies,
            x_host=0,
            x_port=0,
            x_prefix=0,
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers["X-Request-Id"] = g.get("request_id", "")
        headers["X-Content-Type-Options"] = "nosniff"
        headers.setdefault("Cache-Control", "no-store")
        # An API of JSON and JOSE: nothing in an answer is to be rendered, framed,
        # fetched by another origin's page or told where it came from.
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if request.is_secure:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    api.init_app(app)
    console.init_app(app)
    # Every worker keeps its own view of the signed agreements current, scheduler or not.
    node.watch_agreements()
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app
