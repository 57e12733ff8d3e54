"""Store: on SQLite a write is on disk before the caller goes on; the sync is outside the lock."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat

import pytest
from sqlalchemy import func, select

from gateway.store import database
from gateway.store.database import FastInsert, Store
from gateway.store.tables import submissions

_INSERT = FastInsert(
    submissions,
    ["id", "client_id", "dataset", "schema_version", "record_count", "records_sha256",
     "received_at"],
)  # fmt: skip


def _row(n: int) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "client_id": "c",
        "dataset": "d",
        "schema_version": "1.0",
        "record_count": 1,
        "records_sha256": "0" * 64,
        "received_at": "2026-11-28T00:00:00.000000Z",
    }


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'node.db'}")
    s.create_schema()
    yield s
    s.dispose()


@pytest.fixture
def syncs(monkeypatch, tmp_path):
    """Every fdatasync of the store, with what was true at that moment."""
    seen: list[dict[str, object]] = []
    real = os.fdatasync

    def observed(fd: int) -> None:
        lock = open(tmp_path / "node.db-writer.lock", "a+b")  # noqa: SIM115
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if the lock is held
            fcntl.flock(lock, fcntl.LOCK_UN)
        finally:
            lock.close()
        other = sqlite3.connect(tmp_path / "node.db")
        try:
            rows = other.execute("SELECT count(*) FROM submissions").fetchone()[0]
        finally:
            other.close()
        seen.append({"file": os.readlink(f"/proc/self/fd/{fd}"), "rows_committed": rows})
        real(fd)

    monkeypatch.setattr(database.os, "fdatasync", observed)
    return seen


def test_a_write_is_synced_after_its_commit_and_outside_the_write_lock(store, syncs):
    with store.write() as conn:
        _INSERT.execute(conn, [_row(1)])
    # One sync of the write-ahead log, with the row already committed and the lock free.
    assert len(syncs) == 1
    assert str(syncs[0]["file"]).endswith("node.db-wal")
    assert syncs[0]["rows_committed"] == 1


def test_a_group_commit_is_synced_before_run_returns(store, syncs):
    def insert(conn, rows):
        _INSERT.execute(conn, rows)
        return [None] * len(rows)

    group = store.group("test", insert)
    group.run(_row(2))
    assert [s["rows_committed"] for s in syncs] == [1]


def test_a_rolled_back_write_is_not_synced(store, syncs):
    with pytest.raises(RuntimeError), store.write() as conn:
        _INSERT.execute(conn, [_row(3)])
        raise RuntimeError("abandon")
    assert syncs == []


def test_commits_do_not_wait_for_the_disk_themselves(store):
    # synchronous=NORMAL (1): the log is synced by Store.make_durable instead.
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_make_durable_without_a_log_is_a_no_op(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        s.make_durable()  # no log file yet: nothing was committed
    finally:
        s.dispose()


def test_group_transactions_keep_one_connection_and_replace_it_after_a_failure(store):
    seen = []

    def insert(conn, rows):
        seen.append(conn)
        if rows[0] == "fail":
            raise sqlite3.OperationalError("disk I/O error")
        _INSERT.execute(conn, rows)
        return [None] * len(rows)

    group = store.group("kept", insert)
    group.run(_row(10))
    group.run(_row(11))
    assert seen[0] is seen[1]  # its page cache stays warm between commits
    with pytest.raises(sqlite3.OperationalError):
        group.run("fail")
    group.run(_row(12))
    assert seen[3] is not seen[0]  # a fresh checkout, reset by the pool
    with store.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM submissions").scalar_one() == 3


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_the_database_and_its_side_files_are_owner_only_whatever_the_umask(tmp_path, umask):
    path = tmp_path / "var" / "node.db"
    old = os.umask(umask)
    try:
        s = Store(f"sqlite:///{path}")
        try:
            s.create_schema()
            with s.write() as conn:
                _INSERT.execute(conn, [_row(1)])
            with s.read() as conn:  # a reader beside the writer: -wal and -shm are open
                assert conn.execute(select(func.count()).select_from(submissions)).scalar() == 1
                side = [p for p in path.parent.iterdir() if p.name in (
                    "node.db-wal", "node.db-shm")]
                assert len(side) == 2
                for p in [path, *side]:
                    assert _mode(p) == 0o600, p
        finally:
            s.dispose()
    finally:
        os.umask(old)


def test_a_database_made_readable_by_others_before_is_narrowed(tmp_path):
    path = tmp_path / "node.db"
    s = Store(f"sqlite:///{path}")
    s.create_schema()
    with s.write() as conn:
        _INSERT.execute(conn, [_row(1)])
    keep = sqlite3.connect(path)  # holds the -wal open as the node stops
    keep.execute("SELECT count(*) FROM submissions").fetchone()
    s.dispose()
    for p in tmp_path.glob("node.db*"):
        if not p.name.endswith(".lock"):
            os.chmod(p, 0o644)  # as an earlier release (or a copy) left it
    found = sorted(p.name for p in tmp_path.glob("node.db*") if not p.name.endswith(".lock"))
    assert "node.db-wal" in found
    again = Store(f"sqlite:///{path}")
    try:
        for name in found:
            assert _mode(tmp_path / name) == 0o600, name
        with again.read() as conn:  # the data is still there, and readable
            assert conn.execute(select(func.count()).select_from(submissions)).scalar() == 1
    finally:
        again.dispose()
        keep.close()
    journal = tmp_path / "old.db-journal"  # a rollback journal of a crashed transaction
    (tmp_path / "old.db").touch(mode=0o644)
    journal.touch(mode=0o644)
    os.chmod(journal, 0o640)
    Store(f"sqlite:///{tmp_path / 'old.db'}").dispose()
    assert (_mode(tmp_path / "old.db"), _mode(journal)) == (0o600, 0o600)


def test_peek_sees_every_committed_write_at_once_and_dispose_closes_it(tmp_path):
    import threading

    store = Store(f"sqlite:///{tmp_path / 'peek.db'}")
    store.create_schema()
    sql = "SELECT count FROM auth_failures WHERE scope = ? AND source = ? AND window_end = ?"
    try:
        assert store.can_peek
        assert store.peek(sql, ("api", "s", 60)) is None
        with store.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO auth_failures (scope, source, window_end, count) "
                "VALUES ('api', 's', 60, 3)")
        assert store.peek(sql, ("api", "s", 60)) == (3,)  # no stale snapshot
        seen = []
        thread = threading.Thread(target=lambda: seen.append(store.peek(sql, ("api", "s", 60))))
        thread.start()
        thread.join()
        assert seen == [(3,)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.peek("DELETE FROM auth_failures", ())  # a read, never a write
    finally:
        store.dispose()
    assert store.peek(sql, ("api", "s", 60)) == (3,)  # a fresh connection after dispose
    store.dispose()


def test_peek_serves_only_sqlite_files():
    store = Store("sqlite://")
    try:
        assert not store.can_peek
        with pytest.raises(RuntimeError, match="SQLite database files only"):
            store.peek("SELECT 1", ())
    finally:
        store.dispose()
