"""Migrations make exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from gateway.errors import GatewayError
from gateway.store import migrate
from gateway.store.database import Store
from gateway.store.tables import metadata


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


def _from_0009_with_submissions(url):
    """Revision 0010 on a database of 0009 that holds submissions; down again; up again."""
    from alembic import command

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "0009")
            for sid in ("s-1", "s-2"):  # two from before, without keys, of one client
                conn.execute(text("INSERT INTO submissions (id, client_id, dataset, "
                                  "schema_version, record_count, records_sha256, received_at) "
                                  "VALUES (:id, 'c', 'd', '1.0', 1, 'x', 't')"), {"id": sid})
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
        with engine.connect() as conn:
            assert migrate.differences(conn) == []
            keys = conn.execute(text("SELECT idempotency_key FROM submissions")).scalars().all()
            assert keys == [None, None]
        with engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0009")
        with engine.begin() as conn:
            assert "idempotency_key" not in {c["name"] for c in
                                             inspect(conn).get_columns("submissions")}
            command.upgrade(migrate._config(conn), "head")
        with engine.connect() as conn:
            assert migrate.differences(conn) == []
            assert conn.execute(text("SELECT count(*) FROM submissions")).scalar() == 2
    finally:
        engine.dispose()


def test_idempotency_keys_migrate_up_and_down_on_sqlite(tmp_path):
    _from_0009_with_submissions(f"sqlite:///{tmp_path / 'node.db'}")


def test_idempotency_keys_migrate_up_and_down_on_postgresql(postgres_url):
    _from_0009_with_submissions(postgres_url)


def test_console_sessions_migrate_up_and_down_on_sqlite(tmp_path):
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
            assert "console_sessions" in inspect(conn).get_table_names()
        with engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0010")
            assert "console_sessions" not in inspect(conn).get_table_names()
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
        with engine.connect() as conn:
            assert migrate.differences(conn) == []
    finally:
        engine.dispose()


def _pending_records_keep_their_channel(url):
    """Revision 0015 names the receiver of records pending from before: their channel's."""
    from alembic import command

    batch = ("INSERT INTO outbound_batches (batch_id, dataset, schema_version, receiver, "
             "record_count, envelope, status, attempts, created_at, sequence, chunk_count, "
             "chunks_acked) VALUES (:id, :dataset, '1.0', :receiver, 1, '{}', 'delivered', 1, "
             ":at, 1, 1, 1)")
    record = ("INSERT INTO outbox_records (submission_id, dataset, schema_version, record, "
              "record_sha256, batch_id, created_at) VALUES ('s', :dataset, '1.0', 'x', 'x', "
              ":batch_id, 't')")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "0014")
            for bid, dataset, receiver, at in (
                ("b-1", "lahp", "pemkot-bekasi", "2026-01-01T00:00:00+00:00"),
                ("b-2", "lahp", "pemkot-depok", "2026-02-01T00:00:00+00:00"),  # the latest
                ("b-3", "lahp", "pemkot-bogor", "2025-12-01T00:00:00+00:00"),
            ):
                conn.execute(text(batch), {"id": bid, "dataset": dataset, "receiver": receiver,
                                           "at": at})
            for dataset, batch_id in (("lahp", None), ("lahp", "b-1"), ("rekap", None)):
                conn.execute(text(record), {"dataset": dataset, "batch_id": batch_id})
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT dataset, batch_id, receiver FROM outbox_records ORDER BY seq")).all()
        assert [tuple(r) for r in rows] == [
            ("lahp", None, "pemkot-depok"),  # pending: the channel it was going to
            ("lahp", "b-1", None),  # in a batch: the batch says where it went
            ("rekap", None, None),  # no batch of its dataset: as before, its one receiver's
        ]
    finally:
        engine.dispose()


def test_pending_records_keep_their_channel_on_sqlite(tmp_path):
    _pending_records_keep_their_channel(f"sqlite:///{tmp_path / 'node.db'}")


def test_pending_records_keep_their_channel_on_postgresql(postgres_url):
    _pending_records_keep_their_channel(postgres_url)


