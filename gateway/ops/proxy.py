"""The reverse proxy in front of a node: Debian's nginx, configured for it.

gunicorn's documentation advises running it behind a buffering proxy: its
workers hold a thread for each request being read, so clients that send a byte
at a time can hold them all. :func:`render_nginx` renders the shipped
configuration (``gateway/templates/nginx/gateway.conf``) for a node: nginx reads
each request in full before passing it on, cuts clients that send too slowly, and
bounds the connections and requests of each address. ``gateway proxy nginx``
prints it; :class:`NginxProcess` runs nginx with it as a child process (the
tests). docs/OPERATIONS.md section 4.1 describes it.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2

from gateway.node.config import NodeConfig
from gateway.ops.process import ServerProcess

__all__ = ["NGINX", "NginxProcess", "ProxyLimits", "ProxyTLS", "find_nginx", "render_nginx"]

# Debian's nginx (apt-get install nginx), unless GATEWAY_NGINX names another binary.
NGINX = "/usr/sbin/nginx"
_NGINX_ENV = "GATEWAY_NGINX"
# What the node's receipts and checkpoints take (gateway/http/api/pull_outbox.py,
# gateway/peers/witness.py).
_SMALL_BODY = "64k"

_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):\d{1,5}|\d{1,5}")
_SERVER_NAME = re.compile(r"[A-Za-z0-9_.*\-]+( [A-Za-z0-9_.*\-]+)*")


@dataclass(frozen=True)
class ProxyLimits:
    """Timeouts (seconds) and limits of the proxy; the defaults are for production.

    ``header_timeout``: the whole request header; ``body_timeout``: between two
    reads of the body; ``send_timeout``: between two writes of the answer;
    ``keepalive_timeout``: an idle connection. ``upstream_timeout`` is above the
    node's own 60 s (gunicorn_config.timeout). Per client address:
    ``connections_per_address`` with a request under way (institutions' systems
    and a peer node make a few at a time), ``requests_per_second`` with bursts of
    ``burst`` (the node also limits each client, gateway.http.ratelimit). Liveness and
    readiness probes are exempt. ``max_body``: bytes, the node's ``max_body_bytes``
    by default.
    """

    header_timeout: int = 10
    body_timeout: int = 30
    send_timeout: int = 30
    keepalive_timeout: int = 15
    connect_timeout: int = 5
    upstream_timeout: int = 75
    connections_per_address: int = 32
    requests_per_second: int = 50
    burst: int = 200
    max_body: int | None = None


@dataclass(frozen=True)
class ProxyTLS:
    """The proxy's certificate (chain) and key; ``client_ca``: require client certificates."""

    cert: Path
    key: Path
    client_ca: Path | None = None


def _file(path: Path) -> str:
    text = str(path.resolve())
    if not re.fullmatch(r"[A-Za-z0-9_./\-+@:]+", text):
        raise ValueError(f"a path nginx can take without quoting, got {text!r}")
    return text


def render_nginx(
    config: NodeConfig,
    *,
    listen: str,
    server_name: str,
    tls: ProxyTLS | None,
    upstream: str | None = None,
    limits: ProxyLimits = ProxyLimits(),
) -> str:
    """The nginx configuration (http context) that serves ``config``'s node at ``listen``.

    ``upstream``: where the node listens, host:port (default: the config's
    ``listen``). ``tls`` None serves plain HTTP, for a proxy behind another that
    terminates TLS, or a test on loopback.
    """
    if config.tls.serves_https:
        raise ValueError(
            "the node serves HTTPS itself ([node.tls] cert_file): behind this proxy, which "
            "terminates TLS, it serves plain HTTP on a loopback or private address"
        )
    upstream = upstream or config.listen
    for name, value in (("listen", listen), ("upstream", upstream)):
        if not _ADDRESS.fullmatch(value):
            raise ValueError(f"{name} must be host:port or a port, got {value!r}")
    if not _SERVER_NAME.fullmatch(server_name):
        raise ValueError(f"server name must be host names separated by spaces: {server_name!r}")
    values = asdict(limits)
    if limits.max_body is None:
        values["max_body"] = config.max_body_bytes
    for name, value in values.items():
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    values["small_body"] = _SMALL_BODY
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway", "templates/nginx"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - an nginx configuration, not HTML
    )
    tls_values = None
    if tls is not None:
        tls_values = {
            "cert": _file(tls.cert),
            "key": _file(tls.key),
            "client_ca": _file(tls.client_ca) if tls.client_ca else None,
        }
    return env.get_template("gateway.conf").render(
        party=config.party_id,
        zone="gateway_" + re.sub(r"[^A-Za-z0-9_]", "_", config.party_id),
        config_file=config.source.name,
        listen=listen,
        server_name=server_name,
        upstream=upstream,
        tls=tls_values,
        limits=values,
    )


def find_nginx() -> str | None:
    """The nginx binary to run: ``$GATEWAY_NGINX``, Debian's, or one on the PATH."""
    named = os.environ.get(_NGINX_ENV)
    if named:
        return named
    if os.access(NGINX, os.X_OK):
        return NGINX
    return shutil.which("nginx")


class NginxProcess(ServerProcess):
    """nginx in the foreground as a child process, with a rendered site file.

    Everything it writes (pid file, temporary bodies) is under ``prefix``; its
    errors go to ``log_path``. Ready when ``GET /healthz`` through it answers 200,
    so the node behind it must be running.
    """

    def __init__(
        self, site: str, *, listen: str, prefix: Path, log_path: Path, nginx: str | None = None
    ) -> None:
        binary = nginx or find_nginx()
        if binary is None:
            raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "site.conf").write_text(site, encoding="utf-8")
        names = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        temp = {name: prefix / "temp" / name for name in names}
        (prefix / "temp").mkdir(exist_ok=True)
        main = [
            # Workers as root when the master is: they need the temporary folders under prefix.
            "user root root;" if os.geteuid() == 0 else "",
            "worker_processes 1;",
            "events { worker_connections 1024; }",
            "http {",
            "    access_log off;",
            *(f"    {name}_temp_path {path};" for name, path in temp.items()),
            f"    include {prefix / 'site.conf'};",
            "}",
        ]
        (prefix / "nginx.conf").write_text("\n".join(main) + "\n", encoding="utf-8")
        super().__init__(
            [
                binary,
                "-p", f"{prefix}/",
                "-c", str(prefix / "nginx.conf"),
                "-e", "stderr",
                "-g", f"daemon off; master_process on; pid {prefix / 'nginx.pid'};",
            ],
            listen=listen,
            log_path=log_path,
        )

    def start(self, *, timeout: float = 30) -> NginxProcess:
        super().start(timeout=timeout)
        return self
