import base64
import datetime as dt
import json

import pytest
from joserfc.jwk import OKPKey

from gateway.envelope import (
    BatchHeader,
    open_batch,
    records_digest,
    seal_batch,
    sign_receipt,
    verify_receipt,
)
from gateway.errors import EnvelopeRejected, VerificationFailed
from gateway.keys import PeerKey, PeerKeys

NOW = dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def keys():
    return {
        "o_sig": OKPKey.generate_key("Ed25519"),
        "o_enc": OKPKey.generate_key("X25519"),
        "p_sig": OKPKey.generate_key("Ed25519"),
        "p_enc": OKPKey.generate_key("X25519"),
        "stranger": OKPKey.generate_key("Ed25519"),
    }


def make_header(**overrides):
    values = dict(sender="ombudsman-ri", receiver="pemkot-bekasi",
                  dataset="permintaan_klarifikasi", schema_version="1.0",
                  batch_id="7d1f3c9e-0000-4000-8000-000000000001", created_at=NOW)
    values.update(overrides)
    return BatchHeader(**values)


def seal(keys, records=None, *, signer="o_sig", header=None, max_bytes=1_000_000):
    return seal_batch(header or make_header(), records or [{"n": 1}, {"n": 2}],
                      signing_key=keys[signer], recipient_key=keys["p_enc"], max_bytes=max_bytes)


def open_(keys, token, *, party="pemkot-bekasi"):
    peers = PeerKeys([PeerKey("ombudsman-ri", keys["o_sig"], "sig"),
                      PeerKey("ombudsman-ri", keys["o_enc"], "enc")])
    return open_batch(token, own_party=party, decryption_key=keys["p_enc"], peer_keys=peers,
                      max_bytes=1_000_000)


