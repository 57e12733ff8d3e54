"""A node's key material: its own private keys and its peers' public keys (RFC 7517).

Each node has an Ed25519 key that signs (batches, receipts) and an X25519 key
that peers encrypt to. Private keys are PKCS#8 PEM files encrypted with a
passphrase from ``GATEWAY_KEY_PASSPHRASE``; an unencrypted key is a
development-only convenience that is loudly warned about. Key ids are RFC 7638
JWK thumbprints, so anyone can recompute them from the public key.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from joserfc.jwk import OKPKey

from gateway.crypto import atrest, strict_json
from gateway.crypto.compact_jws import SIG_ALG
from gateway.crypto.keyring import Keyring
from gateway.crypto.passphrase import PASSPHRASE_ENV, passphrase_of
from gateway.errors import KeyMaterialError
from gateway.tlog import note

__all__ = [
    "ENC_ALG",
    "NodeKeys",
    "NoteKeys",
    "PeerKeys",
    "init_keys",
    "jwks_of",
    "load_jwks_file",
    "load_note_keys",
]

log = logging.getLogger(__name__)

ENC_ALG = "ECDH-ES+A256KW"
SIGNING_FILE = "signing.pem"
ENCRYPTION_FILE = "encryption.pem"
JWKS_FILE = "jwks.json"
# Ed25519 keys of the audit log (docs/AUDIT.md): one signs this node's checkpoints,
# the other cosigns its peers' checkpoints as a witness. Kept apart from the JWS
# signing key so that no signature made for one purpose can serve another.
LOG_FILE = "log.pem"
WITNESS_FILE = "witness.pem"
NOTE_KEYS_FILE = "note-keys.txt"
_KEY_FILES = (SIGNING_FILE, ENCRYPTION_FILE, LOG_FILE, WITNESS_FILE)

_INSECURE_WARNING = (
    "INSECURE: private key %s is NOT encrypted. This is for development only; "
    "set %s and re-create the keys before handling real data."
)


def _public_jwk(key: OKPKey, *, use: str, alg: str) -> dict[str, Any]:
    jwk = key.as_dict(private=False)
    jwk.update(kid=key.thumbprint(), use=use, alg=alg)
    return dict(jwk)


def jwks_of(keys: Iterable[tuple[OKPKey, str, str]]) -> dict[str, Any]:
    """A public JWKS for ``(key, use, alg)`` triples."""
    return {"keys": [_public_jwk(k, use=use, alg=alg) for k, use, alg in keys]}


def init_keys(
    key_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    insecure: bool = False,
    note_names: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Create a node's keys, its public JWKS and (given ``note_names``) its C2SP vkeys.

    Creates whichever of the signing, encryption, log and witness keys is
    missing, so that a node made before the audit log gains its log keys; never
    overwrites a key, and refuses when all exist. Without a passphrase in the
    environment, refuses unless ``insecure`` (development mode) is asked for
    explicitly. ``note_names``: the party's ``(log_origin, witness_name)`` from
    the agreement; the vkeys name their keys so.
    """
    env = os.environ if environ is None else environ
    passphrase = passphrase_of(env)
    if passphrase is None and not insecure:
        raise KeyMaterialError(
            f"set {PASSPHRASE_ENV} to encrypt the private keys "
            "(or pass --insecure-dev-keys for an unencrypted development key)"
        )
    missing = [name for name in _KEY_FILES if not (key_dir / name).exists()]
    if not missing and atrest.has_key(key_dir):
        raise KeyMaterialError(f"{key_dir} already holds every key; refusing to overwrite them")
    key_dir.mkdir(parents=True, exist_ok=True)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    generate: dict[str, Callable[[], ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey]] = {
        SIGNING_FILE: ed25519.Ed25519PrivateKey.generate,
        ENCRYPTION_FILE: x25519.X25519PrivateKey.generate,
        LOG_FILE: ed25519.Ed25519PrivateKey.generate,
        WITNESS_FILE: ed25519.Ed25519PrivateKey.generate,
    }
    for name in missing:
        private = generate[name]()
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        path = key_dir / name
        # Create with owner-only permissions from the start; never widen them later.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        if passphrase is None:
            log.warning(_INSECURE_WARNING, path, PASSPHRASE_ENV)
    atrest.create_key(key_dir, passphrase)
    keys = NodeKeys.from_directory(key_dir, environ=env)
    jwks = keys.public_jwks()
    (key_dir / JWKS_FILE).write_text(json.dumps(jwks, indent=2) + "\n", encoding="utf-8")
    if note_names is not None:
        (key_dir / NOTE_KEYS_FILE).write_text(
            "".join(v + "\n" for v in keys.vkeys(*note_names)), encoding="utf-8"
        )
    return jwks


def load_private(path: Path, passphrase: bytes | None) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyMaterialError(f"{path}: key file not found (run 'gateway keys init')") from None
    encrypted = b"ENCRYPTED PRIVATE KEY" in data
    if encrypted and passphrase is None:
        raise KeyMaterialError(f"{path}: key is encrypted; set {PASSPHRASE_ENV}")
    try:
        key = serialization.load_pem_private_key(data, passphrase if encrypted else None)
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(f"{path}: cannot load private key ({exc})") from None
    if not encrypted:
        log.warning(_INSECURE_WARNING, path, PASSPHRASE_ENV)
    return key


