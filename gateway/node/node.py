"""A gateway node: its configuration, database, keys and clock, wired once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.crypto import atrest
from gateway.crypto.keys import NodeKeys, NoteKeys, PeerKeys, load_jwks_file, load_note_keys
from gateway.errors import KeyMaterialError, Unauthorized
from gateway.node import credentials, outbound_tls, published_jwks, startup_checks
from gateway.node.agreement_reload import AgreementWatch
from gateway.node.config import Agreement, ClientConfig, NodeConfig
from gateway.store.database import Store
from gateway.timestamps import Clock, utc_now
from gateway.tlog import note

__all__ = ["Node", "note_keys", "own_pins", "peer_keys"]

log = logging.getLogger(__name__)

# How long a process goes on with the peer keys it built before it looks again at
# what its replicas may have fetched meanwhile, or at keys whose time has come.
PEER_KEYS_SECONDS = 30.0


@dataclass
class Node:
    config: NodeConfig
    store: Store
    keys: NodeKeys
    # Every party's registered log and witness keys (docs/AUDIT.md), this one's too.
    note_keys: Mapping[str, NoteKeys]
    clock: Clock = field(default=utc_now)
    # Called in this process after the agreements in force changed (the scheduler
    # reconciles its jobs): gateway.node.agreement_reload.
    on_agreements_changed: list[Callable[[Node], None]] = field(default_factory=list, repr=False)
    # Keeps the signed agreements current (None: one unsigned agreement file).
    agreement_watch: AgreementWatch | None = field(default=None, repr=False)
    _peers: PeerKeys | None = field(default=None, repr=False)
    _peers_built: float = field(default=0.0, repr=False)
    _rebuilding: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _peers_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _peers_epoch: int = field(default=0, repr=False)

    @property
    def peers(self) -> PeerKeys:
        """The peers' keys this node may use now (the agreement's, as pinned).

        See gateway.crypto.keys.
        """
        peers = self._peers
        if peers is None:
            return self._build_peer_keys()
        if time.monotonic() - self._peers_built > PEER_KEYS_SECONDS and self._rebuilding.acquire(
            blocking=False
        ):
            # Built again beside the requests, which go on with the keys they have: with
            # hundreds of parties the build reads hundreds of files.
            threading.Thread(target=self._rebuild_peer_keys, daemon=True).start()
        return peers

    def _build_peer_keys(self) -> PeerKeys:
        with self._peers_lock:
            epoch, config = self._peers_epoch, self.config
        built_at = time.monotonic()
        peers = peer_keys(config, published=published_jwks.load(self.store), now=self.now())
        with self._peers_lock:
            # Keys built before the agreements changed or a peer's JWKS was fetched
            # (use_agreements, forget_peer_keys) are not kept.
            if self._peers_epoch == epoch:
                self._peers, self._peers_built = peers, built_at
        return peers

    def _rebuild_peer_keys(self) -> None:
        try:
            self._build_peer_keys()
        except Exception:  # the keys in use stay; the next look tries again
            log.exception("the peers' keys could not be built again")
        finally:
            self._rebuilding.release()

    def forget_peer_keys(self) -> None:
        """Build the peers' keys afresh on next use (a peer's JWKS was fetched)."""
        with self._peers_lock:
            self._peers_epoch += 1
            self._peers = None

    def use_agreements(self, config: NodeConfig) -> None:
        """Take up ``config``, whose agreements changed (gateway.node.agreement_reload).

        Everything derived from the agreements is built first, then assigned: the
        keys before the config, so that no request sees a party in the agreement
        whose keys are not there yet (one that sees the new keys with the old
        config finds a superset, or an ended party's keys gone, which is what it
        should find).
        """
        notes = note_keys(config.agreement)
        peers = peer_keys(config, published=published_jwks.load(self.store), now=self.now())
        outbound_tls.configure(config)
        self.note_keys = notes
        with self._peers_lock:
            self._peers_epoch += 1
            self._peers, self._peers_built = peers, time.monotonic()
            self.config = config
        for callback in list(self.on_agreements_changed):
            try:
                callback(self)
            except Exception:  # one callback's failure does not undo the change
                log.exception("a callback on changed agreements failed")

    def watch_agreements(self) -> None:
        """Look for changed agreements every ``agreements_poll_seconds`` in this process."""
        if self.agreement_watch is not None:
            self.agreement_watch.start()

    def stop_watching_agreements(self) -> None:
        if self.agreement_watch is not None:
            self.agreement_watch.stop()

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Node:
        startup_checks.check(config, environ)
        outbound_tls.configure(config)  # TLS for this process's calls to the peers
        keys = NodeKeys.from_directory(
            config.key_dir, environ=environ, pinned=own_pins(config), now=(clock or utc_now)()
        )
        peer_keys(config, published={}, now=utc_now())  # every party's JWKS file is usable
        notes = note_keys(config.agreement)
        _check_note_keys(config, keys, notes[config.party_id])
        # Payloads are stored encrypted under the node's storage key (gateway.crypto.atrest).
        store = Store(
            config.database_url, cipher=atrest.load_cipher(config.key_dir, environ=environ)
        )
        store.create_schema()
        node = cls(
            config=config,
            store=store,
            keys=keys,
            note_keys=notes,
            clock=clock or utc_now,
        )
        if config.agreements_dir is not None:
            # What changed since the node last ran is recorded now, and a rollback refused.
            node.agreement_watch = AgreementWatch(node)
            node.agreement_watch.check(force=True)
        return node

    @property
    def party_id(self) -> str:
        return self.config.party_id

    @property
    def log_signer(self) -> note.Signer:
        return self.keys.log_signer(self.config.party.log_origin)

    @property
    def witness_signer(self) -> note.CosignatureSigner:
        return self.keys.witness_signer(self.config.party.witness_name)

    def now(self) -> dt.datetime:
        return self.clock()

    def authenticate(self, authorization: str | None) -> ClientConfig:
        """The client whose bearer token this is; :class:`Unauthorized` otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a bearer token is required")
        return self.client_by_digest(hashlib.sha256(token.strip().encode("utf-8")).hexdigest())

    def client_by_digest(self, digest: str) -> ClientConfig:
        """The client whose token has this SHA-256 (hex); :class:`Unauthorized` otherwise.

        Also how a console session, which keeps the digest and not the token, is
        checked again at every request: a revoked or expired client is let go at once.
        """
        found = None
        # Compare with every client in constant time; do not stop at the first match.
        for client in self.config.clients:
            if hmac.compare_digest(digest, client.token_sha256):
                found = client
        if found is None:
            found = credentials.lookup(self, digest)  # managed with "gateway clients"
        if found is None:
            raise Unauthorized("the bearer token is not valid")
        return found


