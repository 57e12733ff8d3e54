"""Envelopes interoperate with a second, independent JOSE implementation (jwcrypto)."""

import json
import subprocess
import sys

import pytest
from jwcrypto import jwe, jwk, jws
from jwcrypto.common import json_encode

from schemas.samples import sample_records
from tests.conftest import PASSPHRASE

ALGS = ["ECDH-ES+A256KW", "A256GCM", "Ed25519"]


def gateway(deployment, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "GATEWAY_KEY_PASSPHRASE": PASSPHRASE})


def private_jwk(path):
    return jwk.JWK.from_pem(path.read_bytes(), password=PASSPHRASE.encode())


@pytest.fixture
def deployment(deployment_factory):
    return deployment_factory()


def test_jwcrypto_opens_what_gateway_envelope_seal_produces(deployment, tmp_path):
    records = sample_records("tanggapan_klarifikasi", 3, seed=11)
    source = tmp_path / "records.json"
    source.write_text(json.dumps(records))
    done = gateway(deployment, "envelope", "seal", "--config",
                   str(deployment.config_path("pemkot-bekasi")), "--dataset",
                   "tanggapan_klarifikasi", "--schema-version", "1.0", str(source))
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()

    outer = jwe.JWE(algs=ALGS)
    outer.deserialize(token, key=private_jwk(deployment.root / "keys/ombudsman-ri/encryption.pem"))
    assert outer.jose_header["cty"] == "JOSE"
    inner = jws.JWS()
    inner.allowed_algs = ALGS
    inner.deserialize(outer.payload.decode())
    sender = jwk.JWKSet.from_json(
        (deployment.root / "keys/pemkot-bekasi/jwks.json").read_text())
    inner.verify(sender.get_key(inner.jose_header["kid"]), alg="Ed25519")
    document = json.loads(inner.payload)
    assert document["records"] == records
    assert document["sender"] == "pemkot-bekasi" and document["receiver"] == "ombudsman-ri"


def test_gateway_envelope_open_reads_what_jwcrypto_seals(deployment):
    import hashlib

    import rfc8785

    records = sample_records("permintaan_klarifikasi", 2, seed=12, version="1.0")
    signer = private_jwk(deployment.root / "keys/ombudsman-ri/signing.pem")
    receiver_jwks = (deployment.root / "keys/pemkot-bekasi/jwks.json").read_text()
    enc_kid = json.loads(receiver_jwks)["keys"][1]["kid"]
    recipient = jwk.JWKSet.from_json(receiver_jwks).get_key(enc_kid)
    document = {"v": 1, "sender": "ombudsman-ri", "receiver": "pemkot-bekasi",
                "dataset": "permintaan_klarifikasi", "schema_version": "1.0",
                "batch_id": "6f6a2d7e-2b1c-4c55-9d1e-3b8f0f0a0b01", "sequence": 1,
                "created_at": "2026-11-28T01:02:03.000000Z", "record_count": 2,
                "records_sha256": hashlib.sha256(rfc8785.dumps(records)).hexdigest(),
                "records": records}
    signed = jws.JWS(json.dumps(document).encode())
    signed.allowed_algs = ALGS
    signed.add_signature(signer, alg="Ed25519", protected=json_encode(
        {"alg": "Ed25519", "kid": signer.thumbprint(), "typ": "gw-batch+jws"}))
    sealed = jwe.JWE(signed.serialize(compact=True).encode(), algs=ALGS, protected=json_encode(
        {"alg": "ECDH-ES+A256KW", "enc": "A256GCM", "kid": recipient.thumbprint(),
         "cty": "JOSE", "typ": "gw-batch+jwe"}))
    sealed.add_recipient(recipient)
    done = gateway(deployment, "envelope", "open", "--config",
                   str(deployment.config_path("pemkot-bekasi")), "-",
                   stdin=sealed.serialize(compact=True))
    assert done.returncode == 0, done.stderr
    opened = json.loads(done.stdout)
    assert opened["document"]["records"] == records
    assert opened["signer_kid"] == signer.thumbprint()


def test_envelope_open_explains_locally_and_exits_non_zero(deployment):
    done = gateway(deployment, "envelope", "open", "--config",
                   str(deployment.config_path("pemkot-bekasi")), "-", stdin="a.b.c.d.e")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("gateway: error: envelope rejected: cannot decrypt")
