"""Backups of a running node: its SQLite database, and its key directory.

* :func:`backup_database`: a consistent copy of a SQLite database while the node
  runs and writes, with SQLite's online backup API (``sqlite3.Connection.backup``):
  it copies the database as one read transaction sees it, which in WAL mode does
  not hold up the node's writers. The copy is checked (``PRAGMA quick_check``)
  and written under a temporary name, then renamed, so that a file of the given
  name is always a whole backup. A PostgreSQL database is backed up with the
  server's own tools (``pg_dump``), not here.
* :func:`backup_keys`: a copy of the node's key directory (private keys, encrypted
  with ``GATEWAY_KEY_PASSPHRASE``, the storage key, the key ring, the public JWKS
  and vkeys), readable by the owner only. Keep it apart from the database
  backups: together with the passphrase, the storage key opens every payload
  stored in them.

docs/OPERATIONS.md says how to restore, and what a restored audit log means for
the witnesses.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from gateway.errors import GatewayError

__all__ = ["DatabaseBackup", "backup_database", "backup_keys"]


@dataclass(frozen=True)
class DatabaseBackup:
    path: Path
    revision: str | None  # the schema's migration revision
    audit_entries: int  # the audit log's size in the copy
    checkpoint_size: int  # the newest checkpoint in the copy (0: none)


def _sqlite_file(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise GatewayError(
            f"the database is {url.get_backend_name()}: back it up with its own tools "
            "(for PostgreSQL, pg_dump; docs/OPERATIONS.md)"
        )
    if not url.database or url.database == ":memory:":
        raise GatewayError("the database is in memory: there is nothing to back up")
    path = Path(url.database)
    if not path.is_file():
        raise GatewayError(f"no database file at {path}")
    return path


def backup_database(database_url: str, target: Path) -> DatabaseBackup:
    """Copy the node's SQLite database to ``target`` (a new file), consistently, while it runs."""
    source_path = _sqlite_file(database_url)
    if target.exists():
        raise GatewayError(f"{target} exists; a backup never overwrites a file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(source_path, timeout=30)
    try:
        # Owner-only from the start: the copy holds what the database holds.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # every page, as one read transaction sees them
            copy.execute("PRAGMA journal_mode=DELETE")  # a single file, no -wal beside it
            (check,) = copy.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise GatewayError(f"the copy does not pass SQLite's quick_check: {check}")
            revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()
            (entries,) = copy.execute("SELECT count(*) FROM audit_events").fetchone()
            (size,) = copy.execute(
                "SELECT coalesce(max(size), 0) FROM audit_checkpoints"
            ).fetchone()
        except sqlite3.Error as exc:
            raise GatewayError(f"the database could not be copied: {exc}") from None
        finally:
            copy.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return DatabaseBackup(
        path=target,
        revision=revision[0] if revision else None,
        audit_entries=int(entries),
        checkpoint_size=int(size),
    )


def backup_keys(key_dir: Path, target: Path) -> list[Path]:
    """Copy every file of ``key_dir`` into the new directory ``target`` (mode 700, files 600)."""
    if not key_dir.is_dir():
        raise GatewayError(f"no key directory at {key_dir}")
    if target.exists():
        raise GatewayError(f"{target} exists; a backup never overwrites a directory")
    target.mkdir(parents=True, mode=0o700)
    written = []
    for path in sorted(key_dir.iterdir()):
        if not path.is_file():
            continue
        copied = target / path.name
        fd = os.open(copied, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            shutil.copyfileobj(source, out)
        written.append(copied)
    return written
