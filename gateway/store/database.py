"""The node's database: tables, engine set-up and transaction helpers.

SQLite is the embedded default (WAL; every commit is synced to disk by
:meth:`Store.make_durable` before an answer goes out); PostgreSQL serves nodes
that run as several replicas. Write transactions on SQLite start with ``BEGIN IMMEDIATE``
so that two writers queue for the lock instead of failing half-way.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Engine,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect, make_url

from gateway.crypto.atrest import Cipher
from gateway.errors import GatewayError
from gateway.store import migrate
from gateway.store.encrypted_columns import Encrypted, attach
from gateway.store.groupcommit import GroupCommit
from gateway.store.locks import lock_key, serialize

__all__ = [
    "FastInsert",
    "Store",
    "new_keys",
    "scalar",
]

# Host parameters per statement: SQLite before 3.32 allowed at most 999.
_SQLITE_MAX_PARAMETERS = 999

class FastInsert:
    """An INSERT compiled once and run straight on a SQLite connection's cursor.

    On the submission path SQLAlchemy's execution machinery costs several times
    what SQLite itself spends on these small statements (see docs/PERFORMANCE.md).
    The values of :class:`Encrypted` columns are sealed as on that path. Other
    databases take SQLAlchemy's ordinary path.
    """

    def __init__(self, table: Table, keys: Sequence[str]) -> None:
        self.statement = table.insert()
        compiled = self.statement.compile(dialect=sqlite_dialect(), column_keys=list(keys))
        self.sql = str(compiled)
        self.keys = tuple(compiled.positiontup or ())
        if set(self.keys) != set(keys):
            raise ValueError(f"cannot prepare INSERT INTO {table.name} for {sorted(keys)}")
        head, values, row = self.sql.rpartition(" VALUES ")
        if not values or row != "(" + ", ".join(["?"] * len(self.keys)) + ")":
            raise ValueError(f"unexpected INSERT form for {table.name}: {self.sql}")
        self.sql_head = head + " VALUES "
        self.sql_row = row
        self._sql_by_count: dict[int, str] = {}
        # The positions and types of the Encrypted columns among the values of a row.
        types = [table.c[k].type for k in self.keys]
        self._sealed = [(i, t) for i, t in enumerate(types) if isinstance(t, Encrypted)]
        self._processors: weakref.WeakKeyDictionary[Dialect, list[tuple[int, Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, [dict(r) for r in rows])
            return
        keys = self.keys
        chunk = max(1, _SQLITE_MAX_PARAMETERS // len(keys))
        processors = self._processors_for(conn.dialect) if self._sealed else []
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # One multi-row statement per chunk: one step into SQLite (and one
            # release of the interpreter lock) instead of one per row.
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                params = [r[k] for r in part for k in keys]
                for offset, process in processors:
                    params[offset :: len(keys)] = [process(v) for v in params[offset :: len(keys)]]
                cursor.execute(self._multi_row_sql(len(part)), params)
        finally:
            cursor.close()

    def _processors_for(self, dialect: Dialect) -> list[tuple[int, Any]]:
        """(position, bind processor) of each :class:`Encrypted` column, on ``dialect``."""
        found = self._processors.get(dialect)
        if found is None:
            found = [(i, column_type.bind_processor(dialect)) for i, column_type in self._sealed]
            self._processors[dialect] = found
        return found

    def _multi_row_sql(self, count: int) -> str:
        sql = self._sql_by_count.get(count)
        if sql is None:
            sql = self._sql_by_count[count] = self.sql_head + ", ".join([self.sql_row] * count)
        return sql


def scalar(conn: Connection, statement: Any, sqlite_sql: str) -> Any:
    """One value: on SQLite by ``sqlite_sql`` on the raw cursor, elsewhere by ``statement``."""
    if conn.dialect.name != "sqlite":
        return conn.execute(statement).scalar_one()
    return _sqlite_value(conn, sqlite_sql)


def _sqlite_value(conn: Connection, sql: str) -> Any:
    """The first value of ``sql``'s first row, run on the SQLite driver's own cursor."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return cursor.execute(sql).fetchone()[0]
    finally:
        cursor.close()


