"""Peers' JWKS as their nodes serve them: how a rotated key is picked up.

A node fetches each peer's ``/exchange/v1/jwks`` on a schedule (the agreement's
``[keys] jwks_refresh_seconds``) and with ``gateway keys refresh``, and keeps
the last good answer in ``peer_jwks``, shared by its replicas. What is fetched
adds nothing by itself: a key is used only if the agreement registers it
(``jwks_file``) or pins its thumbprint (``key_pins``); the fetched JWKS also
says which keys have expired or are revoked (:meth:`gateway.crypto.keys.PeerKeys.pinned`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.crypto import strict_json
from gateway.node import outbound_tls
from gateway.node.node import Node
from gateway.store.database import Store, peer_jwks
from gateway.timestamps import iso

__all__ = ["JWKS_PATH", "RefreshReport", "learn", "load", "refresh"]

log = logging.getLogger(__name__)

JWKS_PATH = "/exchange/v1/jwks"
# A JWKS of a few dozen keys is a few kilobytes; anything much longer is not one.
MAX_JWKS_BYTES = 64 * 1024

# (url, timeout) -> (status, body). Tests cut the network here.
Getter = Callable[[str, float], tuple[int, bytes]]


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    with requests.get(
        url, timeout=timeout, stream=True, allow_redirects=False, **outbound_tls.tls_for(url)
    ) as response:
        body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
        return response.status_code, body


@dataclass
class RefreshReport:
    updated: list[str] = field(default_factory=list)  # parties whose JWKS changed
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # party -> why


def _parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"over {MAX_JWKS_BYTES} bytes")
    data = strict_json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS (an object with a 'keys' list)")
    if not all(isinstance(k, dict) for k in data["keys"]):
        raise ValueError("a key that is not an object")
    return data


def refresh(node: Node, *, get: Getter = http_get) -> RefreshReport:
    """Fetch every peer's JWKS; keep each that parses; a failure keeps the last one."""
    report = RefreshReport()
    for party in node.config.agreement.parties.values():
        if party.id == node.party_id:
            continue
        try:
            status, body = get(party.base_url + JWKS_PATH, node.config.peer_timeout_seconds)
            if status != 200:
                raise ValueError(f"HTTP {status}")
            jwks = _parse(body)
        except (requests.RequestException, ValueError) as exc:
            log.warning("JWKS of %s not refreshed: %s", party.id, exc)
            report.failed[party.id] = str(exc)[:200]
            continue
        text = json.dumps(jwks, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if _store(node, party.id, text, digest):
            log.info("JWKS of %s refreshed: %d keys", party.id, len(jwks["keys"]))
            report.updated.append(party.id)
        else:
            report.unchanged.append(party.id)
    if report.updated:
        node.forget_peer_keys()
    return report


# A pinned key not yet known is looked for in the database at most this often, and
# fetched from the peer at most that often (per process).
_LOOK_SECONDS = 1.0
_LEARN_SECONDS = 30.0
_learnt: dict[int, tuple[float, float]] = {}
_learn_lock = threading.Lock()


def learn(node: Node) -> bool:
    """Take up a key the agreement pins for a peer that this node has not got yet.

    Called when a request is signed with an unknown key: a peer that rotated its
    key may use it before this process rebuilt its peer keys, or before anyone
    fetched the peer's JWKS. What another process (the scheduler's refresh, a
    replica) stored is looked at first, at most once a second; the JWKS is
    fetched at most every 30 s. Only pins can trigger either, so unknown key ids
    cost a peer nothing. Whether anything new was learnt.
    """
    if not _missing_pins(node):
        return False
    now = time.monotonic()
    with _learn_lock:
        looked, fetched = _learnt.get(id(node), (-_LEARN_SECONDS, -_LEARN_SECONDS))
        look = now - looked >= _LOOK_SECONDS
        fetch = now - fetched >= _LEARN_SECONDS
        _learnt[id(node)] = (now if look else looked, now if fetch else fetched)
    if look:
        node.forget_peer_keys()
        if not _missing_pins(node):
            return True
    return fetch and bool(refresh(node).updated)


def _missing_pins(node: Node) -> bool:
    return any(
        set(p.key_pins) - set(p.revoked_keys) - node.peers.kids(p.id)
        for p in node.config.agreement.parties.values()
        if p.id != node.party_id
    )


def _store(node: Node, party: str, text: str, digest: str) -> bool:
    """Keep a fetched JWKS; whether it differs from the one kept before."""
    c = peer_jwks.c
    now = iso(node.now())
    with node.store.write() as conn:
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


def load(store: Store) -> dict[str, dict[str, Any]]:
    """Every peer's last fetched JWKS, by party."""
    c = peer_jwks.c
    with store.read() as conn:
        rows = conn.execute(select(c.party, c.jwks)).all()
    out = {}
    for party, text in rows:
        try:
            out[party] = _parse(text.encode())
        except ValueError:
            log.warning("stored JWKS of %s unreadable; ignored", party)
    return out
