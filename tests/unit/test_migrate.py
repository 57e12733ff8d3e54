"""Migrations make exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from gateway import migrate
from gateway.errors import GatewayError
from gateway.storage import Store, metadata


def test_a_fresh_sqlite_database_is_migrated_to_the_declared_tables(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'node.db'}")
    try:
        store.create_schema()
        store.create_schema()  # a restart: nothing to do
        assert migrate.current(store.engine) == migrate.head()
        with store.engine.connect() as conn:
            assert migrate.differences(conn) == []
            assert "sqlite_autoindex_submissions_1" not in {
                i["name"] for i in inspect(conn).get_indexes("submissions")
            }
    finally:
        store.dispose()


def test_a_database_from_before_migrations_is_adopted_when_it_matches(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    store = Store(url)
    try:
        store.create_schema()
        assert migrate.current(store.engine) == migrate.head()
    finally:
        store.dispose()


def test_a_database_from_before_migrations_that_differs_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'older.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE witness_alerts"))
    engine.dispose()
    store = Store(url)
    try:
        with pytest.raises(GatewayError, match="made by an earlier release without migrations"):
            store.create_schema()
    finally:
        store.dispose()


def test_postgresql_is_migrated_to_the_declared_tables(postgres_url):
    store = Store(postgres_url)
    try:
        store.create_schema()
        store.create_schema()
        assert migrate.current(store.engine) == migrate.head()
        with store.engine.connect() as conn:
            assert migrate.differences(conn) == []
    finally:
        store.dispose()


def test_db_commands(deployment):
    import subprocess
    import sys

    config = str(deployment.config_path("pemkot-bekasi"))
    run = [sys.executable, "-m", "gateway", "db"]
    done = subprocess.run([*run, "upgrade", "--config", config], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"database at revision {migrate.head()}"
    done = subprocess.run([*run, "current", "--config", config], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == f"database: {migrate.head()}, release: {migrate.head()}"