def new_keys(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` unused values of ``table``'s integer primary key, for rows inserted
    into it and into tables keyed by it in the same transaction.

    On SQLite, inside a write transaction (``BEGIN IMMEDIATE``, as
    :meth:`Store.transaction` begins): the values after the largest key, which is what
    SQLite itself would give rows inserted without one. Elsewhere from the column's
    sequence, which other transactions draw from too (so the values need not follow
    each other).
    """
    if count <= 0:
        return []
    (column,) = table.primary_key.columns
    if conn.dialect.name == "sqlite":
        # The statement's text only: building it as an expression cost more than
        # running it, on every group commit.
        largest = _sqlite_value(
            conn, f"SELECT coalesce(max({column.name}), 0) FROM {table.name}"  # noqa: S608 (names)
        )
        return list(range(largest + 1, largest + 1 + count))
    return sorted(
        conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, :column))"
                " FROM generate_series(1, :count)"
            ),
            {"table": table.name, "column": column.name, "count": count},
        ).scalars()
    )


# SQLite's side files: it makes each with the database file's own mode.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def owner_only_database(database: str) -> None:
    """Make a SQLite database file readable and writable by its owner only (0600).

    It holds every record and payload: the file is made 0600 before SQLite first
    opens it (whatever the umask), and one made before with wider permissions is
    narrowed, as are its side files (``-wal``, ``-shm``, ``-journal``), which
    SQLite otherwise creates with the database file's mode.
    """
    fd = os.open(database, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        _narrow(fd, database)
    finally:
        os.close(fd)
    for suffix in _SQLITE_SIDE_FILES:
        try:
            fd = os.open(database + suffix, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            continue
        try:
            _narrow(fd, database + suffix)
        finally:
            os.close(fd)


def _narrow(fd: int, path: str) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode != mode & 0o700 | 0o600:
        try:
            os.fchmod(fd, mode & 0o700 | 0o600)
        except PermissionError:
            raise GatewayError(
                f"{path} is readable by others and cannot be made owner-only: "
                "the node's user must own its database files"
            ) from None


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # Commits do not wait for the disk; Store.make_durable syncs the log
        # after the write lock is released, before anyone is answered.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Write transactions are begun (IMMEDIATE) by Store.transaction itself.
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN")


class _ThreadReader(threading.local):
    """A SQLite connection of one thread's own, for :meth:`Store.peek`."""

    conn: sqlite3.Connection | None = None
    pid = 0


class _KeptConnection:
    """A connection kept open for one writer at a time, per process."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._pid = 0

    def get(self, engine: Engine) -> Connection:
        if self._conn is None or self._pid != os.getpid():
            # A forked child must not use its parent's connection.
            self._conn = engine.connect()
            self._pid = os.getpid()
        return self._conn

    def discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._pid == os.getpid():
            conn.close()


class Store:
    """The database of one node.

    ``cipher``: the node's storage key (gateway.crypto.atrest), which seals and opens
    the payload columns; without it, a payload can be neither stored nor read.
    """

    def __init__(self, url: str, *, cipher: Cipher | None = None) -> None:
        self.url = url
        self.cipher = cipher
        self.is_sqlite = url.startswith("sqlite")
        parsed = make_url(url)
        database = parsed.database
        self._lock_path: str | None = None
        self._file: str | None = None  # a SQLite database's plain file path
        self._reader = _ThreadReader()
        self._readers: list[sqlite3.Connection] = []  # every thread's, to close them
        self._readers_lock = threading.Lock()
        self._lock_prefix: str | None = None  # of the files of Store.try_lock
        self._wal_path: str | None = None
        self._thread_lock = threading.Lock()
        self._lock_file: IO[bytes] | None = None
        self._lock_pid = 0
        if self.is_sqlite and database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            if not parsed.query.get("uri"):  # a file: URI names no plain path
                owner_only_database(database)
                self._file = database
            self._lock_path = f"{database}-writer.lock"
            self._lock_prefix = f"{database}-"
            self._wal_path = f"{database}-wal"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if cipher is not None:
            attach(self.engine, cipher)
        if self.is_sqlite:
            _sqlite_setup(self.engine)
        # Concurrent small writes of this process share commits (see gateway.store.groupcommit).
        self._groups: dict[str, GroupCommit[Connection, Any, Any]] = {}
        self._groups_lock = threading.Lock()
        self._kept: list[_KeptConnection] = []

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def seal(self, plaintext: str) -> str:
        """A payload sealed ahead of its INSERT (outside the write lock), if there is a key.

        Without one it is returned as it is, and the column refuses it.
        """
        return plaintext if self.cipher is None else self.cipher.seal(plaintext)

    def create_schema(self) -> None:
        """Create or upgrade the tables, by the migrations (gateway.store.migrate)."""
        migrate.upgrade(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed durably on success, rolled back on any error."""
        with self.transaction() as conn:
            yield conn
        self.make_durable()

    @contextmanager
    def transaction(self, kept: _KeptConnection | None = None) -> Iterator[Connection]:
        """A write transaction whose commit is durable only after :meth:`make_durable`.

        ``kept``: on SQLite, run it on this long-lived connection instead of one
        from the pool (see :meth:`group`).
        """
        # The connection is taken from the pool before queueing for the write lock,
        # so that the lock is held only for the transaction itself.
        if not self.is_sqlite:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        with self._connection(kept) as conn, self._writer_turn():
            # On SQLite the transaction is begun and ended on the driver's connection:
            # SQLAlchemy's transaction machinery costs more than the few statements
            # of a submission group, and the write lock is held all that time.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction():
                    conn.rollback()  # ends the driver's transaction too
                elif raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise
            if conn.in_transaction():
                conn.commit()  # statements run through SQLAlchemy joined this transaction
            else:
                raw.execute("COMMIT")

    def make_durable(self) -> None:
        """Make every transaction committed so far survive a crash or power loss.

        SQLite runs with ``synchronous=NORMAL``: a commit appends its pages to the
        write-ahead log but does not wait for the disk. Syncing the log here, after
        the write lock is released, puts every commit appended so far on disk,
        this process's and any other's, so one sync can serve many commits and
        the next writer does not wait for it. The log cannot be deleted meanwhile
        (this process holds a connection) and is only rewritten from the start
        after a checkpoint has copied its pages into the database file and synced
        that. PostgreSQL makes each commit durable itself.
        """
        if self._wal_path is None:
            return
        try:
            fd = os.open(self._wal_path, os.O_RDONLY)
        except FileNotFoundError:
            # The last connection closed: SQLite checkpointed the log into the
            # database file, synced it, and deleted the log.
            return
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On SQLite, queue writers of every process on an OS file lock.

        SQLite lets one writer in at a time and makes the others poll with
        growing sleeps (1, 2, 5, 10 ms ...), which idles a busy node. A blocking
        ``flock`` wakes the next writer the moment the lock is free. The kernel
        drops the lock when its holder dies, so nothing can go stale.
        """
        if self._lock_path is None:
            yield
            return
        with self._thread_lock:
            if self._lock_pid != os.getpid():
                # A forked child must not share its parent's open file (and lock).
                self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115
                self._lock_pid = os.getpid()
            assert self._lock_file is not None
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    serialize = staticmethod(serialize)

    @contextmanager
    def try_lock(self, name: str) -> Iterator[bool]:
        """Whether this process got the lock ``name``, held until the block ends.

        For work that one replica (or process) of the node should do at a time,
        such as a scheduled transfer. PostgreSQL: a session-level advisory lock on
        a connection kept for the block; SQLite: an OS file lock beside the
        database. Either is released when its holder dies, so another replica
        takes over at its next attempt.
        """
        if not self.is_sqlite:
            with self.engine.connect() as conn:
                got = bool(
                    conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(name)}
                    ).scalar()
                )
                conn.commit()
                try:
                    yield got
                finally:
                    if got:
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
                        conn.commit()
            return
        if self._lock_prefix is None:
            yield True
            return
        safe = "".join(ch if ch.isalnum() else "_" for ch in name)
        with open(f"{self._lock_prefix}{safe}.lock", "a+b") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @property
    def can_peek(self) -> bool:
        """Whether :meth:`peek` serves this database (a SQLite file)."""
        return self._file is not None

    def peek(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        """The first row of one small read on a SQLite file, or None; for the request path.

        It runs on a connection this thread keeps for itself, outside the pool and
        in autocommit (the statement is its own read transaction, which sees every
        committed write): a pooled connection and a transaction cost several times
        what an indexed lookup of a tiny table does, on every request.
        """
        if self._file is None:
            raise RuntimeError("peek serves SQLite database files only")
        reader = self._reader
        if reader.conn is None or reader.pid != os.getpid():
            # A forked child must not use its parent's connection.
            reader.conn = sqlite3.connect(
                self._file, timeout=30, isolation_level=None, check_same_thread=False
            )
            reader.conn.execute("PRAGMA query_only=ON")
            reader.pid = os.getpid()
            with self._readers_lock:
                self._readers.append(reader.conn)
        # Every row is read, so that the statement ends, and with it the read
        # transaction: a snapshot held open would keep SQLite from restarting its log.
        rows: list[tuple[Any, ...]] = reader.conn.execute(sql, tuple(params)).fetchall()
        return rows[0] if rows else None

    @contextmanager
    def _connection(self, kept: _KeptConnection | None) -> Iterator[Connection]:
        if kept is None:
            with self.engine.connect() as conn:
                yield conn
            return
        conn = kept.get(self.engine)
        try:
            yield conn
        except BaseException:
            kept.discard()  # start the next transaction on a fresh connection
            raise

    def group(
        self, name: str, run_batch: Callable[[Connection, list[Any]], list[Any]]
    ) -> GroupCommit[Connection, Any, Any]:
        """This store's group commit for one kind of write (created on first use).

        On SQLite its transactions, which run one at a time, all use one kept
        connection: SQLite empties a connection's page cache whenever another
        connection wrote since its last transaction, so a pooled connection
        per commit would read every page it touches afresh.
        """
        with self._groups_lock:
            group = self._groups.get(name)
            if group is None:
                kept = _KeptConnection()
                self._kept.append(kept)
                group = self._groups[name] = GroupCommit(
                    lambda: self.transaction(kept), run_batch, durable=self.make_durable
                )
            return group

    def dispose(self) -> None:
        for kept in self._kept:
            kept.discard()
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        self._reader = _ThreadReader()
        self.engine.dispose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
            self._lock_pid = 0
