"""The node's database: tables, engine set-up and transaction helpers.

SQLite is the embedded default (WAL; every commit is synced to disk by
:meth:`Store.make_durable` before an answer goes out); PostgreSQL serves nodes
that run as several replicas. Write transactions on SQLite start with ``BEGIN IMMEDIATE``
so that two writers queue for the lock instead of failing half-way.
"""

from __future__ import annotations

import fcntl
import hashlib
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
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect, make_url

from gateway.crypto.atrest import Cipher, Encrypted, attach
from gateway.errors import GatewayError
from gateway.store.groupcommit import GroupCommit

__all__ = [
    "MAX_INTEGER",
    "FastInsert",
    "Store",
    "audit_checkpoints",
    "audit_cosignatures",
    "audit_events",
    "audit_tree",
    "auth_failures",
    "console_sessions",
    "inbound_batches",
    "inbound_chunks",
    "inbound_transfers",
    "managed_clients",
    "metadata",
    "outbound_batches",
    "outbound_chunks",
    "outbox_records",
    "peer_jwks",
    "pull_refusals",
    "refusal_counts",
    "request_nonces",
    "scalar",
    "submissions",
    "witness_alerts",
    "witnessed_logs",
]

metadata = MetaData()

# The largest value an Integer column holds on every backend (PostgreSQL's INTEGER is
# 32-bit): a number from a request that is compared with one is refused above it, or the
# database would fail the query.
MAX_INTEGER = 2**31 - 1

# Host parameters per statement: SQLite before 3.32 allowed at most 999.
_SQLITE_MAX_PARAMETERS = 999

