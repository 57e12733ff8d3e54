"""The ``gateway`` command: the root group, its command groups, and the console script."""

from __future__ import annotations

import sys

import click

from gateway.cli.agreements import agreements_group
from gateway.cli.audit import audit_group
from gateway.cli.backup import backup_group
from gateway.cli.cases import calendar_command, cases_group
from gateway.cli.clients import clients_group
from gateway.cli.console import console_group
from gateway.cli.db import db_group
from gateway.cli.envelope import envelope_group
from gateway.cli.keys import keys_group
from gateway.cli.openapi import openapi_command
from gateway.cli.proxy import proxy_group
from gateway.cli.retention import retention_group
from gateway.cli.schemas import schemas_group
from gateway.cli.serve import serve
from gateway.cli.transfer import transfer_group
from gateway.errors import GatewayError, KeyMaterialError
from gateway.ops import logs
from gateway.ops.malloc import bound_large_allocations

__all__ = ["cli", "main"]


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Secure data-exchange gateway node (Pemkot Bekasi - Ombudsman RI).

    Log lines go to standard error: JSON objects under 'serve' (the node), plain text
    for the other commands; GATEWAY_LOG_FORMAT=json or text chooses for all.
    """
    try:
        logs.configure("json" if ctx.invoked_subcommand == "serve" else "text")
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


for _command in (
    keys_group,
    agreements_group,
    envelope_group,
    transfer_group,
    clients_group,
    console_group,
    retention_group,
    audit_group,
    db_group,
    backup_group,
    schemas_group,
    cases_group,
    calendar_command,
    openapi_command,
    proxy_group,
    serve,
):
    cli.add_command(_command)


def main() -> None:
    """The console script: run the command, its errors one line on stderr and an exit status."""
    # Before any envelope is sealed or opened in this process (gateway.ops.malloc).
    bound_large_allocations()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("gateway: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (GatewayError, KeyMaterialError) as exc:
        if exc.internal:
            raise  # a fault inside the node (a damaged log, a bug): its traceback, as ever
        click.echo(f"gateway: error: {exc}", err=True)
        sys.exit(1)
