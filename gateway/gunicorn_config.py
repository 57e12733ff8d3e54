"""gunicorn settings for a gateway node (``gunicorn -c python:gateway.gunicorn_config``).

``gateway serve`` sets ``GATEWAY_CONFIG``, ``GATEWAY_LISTEN`` and ``GATEWAY_WORKERS``,
and passes the node's ``[node.tls]`` files on the command line (``--certfile``,
``--keyfile``, ``--ca-certs``, ``--cert-reqs``), where gunicorn takes them.
"""

import os
import ssl
from collections.abc import Callable
from typing import Any

from gateway.memory import bound_large_allocations

# Set in the master, inherited by every worker it forks (gateway.memory).
bound_large_allocations()

bind = os.environ.get("GATEWAY_LISTEN", "127.0.0.1:8700")
workers = int(os.environ.get("GATEWAY_WORKERS", "3"))
# Threads let one worker hold several requests at once, so that their writes
# share a durable commit (gateway.groupcommit) instead of an fsync each.
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "6"))
timeout = 60
graceful_timeout = 20
# Bodies are limited by the app (max_body_bytes); headers are limited here.
limit_request_line = 4094
limit_request_fields = 50
accesslog = "-" if os.environ.get("GATEWAY_ACCESS_LOG") == "1" else None
errorlog = "-"
loglevel = "info"
proc_name = "gateway-node"
# Several nodes may run on one host; none needs gunicorn's shared control socket.
control_socket_disable = True


def ssl_context(
    conf: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """gunicorn's TLS context (certificate, key, client CAs and cert_reqs), TLS 1.2 or newer."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
