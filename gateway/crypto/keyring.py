"""A node's key ring: every signing and encryption key it has had, and where each is in its life.

``keyring.json`` in the node's key directory lists the keys; the private key of
each live one is a PKCS#8 PEM file beside it (encrypted as the first keys are,
:mod:`gateway.crypto.keys`). A node made by ``gateway keys init`` has no key ring yet:
its ``signing.pem`` and ``encryption.pem`` are its only, active keys, and the
first rotation writes the ring with them in it.

A key's life (docs/SECURITY.md, "Key lifecycle"):

``active``
    signs (the newest active signing key that the agreement pins for this party)
    and is the key peers encrypt to (likewise);
``retiring``
    replaced by ``gateway keys rotate``: still verifies at peers and still
    decrypts here until ``retires_at``, the rotation plus the agreement's
    ``[keys] grace_period_days``, so that batches sealed to it or signed with it
    before the rotation are not lost; published with ``exp`` = ``retires_at``;
``retired``
    ended by ``gateway keys retire`` (or its grace period over): its private key
    is destroyed; its public key stays published with its ``exp``, so that old
    signatures can still be checked, and no peer accepts it for anything new;
``revoked``
    ended at once by ``gateway keys revoke`` (compromise): its private key is
    destroyed and it is published with an OpenID Federation style ``revoked``
    member, so a peer that fetches the JWKS stops trusting it even before its
    agreement lists it under ``revoked_keys``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from joserfc.jwk import OKPKey

from gateway import timestamps
from gateway.crypto import strict_json
from gateway.errors import KeyMaterialError

__all__ = [
    "KEYRING_FILE",
    "KeyEntry",
    "Keyring",
]

KEYRING_FILE = "keyring.json"
_FORMAT = 1
# The first keys, made by 'gateway keys init'.
_LEGACY = {"sig": "signing.pem", "enc": "encryption.pem"}
_ALG = {"sig": "Ed25519", "enc": "ECDH-ES+A256KW"}
_CRV = {"sig": "Ed25519", "enc": "X25519"}
STATUSES = ("active", "retiring", "retired", "revoked")
# RFC 5280 section 5.3.1 reason names, as OpenID Federation's "revoked" member uses them.
REVOCATION_REASONS = ("keyCompromise", "superseded", "cessationOfOperation", "unspecified")


def _iso(moment: dt.datetime) -> str:
    return timestamps.iso(moment, timespec="seconds")


@dataclass(frozen=True)
class KeyEntry:
    kid: str  # RFC 7638 thumbprint of the public key
    use: str  # "sig" or "enc"
    x: str  # the public key (JWK "x")
    created_at: str
    status: str
    file: str | None  # its private key file; None once destroyed
    retires_at: str | None = None
    ended_at: str | None = None
    reason: str | None = None

    def live(self, now: dt.datetime) -> bool:
        """Whether it may still sign, verify or decrypt anything new."""
        if self.status == "active":
            return True
        return (
            self.status == "retiring"
            and self.retires_at is not None
            and now < timestamps.parse(self.retires_at)
        )

    def public_jwk(self) -> dict[str, Any]:
        """Its JWKS entry: RFC 7517 members, ``iat``/``exp`` (NumericDate) and ``revoked``."""
        jwk: dict[str, Any] = {
            "kty": "OKP",
            "crv": _CRV[self.use],
            "x": self.x,
            "kid": self.kid,
            "use": self.use,
            "alg": _ALG[self.use],
            "iat": int(timestamps.parse(self.created_at).timestamp()),
        }
        end = self.retires_at if self.status == "retiring" else self.ended_at
        if self.status in ("retiring", "retired") and end is not None:
            jwk["exp"] = int(timestamps.parse(end).timestamp())
        if self.status == "revoked":
            jwk["revoked"] = {
                "revoked_at": int(timestamps.parse(self.ended_at or self.created_at).timestamp()),
                "reason": self.reason or "unspecified",
            }
        return jwk


def _public_of(private: Any) -> tuple[str, str]:
    key = OKPKey.import_key(private)
    return key.thumbprint(), str(key.as_dict(private=False)["x"])


class Keyring:
    """The key ring of one key directory."""

    def __init__(self, key_dir: Path, entries: Iterable[KeyEntry]) -> None:
        self.key_dir = key_dir
        self.entries = list(entries)

    # -- reading ------------------------------------------------------------------------------

    @classmethod
    def load(
        cls, key_dir: Path, *, load_private: Any = None, now: dt.datetime | None = None
    ) -> Keyring:
        """The ring of ``key_dir``; a directory without one has its first keys, active.

        ``load_private(path)``: loads a private key (needed only without a ring file).
        """
        path = key_dir / KEYRING_FILE
        if not path.exists():
            if load_private is None:
                raise KeyMaterialError(f"{path}: no key ring")
            entries = []
            for use, name in _LEGACY.items():
                kid, x = _public_of(load_private(key_dir / name))
                # Made when its file was written ('gateway keys init').
                made = dt.datetime.fromtimestamp((key_dir / name).stat().st_mtime, dt.UTC)
                entries.append(KeyEntry(kid, use, x, _iso(made), "active", name))
            return cls(key_dir, entries)
        try:
            data = strict_json.loads(path.read_bytes())
            if data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {_FORMAT}")
            entries = [KeyEntry(**item) for item in data["keys"]]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise KeyMaterialError(f"{path}: not a key ring ({exc})") from None
        for entry in entries:
            if entry.use not in _ALG or entry.status not in STATUSES:
                raise KeyMaterialError(f"{path}: key {entry.kid}: bad use or status")
        return cls(key_dir, entries)

    def find(self, kid: str) -> KeyEntry:
        for entry in self.entries:
            if entry.kid == kid:
                return entry
        raise KeyMaterialError(f"no key {kid!r} in {self.key_dir / KEYRING_FILE}")

    def live(self, use: str, now: dt.datetime) -> list[KeyEntry]:
        """The keys of ``use`` that still work, newest first."""
        found = [e for e in self.entries if e.use == use and e.live(now)]
        return sorted(found, key=lambda e: (e.status == "active", e.created_at), reverse=True)

    def current(self, use: str, now: dt.datetime, pinned: Collection[str] | None) -> KeyEntry:
        """The key that signs (or that peers encrypt to): the newest live one that is pinned.

        A new key is used only once the agreement pins it for this party; until
        then the key it replaces, still in its grace period, goes on working.
        """
        for entry in self.live(use, now):
            if pinned is None or entry.kid in pinned:
                return entry
        what = "signing" if use == "sig" else "encryption"
        kids = [e.kid for e in self.live(use, now)]
        raise KeyMaterialError(
            f"this node's {what} key is not registered for it in the agreement: none of its "
            f"live {what} keys {kids} is in its jwks_file or key_pins (register the output of "
            "'gateway keys jwks', or pin the new key's thumbprint in key_pins)"
        )

    def public_jwks(self) -> dict[str, Any]:
        """Every key's public JWK, live or ended, newest first (the JWKS endpoint)."""
        ordered = sorted(self.entries, key=lambda e: e.created_at, reverse=True)
        return {"keys": [e.public_jwk() for e in ordered]}

    # -- changing -----------------------------------------------------------------------------

    def save(self) -> None:
        path = self.key_dir / KEYRING_FILE
        tmp = path.with_suffix(".tmp")
        data = {"format": _FORMAT, "keys": [asdict(e) for e in self.entries]}
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def rotate(
        self,
        use: str,
        *,
        now: dt.datetime,
        grace: dt.timedelta,
        encryption: serialization.KeySerializationEncryption,
    ) -> KeyEntry:
        """Make a new active key of ``use``; the active ones retire after ``grace``."""
        private: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey = (
            ed25519.Ed25519PrivateKey.generate()
            if use == "sig"
            else x25519.X25519PrivateKey.generate()
        )
        kid, x = _public_of(private)
        name = f"{'signing' if use == 'sig' else 'encryption'}-{kid[:16]}.pem"
        _write_private(self.key_dir / name, private, encryption)
        retires_at = _iso(now + grace)
        self.entries = [
            replace(e, status="retiring", retires_at=retires_at)
            if e.use == use and e.status == "active"
            else e
            for e in self.entries
        ]
        entry = KeyEntry(kid, use, x, _iso(now), "active", name)
        self.entries.append(entry)
        return entry

    def end(
        self, kid: str, *, status: str, now: dt.datetime, reason: str | None = None
    ) -> KeyEntry:
        """Retire or revoke a key: it is ended and its private key destroyed."""
        entry = self.find(kid)
        if entry.status in ("retired", "revoked"):
            raise KeyMaterialError(f"key {kid} is already {entry.status}")
        if entry.file is not None:
            _destroy(self.key_dir / entry.file)
        ended = replace(entry, status=status, file=None, ended_at=_iso(now), reason=reason)
        self.entries = [ended if e.kid == kid else e for e in self.entries]
        return ended


def _write_private(
    path: Path,
    private: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey,
    encryption: serialization.KeySerializationEncryption,
) -> None:
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    # Owner-only from the start; never widened later.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)


def _destroy(path: Path) -> None:
    """Overwrite a private key file once, then remove it (best effort on journaling disks)."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.write(os.urandom(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
    except FileNotFoundError:
        pass
