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

import requests

from gateway.node import outbound_tls, published_jwks
from gateway.node.node import Node
from gateway.timestamps import iso

__all__ = ["JWKS_PATH", "RefreshReport", "learn", "refresh"]

log = logging.getLogger(__name__)

JWKS_PATH = "/exchange/v1/jwks"

# (url, timeout) -> (status, body). Tests cut the network here.
Getter = Callable[[str, float], tuple[int, bytes]]


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    with requests.get(
        url, timeout=timeout, stream=True, allow_redirects=False, **outbound_tls.tls_for(url)
    ) as response:
        body = response.raw.read(published_jwks.MAX_JWKS_BYTES + 1, decode_content=True)
        return response.status_code, body


@dataclass
class RefreshReport:
    updated: list[str] = field(default_factory=list)  # parties whose JWKS changed
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # party -> why


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
            jwks = published_jwks.parse(body)
        except (requests.RequestException, ValueError) as exc:
            log.warning("JWKS of %s not refreshed: %s", party.id, exc)
            report.failed[party.id] = str(exc)[:200]
            continue
        text = json.dumps(jwks, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if published_jwks.keep(node.store, party.id, text, digest, fetched_at=iso(node.now())):
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


