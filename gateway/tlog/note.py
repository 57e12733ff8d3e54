"""The C2SP text formats of the transparency log: signed notes, checkpoints,
cosignatures, the witness protocol's request body, and tlog proofs.

Implemented from the specifications, byte for byte:

* c2sp.org/signed-note (``C2SP/C2SP`` ``signed-note.md``): sections "Format",
  "Signatures", "Signature types" and "Ed25519 signatures". The verifier key
  (vkey) and signer key (skey) encodings are those of ``golang.org/x/mod``
  ``sumdb/note/note.go`` (package documentation, "Verifying Notes" and
  "Signing Notes"), which the C2SP specifications refer to as vkeys.
* c2sp.org/tlog-checkpoint (``tlog-checkpoint.md``), section "Note text".
* c2sp.org/tlog-cosignature (``tlog-cosignature.md``), sections "Format" and
  "Ed25519 signed message": the ``cosignature/v1`` Ed25519 type (0x04). The
  ML-DSA-44 type (0x06) is not implemented.
* c2sp.org/tlog-witness (``tlog-witness.md``), section "add-checkpoint": the
  request body and the response bodies; the HTTP endpoint lives elsewhere.
* c2sp.org/tlog-proof (``tlog-proof.md``), section "Format".

Parsing is strict: anything the specifications do not allow raises
:class:`NoteError`, whose message says what is wrong and on which line (lines
count from 1). A signature that does not verify raises :class:`SignatureError`.
Invalid arguments to the constructors and formatters raise :class:`ValueError`
(of which both are subclasses).

Only the standard library, ``cryptography``'s Ed25519 and :mod:`gateway.errors` are used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.errors import GatewayError

__all__ = [
    "ADD_CHECKPOINT_PATH",
    "COSIGNATURE_V1",
    "COSIGNATURE_V1_HEADER",
    "ED25519",
    "EM_DASH",
    "HASH_SIZE",
    "MAX_CONSISTENCY_PROOF_LINES",
    "MAX_INCLUSION_PROOF_LINES",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "MAX_TREE_SIZE",
    "TLOG_PROOF_HEADER",
    "TLOG_SIZE_CONTENT_TYPE",
    "WITNESS_BAD_REQUEST",
    "WITNESS_CONFLICT",
    "WITNESS_FORBIDDEN",
    "WITNESS_NOT_FOUND",
    "WITNESS_OK",
    "WITNESS_STATUS",
    "WITNESS_UNPROCESSABLE",
    "AddCheckpoint",
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Note",
    "NoteError",
    "Signature",
    "SignatureError",
    "Signer",
    "TlogProof",
    "Verifier",
    "cosignature_message",
    "cosignature_timestamp",
    "format_add_checkpoint",
    "format_note",
    "format_signature_lines",
    "format_tlog_proof",
    "format_tlog_size",
    "key_hash",
    "open_note",
    "parse_add_checkpoint",
    "parse_note",
    "parse_signature_lines",
    "parse_tlog_proof",
    "parse_tlog_size",
    "sign_note",
    "signer_from_skey",
    "skey",
]

# --- constants --------------------------------------------------------------------------------

#: signed-note "Signature types": Ed25519 signatures over the note text.
ED25519: Final = 0x01
#: signed-note "Signature types": timestamped Ed25519 witness cosignatures (tlog-cosignature).
COSIGNATURE_V1: Final = 0x04

#: U+2014, which starts every signature line (signed-note "Format").
EM_DASH: Final = "\u2014"
_SIG_PREFIX: Final = EM_DASH + " "

#: The most signature lines a note may carry. signed-note "Format": verifiers SHOULD limit
#: the number of signatures but MUST accept at least 16; this is golang.org/x/mod's limit.
MAX_SIGNATURES: Final = 100

#: tlog-cosignature "Format": the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP: Final = 2**63 - 1
#: Tree sizes and indexes are unsigned 64-bit integers (RFC 6962, tlog-cosignature u64).
MAX_TREE_SIZE: Final = 2**64 - 1
#: A SHA-256 hash: root hashes and proof hashes.
HASH_SIZE: Final = 32

#: tlog-cosignature "Ed25519 signed message": the header line (without its newline).
COSIGNATURE_V1_HEADER: Final = "cosignature/v1"

#: tlog-witness "add-checkpoint": the client MUST NOT send more than 63 proof lines.
MAX_CONSISTENCY_PROOF_LINES: Final = 63
#: tlog-proof sets no limit; an inclusion proof in a tree of at most 2^64 - 1 leaves has at
#: most 64 hashes, so more lines cannot be a proof.
MAX_INCLUSION_PROOF_LINES: Final = 64

#: tlog-proof "Format": the first line.
TLOG_PROOF_HEADER: Final = "c2sp.org/tlog-proof@v1"

# tlog-witness "add-checkpoint": path (under the witness's submission prefix), media type
# of the 409 body, and the status codes the section defines.
ADD_CHECKPOINT_PATH: Final = "/add-checkpoint"
TLOG_SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
WITNESS_OK: Final = 200
WITNESS_BAD_REQUEST: Final = 400
WITNESS_FORBIDDEN: Final = 403
WITNESS_NOT_FOUND: Final = 404
WITNESS_CONFLICT: Final = 409
WITNESS_UNPROCESSABLE: Final = 422

#: tlog-witness "add-checkpoint" responses, by status code:
#:
#: ===  ==========================================================================
#: 200  all checks pass; the witness persisted the checkpoint; body: one or more
#:      cosignature lines ("— <name> <base64>\n"), see :func:`format_signature_lines`
#: 400  the old size is larger than the checkpoint size (the only 400 case the
#:      section names; a body :func:`parse_add_checkpoint` rejects is answered 400 too)
#: 403  none of the checkpoint's signatures verifies against a key trusted for
#:      its origin
#: 404  the checkpoint's origin is unknown to the witness
#: 409  the old size is not the size of the latest checkpoint the witness cosigned
#:      for the origin (0 if none); body: that size in decimal and a newline,
#:      Content-Type ``text/x.tlog.size`` (:func:`format_tlog_size`). Also 409 when
#:      the old size equals the checkpoint size but the root hashes differ.
#: 422  the consistency proof from the old size to the checkpoint size does not
#:      verify
#: ===  ==========================================================================
WITNESS_STATUS: Final[Mapping[int, str]] = {
    WITNESS_OK: "cosigned: the body is one or more cosignature lines",
    WITNESS_BAD_REQUEST: "malformed request, or old size larger than the checkpoint size",
    WITNESS_FORBIDDEN: "no checkpoint signature verifies against a trusted log key",
    WITNESS_NOT_FOUND: "unknown checkpoint origin",
    WITNESS_CONFLICT: (
        "old size is not the latest cosigned size (body: that size, text/x.tlog.size), "
        "or same size with a different root hash"
    ),
    WITNESS_UNPROCESSABLE: "the consistency proof does not verify",
}

# The Unicode White_Space property, which key names must not contain (signed-note "Format";
# golang.org/x/mod uses unicode.IsSpace, defined by that property).
_WHITE_SPACE: Final = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Characters a note must not contain: ASCII controls other than newline (signed-note
# "Format"), and lone surrogates, which are not Unicode scalar values (not valid UTF-8).
_FORBIDDEN: Final = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")
_DECIMAL: Final = re.compile("0|[1-9][0-9]*")
_HEX8: Final = re.compile("[0-9a-fA-F]{8}")
_B64_CHARS: Final = re.compile("[A-Za-z0-9+/]*={0,2}")


# --- errors -----------------------------------------------------------------------------------


class NoteError(GatewayError, ValueError):
    """A malformed note, key, checkpoint, request body or proof text."""

    code = "malformed_note"
    internal = True


class SignatureError(GatewayError, ValueError):
    """A signature that does not verify, or too few signatures by the required keys."""

    code = "signature_failed"
    internal = True


def _at(line: int, message: str) -> NoteError:
    return NoteError(f"line {line}: {message}")


# --- helpers ----------------------------------------------------------------------------------


def _decode(data: str | bytes, *, what: str = "note") -> str:
    """Text from UTF-8 bytes; NoteError on invalid UTF-8, with its line."""
    if isinstance(data, str):
        return data
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"{what}: expected str or bytes, not {type(data).__name__}")
    raw = bytes(data)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _at(line, f"{what} is not valid UTF-8 (byte offset {exc.start})") from None


def _check_chars(text: str, first_line: int = 1) -> None:
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        line = first_line + text.count("\n", 0, bad.start())
        raise _at(line, f"forbidden character U+{ord(bad.group()):04X}")


def _check_text(text: str, first_line: int = 1) -> None:
    """signed-note "Format": the note text ends in a newline, with no control characters."""
    if not isinstance(text, str):
        raise TypeError(f"note text: expected str, not {type(text).__name__}")
    if not text.endswith("\n"):
        raise _at(first_line + text.count("\n"), "note text does not end with a newline")
    _check_chars(text, first_line)


def _valid_name(name: str) -> bool:
    """signed-note "Format": non-empty, without Unicode spaces or plus (U+002B)."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(c in _WHITE_SPACE for c in name)
        and _FORBIDDEN.search(name) is None
    )


