"""Clients of the node's own systems, managed with ``gateway clients``.

A token is random (256 bits), shown once when it is made, and stored only as
its SHA-256. A client has the same rights as one in the node config (datasets
to submit and pull, within the agreement's directions; roles; a rate limit)
plus an expiry, and can be revoked or given a new token (rotated: the old one
stops working at once). Revoking or rotating also ends the client's auditor
console sessions (gateway.node.console_sessions). Every change is an audit entry
naming the operator.
Clients in the node config keep working as before; their ids are reserved.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from limits import parse
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from gateway.errors import BadRequest, NotFound
from gateway.node.config import _ID, ROLES, ClientConfig
from gateway.store import audit_entries
from gateway.store.tables import console_sessions, managed_clients
from gateway.timestamps import iso

if TYPE_CHECKING:  # the Node looks its managed clients up here
    from gateway.node.node import Node

__all__ = ["TOKEN_PREFIX", "add", "listing", "lookup", "revoke", "rotate"]

# Marks a token as this gateway's, so that a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "gwt_"  # noqa: S105 (a prefix, not a secret)


def _new_token() -> tuple[str, str]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check(node: Node, *, submit: Iterable[str], pull: Iterable[str], roles: Iterable[str]) -> None:
    agreement, party = node.config.agreement, node.party_id
    for names, allowed, verb in (
        (submit, {d.name for d in agreement.outgoing(party)}, "sends"),
        (pull, {d.name for d in agreement.incoming(party)}, "receives"),
    ):
        for name in sorted(set(names) - allowed):
            raise BadRequest(
                f"dataset {name!r} is not one that {party} {verb} under the agreement "
                f"(allowed: {sorted(allowed)})"
            )
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        raise BadRequest(f"unknown roles {unknown} (known: {sorted(ROLES)})")


def add(
    node: Node,
    client_id: str,
    *,
    name: str | None = None,
    submit: Iterable[str] = (),
    pull: Iterable[str] = (),
    roles: Iterable[str] = (),
    expires_in_days: int | None = None,
    rate_limit: str | None = None,
    operator: str,
) -> str:
    """Make a client; returns its token, which is not kept anywhere."""
    if not _ID.fullmatch(client_id):
        raise BadRequest(f"client id must be lower-case letters, digits and '-', got {client_id!r}")
    if any(c.id == client_id for c in node.config.clients):
        raise BadRequest(f"client {client_id!r} is in the node config")
    submit, pull, roles = sorted(set(submit)), sorted(set(pull)), sorted(set(roles))
    _check(node, submit=submit, pull=pull, roles=roles)
    if rate_limit is not None:
        try:
            parse(rate_limit)
        except ValueError:
            raise BadRequest(f"not a rate such as '100/minute': {rate_limit!r}") from None
    if expires_in_days is not None and expires_in_days <= 0:
        raise BadRequest("a client's token must expire in at least one day")
    token, digest = _new_token()
    now = node.now()
    with node.store.write() as conn:
        if _row(conn, client_id) is not None:
            raise BadRequest(f"client {client_id!r} exists; rotate or revoke it")
        conn.execute(
            managed_clients.insert().values(
                id=client_id,
                name=name or client_id,
                token_sha256=digest,
                submit=json.dumps(submit),
                pull=json.dumps(pull),
                roles=json.dumps(roles),
                rate_limit=rate_limit,
                created_at=iso(now),
                expires_at=(
                    None if expires_in_days is None else iso(now + dt.timedelta(expires_in_days))
                ),
            )
        )
        audit_entries.append(
            conn, event="client_added", actor=operator, at=now, client=client_id, status="active"
        )
    return token


def rotate(node: Node, client_id: str, *, operator: str) -> str:
    """A new token for a client; the old one stops working now. Returns the new token."""
    token, digest = _new_token()
    now = node.now()
    with node.store.write() as conn:
        row = _row(conn, client_id)
        if row is None or row["revoked_at"] is not None:
            raise NotFound(f"no active managed client {client_id!r}", path="client")
        conn.execute(
            update(managed_clients)
            .where(managed_clients.c.id == client_id)
            .values(token_sha256=digest, rotated_at=iso(now))
        )
        _end_console_sessions(conn, client_id)
        audit_entries.append(conn, event="client_rotated", actor=operator, at=now, client=client_id)
    return token


def revoke(node: Node, client_id: str, *, operator: str) -> None:
    """Stop a client's token from working; the client stays listed, revoked."""
    now = node.now()
    with node.store.write() as conn:
        row = _row(conn, client_id)
        if row is None:
            raise NotFound(f"no managed client {client_id!r}", path="client")
        if row["revoked_at"] is not None:
            return
        conn.execute(
            update(managed_clients)
            .where(managed_clients.c.id == client_id)
            .values(revoked_at=iso(now))
        )
        _end_console_sessions(conn, client_id)
        audit_entries.append(
            conn, event="client_revoked", actor=operator, at=now, client=client_id, status="revoked"
        )


def lookup(node: Node, token_sha256: str) -> ClientConfig | None:
    """The active (not revoked, not expired) managed client with this token's hash."""
    with node.store.read() as conn:
        row = (
            conn.execute(
                select(managed_clients).where(managed_clients.c.token_sha256 == token_sha256)
            )
            .mappings()
            .first()
        )
    if row is None or _status(row, node.now()) != "active":
        return None
    return ClientConfig(
        id=row["id"],
        name=row["name"],
        token_sha256=row["token_sha256"],
        submit=frozenset(json.loads(row["submit"])),
        pull=frozenset(json.loads(row["pull"])),
        roles=frozenset(json.loads(row["roles"])),
        rate_limit=row["rate_limit"],
    )


def listing(node: Node) -> list[dict[str, Any]]:
    """Every client: the node config's and the managed ones, with their state; no tokens."""
    now = node.now()
    out: list[dict[str, Any]] = [
        {
            "id": c.id,
            "name": c.name,
            "source": "config",
            "status": "active",
            "submit": sorted(c.submit),
            "pull": sorted(c.pull),
            "roles": sorted(c.roles),
            "expires_at": None,
        }
        for c in node.config.clients
    ]
    with node.store.read() as conn:
        rows = conn.execute(select(managed_clients).order_by(managed_clients.c.id)).mappings()
        for row in rows:
            out.append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "source": "managed",
                    "status": _status(row, now),
                    "submit": json.loads(row["submit"]),
                    "pull": json.loads(row["pull"]),
                    "roles": json.loads(row["roles"]),
                    "expires_at": row["expires_at"],
                    "created_at": row["created_at"],
                    "rotated_at": row["rotated_at"],
                    "revoked_at": row["revoked_at"],
                }
            )
    return out


def _status(row: Any, now: dt.datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_at"] is not None and row["expires_at"] <= iso(now):
        return "expired"
    return "active"


def _end_console_sessions(conn: Connection, client_id: str) -> None:
    """End the client's console sessions with the change that ends its token.

    The console would refuse them at their next request anyway (the token's digest
    no longer names an active client); deleting the rows leaves nothing behind.
    """
    conn.execute(delete(console_sessions).where(console_sessions.c.client_id == client_id))


def _row(conn: Connection, client_id: str) -> Any:
    return (
        conn.execute(select(managed_clients).where(managed_clients.c.id == client_id))
        .mappings()
        .first()
    )