@dataclass(frozen=True)
class NodeKeys:
    """This node's own private keys."""

    signing: OKPKey  # the key that signs now (gateway.crypto.keyring: the newest pinned one)
    encryption: OKPKey  # the key peers encrypt to now
    log: ed25519.Ed25519PrivateKey
    witness: ed25519.Ed25519PrivateKey
    # Every encryption key that may still decrypt (the current one and those in their
    # grace period), by key id: a batch sealed before a rotation is still opened.
    decryption: Mapping[str, OKPKey] = field(default_factory=dict)
    ring: Keyring | None = None

    @property
    def signing_kid(self) -> str:
        return self.signing.thumbprint()

    @property
    def encryption_kid(self) -> str:
        return self.encryption.thumbprint()

    @classmethod
    def from_directory(
        cls,
        key_dir: Path,
        *,
        environ: Mapping[str, str] | None = None,
        pinned: Collection[str] | None = None,
        now: dt.datetime | None = None,
    ) -> NodeKeys:
        """Load a node's keys; ``pinned``: the key ids the agreement registers for it."""
        passphrase = passphrase_of(os.environ if environ is None else environ)
        moment = now or dt.datetime.now(dt.UTC)
        ring = Keyring.load(
            key_dir, load_private=lambda p: load_private(p, passphrase), now=moment
        )
        loaded: dict[str, OKPKey] = {}
        for entry in ring.entries:
            if entry.live(moment) and entry.file is not None:
                private = load_private(key_dir / entry.file, passphrase)
                want = ed25519.Ed25519PrivateKey if entry.use == "sig" else x25519.X25519PrivateKey
                if not isinstance(private, want):
                    kind = "an Ed25519" if entry.use == "sig" else "an X25519"
                    raise KeyMaterialError(f"{key_dir / entry.file}: expected {kind} key")
                key = OKPKey.import_key(private)
                if key.thumbprint() != entry.kid:
                    raise KeyMaterialError(
                        f"{key_dir / entry.file}: not the key {entry.kid} of the key ring"
                    )
                loaded[entry.kid] = key
        signing = ring.current("sig", moment, pinned)
        encryption = ring.current("enc", moment, pinned)
        note_keys = []
        for name in (LOG_FILE, WITNESS_FILE):
            key = load_private(key_dir / name, passphrase)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise KeyMaterialError(f"{key_dir / name}: expected an Ed25519 key")
            note_keys.append(key)
        return cls(
            signing=loaded[signing.kid],
            encryption=loaded[encryption.kid],
            log=note_keys[0],
            witness=note_keys[1],
            decryption={e.kid: loaded[e.kid] for e in ring.live("enc", moment)},
            ring=ring,
        )

    def public_jwks(self) -> dict[str, Any]:
        """Every key of the ring, live or ended, with its validity (gateway.crypto.keyring)."""
        if self.ring is None:
            return jwks_of([(self.signing, "sig", SIG_ALG), (self.encryption, "enc", ENC_ALG)])
        return self.ring.public_jwks()

    def log_signer(self, origin: str) -> note.Signer:
        """The signer of this node's checkpoints; the key name is the log's origin."""
        return note.Signer(origin, self.log)

    def witness_signer(self, name: str) -> note.CosignatureSigner:
        return note.CosignatureSigner(name, self.witness)

    def vkeys(self, log_origin: str, witness_name: str) -> list[str]:
        """The C2SP verifier keys of the log and witness keys, as peers register them."""
        return [self.log_signer(log_origin).vkey(), self.witness_signer(witness_name).vkey()]


@dataclass(frozen=True)
class PeerKey:
    party: str
    key: OKPKey
    use: str
    issued_at: int = 0  # the JWK's iat (NumericDate), 0 when it has none


def _peer_key(party: str, entry: Mapping[str, Any], issued_at: int = 0) -> PeerKey:
    use = entry.get("use")
    want = {"sig": "Ed25519", "enc": "X25519"}.get(str(use))
    if want is None or entry.get("crv") != want or "d" in entry:
        raise KeyMaterialError(
            f"party {party!r}: unusable JWK (use={use!r}, crv={entry.get('crv')!r}); "
            "expected a public Ed25519 'sig' or X25519 'enc' key"
        )
    try:
        key = OKPKey.import_key({"kty": "OKP", "crv": entry["crv"], "x": entry["x"]})
    except Exception as exc:  # the library's own errors for a bad key
        raise KeyMaterialError(f"party {party!r}: bad JWK: {type(exc).__name__}") from None
    if entry.get("kid") not in (None, key.thumbprint()):
        raise KeyMaterialError(
            f"party {party!r}: kid {entry.get('kid')!r} is not the key's RFC 7638 "
            f"thumbprint {key.thumbprint()!r}"
        )
    return PeerKey(party=party, key=key, use=str(use), issued_at=issued_at)


