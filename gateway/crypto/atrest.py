"""Stored payloads encrypted at rest under the node's storage key (RFC 7516, RFC 7517).

Every database column that holds records, or signed documents that carry them,
stores its value as a JWE compact serialization with ``alg`` ``dir``, ``enc``
``A256GCM`` and ``kid`` naming the storage key::

    BASE64URL(protected header) || '..' || BASE64URL(IV) || '.' ||
    BASE64URL(ciphertext) || '.' || BASE64URL(tag)

with the ASCII of the encoded protected header as the additional authenticated
data, so any JOSE library decrypts it with the key. Values are made with
AES-GCM directly, several times faster than a general JOSE library, each with
a random 96-bit IV: a key should seal fewer than 2^32 values (NIST SP 800-38D),
billions of records, before a new one replaces it. The empty string (a purged
payload) stays empty, and a value that is not such a JWE (written before this
release, or by a replica not yet upgraded) is read as it is.

The storage key is 32 random bytes, a symmetric JWK (``kty`` ``oct``, a random
``kid``) kept in the node's key directory as ``storage.jwk``: a compact JWE of
the JWK, ``alg`` ``PBES2-HS512+A256KW``, ``enc`` ``A256GCM``, ``cty``
``jwk+json``, wrapped with the key passphrase (``GATEWAY_KEY_PASSPHRASE``).
Without a passphrase (development keys only) it is the plain JWK, loudly warned
about. The file may instead hold a JWK set: its first key encrypts, every key
decrypts, so that a new key can be brought in while values under the old one
are still stored.

The database's column type that stores values sealed by a :class:`Cipher` is
``gateway.store.encrypted_columns.Encrypted``.
"""

from __future__ import annotations

import binascii
import json
import logging
import os
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pybase64
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwe
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OctKey

from gateway.crypto import strict_json
from gateway.crypto.compact_jws import protected_header
from gateway.crypto.passphrase import PASSPHRASE_ENV
from gateway.errors import GatewayError, KeyMaterialError

__all__ = [
    "KEY_ALG",
    "PBES2_COUNT",
    "STORAGE_KEY_FILE",
    "Cipher",
    "Ciphertext",
    "StorageKey",
    "StoredPayloadError",
    "create_key",
    "has_key",
    "is_sealed",
    "key_file_encrypted",
    "load_cipher",
]

log = logging.getLogger(__name__)

STORAGE_KEY_FILE = "storage.jwk"
KEY_ALG = "PBES2-HS512+A256KW"  # wraps the storage key with the passphrase
KEY_ENC = "A256GCM"
# PBKDF2-HMAC-SHA512 iterations (OWASP's figure for it; joserfc accepts up to 300,000).
PBES2_COUNT = 210_000
VALUE_ALG = "dir"
VALUE_ENC = "A256GCM"
_KEY_BYTES = 32
_IV_BYTES = 12
_TAG_BYTES = 16

_INSECURE_WARNING = (
    "INSECURE: storage key %s is NOT encrypted. This is for development only; "
    "set %s and re-create the keys before handling real data."
)

# base64url by pybase64 (SIMD; the standard library's decoder reads about 0.5 GB/s):
# every record a sender claims and seals is opened here, twice.
_URL_ALTCHARS = b"-_"
_TO_STD_TEXT = str.maketrans("-_", "+/")


def _b64(data: bytes | memoryview) -> str:
    return pybase64.b64encode(data, altchars=_URL_ALTCHARS).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """base64url without padding, as :func:`_b64` writes it; raises ``binascii.Error`` for
    any other character (the other alphabet's, padding, a stray one)."""
    if "+" in text or "/" in text or "=" in text:  # pybase64 would take these
        raise binascii.Error("not base64url without padding")
    return pybase64.b64decode(text + "=" * (-len(text) % 4), altchars=_URL_ALTCHARS, validate=True)


def _unb64_lenient(text: str) -> bytes:
    """base64 of either alphabet, padded or not, whitespace dropped: for a storage key
    written by hand (``k`` of a JWK is base64url, but an earlier release took these)."""
    text = "".join(text.split()).rstrip("=")
    return binascii.a2b_base64(text.translate(_TO_STD_TEXT) + "=" * (-len(text) % 4))


class StoredPayloadError(GatewayError):
    """A stored payload cannot be encrypted or decrypted (no key, another key, altered)."""

    code = "stored_payload_error"


class Ciphertext(str):
    """A value already sealed by a :class:`Cipher`: stored as it is."""

    __slots__ = ()


