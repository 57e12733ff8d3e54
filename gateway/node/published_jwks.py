"""Peers' JWKS as their nodes last served them, kept in the node's database.

gateway.peers.jwks fetches them; what is kept here is shared by the node's
replicas, and the node builds its peers' keys from it with the agreement's
(gateway.node.node.Node.peers).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.crypto import strict_json
from gateway.store.database import Store
from gateway.store.tables import peer_jwks

__all__ = ["MAX_JWKS_BYTES", "fetched_at", "keep", "load", "parse"]

log = logging.getLogger(__name__)

# A JWKS of a few dozen keys is a few kilobytes; anything much longer is not one.
MAX_JWKS_BYTES = 64 * 1024


def parse(body: bytes) -> dict[str, Any]:
    """A JWKS as a peer's node serves it; :class:`ValueError` if it is not one."""
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"over {MAX_JWKS_BYTES} bytes")
    data = strict_json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS (an object with a 'keys' list)")
    if not all(isinstance(k, dict) for k in data["keys"]):
        raise ValueError("a key that is not an object")
    return data


def keep(store: Store, party: str, text: str, digest: str, *, fetched_at: str) -> bool:
    """Keep a fetched JWKS; whether it differs from the one kept before."""
    c = peer_jwks.c
    now = fetched_at
    with store.write() as conn:
        old = conn.execute(select(c.jwks_sha256).where(c.party == party)).scalar()
        if old is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        peer_jwks.insert().values(
                            party=party, jwks=text, jwks_sha256=digest, fetched_at=now
                        )
                    )
                return True
            except IntegrityError:  # another replica stored it meanwhile
                pass
        conn.execute(
            peer_jwks.update()
            .where(c.party == party)
            .values(jwks=text, jwks_sha256=digest, fetched_at=now)
        )
    return old != digest


def fetched_at(store: Store) -> dict[str, str]:
    """When each peer's JWKS was last fetched, by party."""
    c = peer_jwks.c
    with store.read() as conn:
        return {party: at for party, at in conn.execute(select(c.party, c.fetched_at)).all()}


def load(store: Store) -> dict[str, dict[str, Any]]:
    """Every peer's last fetched JWKS, by party."""
    c = peer_jwks.c
    with store.read() as conn:
        rows = conn.execute(select(c.party, c.jwks)).all()
    out = {}
    for party, text in rows:
        try:
            out[party] = parse(text.encode())
        except ValueError:
            log.warning("stored JWKS of %s unreadable; ignored", party)
    return out
