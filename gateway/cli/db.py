"""``gateway db``: creating and upgrading the node's tables."""

from __future__ import annotations

import contextlib

import click

from gateway.cli.common import config_option, node_config
from gateway.crypto import atrest
from gateway.errors import KeyMaterialError
from gateway.store import migrate
from gateway.store.database import Store

__all__ = ["db_group"]


@click.group("db")
def db_group() -> None:
    """The node's database: migrations."""


@db_group.command("upgrade")
@config_option
def db_upgrade(config_path: str | None) -> None:
    """Create or upgrade the node's tables to this release (also done at start).

    Payloads stored before encryption at rest are sealed on the way, with the
    storage key in the node's key directory (and the key passphrase).
    """
    config = node_config(config_path)
    cipher: atrest.Cipher | None = None
    # Needed only if there are payloads to seal; the migration then says so.
    with contextlib.suppress(KeyMaterialError):
        cipher = atrest.load_cipher(config.key_dir)
    store = Store(config.database_url, cipher=cipher)
    try:
        migrate.upgrade(store.engine)
        click.echo(f"database at revision {migrate.current(store.engine)}")
    finally:
        store.dispose()


@db_group.command("current")
@config_option
def db_current(config_path: str | None) -> None:
    """Print the database's revision and this release's newest one."""
    store = Store(node_config(config_path).database_url)
    try:
        click.echo(
            f"database: {migrate.current(store.engine) or 'none'}, release: {migrate.head()}"
        )
    finally:
        store.dispose()