@dataclass(frozen=True)
class StorageKey:
    """One storage key: its id and its 32 secret bytes."""

    kid: str
    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> StorageKey:
        return cls(kid=secrets.token_hex(8), secret=os.urandom(_KEY_BYTES))

    def jwk(self) -> dict[str, str]:
        """The key as a private JWK (RFC 7517)."""
        secret = _b64(self.secret)
        return {"kty": "oct", "kid": self.kid, "use": "enc", "alg": VALUE_ALG, "k": secret}

    @classmethod
    def from_jwk(cls, jwk: Any, where: str) -> StorageKey:
        if not isinstance(jwk, dict) or jwk.get("kty") != "oct":
            raise KeyMaterialError(f"{where}: not a symmetric JWK (kty 'oct')")
        kid, k = jwk.get("kid"), jwk.get("k")
        if not isinstance(kid, str) or not kid or not isinstance(k, str):
            raise KeyMaterialError(f"{where}: the JWK needs a 'kid' and a 'k'")
        try:
            secret = _unb64_lenient(k)
        except (ValueError, binascii.Error):
            raise KeyMaterialError(f"{where}: 'k' is not base64url") from None
        if len(secret) != _KEY_BYTES:
            raise KeyMaterialError(f"{where}: the key is {len(secret)} bytes, not {_KEY_BYTES}")
        return cls(kid=kid, secret=secret)


def _header(kid: str) -> str:
    header = {"alg": VALUE_ALG, "enc": VALUE_ENC, "kid": kid}
    return _b64(json.dumps(header, separators=(",", ":")).encode("utf-8"))


def is_sealed(value: str) -> bool:
    """Whether ``value`` has the form of a compact JWE without an encrypted key."""
    parts = value.split(".")
    return len(parts) == 5 and not parts[1]


class Cipher:
    """Seals values under the first storage key; opens values under any of them, by kid."""

    def __init__(self, keys: Sequence[StorageKey]) -> None:
        if not keys:
            raise KeyMaterialError("no storage key")
        if len({k.kid for k in keys}) != len(keys):
            raise KeyMaterialError("two storage keys with the same kid")
        self._keys = {k.kid: AESGCM(k.secret) for k in keys}
        self._current = keys[0].secret
        self.kid = keys[0].kid
        self._header = _header(self.kid)
        self._aad = self._header.encode("ascii")
        self._sealer = self._keys[self.kid]
        # Headers seen so far, encoded as they are stored, to their key.
        self._by_header = {_header(k.kid): self._keys[k.kid] for k in keys}

    def derive_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (HKDF-SHA256, RFC 5869) from the current key.

        The same in every worker and replica that holds the key; another purpose
        gets an unrelated secret, and none reveals the key.
        """
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")
        ).derive(self._current)

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def seal(self, plaintext: str) -> Ciphertext:
        """``plaintext`` as a compact JWE (``dir``, ``A256GCM``) under the current key."""
        return Ciphertext(self.seal_text(plaintext))

    def seal_text(self, plaintext: str) -> str:
        """:meth:`seal`, as a plain string (no copy into a :class:`Ciphertext`)."""
        iv = os.urandom(_IV_BYTES)
        sealed = memoryview(self._sealer.encrypt(iv, plaintext.encode("utf-8"), self._aad))
        body, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
        return f"{self._header}..{_b64(iv)}.{_b64(body)}.{_b64(tag)}"

    def open(self, value: str) -> str:
        """The plaintext of a sealed value; a value that is not sealed is returned as it is.

        Raises :class:`StoredPayloadError` for a value sealed under a key this
        node does not hold, or altered since it was sealed.
        """
        parts = value.split(".")
        if len(parts) != 5 or parts[1]:
            return value  # not sealed: empty (purged), or written before this release
        header, _, iv, body, tag = parts
        aead = self._by_header.get(header) or self._key_for(header)
        try:
            nonce, ciphertext, mac = _unb64(iv), _unb64(body), _unb64(tag)
        except (ValueError, binascii.Error):
            raise StoredPayloadError("a stored payload is not valid base64url") from None
        if len(nonce) != _IV_BYTES or len(mac) != _TAG_BYTES:
            raise StoredPayloadError("a stored payload has an IV or tag of the wrong size")
        try:
            plaintext = aead.decrypt(nonce, ciphertext + mac, header.encode("ascii"))
        except InvalidTag:
            raise StoredPayloadError(
                "a stored payload does not decrypt: it was altered, or sealed under another key"
            ) from None
        return plaintext.decode("utf-8")

    def _key_for(self, header: str) -> AESGCM:
        """The key of a protected header not seen yet (one another JOSE library wrote)."""
        try:
            fields = strict_json.loads(_unb64(header))
        except (ValueError, binascii.Error):
            raise StoredPayloadError("a stored payload has an unreadable JWE header") from None
        if not isinstance(fields, dict) or (fields.get("alg"), fields.get("enc")) != (
            VALUE_ALG,
            VALUE_ENC,
        ):
            raise StoredPayloadError(f"a stored payload is not a '{VALUE_ALG}'/'{VALUE_ENC}' JWE")
        key = self._keys.get(str(fields.get("kid")))
        if key is None:
            raise StoredPayloadError(
                f"a stored payload is sealed under storage key {fields.get('kid')!r}, "
                f"which is not in {STORAGE_KEY_FILE} (held: {', '.join(self._keys)})"
            )
        if len(self._by_header) < 64:
            self._by_header[header] = key
        return key


# -- the storage key file ---------------------------------------------------------------------


def _passphrase_key(passphrase: bytes) -> OctKey:
    # A passphrase is no key: PBES2 stretches it. Its length is production.problems' concern.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return OctKey.import_key(passphrase)


def has_key(key_dir: Path) -> bool:
    return (key_dir / STORAGE_KEY_FILE).exists()


def create_key(key_dir: Path, passphrase: bytes | None) -> bool:
    """Create ``storage.jwk`` unless it exists; whether it was created.

    Wrapped with ``passphrase`` (PBES2); without one, stored as a plain JWK
    (development only, warned about).
    """
    path = key_dir / STORAGE_KEY_FILE
    if path.exists():
        return False
    document = json.dumps(StorageKey.generate().jwk())
    if passphrase:
        protected = {"alg": KEY_ALG, "enc": KEY_ENC, "cty": "jwk+json", "p2c": PBES2_COUNT}
        data = jwe.encrypt_compact(
            protected, document, _passphrase_key(passphrase), algorithms=[KEY_ALG, KEY_ENC]
        )
    else:
        data = document
    key_dir.mkdir(parents=True, exist_ok=True)
    # Owner-only permissions from the start, as the private keys beside it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(data + "\n")
    if not passphrase:
        log.warning(_INSECURE_WARNING, path, PASSPHRASE_ENV)
    return True


def _protected_header(token: str) -> dict[str, Any] | None:
    """The protected header of a compact JWE, if ``token`` is one."""
    if token.count(".") != 4:
        return None
    try:
        return protected_header(token.split(".", 1)[0].encode("ascii"))
    except ValueError:  # not base64url, not JSON, or not an object
        return None


def key_file_encrypted(path: Path) -> bool | None:
    """Whether the storage key file is wrapped with the passphrase (None: there is none)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except FileNotFoundError:
        return None
    header = _protected_header(text)
    return header is not None and header.get("alg") == KEY_ALG


