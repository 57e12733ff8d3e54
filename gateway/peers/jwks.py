"""Peers' JWKS as their nodes serve them: how a rotated key is picked up.

A node fetches each peer's ``/exchange/v1/jwks`` on a schedule (the agreement's
``[keys] jwks_refresh_seconds``) and with ``gateway keys refresh``, and keeps
the last good answer in ``peer_jwks``, shared by its replicas. What is fetched
adds nothing by itself: a key is used only if the agreement registers it
(``jwks_file``) or pins its thumbprint (``key_pins``); the fetched JWKS also
says which keys have expired or are revoked (:meth:`gateway.crypto.keys.PeerKeys.pinned`).

A hub has hundreds of peers: the scheduled job does not fetch them all at once but a
slice of at most :data:`SLICE` peers a run, those fetched longest ago, and runs as
often as it takes for each peer to be fetched every ``jwks_refresh_seconds``
(:func:`plan`): ``ceil(peers / SLICE)`` runs a period, and no run less than
:data:`MIN_INTERVAL_SECONDS` after the last (then the slice grows instead). When a
peer was last fetched is the ``fetched_at`` of its stored JWKS, shared by replicas; a
failed fetch is remembered by this process, so that a peer that does not answer
waits for its turn like the others instead of taking a place in every slice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# requests is imported where it is used: a node's HTTP workers make no outbound
# request and do not load it (about 4 MiB each; docs/PERFORMANCE.md).
from gateway.node import outbound_tls, published_jwks
from gateway.node.config import Agreement, Party
from gateway.node.node import Node
from gateway.timestamps import iso

__all__ = [
    "FETCHES_AT_ONCE",
    "JWKS_PATH",
    "MIN_INTERVAL_SECONDS",
    "SLICE",
    "RefreshReport",
    "learn",
    "plan",
    "refresh",
]

log = logging.getLogger(__name__)

JWKS_PATH = "/exchange/v1/jwks"

# (url, timeout) -> (status, body). Tests cut the network here.
Getter = Callable[[str, float], tuple[int, bytes]]


def http_get(url: str, timeout: float) -> tuple[int, bytes]:
    import requests

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


# Peers fetched by one scheduled run, at most (unless runs would come too often).
SLICE = 20
# Scheduled runs come at most this often.
MIN_INTERVAL_SECONDS = 10
# Peers' JWKS endpoints asked at the same moment by one refresh.
FETCHES_AT_ONCE = 8


def plan(peers: int, refresh_seconds: int) -> tuple[int, int]:
    """How often the scheduled refresh runs and how many peers each run fetches, so that
    every one of ``peers`` is fetched at least every ``refresh_seconds``:
    ``(interval_seconds, slice)``."""
    runs = max(1, math.ceil(peers / SLICE))
    interval = max(min(MIN_INTERVAL_SECONDS, refresh_seconds), refresh_seconds // runs)
    # Runs that fit in a period, the last one included; each takes an equal share.
    per_period = max(1, refresh_seconds // interval)
    return interval, max(1, math.ceil(peers / per_period))


# When this process last failed to fetch a peer's JWKS (monotonic seconds are no use
# across replicas; wall time is what fetched_at holds), by node and party.
_failed_at: dict[tuple[int, str], str] = {}


def _oldest(node: Node, limit: int) -> list[Party]:
    """The ``limit`` peers whose JWKS was fetched (or tried) longest ago."""
    peers = [p for p in node.config.agreement.parties.values() if p.id != node.party_id]
    if limit >= len(peers):
        return peers
    fetched = published_jwks.fetched_at(node.store)
    key = id(node)

    def last(party: Party) -> str:
        return max(fetched.get(party.id, ""), _failed_at.get((key, party.id), ""))

    # Oldest first; ties (never fetched) by id, so that every run picks the same ones.
    return sorted(peers, key=lambda p: (last(p), p.id))[:limit]


def refresh(node: Node, *, get: Getter = http_get, limit: int | None = None) -> RefreshReport:
    """Fetch the peers' JWKS (every one, or the ``limit`` fetched longest ago); keep each
    that parses; a failure keeps the last one."""
    import requests

    report = RefreshReport()
    peers = (
        [p for p in node.config.agreement.parties.values() if p.id != node.party_id]
        if limit is None
        else _oldest(node, limit)
    )
    timeout = node.config.peer_timeout_seconds

    def fetch(party: Party) -> dict[str, Any] | Exception:
        try:
            status, body = get(party.base_url + JWKS_PATH, timeout)
            if status != 200:
                raise ValueError(f"HTTP {status}")
            return published_jwks.parse(body)
        except (requests.RequestException, ValueError) as exc:
            return exc

    # The fetches at the same time (a run takes one timeout, not one per peer that
    # hangs); what they found is kept one after the other.
    if len(peers) > 1:
        with ThreadPoolExecutor(min(len(peers), FETCHES_AT_ONCE), "jwks-refresh") as pool:
            fetched = list(pool.map(fetch, peers))
    else:
        fetched = [fetch(p) for p in peers]
    for party, jwks in zip(peers, fetched, strict=True):
        if isinstance(jwks, Exception):
            log.warning("JWKS of %s not refreshed: %s", party.id, jwks)
            report.failed[party.id] = str(jwks)[:200]
            _failed_at[(id(node), party.id)] = iso(node.now())
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
    """Whether a peer's pinned key (not revoked) is not among its keys yet."""
    return any(
        set(p.key_pins) - set(p.revoked_keys) - node.peers.kids(p.id)
        for p in _pinning(node.config.agreement, node.party_id)
    )


# The parties whose keys are pinned, for the last agreement (merged view) asked about:
# a request with an unknown key then looks at those few, not at every party.
_pinning_of: tuple[Agreement, str, tuple[Party, ...]] | None = None


def _pinning(agreement: Agreement, own: str) -> tuple[Party, ...]:
    global _pinning_of
    found = _pinning_of
    if found is None or found[0] is not agreement or found[1] != own:
        pinning = tuple(p for p in agreement.parties.values() if p.key_pins and p.id != own)
        found = _pinning_of = (agreement, own, pinning)
    return found[2]
