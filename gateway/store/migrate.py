"""The node's database schema, made and upgraded by Alembic migrations only.

``gateway/store/migrations/versions`` holds one migration per schema change. A node
upgrades its database to the newest revision when it starts (several replicas
on PostgreSQL take turns on an advisory lock), and ``gateway db upgrade`` does
it on demand. A test keeps the migrations and ``gateway.store.tables.metadata``
equal.
"""

from __future__ import annotations

import logging
from typing import Any

# Alembic narrates every run (even its import) at INFO; this module says what changed instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import Engine, inspect  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402

from gateway.errors import GatewayError  # noqa: E402
from gateway.store.locks import serialize  # noqa: E402
from gateway.store.tables import metadata  # noqa: E402

__all__ = ["current", "differences", "head", "upgrade"]

log = logging.getLogger(__name__)

SCRIPT_LOCATION = "gateway.store:migrations"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this release knows."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def differences(conn: Connection) -> list[Any]:
    """How the database differs from this release's tables (empty when equal)."""
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision, in one transaction."""
    with engine.begin() as conn:
        serialize(conn, "migrate")  # replicas starting together migrate one at a time
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "audit_events" in tables:
            # Made by a release before migrations: adopt it if it is this schema.
            found = differences(conn)
            if found:
                raise GatewayError(
                    "the database was made by an earlier release without migrations and "
                    f"differs from this one ({len(found)} differences, e.g. {found[0]!r}); "
                    "move it away, or export what it holds first"
                )
            command.stamp(_config(conn), "head")
            return
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_config(conn), "head")
        if before != head():
            log.info("database upgraded from revision %s to %s", before or "none", head())
