"""``gateway proxy``: the configuration of the reverse proxy in front of the node."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.common import config_option, node_config
from gateway.ops.proxy import ProxyTLS, render_nginx

__all__ = ["proxy_group"]


@click.group("proxy")
def proxy_group() -> None:
    """The reverse proxy in front of the node (docs/OPERATIONS.md section 4.1)."""


@proxy_group.command("nginx")
@config_option
@click.option("--listen", required=True, help="where nginx listens, host:port (e.g. 0.0.0.0:443)")
@click.option("--server-name", required=True, help="the host name(s) the node is reached by")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="nginx's certificate chain")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="its private key")
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False),
    help="require client certificates issued by a CA in this bundle (mutual TLS)",
)
@click.option(
    "--no-tls",
    is_flag=True,
    help="plain HTTP (another proxy in front terminates TLS, or a test on loopback)",
)
@click.option("--upstream", help="where the node listens, host:port (default: its listen)")
def proxy_nginx(
    config_path: str | None,
    listen: str,
    server_name: str,
    tls_cert: str | None,
    tls_key: str | None,
    client_ca: str | None,
    no_tls: bool,
    upstream: str | None,
) -> None:
    """Print the nginx configuration that serves the node (an http-context file).

    nginx reads every request in full before the node sees it, cuts slow clients
    and limits each address: install it in /etc/nginx/conf.d/.
    """
    tls = None
    if no_tls:
        if tls_cert or tls_key or client_ca:
            raise click.UsageError("--no-tls takes no --tls-cert, --tls-key or --client-ca")
    elif tls_cert and tls_key:
        tls = ProxyTLS(Path(tls_cert), Path(tls_key), Path(client_ca) if client_ca else None)
    else:
        raise click.UsageError("give --tls-cert and --tls-key, or --no-tls")
    try:
        text = render_nginx(
            node_config(config_path),
            listen=listen,
            server_name=server_name,
            tls=tls,
            upstream=upstream,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(text, nl=False)
