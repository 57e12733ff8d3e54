"""A gateway node: its configuration, database, keys and clock, wired once."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway import atrest, note, production
from gateway.config import Agreement, ClientConfig, NodeConfig
from gateway.errors import KeyMaterialError, Unauthorized
from gateway.keys import NodeKeys, NoteKeys, PeerKeys, load_jwks_file, load_note_keys
from gateway.storage import Store

__all__ = ["Clock", "Node", "note_keys", "peer_keys", "utc_now"]

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """The one timestamp format the node stores: UTC, microseconds, ``Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def age_seconds(now: dt.datetime, stamp: str) -> float:
    """Seconds from a stored timestamp (see :func:`iso`) to ``now``."""
    return (now - dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))).total_seconds()


@dataclass
class Node:
    config: NodeConfig
    store: Store
    keys: NodeKeys
    peers: PeerKeys
    # Every party's registered log and witness keys (docs/AUDIT.md), this one's too.
    note_keys: Mapping[str, NoteKeys]
    clock: Clock = field(default=utc_now)

    @classmethod
    def from_config(
        cls,
        config: NodeConfig,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Node:
        production.check(config, environ)
        keys = NodeKeys.from_directory(config.key_dir, environ=environ)
        _check_registered(config, keys)
        peers = peer_keys(config)
        notes = note_keys(config.agreement)
        _check_note_keys(config, keys, notes[config.party_id])
        # Payloads are stored encrypted under the node's storage key (gateway.atrest).
        store = Store(
            config.database_url, cipher=atrest.load_cipher(config.key_dir, environ=environ)
        )
        store.create_schema()
        return cls(
            config=config,
            store=store,
            keys=keys,
            peers=peers,
            note_keys=notes,
            clock=clock or utc_now,
        )

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
        digest = hashlib.sha256(token.strip().encode("utf-8")).hexdigest()
        found = None
        # Compare with every client in constant time; do not stop at the first match.
        for client in self.config.clients:
            if hmac.compare_digest(digest, client.token_sha256):
                found = client
        if found is None:
            from gateway import clients  # clients managed with "gateway clients"

            found = clients.lookup(self, digest)
        if found is None:
            raise Unauthorized("the bearer token is not valid")
        return found


def peer_keys(config: NodeConfig) -> PeerKeys:
    """The public keys the agreement registers for every party but this node's."""
    return PeerKeys.from_jwks(
        {
            party.id: load_jwks_file(party.jwks_file)
            for party in config.agreement.parties.values()
            if party.id != config.party_id
        }
    )


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


def _check_registered(config: NodeConfig, keys: NodeKeys) -> None:
    """Refuse to run with keys that the agreement does not register for this party.

    Peers verify our signatures and encrypt to us with the keys the agreement
    registers; with any other keys every exchange would fail, so fail at start.
    """
    party = config.party
    registered = {k.get("kid") for k in load_jwks_file(party.jwks_file)["keys"]}
    for use, kid in (("signing", keys.signing_kid), ("encryption", keys.encryption_kid)):
        if kid not in registered:
            raise KeyMaterialError(
                f"this node's {use} key {kid} is not registered for {party.id} in "
                f"{party.jwks_file} (the agreement's jwks_file); register the output of "
                "'gateway keys jwks' there"
            )
