"""The audit log as a transparency log: Merkle tree, proofs and signed checkpoints.

The audit entries (:mod:`gateway.store.audit_entries`) are the leaves of an RFC 9162 Merkle
tree. Entries are appended in the transaction of the change they record; the
tree over them is *integrated* later, in bulk, whenever a checkpoint is made
(after each batch, and on a schedule). That keeps hashing off the submission
path, and loses nothing: a checkpoint commits to every entry before it, and
anyone can recompute the tree from the entries.

The tree is stored as the hashes of its complete subtrees (``audit_tree``), so
an inclusion or consistency proof, or the root of any earlier size, costs
O(log n) point reads. Checkpoints are C2SP ``tlog-checkpoint`` bodies signed as
C2SP signed notes with the node's log key, whose name is the log's origin.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from gateway.errors import GatewayError
from gateway.node.node import Node
from gateway.store import audit_entries
from gateway.store.database import FastInsert, Store
from gateway.store.tables import audit_checkpoints, audit_cosignatures, audit_events, audit_tree
from gateway.timestamps import iso
from gateway.tlog import merkle, note

__all__ = [
    "LogIntegrityError",
    "SignedCheckpoint",
    "checkpoint",
    "consistency_proof",
    "cosignature_count",
    "cosigned_note",
    "inclusion_proof",
    "integrate",
    "latest_checkpoint",
    "mth",
    "tree_size",
]

# Entries read and hashed per step while integrating; bounds memory on large logs.
_CHUNK = 20_000
_INSERT_NODES = FastInsert(audit_tree, ["level", "idx", "hash"])


class LogIntegrityError(GatewayError):
    """The stored log contradicts itself (an entry missing or out of place)."""

    code = "log_integrity"
    status = 500


@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str  # the signed note: checkpoint body, blank line, the log's signature
    created_at: str


def tree_size(conn: Connection) -> int:
    """How many entries the stored tree covers."""
    c = audit_tree.c
    found = conn.execute(select(func.max(c.idx)).where(c.level == 0)).scalar()
    return 0 if found is None else int(found) + 1


def _frontier_keys(size: int) -> list[tuple[int, int]]:
    """The complete subtrees of the tree's right edge: one per set bit of ``size``."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def _fetch(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if conn.dialect.name == "sqlite":
        rows: list[Any] = []
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for start in range(0, len(wanted), _KEYS_PER_STATEMENT):
                part = wanted[start : start + _KEYS_PER_STATEMENT]
                flat = [v for key in part for v in key]
                rows += cursor.execute(_sqlite_fetch_sql(len(part)), flat).fetchall()
        finally:
            cursor.close()
    else:
        c = audit_tree.c
        by_level: dict[int, list[int]] = {}
        for level, idx in wanted:
            by_level.setdefault(level, []).append(idx)
        rows = list(
            conn.execute(
                select(c.level, c.idx, c.hash).where(
                    or_(*(and_(c.level == lv, c.idx.in_(idxs)) for lv, idxs in by_level.items()))
                )
            ).all()
        )
    found = {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
    missing = [k for k in wanted if k not in found]
    if missing:
        raise LogIntegrityError(f"the audit tree lacks the node(s) {missing[:4]}")
    return found


_KEYS_PER_STATEMENT = 400  # two parameters each, under SQLite's old limit of 999


@functools.lru_cache(maxsize=128)
def _sqlite_fetch_sql(count: int) -> str:
    """Point reads by primary key for ``count`` (level, idx) pairs, in one statement.

    SQLite scans the whole table for a row-value ``IN``, and SQLAlchemy's
    statement machinery costs more than the lookups: a join with a VALUES list
    on the driver's cursor reads each node by its key (0.6 ms for a proof at a
    million entries, see docs/PERFORMANCE.md).
    """
    values = ", ".join(["(?, ?)"] * count)
    return (
        f"SELECT t.level, t.idx, t.hash FROM (VALUES {values}) AS k "  # noqa: S608 (placeholders)
        "JOIN audit_tree AS t ON t.level = k.column1 AND t.idx = k.column2"
    )


def integrate(conn: Connection, *, limit: int | None = None) -> int:
    """Hash the entries not yet in the tree (at most ``limit``) into it; the new tree size.

    Runs in the caller's write transaction. Entries must be numbered 0, 1, 2 ...
    without a gap; anything else is refused, never papered over.
    """
    Store.serialize(conn, audit_entries.APPEND_LOCK)  # no append may take an index meanwhile
    size = tree_size(conn)
    known = _fetch(conn, _frontier_keys(size))
    frontier = {level: known[(level, idx)] for level, idx in _frontier_keys(size)}
    e = audit_events.c
    leaf_hash, node_hash = merkle.leaf_hash, merkle.node_hash
    stop = None if limit is None else size + limit
    while stop is None or size < stop:
        step = _CHUNK if stop is None else min(_CHUNK, stop - size)
        rows = conn.execute(
            select(e.idx, e.entry).where(e.idx >= size).order_by(e.idx).limit(step)
        ).all()
        if not rows:
            return size
        out: list[dict[str, object]] = []
        for idx, entry in rows:
            if idx != size:
                raise LogIntegrityError(f"audit entry {size} is missing (next stored: {idx})")
            h = leaf_hash(entry.encode("utf-8"))
            out.append({"level": 0, "idx": size, "hash": h})
            level, i = 0, size
            while i & 1:
                h = node_hash(frontier.pop(level), h)
                level += 1
                i >>= 1
                out.append({"level": level, "idx": i, "hash": h})
            frontier[level] = h
            size += 1
        _INSERT_NODES.execute(conn, out)
    return size


def mth(conn: Connection, start: int, end: int) -> bytes:
    """The Merkle tree hash of entries [start, end), from the stored tree."""
    if start == end == 0:
        return merkle.EMPTY_ROOT
    return merkle.range_hash(start, end, _fetch(conn, merkle.subtrees(start, end)))


def _proof(conn: Connection, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    nodes = _fetch(conn, (k for a, b in ranges for k in merkle.subtrees(a, b)))
    return [merkle.range_hash(a, b, nodes) for a, b in ranges]


def inclusion_proof(conn: Connection, index: int, size: int) -> list[bytes]:
    """The RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
    _check_size(conn, size)
    return _proof(conn, merkle.inclusion_ranges(index, size))


def consistency_proof(conn: Connection, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof from tree size ``old_size`` to ``new_size``."""
    _check_size(conn, new_size)
    return _proof(conn, merkle.consistency_ranges(old_size, new_size))


def _check_size(conn: Connection, size: int) -> None:
    if size > tree_size(conn):
        raise LogIntegrityError(f"the audit tree does not reach size {size} yet")


def _row(row: Any) -> SignedCheckpoint:
    return SignedCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))


