"""The node's database schema, made and upgraded by Alembic migrations only.

``gateway/store/migrations/versions`` holds one migration per schema change. A node
upgrades its database to the newest revision when it starts (several replicas
on PostgreSQL take turns on an advisory lock), and ``gateway db upgrade`` does
it on demand. A test keeps the migrations and ``gateway.store.tables.metadata``
equal.

Every process of a node opens the database this way (``gateway serve``, each of its
gunicorn workers, the commands), and only the first start after a release has
anything to do. Alembic and its revision scripts cost a process about 10 MiB that
it keeps, so :func:`upgrade` first compares the stored revision with :data:`HEAD`,
in one query, and imports Alembic only when they differ: a fresh database, an
older revision, or one this release does not know (which the migration refuses).
:data:`HEAD` is the newest revision in ``versions``; a test keeps the two equal,
so a new migration changes both.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

from gateway.errors import GatewayError
from gateway.store.locks import serialize
from gateway.store.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD", "at_head", "current", "differences", "head", "upgrade"]

log = logging.getLogger(__name__)
# Alembic narrates every run (even its import) at INFO; this module says what changed instead.
logging.getLogger("alembic").setLevel(logging.WARNING)

SCRIPT_LOCATION = "gateway.store:migrations"
# The newest revision in migrations/versions (tests/unit/test_migrate.py checks it).
HEAD = "0020"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this release knows, as Alembic finds it in the scripts."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def at_head(engine: Engine) -> bool:
    """Whether the database records exactly :data:`HEAD` (False without a version table:
    a fresh database, or one from before migrations)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        found = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    return [row[0] for row in found] == [HEAD]


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def differences(conn: Connection) -> list[Any]:
    """How the database differs from this release's tables (empty when equal)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision, in one transaction."""
    if at_head(engine):
        return  # nothing to do, and Alembic not loaded
    from alembic import command
    from alembic.runtime.migration import MigrationContext

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