def flip(segment: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_round_trip_names_everything_the_sender_signed(keys):
    opened = open_(keys, seal(keys))
    assert opened.header == make_header()
    assert opened.records == [{"n": 1}, {"n": 2}]
    assert opened.record_count == 2
    assert opened.records_sha256 == records_digest([{"n": 1}, {"n": 2}])
    assert opened.signer_kid == keys["o_sig"].thumbprint()
    assert opened.document["created_at"] == "2026-11-28T03:00:00.000000Z"


def test_headers_follow_the_profile(keys):
    token = seal(keys)
    protected = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert protected == {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE",
                         "kid": keys["p_enc"].thumbprint(), "typ": "gw-batch+jwe",
                         "epk": protected["epk"]}
    assert len(token.split(".")) == 5


def test_batches_larger_than_library_defaults_are_sealed_and_opened(keys):
    records = [{"n": i, "text": "x" * 1000} for i in range(600)]  # about 600 kB
    assert open_(keys, seal(keys, records)).record_count == 600


def test_digest_is_sha256_of_rfc8785_canonical_json():
    import hashlib

    assert records_digest([{"b": 1, "a": "é"}]) == hashlib.sha256(
        '[{"a":"é","b":1}]'.encode()).hexdigest()


@pytest.mark.parametrize("part", [0, 1, 2, 3, 4])
def test_any_altered_part_is_rejected(keys, part):
    segments = seal(keys).split(".")
    segments[part] = flip(segments[part]) if segments[part] else "AAAA"
    with pytest.raises(EnvelopeRejected) as info:
        open_(keys, ".".join(segments))
    assert str(info.value) == "envelope rejected"


def test_truncated_envelope_is_rejected(keys):
    token = seal(keys)
    with pytest.raises(EnvelopeRejected, match="envelope rejected") as info:
        open_(keys, token[: len(token) // 2])
    assert info.value.reason == "decrypt"


def test_unknown_signing_key_is_rejected(keys):
    with pytest.raises(EnvelopeRejected) as info:
        open_(keys, seal(keys, signer="stranger"))
    assert info.value.reason == "unknown_key"


def test_sender_claim_must_match_the_key_owner(keys):
    token = seal(keys, header=make_header(sender="pemkot-bekasi"))
    with pytest.raises(EnvelopeRejected) as info:
        open_(keys, token)
    assert info.value.reason == "sender_mismatch"


def test_wrong_receiver_is_rejected(keys):
    with pytest.raises(EnvelopeRejected) as info:
        open_(keys, seal(keys), party="another-city")
    assert info.value.reason == "wrong_receiver"
    assert "another-city" in info.value.detail  # the operator sees why; the peer does not


def test_oversized_envelope_is_rejected_before_decryption(keys):
    peers = PeerKeys([PeerKey("ombudsman-ri", keys["o_sig"], "sig")])
    with pytest.raises(EnvelopeRejected) as info:
        open_batch("a" * 20_000, own_party="pemkot-bekasi", decryption_key=keys["p_enc"],
                   peer_keys=peers, max_bytes=1000)
    assert info.value.reason == "size"


def test_seal_refuses_a_batch_over_the_limit(keys):
    with pytest.raises(ValueError, match="over the limit"):
        seal(keys, [{"t": "x" * 5000}], max_bytes=1000)


def test_receipt_verifies_and_binds_batch_and_digest(keys):
    opened = open_(keys, seal(keys))
    token = sign_receipt(opened, received_at=NOW, signing_key=keys["p_sig"])
    peers = PeerKeys([PeerKey("pemkot-bekasi", keys["p_sig"], "sig"),
                      PeerKey("ombudsman-ri", keys["o_sig"], "sig")])
    check = {"peer_keys": peers, "receiver": "pemkot-bekasi",
             "batch_id": opened.header.batch_id, "records_sha256": opened.records_sha256}
    receipt = verify_receipt(token, **check)
    assert receipt.received_at == "2026-11-28T03:00:00.000000Z"
    assert receipt.signer_kid == keys["p_sig"].thumbprint()
    with pytest.raises(VerificationFailed, match="receipt batch_id: expected 'other'"):
        verify_receipt(token, **{**check, "batch_id": "other"})
    # Signed by a registered key, but of another party than the receiver.
    forged = sign_receipt(opened, received_at=NOW, signing_key=keys["o_sig"])
    with pytest.raises(VerificationFailed, match="not a registered signing key of"):
        verify_receipt(forged, **check)
    head, payload, sig = token.split(".")
    with pytest.raises(VerificationFailed, match="does not verify"):
        verify_receipt(f"{head}.{payload}.{flip(sig)}", **check)


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("batch_id", "../../etc", "malformed"),
    ("created_at", "2026-11-28T03:00:00", "malformed"),
    ("records", [{"n": 10**400}], "malformed"),
    ("v", 2, "version"),
    ("record_count", 5, "count_mismatch"),
    ("records_sha256", "0" * 64, "digest_mismatch"),
])
def test_signed_but_malformed_documents_are_rejected(keys, field, value, reason):
    import rfc8785
    from joserfc import jwe, jws

    document = {"v": 1, "sender": "ombudsman-ri", "receiver": "pemkot-bekasi",
                "dataset": "permintaan_klarifikasi", "schema_version": "1.0",
                "batch_id": "7d1f3c9e-0000-4000-8000-000000000001",
                "created_at": "2026-11-28T03:00:00.000000Z", "record_count": 1,
                "records_sha256": records_digest([{"n": 1}]), "records": [{"n": 1}]}
    document[field] = value
    payload = (json.dumps(document) if field == "records" else rfc8785.dumps(document))
    signed = jws.serialize_compact({"alg": "Ed25519", "kid": keys["o_sig"].thumbprint(),
                                    "typ": "gw-batch+jws"}, payload, keys["o_sig"],
                                   algorithms=["Ed25519"])
    token = jwe.encrypt_compact({"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "cty": "JOSE",
                                 "kid": keys["p_enc"].thumbprint(), "typ": "gw-batch+jwe"},
                                signed, keys["p_enc"], algorithms=["ECDH-ES+A256KW", "A256GCM"])
    with pytest.raises(EnvelopeRejected) as info:
        open_(keys, token)
    assert info.value.reason == reason


@pytest.mark.parametrize("record", [
    {"n": 1, "s": "plain"},
    {"x": 1.5, "y": 1e21},  # floats: ECMAScript number forms
    {"big": 2**53 - 1, "neg": -(2**53 - 1)},
    {"\U0001f600": 1, "\uffff": 2},  # a key above U+FFFF sorts by UTF-16 code units
    {"v": "\U0001f600 emoji", "z": "\u00e9"},
])
def test_a_chunk_gives_the_canonical_form_of_every_record(keys, record):
    from gateway import canonical
    from gateway.envelope import forms_digest, open_chunk, record_leaf, seal_chunk

    forms = [canonical.dumps(record), canonical.dumps({"k": 0})]
    token = seal_chunk(make_header(), 0, forms, signing_key=keys["o_sig"],
                       recipient_key=keys["p_enc"], max_bytes=100_000)
    peers = PeerKeys([PeerKey("ombudsman-ri", keys["o_sig"], "sig")])
    opened = open_chunk(token, own_party="pemkot-bekasi", decryption_key=keys["p_enc"],
                        peer_keys=peers, max_bytes=100_000)
    assert opened.forms == forms and opened.records_sha256 == forms_digest(forms)
    assert [record_leaf(f) for f in opened.forms] == [record_leaf(f) for f in forms]
    assert opened.records == [record, {"k": 0}]