def load_cipher(key_dir: Path, *, environ: Mapping[str, str] | None = None) -> Cipher:
    """The cipher of the storage key(s) in ``key_dir``, unwrapped with the passphrase."""
    path = key_dir / STORAGE_KEY_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise KeyMaterialError(
            f"{path}: storage key not found (run 'gateway keys init': it adds the missing key)"
        ) from None
    except UnicodeDecodeError:
        raise KeyMaterialError(f"{path}: not a JWE or JWK") from None
    if text.startswith("{"):
        log.warning(_INSECURE_WARNING, path, PASSPHRASE_ENV)
        plain = text
    else:
        header = _protected_header(text)
        if header is None or header.get("alg") != KEY_ALG:
            raise KeyMaterialError(f"{path}: not a JWE with alg {KEY_ALG}, nor a JWK")
        env = os.environ if environ is None else environ
        passphrase = env.get(PASSPHRASE_ENV)
        if not passphrase:
            raise KeyMaterialError(f"{path}: the storage key is encrypted; set {PASSPHRASE_ENV}")
        try:
            opened = jwe.decrypt_compact(
                text, _passphrase_key(passphrase.encode("utf-8")), algorithms=[KEY_ALG, KEY_ENC]
            )
        except (JoseError, ValueError):
            raise KeyMaterialError(
                f"{path}: cannot decrypt the storage key (wrong {PASSPHRASE_ENV}?)"
            ) from None
        plain = (opened.plaintext or b"").decode("utf-8")
    try:
        document = strict_json.loads(plain)
    except ValueError:
        raise KeyMaterialError(f"{path}: the storage key is not a JSON JWK") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    jwks = entries if isinstance(entries, list) else [document]
    return Cipher([StorageKey.from_jwk(jwk, str(path)) for jwk in jwks])