def test_received_chunks_keep_their_rows_when_laid_out_anew_on_sqlite(tmp_path):
    """Revision 0019: inbound_chunks gets a rowid and its signed chunk last; rows survive
    the copy both ways."""
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    row = {"b": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "s": "x" * 300_000}

    def layout(conn):
        ddl = conn.execute(text(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'inbound_chunks'"
        )).scalar_one()
        columns = [c["name"] for c in inspect(conn).get_columns("inbound_chunks")]
        return "WITHOUT ROWID" in ddl.upper(), columns[-1]

    def held(conn):
        return conn.execute(text(
            "SELECT batch_id, idx, record_count, signed, leaves, case_facts FROM inbound_chunks"
        )).all()

    try:
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "0018")
            assert layout(conn) == (True, "case_facts")
            conn.execute(text(
                "INSERT INTO inbound_chunks (batch_id, idx, record_count, records_sha256, "
                "signer_kid, signed, leaves, case_facts) VALUES (:b, 3, 2, 'd', 'k', :s, "
                "x'0102', '[[0,1]]')"
            ), row)
            before = held(conn)
        with engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
            assert layout(conn) == (False, "signed")
            assert held(conn) == before
            assert migrate.differences(conn) == []
        with engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0018")
            assert layout(conn) == (True, "case_facts")
            assert held(conn) == before
    finally:
        engine.dispose()


def _record_bodies_move_apart_and_back(url):
    """Revision 0020: each outbox record's content moves to outbox_record_bodies under
    its seq and back on the downgrade; a body goes with its record."""
    from alembic import command

    store = Store(url)  # as a node opens it: SQLite's foreign keys are enforced
    insert = text("INSERT INTO outbox_records (submission_id, dataset, schema_version, record, "
                  "record_sha256, batch_id, created_at) VALUES ('s', 'lahp', '1.0', :r, 'h', "
                  ":b, 't')")
    contents = ["sealed-1" * 200, "", "sealed-3"]
    try:
        with store.engine.begin() as conn:
            command.upgrade(migrate._config(conn), "0019")
            for content, batch_id in zip(contents, ["b-1", "b-1", None], strict=True):
                conn.execute(insert, {"r": content, "b": batch_id})
            seqs = conn.execute(text("SELECT seq FROM outbox_records ORDER BY seq")).scalars().all()
        with store.engine.begin() as conn:
            command.upgrade(migrate._config(conn), "head")
            assert migrate.differences(conn) == []
            assert "record" not in {c["name"] for c in inspect(conn).get_columns("outbox_records")}
            assert conn.execute(text(
                "SELECT o.seq, o.batch_id, b.record FROM outbox_records o JOIN "
                "outbox_record_bodies b ON b.seq = o.seq ORDER BY o.seq")).all() == list(
                zip(seqs, ["b-1", "b-1", None], contents, strict=True))
        with store.write() as conn:
            conn.execute(text("DELETE FROM outbox_records WHERE seq = :s"), {"s": seqs[1]})
        with store.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT seq FROM outbox_record_bodies ORDER BY seq")).scalars().all() == [
                seqs[0], seqs[2]]
        with store.engine.begin() as conn:
            command.downgrade(migrate._config(conn), "0019")
            assert conn.execute(text(
                "SELECT seq, record FROM outbox_records ORDER BY seq")).all() == [
                (seqs[0], contents[0]), (seqs[2], contents[2])]
            assert "outbox_record_bodies" not in inspect(conn).get_table_names()
    finally:
        store.dispose()


def test_record_bodies_move_apart_and_back_on_sqlite(tmp_path):
    _record_bodies_move_apart_and_back(f"sqlite:///{tmp_path / 'node.db'}")


def test_record_bodies_move_apart_and_back_on_postgresql(postgres_url):
    _record_bodies_move_apart_and_back(postgres_url)


def test_the_head_a_process_checks_without_alembic_is_the_newest_migration():
    # migrate.HEAD lets a node's processes skip Alembic when there is nothing to
    # migrate: a new migration must change it too.
    assert migrate.head() == migrate.HEAD


def test_a_database_at_the_head_is_opened_without_loading_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'node.db'}"
    store = Store(url)
    try:
        store.create_schema()
    finally:
        store.dispose()
    probe = (
        "import sys\n"
        "from gateway.store.database import Store\n"
        f"store = Store({url!r})\n"
        "store.create_schema()\n"
        "store.dispose()\n"
        "print('alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_database_behind_the_head_is_still_upgraded(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'node.db'}"
    store = Store(url)
    try:
        store.create_schema()
        with store.engine.begin() as conn:
            command.downgrade(migrate._config(conn), "-1")
        assert not migrate.at_head(store.engine)
        store.create_schema()
        assert migrate.at_head(store.engine)
        with store.engine.connect() as conn:
            assert migrate.differences(conn) == []
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        # A revision this release does not know is not taken for the head, and the
        # migration refuses it, as before.
        assert not migrate.at_head(store.engine)
        with pytest.raises(Exception, match="9999"):
            store.create_schema()
    finally:
        store.dispose()
