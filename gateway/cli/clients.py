"""``gateway clients``: the credentials of the node's own systems."""

from __future__ import annotations

import json

import click

from gateway.cli.common import config_option, opened_node, operator_option
from gateway.node import credentials

__all__ = ["clients_group"]


@click.group("clients")
def clients_group() -> None:
    """Credentials of the node's own systems: add, list, rotate, revoke."""


@clients_group.command("add")
@config_option
@operator_option
@click.argument("client_id")
@click.option("--name", help="what the system is (default: its id)")
@click.option("--submit", "submit", multiple=True, help="a dataset it may submit (repeatable)")
@click.option("--pull", "pull", multiple=True, help="a dataset it may pull (repeatable)")
@click.option("--role", "roles", multiple=True, help="auditor or operator (repeatable)")
@click.option(
    "--expires-days",
    type=click.IntRange(min=1),
    default=365,
    show_default=True,
    help="days until the token stops working",
)
@click.option("--rate-limit", help="its own rate limit, e.g. 20/second")
def clients_add(
    config_path: str | None,
    operator: str,
    client_id: str,
    name: str | None,
    submit: tuple[str, ...],
    pull: tuple[str, ...],
    roles: tuple[str, ...],
    expires_days: int,
    rate_limit: str | None,
) -> None:
    """Make a client; its token is printed once and kept only as a hash."""
    with opened_node(config_path) as node:
        token = credentials.add(
            node,
            client_id,
            name=name,
            submit=submit,
            pull=pull,
            roles=roles,
            expires_in_days=expires_days,
            rate_limit=rate_limit,
            operator=operator,
        )
    click.echo(token)
    click.echo(
        f"token of {client_id}: shown once, now; give it to the system over a safe "
        f"channel (it expires in {expires_days} days)",
        err=True,
    )


@clients_group.command("rotate")
@config_option
@operator_option
@click.argument("client_id")
def clients_rotate(config_path: str | None, operator: str, client_id: str) -> None:
    """Give a client a new token; the old one stops working now."""
    with opened_node(config_path) as node:
        token = credentials.rotate(node, client_id, operator=operator)
    click.echo(token)
    click.echo(f"new token of {client_id}: shown once; the old one no longer works", err=True)


@clients_group.command("revoke")
@config_option
@operator_option
@click.argument("client_id")
def clients_revoke(config_path: str | None, operator: str, client_id: str) -> None:
    """Stop a client's token from working."""
    with opened_node(config_path) as node:
        credentials.revoke(node, client_id, operator=operator)
    click.echo(f"{client_id}: revoked")


@clients_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def clients_list(config_path: str | None, as_json: bool) -> None:
    """Every client with its rights and state (never a token)."""
    with opened_node(config_path) as node:
        rows = credentials.listing(node)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'client':<24} {'source':<8} {'status':<8} {'expires':<12} rights")
    for row in rows:
        rights = ", ".join(
            [f"submit {d}" for d in row["submit"]]
            + [f"pull {d}" for d in row["pull"]]
            + [f"role {r}" for r in row["roles"]]
        )
        expires = (row["expires_at"] or "-")[:10]
        click.echo(
            f"{row['id']:<24} {row['source']:<8} {row['status']:<8} {expires:<12} {rights or '-'}"
        )