def _require_name(name: str) -> None:
    if not _valid_name(name):
        raise ValueError(
            f"invalid key name {name!r}: it must be non-empty, without spaces, '+' or "
            "control characters"
        )


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str, line: int) -> bytes:
    """Canonical standard base64 (RFC 4648 section 4, padded); NoteError otherwise."""
    if len(text) % 4 or _B64_CHARS.fullmatch(text) is None:
        raise _at(line, f"{what} is not standard padded base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _at(line, f"{what} is not standard padded base64") from None
    if _b64encode(raw) != text:
        raise _at(line, f"{what} is not canonical base64")
    return raw


def _parse_decimal(text: str, what: str, line: int, maximum: int = MAX_TREE_SIZE) -> int:
    """ASCII decimal with no leading zeroes (``0`` for zero), at most ``maximum``."""
    if len(text) > 20 or _DECIMAL.fullmatch(text) is None:
        raise _at(line, f"{what} {text!r} is not a decimal number without leading zeroes")
    value = int(text)
    if value > maximum:
        raise _at(line, f"{what} {value} is larger than {maximum}")
    return value


def _require_int(value: int, what: str, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{what} must be an integer from 0 to {maximum}, not {value!r}")


def _require_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes")


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError("expected an Ed25519PrivateKey")
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _raw_seed(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def _public_key(public_key: bytes) -> Ed25519PublicKey:
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(public_key)


# --- signed-note: keys --------------------------------------------------------------------------


def key_hash(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(key name || 0x0A || signature type || public key)[:4]``.

    signed-note "Signatures" (RECOMMENDED key ID) and "Ed25519 signatures" (type 0x01);
    tlog-cosignature "Format" (type 0x04, required there).
    """
    if not 0 <= sig_type <= 0xFF:
        raise ValueError(f"signature type must be a byte, not {sig_type!r}")
    preimage = name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key
    return hashlib.sha256(preimage).digest()[:4]


def _format_vkey(name: str, hash_: bytes, sig_type: int, public_key: bytes) -> str:
    return f"{name}+{hash_.hex()}+{_b64encode(bytes([sig_type]) + public_key)}"


def _parse_vkey(vkey: str, sig_type: int) -> tuple[str, bytes]:
    """``<name>+<hex key ID>+<base64(type || public key)>`` (sumdb/note ``NewVerifier``)."""
    if not isinstance(vkey, str):
        raise TypeError("a verifier key is a str")
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("verifier key: expected <name>+<key hash>+<base64 key>")
    name, hash16, key64 = parts
    if not _valid_name(name):
        raise NoteError(f"verifier key: invalid key name {name!r}")
    if _HEX8.fullmatch(hash16) is None:
        raise NoteError(f"verifier key: key hash {hash16!r} is not 8 hexadecimal digits")
    try:
        data = _b64decode(key64, "key", 1)
    except NoteError:
        raise NoteError("verifier key: the key is not canonical standard base64") from None
    if not data:
        raise NoteError("verifier key: empty key")
    if data[0] != sig_type:
        raise NoteError(f"verifier key: signature type 0x{data[0]:02x}, expected 0x{sig_type:02x}")
    if len(data) != 33:
        raise NoteError(f"verifier key: an Ed25519 key is 32 bytes, not {len(data) - 1}")
    if key_hash(name, sig_type, data[1:]) != bytes.fromhex(hash16):
        raise NoteError(f"verifier key: key hash {hash16} does not match the key")
    return name, data[1:]


class _NamedKey:
    """A named Ed25519 key of one signature type: its name, key ID and vkey."""

    SIG_TYPE = ED25519

    def __init__(self, name: str, public_key: bytes) -> None:
        _require_name(name)
        self._name = name
        self._public_key = public_key
        self._key_hash = key_hash(name, self.SIG_TYPE, public_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_hash(self) -> bytes:
        return self._key_hash

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public_key

    def vkey(self) -> str:
        """The verifier key: ``<name>+<hex key hash>+<base64(type || public key)>``."""
        return _format_vkey(self._name, self._key_hash, self.SIG_TYPE, self._public_key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.vkey()!r})"


class _SignerKey(_NamedKey):
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        super().__init__(name, _raw_public(private_key))
        self._key = private_key


class _VerifierKey(_NamedKey):
    def __init__(self, name: str, public_key: bytes) -> None:
        self._verifying_key = _public_key(public_key)
        super().__init__(name, public_key)


class Signer(_SignerKey):
    """An Ed25519 note signer (signed-note "Ed25519 signatures", type 0x01)."""

    def sign(self, text: str) -> Signature:
        """The signature of a note text (which must end in a newline)."""
        _check_text(text)
        return Signature(self._name, self._key_hash, self._key.sign(text.encode("utf-8")))

    def verifier(self) -> Verifier:
        return Verifier(self._name, self._public_key)


class Verifier(_VerifierKey):
    """An Ed25519 note verifier (signed-note "Ed25519 signatures", type 0x01)."""

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        """Parse a verifier key; NoteError if malformed, of another type, or the hash is off."""
        name, public_key = _parse_vkey(vkey, ED25519)
        return cls(name, public_key)

    def verify(self, text: str, signature: Signature) -> None:
        """Verify this key's Ed25519 signature of a note text.

        SignatureError if the signature is by another key, malformed, or does not verify.
        """
        if signature.name != self._name or signature.key_hash != self._key_hash:
            raise SignatureError(
                f"the signature is by {signature.name}+{signature.key_hash.hex()}, "
                f"not {self._name}+{self._key_hash.hex()}"
            )
        if len(signature.signature) != 64:
            raise SignatureError(
                f"an Ed25519 signature is 64 bytes, not {len(signature.signature)}"
            )
        try:
            self._verifying_key.verify(signature.signature, text.encode("utf-8"))
        except (InvalidSignature, UnicodeEncodeError):
            raise SignatureError(
                f"the signature by {self._name}+{self._key_hash.hex()} does not verify"
            ) from None


def skey(name: str, private_key: Ed25519PrivateKey) -> str:
    """The signer key: ``PRIVATE+KEY+<name>+<hex key hash>+<base64(0x01 || seed)>``.

    The encoding of golang.org/x/mod ``sumdb/note`` (``GenerateKey``). It holds the private
    key: keep it secret.
    """
    _require_name(name)
    public = _raw_public(private_key)
    hash_ = key_hash(name, ED25519, public)
    key64 = _b64encode(bytes([ED25519]) + _raw_seed(private_key))
    return f"PRIVATE+KEY+{name}+{hash_.hex()}+{key64}"


def signer_from_skey(s: str) -> Signer:
    """Parse a signer key (sumdb/note ``NewSigner``); NoteError if malformed or the hash is off.

    Error messages never repeat the key material.
    """
    if not isinstance(s, str):
        raise TypeError("a signer key is a str")
    parts = s.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("signer key: expected PRIVATE+KEY+<name>+<key hash>+<base64 key>")
    name, hash16, key64 = parts[2:]
    if not _valid_name(name):
        raise NoteError("signer key: invalid key name")
    if _HEX8.fullmatch(hash16) is None:
        raise NoteError("signer key: the key hash is not 8 hexadecimal digits")
    try:
        data = _b64decode(key64, "key", 1)
    except NoteError:
        raise NoteError("signer key: the key is not canonical standard base64") from None
    if len(data) != 33 or data[0] != ED25519:
        raise NoteError("signer key: not a 0x01 Ed25519 key of 32 bytes")
    private_key = Ed25519PrivateKey.from_private_bytes(data[1:])
    if key_hash(name, ED25519, _raw_public(private_key)) != bytes.fromhex(hash16):
        raise NoteError("signer key: the key hash does not match the key")
    return Signer(name, private_key)


# --- signed-note: notes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, 4-byte key hash, and the signature bytes after it.

    For cosignature/v1 the signature bytes are the timestamp (8 bytes) and the Ed25519
    signature (64 bytes).
    """

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.key_hash, bytes) or len(self.key_hash) != 4:
            raise ValueError("a key hash is 4 bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise ValueError("a signature is non-empty bytes")


@dataclass(frozen=True)
class Note:
    """A note text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[Signature, ...]


def _signature_line(signature: Signature) -> str:
    if not _valid_name(signature.name):
        raise NoteError(f"invalid key name {signature.name!r}")
    return f"{_SIG_PREFIX}{signature.name} {_b64encode(signature.key_hash + signature.signature)}\n"


def _parse_signature_line(line: str, number: int) -> Signature:
    """signed-note "Signatures": ``— <key name> base64(32-bit key ID || signature)``."""
    if not line.startswith(_SIG_PREFIX):
        raise _at(number, "signature line does not start with an em dash (U+2014) and a space")
    name, space, b64 = line[len(_SIG_PREFIX) :].partition(" ")
    if not space:
        raise _at(number, "signature line has no space between key name and signature")
    if not _valid_name(name):
        raise _at(number, f"invalid key name {name!r}")
    raw = _b64decode(b64, "signature", number)
    if len(raw) < 5:
        raise _at(number, "signature is shorter than a key hash and one byte")
    return Signature(name, raw[:4], raw[4:])


def _parse_lines(block: str, first_line: int) -> tuple[Signature, ...]:
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _at(first_line + MAX_SIGNATURES, f"more than {MAX_SIGNATURES} signatures")
    return tuple(_parse_signature_line(line, first_line + i) for i, line in enumerate(lines))


def _parse_note(message: str, first_line: int = 1) -> Note:
    _check_chars(message, first_line)
    split = message.rfind("\n\n")
    if split < 0:
        last = first_line + message.count("\n")
        raise _at(last, "no blank line separating the note text from the signatures")
    text, block = message[: split + 1], message[split + 2 :]
    sig_line = first_line + text.count("\n") + 1
    if not block:
        raise _at(sig_line, "no signature lines after the blank line")
    if not block.endswith("\n"):
        raise _at(sig_line + block.count("\n"), "signature line does not end with a newline")
    return Note(text, _parse_lines(block, sig_line))


def parse_note(data: str | bytes) -> Note:
    """Parse a signed note without verifying it (signed-note "Format").

    A text ending in a newline, a blank line, then one or more signature lines. The text is
    separated from the signatures by the last blank line. The whole note is UTF-8 without
    ASCII control characters other than newline. At most :data:`MAX_SIGNATURES` signatures.
    """
    return _parse_note(_decode(data))


def format_note(note: Note) -> str:
    """The signed note: text, blank line, one line per signature (signed-note "Format")."""
    _check_text(note.text)
    if not note.signatures:
        raise NoteError("a signed note has at least one signature")
    if len(note.signatures) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    return note.text + "\n" + "".join(_signature_line(s) for s in note.signatures)


def sign_note(text: str, *signers: Signer) -> str:
    """Sign a note text with every signer, in order; the signed note."""
    if not signers:
        raise ValueError("sign_note needs at least one signer")
    _check_text(text)
    return format_note(Note(text, tuple(s.sign(text) for s in signers)))


def _verify_one(verifier: Verifier | CosignatureVerifier, text: str, sig: Signature) -> bool:
    try:
        verifier.verify(text, sig)
    except (SignatureError, NoteError):  # NoteError: a cosigned text that is no checkpoint
        return False
    return True


def open_note(
    data: str | bytes,
    verifiers: Sequence[Verifier | CosignatureVerifier],
    *,
    required: int = 1,
) -> Note:
    """Parse a signed note and verify it against known keys (signed-note "Signatures").

    Signatures whose (key name, key hash) match no verifier are ignored, even if the name
    or the hash alone matches. Every signature by a known key is verified, duplicates
    included; one that fails raises :class:`SignatureError` (the whole note is rejected).
    At least ``required`` distinct known keys must have signed, else SignatureError.

    Returns the note with the verified signatures only (one per key, in note order); use
    :func:`parse_note` to keep every signature. ``verifiers`` may mix note verifiers and
    cosignature verifiers (for a checkpoint with its witnesses' cosignatures).
    """
    if isinstance(required, bool) or not isinstance(required, int) or required < 1:
        raise ValueError("required must be a positive integer")
    known: dict[tuple[str, bytes], Verifier | CosignatureVerifier] = {}
    for v in verifiers:
        other = known.setdefault((v.name, v.key_hash), v)
        if other.public_key != v.public_key or type(other) is not type(v):
            raise ValueError(f"ambiguous verifiers for key {v.name}+{v.key_hash.hex()}")
    message = _decode(data)
    note = _parse_note(message)
    first_sig_line = note.text.count("\n") + 2
    verified: dict[tuple[str, bytes], Signature] = {}
    for i, sig in enumerate(note.signatures):
        key = (sig.name, sig.key_hash)
        verifier = known.get(key)
        if verifier is None:
            continue
        if not _verify_one(verifier, note.text, sig):
            raise SignatureError(
                f"line {first_sig_line + i}: the signature by {sig.name}+{sig.key_hash.hex()} "
                "does not verify"
            )
        verified.setdefault(key, sig)
    if len(verified) < required:
        raise SignatureError(
            f"the note is signed by {len(verified)} known key(s), {required} required"
        )
    return Note(note.text, tuple(verified.values()))


# --- tlog-checkpoint ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's note text (tlog-checkpoint "Note text").

    origin (non-empty), tree size, 32-byte root hash, and optional non-empty extension lines.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in [("origin", self.origin), *(("extension", e) for e in self.extensions)]:
            if not isinstance(line, str) or not line:
                raise ValueError(f"checkpoint {what} lines must be non-empty strings")
            if "\n" in line or _FORBIDDEN.search(line) is not None:
                raise ValueError(f"checkpoint {what} {line!r} has a newline or control character")
        _require_int(self.size, "tree size", MAX_TREE_SIZE)
        _require_hash(self.root_hash, "root hash")

    def to_text(self) -> str:
        """``origin\\nsize\\nbase64(root)\\n`` followed by the extension lines."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text (not the signed note; see :func:`open_note`)."""
        return _parse_checkpoint(text, 1)


def _parse_checkpoint(text: str, first_line: int) -> Checkpoint:
    _check_text(text, first_line)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _at(
            first_line + len(lines) - 1,
            f"a checkpoint has at least 3 lines (origin, size, root hash), not {len(lines)}",
        )
    for i, line in enumerate(lines):
        if not line:
            raise _at(first_line + i, "empty line in checkpoint text")
    size = _parse_decimal(lines[1], "tree size", first_line + 1)
    root = _b64decode(lines[2], "root hash", first_line + 2)
    if len(root) != HASH_SIZE:
        raise _at(first_line + 2, f"root hash is {len(root)} bytes, not {HASH_SIZE}")
    return Checkpoint(lines[0], size, root, tuple(lines[3:]))


def _parse_signed_checkpoint(message: str, first_line: int) -> Checkpoint:
    return _parse_checkpoint(_parse_note(message, first_line).text, first_line)


# --- tlog-cosignature ---------------------------------------------------------------------------


def cosignature_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The signed message of an Ed25519 cosignature/v1 (tlog-cosignature "Ed25519 signed
    message"): ``cosignature/v1\\ntime <timestamp>\\n`` followed by the whole checkpoint note
    text (with its final newline, without signature lines)."""
    _require_int(timestamp, "timestamp", MAX_TIMESTAMP)
    _check_text(checkpoint_text)
    header = f"{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n"
    return (header + checkpoint_text).encode("utf-8")


def cosignature_timestamp(signature: Signature) -> int:
    """The timestamp of a cosignature/v1 signature, unverified; NoteError if not one."""
    if len(signature.signature) != 8 + 64:
        raise NoteError("not an Ed25519 cosignature/v1 (timestamp and 64-byte signature)")
    timestamp = int.from_bytes(signature.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} exceeds 2^63 - 1")
    return timestamp


class CosignatureSigner(_SignerKey):
    """An Ed25519 cosignature/v1 signer, key type 0x04 (tlog-cosignature "Format")."""

    SIG_TYPE = COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self._name, self._public_key)

    def cosign(self, checkpoint_text: str, timestamp: int) -> Signature:
        """Cosign a checkpoint note text at a POSIX timestamp (seconds).

        The signature bytes are the timestamp (big-endian u64) and the Ed25519 signature of
        :func:`cosignature_message`. NoteError if the text is not a checkpoint.
        """
        Checkpoint.from_text(checkpoint_text)
        message = cosignature_message(checkpoint_text, timestamp)
        signed = timestamp.to_bytes(8, "big") + self._key.sign(message)
        return Signature(self._name, self._key_hash, signed)


class CosignatureVerifier(_VerifierKey):
    """An Ed25519 cosignature/v1 verifier, key type 0x04 (tlog-cosignature "Format")."""

    SIG_TYPE = COSIGNATURE_V1

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureVerifier:
        """Parse a type 0x04 verifier key; NoteError if malformed, another type, or bad hash."""
        name, public_key = _parse_vkey(vkey, COSIGNATURE_V1)
        return cls(name, public_key)

    def verify(self, checkpoint_text: str, signature: Signature) -> int:
        """Verify a cosignature of a checkpoint note text; its timestamp.

        SignatureError if the signature is by another key, malformed, or does not verify;
        NoteError if the text is not a checkpoint. Whether the timestamp is acceptable (the
        spec allows rejecting future ones) is the caller's decision.
        """
        if signature.name != self._name or signature.key_hash != self._key_hash:
            raise SignatureError(
                f"the signature is by {signature.name}+{signature.key_hash.hex()}, "
                f"not {self._name}+{self._key_hash.hex()}"
            )
        try:
            timestamp = cosignature_timestamp(signature)
        except NoteError as exc:
            raise SignatureError(str(exc)) from None
        Checkpoint.from_text(checkpoint_text)
        message = cosignature_message(checkpoint_text, timestamp)
        try:
            self._verifying_key.verify(signature.signature[8:], message)
        except InvalidSignature:
            raise SignatureError(
                f"the cosignature by {self._name}+{self._key_hash.hex()} does not verify"
            ) from None
        return timestamp


# --- tlog-witness -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddCheckpoint:
    """An add-checkpoint request (tlog-witness "add-checkpoint").

    ``checkpoint`` is the full signed note (text, blank line, signature lines).
    """

    old_size: int
    consistency_proof: tuple[bytes, ...]
    checkpoint: str


def format_add_checkpoint(req: AddCheckpoint) -> str:
    """The request body: ``old <size>``, the proof hashes in base64 one a line, an empty
    line, then the signed checkpoint."""
    _require_int(req.old_size, "old size", MAX_TREE_SIZE)
    if len(req.consistency_proof) > MAX_CONSISTENCY_PROOF_LINES:
        raise ValueError(f"more than {MAX_CONSISTENCY_PROOF_LINES} consistency proof hashes")
    for h in req.consistency_proof:
        _require_hash(h, "a consistency proof hash")
    checkpoint = _parse_signed_checkpoint(req.checkpoint, 1)
    if req.old_size > checkpoint.size:
        raise ValueError(
            f"old size {req.old_size} is larger than the checkpoint size {checkpoint.size}"
        )
    proof = "".join(_b64encode(h) + "\n" for h in req.consistency_proof)
    return f"old {req.old_size}\n{proof}\n{req.checkpoint}"


def parse_add_checkpoint(body: bytes | str) -> AddCheckpoint:
    """Parse an add-checkpoint request body (tlog-witness "add-checkpoint"), strictly.

    NoteError (answer 400) for: invalid UTF-8; a first line other than ``old <size>`` in
    decimal without leading zeroes; a proof line that is not the base64 of a 32-byte hash;
    more than 63 proof lines; no empty line before the checkpoint; a checkpoint that is not
    a well-formed signed note with a checkpoint text; an old size larger than the checkpoint
    size (which the section answers with 400 too). Signatures are not verified here.

    Not checked here: that the proof is empty when the old size is 0 (the consistency
    proof check, 422, covers it).
    """
    text = _decode(body, what="request body")
    end = text.find("\n")
    if end < 0:
        raise _at(1, "the old size line does not end with a newline")
    first = text[:end]
    if not first.startswith("old "):
        raise _at(1, "expected the old size line 'old <size>'")
    old_size = _parse_decimal(first[4:], "old size", 1)
    pos, number = end + 1, 2
    proof: list[bytes] = []
    while True:
        end = text.find("\n", pos)
        if end < 0:
            raise _at(number, "no empty line between the consistency proof and the checkpoint")
        line = text[pos:end]
        pos = end + 1
        if not line:
            break
        if len(proof) == MAX_CONSISTENCY_PROOF_LINES:
            raise _at(number, f"more than {MAX_CONSISTENCY_PROOF_LINES} consistency proof lines")
        h = _b64decode(line, "consistency proof hash", number)
        if len(h) != HASH_SIZE:
            raise _at(number, f"consistency proof hash is {len(h)} bytes, not {HASH_SIZE}")
        proof.append(h)
        number += 1
    checkpoint = text[pos:]
    if not checkpoint:
        raise _at(number + 1, "no checkpoint after the empty line")
    parsed = _parse_signed_checkpoint(checkpoint, number + 1)
    if old_size > parsed.size:
        raise _at(1, f"old size {old_size} is larger than the checkpoint size {parsed.size}")
    return AddCheckpoint(old_size, tuple(proof), checkpoint)


def format_signature_lines(signatures: Iterable[Signature]) -> str:
    """The 200 response body: one or more note signature lines, each ending in a newline."""
    lines = [_signature_line(s) for s in signatures]
    if not lines:
        raise ValueError("a response carries at least one signature line")
    if len(lines) > MAX_SIGNATURES:
        raise ValueError(f"more than {MAX_SIGNATURES} signature lines")
    return "".join(lines)


def parse_signature_lines(data: bytes | str) -> tuple[Signature, ...]:
    """Parse a 200 response body (one or more signature lines), strictly."""
    text = _decode(data, what="signature lines")
    _check_chars(text)
    if not text:
        raise _at(1, "no signature lines")
    if not text.endswith("\n"):
        raise _at(text.count("\n") + 1, "signature line does not end with a newline")
    return _parse_lines(text, 1)


def format_tlog_size(size: int) -> str:
    """The 409 response body (Content-Type ``text/x.tlog.size``): the size and a newline."""
    _require_int(size, "tree size", MAX_TREE_SIZE)
    return f"{size}\n"


def parse_tlog_size(body: bytes | str) -> int:
    """Parse a 409 response body: a decimal size followed by a newline."""
    text = _decode(body, what="size body")
    if not text.endswith("\n") or text.count("\n") != 1:
        raise _at(1, "expected a decimal tree size followed by a newline")
    return _parse_decimal(text[:-1], "tree size", 1)


# --- tlog-proof ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """A tlog proof (tlog-proof "Format"): entry index, inclusion proof, signed checkpoint
    (the full signed note, cosignatures included), and optional unauthenticated extra data."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None


def format_tlog_proof(p: TlogProof) -> str:
    """``c2sp.org/tlog-proof@v1``, ``extra <base64>`` (if any), ``index <n>``, the proof
    hashes in base64 one a line, an empty line, and the signed checkpoint verbatim."""
    _require_int(p.index, "index", MAX_TREE_SIZE)
    if p.extra is not None and (not isinstance(p.extra, bytes) or not p.extra):
        raise ValueError("extra must be None or non-empty bytes")
    if len(p.hashes) > MAX_INCLUSION_PROOF_LINES:
        raise ValueError(f"more than {MAX_INCLUSION_PROOF_LINES} inclusion proof hashes")
    for h in p.hashes:
        _require_hash(h, "an inclusion proof hash")
    checkpoint = _parse_signed_checkpoint(p.checkpoint, 1)
    if p.index >= checkpoint.size:
        raise ValueError(f"index {p.index} is not in a tree of size {checkpoint.size}")
    extra = "" if p.extra is None else f"extra {_b64encode(p.extra)}\n"
    hashes = "".join(_b64encode(h) + "\n" for h in p.hashes)
    return f"{TLOG_PROOF_HEADER}\n{extra}index {p.index}\n{hashes}\n{p.checkpoint}"


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Parse a tlog proof, strictly (tlog-proof "Format").

    Beyond the format: the extra data, when present, must be non-empty (so that "no extra"
    has one encoding); at most :data:`MAX_INCLUSION_PROOF_LINES` hashes; and the index must
    be below the checkpoint's tree size. The checkpoint's signatures are not verified here.
    """
    data = _decode(text, what="tlog proof")
    lines = data.split("\n")
    if lines[0] != TLOG_PROOF_HEADER:
        raise _at(1, f"the first line is not {TLOG_PROOF_HEADER!r}")
    number = 2
    extra: bytes | None = None
    if len(lines) > 2 and lines[1].startswith("extra "):
        extra = _b64decode(lines[1][len("extra ") :], "extra data", 2)
        if not extra:
            raise _at(2, "empty extra data (omit the extra line instead)")
        number = 3
    if len(lines) <= number or not lines[number - 1].startswith("index "):
        raise _at(number, "expected the index line 'index <n>'")
    index = _parse_decimal(lines[number - 1][len("index ") :], "index", number)
    hashes: list[bytes] = []
    while True:
        if number >= len(lines):
            raise _at(number, "no empty line between the inclusion proof and the checkpoint")
        line = lines[number]
        number += 1
        if not line:
            break
        if len(hashes) == MAX_INCLUSION_PROOF_LINES:
            raise _at(number, f"more than {MAX_INCLUSION_PROOF_LINES} inclusion proof lines")
        h = _b64decode(line, "inclusion proof hash", number)
        if len(h) != HASH_SIZE:
            raise _at(number, f"inclusion proof hash is {len(h)} bytes, not {HASH_SIZE}")
        hashes.append(h)
    checkpoint = "\n".join(lines[number:])
    if not checkpoint:
        raise _at(number + 1, "no checkpoint after the empty line")
    parsed = _parse_signed_checkpoint(checkpoint, number + 1)
    if index >= parsed.size:
        index_line = number - len(hashes) - 1
        raise _at(index_line, f"index {index} is not below the tree size {parsed.size}")
    return TlogProof(index, tuple(hashes), checkpoint, extra)
