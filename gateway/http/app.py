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

# The headers of every answer after its request id, in order: (name, value, whether
# it replaces one the answer has; else the answer's is kept). An API of JSON and JOSE:
# nothing in an answer is to be rendered, framed, fetched by another origin's page or
# told where it came from.
_SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff", True),
    ("Cache-Control", "no-store", False),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'", False),
    ("X-Frame-Options", "DENY", True),
    ("Referrer-Policy", "no-referrer", True),
    ("Cross-Origin-Resource-Policy", "same-origin", True),
)
_HSTS = (("Strict-Transport-Security", "max-age=31536000", True),)


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
        # Each header below either replaces any of its name or, if the answer has one,
        # is left as it is; a name the answer does not have yet, as most have none, is
        # added without looking through the answer's headers once per name.
        present = {name.lower() for name, _ in headers.items()}
        for name, value, replace in (
            ("X-Request-Id", g.get("request_id", ""), True),
            *_SECURITY_HEADERS,
            *(_HSTS if request.is_secure else ()),
        ):
            if name.lower() not in present:
                headers.add(name, value)
            elif replace:
                headers[name] = value
        return response

    api.init_app(app)
    console.init_app(app)
    # Every worker keeps its own view of the signed agreements current, scheduler or not.
    node.watch_agreements()
    logging.getLogger("gateway").setLevel(logging.INFO)
    return app
