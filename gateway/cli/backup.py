"""``gateway backup``: copies of the node's database and key directory, taken while it runs."""

from __future__ import annotations

from pathlib import Path

import click

from gateway.cli.common import config_option, node_config
from gateway.store.backup import backup_database
from gateway.store.backup import backup_keys as copy_keys

__all__ = ["backup_group"]


@click.group("backup")
def backup_group() -> None:
    """Back up the node while it runs: its SQLite database, its keys (keep them apart)."""


@backup_group.command("db")
@config_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="a new file")
def backup_db(config_path: str | None, out: str) -> None:
    """Copy the node's SQLite database consistently, while the node runs (online backup).

    PostgreSQL: use pg_dump instead (docs/OPERATIONS.md).
    """
    done = backup_database(node_config(config_path).database_url, Path(out))
    click.echo(
        f"database backed up to {done.path}: revision {done.revision or 'none'}, "
        f"{done.audit_entries} audit entries, newest checkpoint of size {done.checkpoint_size}"
    )


@backup_group.command("keys")
@config_option
@click.option(
    "--out", "out", required=True, type=click.Path(file_okay=False), help="a new directory"
)
def backup_keys(config_path: str | None, out: str) -> None:
    """Copy the node's key directory (private keys stay encrypted with the passphrase)."""
    written = copy_keys(node_config(config_path).key_dir, Path(out))
    click.echo(f"{len(written)} key files backed up to {out}; store them apart from the database")