submissions = Table(
    "submissions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    # The client's Idempotency-Key (draft-ietf-httpapi-idempotency-key-header), if it
    # sent one, and the SHA-256 of the request body it came with: the same key again
    # with the same body is answered with this submission; with another, refused.
    Column("idempotency_key", String(255), nullable=True),
    Column("request_sha256", String(64), nullable=True),
    # A key is taken once per client, also by concurrent requests to other workers or
    # replicas: the second insert fails and is answered as a repeat.
    Index(
        "uq_submissions_idempotency_key",
        "client_id",
        "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    # Keyed by the id alone: one B-tree instead of a rowid table plus an index.
    sqlite_with_rowid=False,
)

outbox_records = Table(
    "outbox_records",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", String(36), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    # RFC 8785 canonical JSON of the record, sealed under the storage key (gateway.crypto.atrest).
    Column("record", Encrypted, nullable=False),
    Column("record_sha256", String(64), nullable=False),
    Column("batch_id", String(36), nullable=True),
    Column("created_at", String(40), nullable=False),
    Index("ix_outbox_pending", "dataset", "batch_id", "seq"),
    # Where a submission's records are (GET /api/v1/submissions/<id>).
    Index("ix_outbox_submission", "submission_id"),
)

outbound_batches = Table(
    "outbound_batches",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("receiver", String(64), nullable=False),
    Column("record_count", Integer, nullable=False),
    # The batch's digest: records_sha256 for a batch sent whole, records_root
    # (hex RFC 9162 root over the records' digests) for a chunked one.
    Column("records_sha256", String(64), nullable=True),
    Column("records_root", String(64), nullable=True),
    Column("chunk_count", Integer, nullable=False, default=1),
    # How many chunks the receiver has acknowledged, in order.
    Column("chunks_acked", Integer, nullable=False, default=0),
    # The sealed batch, or of a chunked batch its sealed manifest.
    Column("envelope", Text, nullable=False),
    Column("status", String(16), nullable=False),  # sealed | delivered | dead | cancelled
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", String(40), nullable=False),
    Column("last_attempt_at", String(40), nullable=True),
    Column("delivered_at", String(40), nullable=True),
    Column("receipt", Text, nullable=True),
    Column("last_error", String(200), nullable=True),
    # When a sealed batch that failed may be sent again (NULL: now).
    Column("next_attempt_at", String(40), nullable=True),
    # Its number on the channel (receiver, dataset), in the order sealed.
    Column("sequence", Integer, nullable=False, default=0),
    # When its records and envelope were purged under the flow's retention_days.
    Column("purged_at", String(40), nullable=True),
    Index("ix_outbound_status", "status", "dataset"),
    Index("ix_outbound_channel", "receiver", "dataset", "sequence"),
)

inbound_batches = Table(
    "inbound_batches",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the pull cursor
    Column("sender", String(64), nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=True),  # of a batch sent whole
    Column("records_root", String(64), nullable=True),  # of a chunked batch
    Column("chunk_count", Integer, nullable=False, default=1),
    Column("signer_kid", String(64), nullable=False),
    # The sender's verified JWS (of a chunked batch: its manifest): proof of origin,
    # sealed under the storage key (gateway.crypto.atrest), as every payload column.
    Column("signed", Encrypted, nullable=False),
    Column("receipt", Text, nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("acked_at", String(40), nullable=True),
    Column("acked_by", String(64), nullable=True),
    # The batch's number on its channel (sender, dataset): each is taken once.
    Column("sequence", Integer, nullable=False, default=0),
    # When its records were purged under the flow's retention_days (digests are kept).
    Column("purged_at", String(40), nullable=True),
    # Batch ids are UUIDs chosen by senders; one id is accepted once, from one sender.
    UniqueConstraint("batch_id", name="uq_inbound_batch_id"),
    Index(
        "uq_inbound_channel_sequence",
        "sender",
        "dataset",
        "sequence",
        unique=True,
        sqlite_where=text("sequence > 0"),
        postgresql_where=text("sequence > 0"),
    ),
    Index("ix_inbound_dataset_seq", "dataset", "seq"),
)

# The chunks of chunked outbound batches. Chunk ``idx`` is the batch's records with
# ``seq`` from ``first_seq`` to ``last_seq``; envelopes are sealed when sent.
outbound_chunks = Table(
    "outbound_chunks",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    sqlite_with_rowid=False,
)

# Chunked batches being received: the verified manifest and how far the chunks
# have come. The batch is committed (a row in inbound_batches) with its last chunk.
inbound_transfers = Table(
    "inbound_transfers",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("schema_version", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("chunk_count", Integer, nullable=False),
    Column("records_root", String(64), nullable=False),
    Column("manifest", Encrypted, nullable=False),  # the sender's verified manifest JWS
    Column("manifest_sha256", String(64), nullable=False),  # of its envelope
    Column("signer_kid", String(64), nullable=False),
    # How many chunks from the first are here without a gap (folded into the tree).
    Column("chunks_received", Integer, nullable=False),
    Column("bytes_received", Integer, nullable=False),  # of the chunks' signed documents
    # The records tree so far (gateway.tlog.merkle.Frontier), to check records_root.
    Column("frontier", LargeBinary, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# Chunks received, in any order, each the sender's verified JWS (its records inside).
inbound_chunks = Table(
    "inbound_chunks",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("record_count", Integer, nullable=False),
    Column("records_sha256", String(64), nullable=False),
    Column("signer_kid", String(64), nullable=False),
    Column("signed", Encrypted, nullable=False),  # its records inside
    # The chunk's leaves of the records tree (32 bytes a record), so that chunks that
    # arrive out of order are folded into it once the ones before them are here.
    Column("leaves", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)


# Append-only: rows are inserted, never updated or deleted. ``entry`` is the
# RFC 8785 canonical JSON that the Merkle log hashes as a leaf.
audit_events = Table(
    "audit_events",
    metadata,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("at", String(40), nullable=False),
    Column("event", String(40), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("dataset", String(64), nullable=True),
    Column("batch_id", String(36), nullable=True),
    Column("submission_id", String(36), nullable=True),
    Column("peer", String(64), nullable=True),
    Column("entry", Text, nullable=False),
    # Only batch events carry a batch id; submission events stay out of the index.
    Index(
        "ix_audit_batch",
        "batch_id",
        sqlite_where=text("batch_id IS NOT NULL"),
        postgresql_where=text("batch_id IS NOT NULL"),
    ),
)


# The Merkle tree over the audit entries (RFC 9162), as the hashes of its complete
# subtrees: (level, index) covers entries [index << level, (index + 1) << level);
# level 0 holds the leaf hashes. Any proof then costs O(log n) point reads.
audit_tree = Table(
    "audit_tree",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

# Every checkpoint this node signed (C2SP tlog-checkpoint as a signed note).
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)

# Cosignatures (C2SP tlog-cosignature) that peers' witnesses gave our checkpoints.
audit_cosignatures = Table(
    "audit_cosignatures",
    metadata,
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("witness", String(255), primary_key=True),
    Column("signature", Text, nullable=False),  # the note signature line
    Column("timestamp", Integer, nullable=False),
)

# This node as a witness: the last checkpoint it cosigned, per peer log.
witnessed_logs = Table(
    "witnessed_logs",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("updated_at", String(40), nullable=False),
)


# What this node as a witness refused, with the evidence: one row per distinct
# (log, kind, size, root), however often it is presented again.
witness_alerts = Table(
    "witness_alerts",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("kind", String(16), primary_key=True),  # fork | inconsistent
    Column("size", Integer, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), primary_key=True),
    Column("witnessed_size", Integer, nullable=False),
    Column("witnessed_note", Text, nullable=False),  # the checkpoint cosigned before
    Column("request", Text, nullable=False),  # the refused request: its note and proof
    Column("first_seen", String(40), nullable=False),
    Column("last_seen", String(40), nullable=False),
    Column("count", Integer, nullable=False),
)

# The ids (jti) of signed node-to-node requests already taken (gateway.peers.signed_requests),
# kept until their signature's time window closes, so that a replay is refused,
# also by another replica of the node.
request_nonces = Table(
    "request_nonces",
    metadata,
    Column("jti", String(36), primary_key=True),
    Column("expires_at", String(40), nullable=False),
    Index("ix_request_nonces_expires", "expires_at"),
)

# Refusals of callers that did not authenticate (and of clients over their rate
# limit), counted per kind and interval instead of audited one by one; a closed
# interval becomes one audit entry and its row is deleted (gateway.node.refusals).
# ``subject``: the peer or client named in the entry, "" for none.
refusal_counts = Table(
    "refusal_counts",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("interval_start", Integer, primary_key=True, autoincrement=False),
    Column("interval_end", Integer, nullable=False),
    Column("count", Integer, nullable=False),
)

# Failed authentications per source address and fixed window, shared by every
# worker and replica (gateway.node.refusals). ``source`` is a keyed hash of the
# address, never the address; rows are deleted once their window has passed.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("window_end", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Index("ix_auth_failures_window_end", "window_end"),
)


# Pull mode, at the receiver: the batches it fetched from a sender's outbox and refused
# (docs/ENVELOPE.md 9.5.3). Not fetched again; the sender is told (reported_at) and
# dead-letters the batch. A batch listed again after that was retried by the sender's
# operator on purpose, and is fetched again.
pull_refusals = Table(
    "pull_refusals",
    metadata,
    Column("batch_id", String(36), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("dataset", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("refused_at", String(40), nullable=False),
    Column("reported_at", String(40), nullable=True),
)

# Clients of the node's own systems managed with "gateway clients" (the node
# config may name others). Tokens are stored only as their SHA-256.
managed_clients = Table(
    "managed_clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("submit", Text, nullable=False),  # JSON arrays of dataset names and roles
    Column("pull", Text, nullable=False),
    Column("roles", Text, nullable=False),
    Column("rate_limit", String(40), nullable=True),
    Column("created_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=True),
    Column("rotated_at", String(40), nullable=True),
    Column("revoked_at", String(40), nullable=True),
    UniqueConstraint("token_sha256", name="uq_managed_clients_token"),
)


# Auditor console sessions (gateway.http.console.sessions), one row per signed-in browser,
# shared by every worker and replica: a session is valid only while its row is. The
# cookie carries a random session id; only its SHA-256 is kept here. The token's
# SHA-256 ends the session when the client's token is rotated.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("token_sha256", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("seen_at", String(40), nullable=False),
    Index("ix_console_sessions_client", "client_id"),
)


# Each peer's JWKS as its node last served it (gateway.peers.jwks): where a rotated
# key that the agreement pins, and the validity of every key, are learnt.
peer_jwks = Table(
    "peer_jwks",
    metadata,
    Column("party", String(64), primary_key=True),
    Column("jwks", Text, nullable=False),
    Column("jwks_sha256", String(64), nullable=False),
    Column("fetched_at", String(40), nullable=False),
)


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


def lock_key(name: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for a lock's name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def scalar(conn: Connection, statement: Any, sqlite_sql: str) -> Any:
    """One value: on SQLite by ``sqlite_sql`` on the raw cursor, elsewhere by ``statement``."""
    if conn.dialect.name != "sqlite":
        return conn.execute(statement).scalar_one()
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return cursor.execute(sqlite_sql).fetchone()[0]
    finally:
        cursor.close()


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
        from gateway.store import migrate

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

    @staticmethod
    def serialize(conn: Connection, name: str) -> None:
        """Within a write transaction, let one transaction named ``name`` run at a time.

        On PostgreSQL, where transactions of several replicas run side by side,
        a transaction-level advisory lock; on SQLite every write transaction
        already runs alone.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})

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
