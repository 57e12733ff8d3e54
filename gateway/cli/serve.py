"""``gateway serve``: running the node, its HTTP API in gunicorn and its transfer schedule."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
from typing import Any

import click

from gateway.cli.common import config_option, node_config
from gateway.errors import GatewayError
from gateway.exchange.schedule import IdleExecutor, build_scheduler
from gateway.node.config import TLSConfig
from gateway.node.node import Node
from gateway.ops.malloc import release_free_memory, reuse_large_buffers

__all__ = ["gunicorn_tls_arguments", "serve"]


@click.command("serve")
@config_option
@click.option("--no-scheduler", is_flag=True, help="serve the API only; run no transfers")
@click.option("--dev-server", is_flag=True, help="Flask's debug server instead of gunicorn")
def serve(config_path: str | None, no_scheduler: bool, dev_server: bool) -> None:
    """Run the node: the HTTP API under gunicorn, and the transfer schedule."""
    config = node_config(config_path)
    if dev_server and config.mode == "production":
        raise GatewayError("--dev-server is for development only; this node is in production mode")
    if dev_server and config.tls.serves_https:
        raise GatewayError(
            "--dev-server serves plain HTTP only; a node with [node.tls] cert_file runs "
            "under gunicorn (leave out --dev-server)"
        )
    node = Node.from_config(config)  # fails early on bad keys; creates the schema once
    scheduler = None
    if config.scheduler_enabled and not no_scheduler:
        scheduler = build_scheduler(node)
        # The schedule seals chunk after chunk: each reuses the buffers of the one
        # before (gateway.ops.malloc). What the jobs' runs freed (those buffers, a
        # ledger slice) goes back to the system when the last one running ends.
        reuse_large_buffers()
        scheduler.add_executor(IdleExecutor(release_free_memory), "default")
        scheduler.start()
    # This process's view too: the scheduler reconciles its jobs when it changes.
    node.watch_agreements()
    env = {
        **os.environ,
        "GATEWAY_CONFIG": str(config.source),
        "GATEWAY_LISTEN": config.listen,
        "GATEWAY_WORKERS": str(config.workers),
        "GATEWAY_THREADS": str(config.threads),
    }
    if dev_server:
        host, _, port = config.listen.rpartition(":")
        argv = [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "gateway.http.app:create_app()",
            "run",
            "--host",
            host,
            "--port",
            port,
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "python:gateway.ops.gunicorn_config",
            *gunicorn_tls_arguments(config.tls),
            "gateway.http.app:create_app()",
        ]
    server = subprocess.Popen(argv, env=env)

    def _stop(signum: int, _frame: Any) -> None:
        server.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    code = server.wait()
    node.stop_watching_agreements()
    if scheduler is not None:
        scheduler.shutdown(wait=True)
    node.store.dispose()
    sys.exit(code)


def gunicorn_tls_arguments(tls: TLSConfig) -> list[str]:
    """gunicorn's options for the node's ``[node.tls]``: none when it serves plain HTTP."""
    if tls.cert_file is None or tls.key_file is None:
        return []
    argv = ["--certfile", str(tls.cert_file), "--keyfile", str(tls.key_file)]
    if tls.client_ca_file is not None:
        # No certificate from a CA in the bundle, no TLS session: the handshake fails.
        argv += ["--ca-certs", str(tls.client_ca_file), "--cert-reqs", str(int(ssl.CERT_REQUIRED))]
    return argv
