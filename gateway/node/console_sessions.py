"""Auditor console sessions, kept on the server in the node's database.

Signing in makes a row (``gateway.store.database.console_sessions``) and gives the
browser a random 256-bit session id in its cookie; the row keeps only the id's
SHA-256, the client's id and the SHA-256 of the token it signed in with. Every
request looks the row up and refuses the session when the row is gone or the
session has been idle for :data:`IDLE` or lasted :data:`LIFETIME` (by the node's
clock). Signing out, ``gateway clients rotate`` / ``revoke`` of the client and
``gateway console sessions end`` delete rows, so a copied cookie stops working at
once, in every worker and replica (they share the database). Rows of ended
sessions are deleted when found, and those of expired ones at every sign-in and
sign-out and by ``gateway console sessions end --expired``.

Nothing here logs or returns a session id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from gateway.node.node import Node
from gateway.store.tables import console_sessions
from gateway.timestamps import age_seconds, iso

__all__ = [
    "IDLE",
    "LIFETIME",
    "Session",
    "check",
    "end",
    "end_all",
    "end_for_client",
    "listing",
    "purge_expired",
    "start",
]

IDLE = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=8)


@dataclass(frozen=True)
class Session:
    client_id: str
    token_sha256: str


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _expired(row: Any, now: dt.datetime) -> bool:
    return (
        age_seconds(now, row["seen_at"]) > IDLE.total_seconds()
        or age_seconds(now, row["created_at"]) > LIFETIME.total_seconds()
    )


def _purge(conn: Connection, now: dt.datetime) -> int:
    c = console_sessions.c
    # The stored times are all in one fixed-width UTC format (gateway.timestamps.iso), so
    # they compare as text.
    done = conn.execute(
        delete(console_sessions).where(
            or_(c.seen_at < iso(now - IDLE), c.created_at < iso(now - LIFETIME))
        )
    )
    return int(done.rowcount or 0)


def start(node: Node, *, client_id: str, token_sha256: str) -> str:
    """A new session of this client; returns its id, for the cookie only."""
    session_id = secrets.token_urlsafe(32)
    now = node.now()
    with node.store.write() as conn:
        _purge(conn, now)
        conn.execute(
            console_sessions.insert().values(
                id_sha256=_key(session_id),
                client_id=client_id,
                token_sha256=token_sha256,
                created_at=iso(now),
                seen_at=iso(now),
            )
        )
    return session_id


def check(node: Node, session_id: str) -> Session | None:
    """The session with this id if it is still valid, now marked used; else None.

    A session found expired is ended (its row deleted).
    """
    now = node.now()
    key = _key(session_id)
    c = console_sessions.c
    with node.store.write() as conn:
        row = conn.execute(select(console_sessions).where(c.id_sha256 == key)).mappings().first()
        if row is None:
            return None
        if _expired(row, now):
            conn.execute(delete(console_sessions).where(c.id_sha256 == key))
            return None
        conn.execute(update(console_sessions).where(c.id_sha256 == key).values(seen_at=iso(now)))
    return Session(client_id=row["client_id"], token_sha256=row["token_sha256"])


def end(node: Node, session_id: str) -> bool:
    """End one session (sign-out); also deletes the rows of expired ones. Whether it was there."""
    with node.store.write() as conn:
        done = conn.execute(
            delete(console_sessions).where(console_sessions.c.id_sha256 == _key(session_id))
        )
        _purge(conn, node.now())
    return bool(done.rowcount)


def end_for_client(conn: Connection, client_id: str) -> int:
    """In a write transaction: end every session of a client (revoked, rotated). How many."""
    done = conn.execute(delete(console_sessions).where(console_sessions.c.client_id == client_id))
    return int(done.rowcount or 0)


def end_all(node: Node, *, client_id: str | None = None) -> int:
    """End every session, or every session of one client. How many were ended."""
    with node.store.write() as conn:
        if client_id is not None:
            return end_for_client(conn, client_id)
        return int(conn.execute(delete(console_sessions)).rowcount or 0)


def purge_expired(node: Node) -> int:
    """Delete the rows of sessions past their idle or total lifetime. How many."""
    with node.store.write() as conn:
        return _purge(conn, node.now())


def listing(node: Node) -> list[dict[str, Any]]:
    """Every session kept: client, when it began, was last used and ends; never an id."""
    now = node.now()
    with node.store.read() as conn:
        rows = conn.execute(
            select(console_sessions).order_by(
                console_sessions.c.client_id, console_sessions.c.created_at
            )
        ).mappings()
        return [
            {
                "client": row["client_id"],
                "started_at": row["created_at"],
                "seen_at": row["seen_at"],
                "status": "expired" if _expired(row, now) else "active",
            }
            for row in rows
        ]
