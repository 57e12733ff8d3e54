"""joserfc's base64 through pybase64 gives what the standard library's gives, error for error."""

from __future__ import annotations

import base64
import binascii
import random
import types

import pytest
from joserfc import jwe, jws, util
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

import gateway.crypto  # noqa: F401 (installs it)
from gateway.crypto import jose_base64

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_FOREIGN = b"+/= \n\t.\x00\x7f\xc3\xff"


def test_joserfc_reads_base64_through_pybase64_once_the_gateway_crypto_is_imported():
    # If this fails after a joserfc upgrade, joserfc no longer reads base64 through
    # joserfc.util.base64: check how it does, and whether jose_base64 still applies.
    assert jose_base64.in_use()
    assert util.base64 is not base64


def _stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(util, "base64", base64)


def _outcome(fn, value):
    try:
        return ("ok", fn(value))
    except (binascii.Error, ValueError, TypeError) as exc:
        return ("error", type(exc))


def _inputs() -> list[bytes]:
    rng = random.Random(7816)
    values: list[bytes] = [b"", b"A", b"AA", b"AAA", b"AAAA", b"AB", b"AE", b"AAB", b"AAE"]
    for size in [*range(40), 1000, 4096, 70_001]:
        raw = rng.randbytes(size)
        good = base64.urlsafe_b64encode(raw).rstrip(b"=")
        values.append(good)
        for _ in range(12):
            if not good:
                break
            spoiled = bytearray(good)
            where = rng.randrange(len(spoiled))
            spoiled[where] = rng.choice(_FOREIGN)
            values.append(bytes(spoiled))
            values.append(good + bytes([rng.randrange(256)]))
            values.append(good[:-1] + bytes([rng.choice(_ALPHABET)]))
        values.append(base64.b64encode(raw))  # the other alphabet, padded
    return values


def test_decoding_gives_the_same_bytes_or_the_same_error_as_the_standard_library(monkeypatch):
    inputs = _inputs()
    fast = [_outcome(util.urlsafe_b64decode, v) for v in inputs]
    with monkeypatch.context() as m:
        _stdlib(m)
        slow = [_outcome(util.urlsafe_b64decode, v) for v in inputs]
    assert fast == slow
    assert sum(1 for kind, _ in fast if kind == "error") > 100  # the spoiled ones refused


def test_encoding_gives_the_same_bytes_as_the_standard_library(monkeypatch):
    rng = random.Random(7515)
    values = [rng.randbytes(n) for n in [*range(0, 70), 1000, 1 << 20]]
    fast = [util.urlsafe_b64encode(v) for v in values]
    with monkeypatch.context() as m:
        _stdlib(m)
        assert [util.urlsafe_b64encode(v) for v in values] == fast


def test_a_jws_and_jwe_made_with_either_opens_with_the_other(monkeypatch):
    sig = OKPKey.generate_key("Ed25519")
    enc = OKPKey.generate_key("X25519")
    payload = random.Random(1).randbytes(300_000)
    reg = jwe.JWERegistry(algorithms=["ECDH-ES+A256KW", "A256GCM"])
    reg.max_ciphertext_length = 1 << 21
    sreg = jws.JWSRegistry(algorithms=["Ed25519"])
    sreg.max_payload_length = 1 << 21

    def seal() -> bytes:
        signed = jws.serialize_compact({"alg": "Ed25519"}, payload, sig, registry=sreg)
        header = {"alg": "ECDH-ES+A256KW", "enc": "A256GCM"}
        return jwe.encrypt_compact(header, signed, enc, registry=reg).encode()

    def unseal(token: bytes) -> bytes:
        inner = jwe.decrypt_compact(token, enc, registry=reg).plaintext
        assert inner is not None
        return jws.deserialize_compact(inner, sig, registry=sreg).payload

    fast_token = seal()
    with monkeypatch.context() as m:
        _stdlib(m)
        slow_token = seal()
        assert unseal(fast_token) == payload
    assert unseal(slow_token) == payload
    middle = len(slow_token) // 2
    flipped = b"A" if slow_token[middle : middle + 1] != b"A" else b"B"
    with pytest.raises(JoseError):
        unseal(slow_token[:middle] + flipped + slow_token[middle + 1 :])


def test_a_joserfc_that_reads_base64_another_way_is_left_as_it_is(monkeypatch):
    other = types.SimpleNamespace()
    monkeypatch.setattr(util, "base64", other)
    assert jose_base64.use_pybase64() is False
    assert util.base64 is other