def peer_keys(
    config: NodeConfig,
    *,
    published: Mapping[str, Mapping[str, Any]] | None = None,
    now: dt.datetime | None = None,
) -> PeerKeys:
    """The public keys of every party but this node's that the agreement lets it use.

    ``published``: each peer's JWKS as its node last served it (gateway.peers.jwks).
    """
    others = [p for p in config.agreement.parties.values() if p.id != config.party_id]
    return PeerKeys.pinned(
        {p.id: load_jwks_file(p.jwks_file) for p in others},
        pins={p.id: p.key_pins for p in others},
        revoked={p.id: p.revoked_keys for p in others},
        published=published or {},
        now=now or utc_now(),
    )


def own_pins(config: NodeConfig) -> set[str]:
    """The ids of this node's keys that the agreement registers or pins, and does not revoke."""
    party = config.party
    registered = {str(k.get("kid")) for k in load_jwks_file(party.jwks_file)["keys"]}
    return (registered | set(party.key_pins)) - set(party.revoked_keys)


def note_keys(agreement: Agreement) -> dict[str, NoteKeys]:
    """The log and witness vkeys the agreement registers for every party."""
    return {
        party.id: load_note_keys(
            party.note_keys_file, log_origin=party.log_origin, witness_name=party.witness_name
        )
        for party in agreement.parties.values()
    }


def _check_note_keys(config: NodeConfig, keys: NodeKeys, registered: NoteKeys) -> None:
    party = config.party
    pairs = (
        ("log", keys.log_signer(party.log_origin).public_key, registered.log.public_key),
        (
            "witness",
            keys.witness_signer(party.witness_name).public_key,
            registered.witness.public_key,
        ),
    )
    for use, mine, known in pairs:
        if mine != known:
            raise KeyMaterialError(
                f"this node's {use} key is not the one registered for {party.id} in "
                f"{party.note_keys_file} (the agreement's note_keys_file); register the "
                "output of 'gateway keys vkeys' there"
            )
