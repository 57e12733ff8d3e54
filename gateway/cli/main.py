"""The ``gateway`` command: the root group, its command groups, and the console script."""

from __future__ import annotations

import importlib
import sys

import click

from gateway.errors import GatewayError, KeyMaterialError
from gateway.ops import logs
from gateway.ops.malloc import bound_large_allocations

__all__ = ["cli", "main"]

# Each command, as "module:attribute", imported only when it runs (or --help lists
# it): `gateway serve` stays a long-lived process and keeps only what it uses, not
# the console's, the auditor's or Alembic's modules (click's "lazily loading
# subcommands" pattern).
COMMANDS = {
    "keys": "gateway.cli.keys:keys_group",
    "agreements": "gateway.cli.agreements:agreements_group",
    "envelope": "gateway.cli.envelope:envelope_group",
    "transfer": "gateway.cli.transfer:transfer_group",
    "clients": "gateway.cli.clients:clients_group",
    "console": "gateway.cli.console:console_group",
    "retention": "gateway.cli.retention:retention_group",
    "audit": "gateway.cli.audit:audit_group",
    "db": "gateway.cli.db:db_group",
    "backup": "gateway.cli.backup:backup_group",
    "schemas": "gateway.cli.schemas:schemas_group",
    "cases": "gateway.cli.cases:cases_group",
    "calendar": "gateway.cli.cases:calendar_command",
    "openapi": "gateway.cli.openapi:openapi_command",
    "proxy": "gateway.cli.proxy:proxy_group",
    "serve": "gateway.cli.serve:serve",
}


class _LazyGroup(click.Group):
    """A group whose commands (:data:`COMMANDS`) are imported when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module, _, attribute = COMMANDS[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        if command.name != cmd_name:
            raise AssertionError(f"{COMMANDS[cmd_name]} is named {command.name!r}")
        self.add_command(command)
        return command


@click.group(cls=_LazyGroup)
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