def _int_member(entry: Mapping[str, Any], name: str) -> int | None:
    value = entry.get(name)
    return value if type(value) is int else None


def _ended(entry: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether a published JWK says the key may no longer be used (revoked or expired)."""
    if "revoked" in entry:
        return True
    exp = _int_member(entry, "exp")
    return exp is not None and now.timestamp() >= exp


class PeerKeys:
    """Public keys of every party, by key id, as the agreement registers and pins them."""

    def __init__(self, keys: Iterable[PeerKey]) -> None:
        self._by_kid: dict[str, PeerKey] = {}
        for k in keys:
            self._by_kid[k.key.thumbprint()] = k
        # By party too: a hub holds the keys of hundreds of parties, and sealing a batch
        # must not look through them all.
        self._by_party: dict[str, dict[str, PeerKey]] = {}
        for kid, k in self._by_kid.items():
            self._by_party.setdefault(k.party, {})[kid] = k

    def signing_key(self, kid: str) -> PeerKey | None:
        found = self._by_kid.get(kid)
        return found if found is not None and found.use == "sig" else None

    def encryption_key_of(self, party: str) -> OKPKey:
        """The party's newest usable encryption key (by its JWK's ``iat``)."""
        found = [k for k in self._by_party.get(party, {}).values() if k.use == "enc"]
        if not found:
            raise KeyMaterialError(f"no encryption key registered for party {party!r}")
        return max(found, key=lambda k: k.issued_at).key

    def kids(self, party: str) -> set[str]:
        return set(self._by_party.get(party, {}))

    @classmethod
    def from_jwks(cls, jwks_by_party: Mapping[str, Mapping[str, Any]]) -> PeerKeys:
        """Every key of each party's JWKS, trusted as given."""
        return cls(
            _peer_key(party, entry)
            for party, jwks in jwks_by_party.items()
            for entry in jwks.get("keys", [])
        )

    @classmethod
    def pinned(
        cls,
        registered: Mapping[str, Mapping[str, Any]],
        *,
        pins: Mapping[str, Collection[str]],
        revoked: Mapping[str, Collection[str]],
        published: Mapping[str, Mapping[str, Any]],
        now: dt.datetime,
    ) -> PeerKeys:
        """The keys a node may use with each party, by the agreement's rules.

        ``registered``: each party's JWKS file from the agreement, whose keys are
        pinned by being there; ``pins``: the thumbprints of further keys, taken
        only from ``published`` (each party's JWKS as its node serves it);
        ``revoked``: thumbprints the agreement revokes. A key that its party's
        published JWKS marks ``revoked`` or past its ``exp`` is not used either.
        """
        out = []
        for party, jwks in registered.items():
            served = {
                e.get("kid"): e
                for e in published.get(party, {}).get("keys", [])
                if isinstance(e, dict)
            }
            entries = {e.get("kid"): e for e in jwks.get("keys", [])}
            for kid in pins.get(party, ()):
                if kid in served and kid not in entries:
                    entries[kid] = served[kid]
            for kid, entry in entries.items():
                status = served.get(kid, entry)
                if kid in revoked.get(party, ()) or _ended(status, now):
                    continue
                try:
                    out.append(_peer_key(party, entry, _int_member(status, "iat") or 0))
                except KeyMaterialError:
                    if kid in served and entry is served[kid]:
                        log.warning("party %s serves an unusable JWK %s; ignored", party, kid)
                        continue
                    raise
        return cls(out)


def load_jwks_file(path: Path) -> dict[str, Any]:
    try:
        data = strict_json.loads(path.read_bytes())
    except FileNotFoundError:
        raise KeyMaterialError(f"{path}: public JWKS not found") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyMaterialError(f"{path}: not a JSON JWKS ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise KeyMaterialError(f"{path}: not a JWKS (expected an object with a 'keys' list)")
    return data


@dataclass(frozen=True)
class NoteKeys:
    """A party's registered C2SP verifier keys: of its log, and of its witness."""

    log: note.Verifier
    witness: note.CosignatureVerifier


def load_note_keys(path: Path, *, log_origin: str, witness_name: str) -> NoteKeys:
    """Read a party's vkeys file: one C2SP vkey a line; ``#`` starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise KeyMaterialError(f"{path}: note keys not found (run 'gateway keys init')") from None
    log_key: note.Verifier | None = None
    witness_key: note.CosignatureVerifier | None = None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.split("+", 1)[0]
        try:
            if name == log_origin:
                log_key = note.Verifier.from_vkey(line)
            elif name == witness_name:
                witness_key = note.CosignatureVerifier.from_vkey(line)
        except note.NoteError as exc:
            raise KeyMaterialError(f"{path}:{number}: {exc}") from None
    if log_key is None or witness_key is None:
        missing = log_origin if log_key is None else witness_name
        raise KeyMaterialError(f"{path}: no vkey named {missing!r}")
    return NoteKeys(log=log_key, witness=witness_key)
