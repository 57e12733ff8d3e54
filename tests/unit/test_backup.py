"""Backups of a running node: the SQLite database (online backup API) and the keys."""

import datetime as dt
import os
import sqlite3
import stat
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from gateway.crypto.keys import init_keys
from gateway.errors import GatewayError
from gateway.store import audit_entries
from gateway.store.backup import backup_database, backup_keys
from gateway.store.database import Store
from gateway.store.tables import audit_events
from tests.conftest import PASSPHRASE


def test_a_database_written_to_meanwhile_is_copied_whole(tmp_path):
    url = f"sqlite:///{tmp_path / 'node.db'}"
    store = Store(url)
    store.create_schema()
    stop = threading.Event()
    written = []

    def writer():  # the node goes on accepting work during the backup
        while not stop.is_set():
            with store.write() as conn:
                audit_entries.append(conn, event="submission_rejected", actor="t",
                             at=dt.datetime.now(dt.UTC), reason="bad_request")
            written.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20:
            stop.wait(0.01)
        done = backup_database(url, tmp_path / "backup" / "node.db")
    finally:
        stop.set()
        thread.join()
        with store.read() as conn:
            total = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
        store.dispose()
    assert 20 <= done.audit_entries <= total
    assert done.revision and done.checkpoint_size == 0
    assert stat.S_IMODE(os.stat(done.path).st_mode) == 0o600
    copy = sqlite3.connect(done.path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        # Whole entries only, numbered from 0 without a gap: one transaction's view.
        assert copy.execute("SELECT count(*), max(idx) FROM audit_events").fetchone() == (
            done.audit_entries, done.audit_entries - 1)
    finally:
        copy.close()
    assert not list((tmp_path / "backup").glob(".*partial"))
    with pytest.raises(GatewayError, match="never overwrites"):
        backup_database(url, done.path)


def test_postgresql_is_backed_up_with_its_own_tools(tmp_path):
    with pytest.raises(GatewayError, match="pg_dump"):
        backup_database("postgresql+psycopg://gateway@db/gateway", tmp_path / "x.db")
    with pytest.raises(GatewayError, match="no database file"):
        backup_database(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "x.db")


def test_the_keys_are_copied_for_the_owner_only(tmp_path):
    keys = tmp_path / "keys"
    init_keys(keys, environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}, note_names=("a/log", "a/w"))
    written = backup_keys(keys, tmp_path / "saved")
    assert sorted(p.name for p in written) == sorted(p.name for p in keys.iterdir())
    assert stat.S_IMODE(os.stat(tmp_path / "saved").st_mode) == 0o700
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.read_bytes() == (keys / path.name).read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "saved" / "signing.pem").read_bytes()
    with pytest.raises(GatewayError, match="never overwrites"):
        backup_keys(keys, tmp_path / "saved")


def test_the_backup_commands(deployment, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "GATEWAY_KEY_PASSPHRASE": PASSPHRASE,
           # Whatever the deployment's backend: this command is for SQLite.
           "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'node.db'}"}
    config = str(deployment.config_path("pemkot-bekasi"))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--config", config],
                              capture_output=True, text=True, timeout=60, env=env)

    assert run("db", "upgrade").returncode == 0
    done = run("backup", "db", "--out", str(tmp_path / "b" / "node.db"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"database backed up to {tmp_path / 'b' / 'node.db'}: revision")
    assert "0 audit entries, newest checkpoint of size 0" in done.stdout
    done = run("backup", "keys", "--out", str(tmp_path / "k"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "k" / "storage.jwk").is_file()
    again = run("backup", "keys", "--out", str(tmp_path / "k"))
    assert again.returncode == 1 and "never overwrites" in again.stderr
