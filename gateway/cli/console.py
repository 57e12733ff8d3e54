"""``gateway console``: the auditor console's sessions, seen and ended from the node."""

from __future__ import annotations

import json

import click

from gateway.cli.common import config_option, opened_node
from gateway.node import console_sessions

__all__ = ["console_group"]


@click.group("console")
def console_group() -> None:
    """The auditor console."""


@console_group.group("sessions")
def console_sessions_group() -> None:
    """Console sessions on this node: list, end."""


@console_sessions_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def console_sessions_list(config_path: str | None, as_json: bool) -> None:
    """Every console session kept: client, start, last use (never a session id)."""
    with opened_node(config_path) as node:
        rows = console_sessions.listing(node)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'client':<24} {'status':<8} {'started':<28} last used")
    for row in rows:
        click.echo(
            f"{row['client']:<24} {row['status']:<8} {row['started_at']:<28} {row['seen_at']}"
        )


@console_sessions_group.command("end")
@config_option
@click.option("--client", "client_id", help="end every session of this client")
@click.option("--all", "end_all", is_flag=True, help="end every session of every client")
@click.option(
    "--expired", is_flag=True, help="only delete the sessions past their idle or total lifetime"
)
def console_sessions_end(
    config_path: str | None, client_id: str | None, end_all: bool, expired: bool
) -> None:
    """End console sessions now: their cookies are refused at the next request."""
    if sum((client_id is not None, end_all, expired)) != 1:
        raise click.UsageError("give one of --client ID, --all or --expired")
    with opened_node(config_path) as node:
        if expired:
            count = console_sessions.purge_expired(node)
        else:
            count = console_sessions.end_all(node, client_id=client_id)
    click.echo(f"ended {count} console sessions")