def latest_checkpoint(
    conn: Connection, size: int | None = None, *, cosigned: int = 0
) -> SignedCheckpoint | None:
    """The newest checkpoint, or that of ``size``; with ``cosigned``, only one that carries
    at least that many cosignatures (``True``: one)."""
    c = audit_checkpoints.c
    query = select(c.size, c.root_hash, c.note, c.created_at)
    if cosigned:
        # Counted per checkpoint from the newest down (the cosignatures' key starts with
        # the size), so the search stops at the first checkpoint that has them.
        s = audit_cosignatures.c
        count = (
            select(func.count())
            .select_from(audit_cosignatures)
            .where(s.size == c.size)
            .correlate(audit_checkpoints)
            .scalar_subquery()
        )
        query = query.where(count >= int(cosigned))
    query = query.order_by(c.size.desc()).limit(1) if size is None else query.where(c.size == size)
    row = conn.execute(query).first()
    return None if row is None else _row(row)


def checkpoint(node: Node) -> SignedCheckpoint:
    """Integrate every entry and sign a checkpoint of the whole log.

    Returns the latest checkpoint unchanged when no entry was added since. A
    long backlog is integrated in several transactions, so that writers wait
    for the node's write lock no longer than one of them takes.
    """
    while True:
        with node.store.write() as conn:
            before = tree_size(conn)
            if integrate(conn, limit=_CHUNK) - before < _CHUNK:
                break
    with node.store.write() as conn:
        size = integrate(conn)
        latest = latest_checkpoint(conn)
        if latest is not None and latest.size == size:
            return latest
        if latest is not None and latest.size > size:
            raise LogIntegrityError(
                f"the log has {size} entries but checkpoint {latest.size} was signed"
            )
        root = mth(conn, 0, size)
        body = note.Checkpoint(node.config.party.log_origin, size, root).to_text()
        signed = note.sign_note(body, node.log_signer)
        created = iso(node.now())
        conn.execute(
            audit_checkpoints.insert().values(
                size=size, root_hash=root, note=signed, created_at=created
            )
        )
    return SignedCheckpoint(size, root, signed, created)


def cosignature_count(conn: Connection, size: int) -> int:
    """How many cosignatures this node holds for its checkpoint of ``size``."""
    c = audit_cosignatures.c
    found = conn.execute(select(func.count()).where(c.size == size)).scalar()
    return int(found or 0)


def cosigned_note(conn: Connection, signed: SignedCheckpoint) -> str:
    """The checkpoint note with every cosignature stored for it appended."""
    c = audit_cosignatures.c
    lines = conn.execute(
        select(c.signature).where(c.size == signed.size).order_by(c.witness)
    ).scalars()
    return signed.note + "".join(line + "\n" for line in lines)
