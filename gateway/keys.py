"""A node's key material: its own private keys and its peers' public keys (RFC 7517).

Each node has an Ed25519 key that signs (batches, receipts) and an X25519 key
that peers encrypt to. Private keys are PKCS#8 PEM files encrypted with a
passphrase from ``GATEWAY_KEY_PASSPHRASE``; an unencrypted key is a
development-only convenience that is loudly warned about. Key ids are RFC 7638
JWK thumbprints, so anyone can recompute them from the public key.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from joserfc.jwk import OKPKey

from gateway import note
from gateway.errors import KeyMaterialError

__all__ = [
    "ENC_ALG",
    "PASSPHRASE_ENV",
    "SIG_ALG",
    "NodeKeys",
    "NoteKeys",
    "PeerKeys",
    "init_keys",
    "jwks_of",
    "load_jwks_file",
    "load_note_keys",
]

log = logging.getLogger(__name__)

PASSPHRASE_ENV = "GATEWAY_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
SIG_ALG = "Ed25519"  # RFC 9864 fully-specified algorithm name.
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


def _passphrase(environ: Mapping[str, str]) -> bytes | None:
    value = environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


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
    passphrase = _passphrase(env)
    if passphrase is None and not insecure:
        raise KeyMaterialError(
            f"set {PASSPHRASE_ENV} to encrypt the private keys "
            "(or pass --insecure-dev-keys for an unencrypted development key)"
        )
    from gateway import atrest  # the storage key (payloads encrypted at rest)

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


def _load_private(path: Path, passphrase: bytes | None) -> Any:
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

    signing: OKPKey
    encryption: OKPKey
    log: ed25519.Ed25519PrivateKey
    witness: ed25519.Ed25519PrivateKey

    @property
    def signing_kid(self) -> str:
        return self.signing.thumbprint()

    @property
    def encryption_kid(self) -> str:
        return self.encryption.thumbprint()

    @classmethod
    def from_directory(cls, key_dir: Path, *, environ: Mapping[str, str] | None = None) -> NodeKeys:
        passphrase = _passphrase(os.environ if environ is None else environ)
        signing = _load_private(key_dir / SIGNING_FILE, passphrase)
        encryption = _load_private(key_dir / ENCRYPTION_FILE, passphrase)
        if not isinstance(signing, ed25519.Ed25519PrivateKey):
            raise KeyMaterialError(f"{key_dir / SIGNING_FILE}: expected an Ed25519 key")
        if not isinstance(encryption, x25519.X25519PrivateKey):
            raise KeyMaterialError(f"{key_dir / ENCRYPTION_FILE}: expected an X25519 key")
        note_keys = []
        for name in (LOG_FILE, WITNESS_FILE):
            key = _load_private(key_dir / name, passphrase)
            if not isinstance(key, ed25519.Ed25519PrivateKey):
                raise KeyMaterialError(f"{key_dir / name}: expected an Ed25519 key")
            note_keys.append(key)
        return cls(
            signing=OKPKey.import_key(signing),
            encryption=OKPKey.import_key(encryption),
            log=note_keys[0],
            witness=note_keys[1],
        )

    def public_jwks(self) -> dict[str, Any]:
        return jwks_of([(self.signing, "sig", SIG_ALG), (self.encryption, "enc", ENC_ALG)])

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


class PeerKeys:
    """Public keys of every party, by key id, as registered in the agreement."""

    def __init__(self, keys: Iterable[PeerKey]) -> None:
        self._by_kid: dict[str, PeerKey] = {}
        for k in keys:
            self._by_kid[k.key.thumbprint()] = k

    def signing_key(self, kid: str) -> PeerKey | None:
        found = self._by_kid.get(kid)
        return found if found is not None and found.use == "sig" else None

    def encryption_key_of(self, party: str) -> OKPKey:
        for k in self._by_kid.values():
            if k.party == party and k.use == "enc":
                return k.key
        raise KeyMaterialError(f"no encryption key registered for party {party!r}")

    @classmethod
    def from_jwks(cls, jwks_by_party: Mapping[str, Mapping[str, Any]]) -> PeerKeys:
        out = []
        for party, jwks in jwks_by_party.items():
            for entry in jwks.get("keys", []):
                use = entry.get("use")
                want = {"sig": "Ed25519", "enc": "X25519"}.get(str(use))
                if want is None or entry.get("crv") != want or "d" in entry:
                    raise KeyMaterialError(
                        f"party {party!r}: unusable JWK (use={use!r}, crv={entry.get('crv')!r}); "
                        "expected a public Ed25519 'sig' or X25519 'enc' key"
                    )
                key = OKPKey.import_key({"kty": "OKP", "crv": entry["crv"], "x": entry["x"]})
                if entry.get("kid") not in (None, key.thumbprint()):
                    raise KeyMaterialError(
                        f"party {party!r}: kid {entry.get('kid')!r} is not the key's RFC 7638 "
                        f"thumbprint {key.thumbprint()!r}"
                    )
                out.append(PeerKey(party=party, key=key, use=str(use)))
        return cls(out)


def load_jwks_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
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
