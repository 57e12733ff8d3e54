import json
import logging
import stat

import pytest

from gateway.crypto.keys import NodeKeys, PeerKeys, init_keys, load_note_keys
from gateway.errors import KeyMaterialError

ENV = {"GATEWAY_KEY_PASSPHRASE": "s3cret"}


def test_init_writes_encrypted_pkcs8_and_a_public_jwks(tmp_path):
    jwks = init_keys(tmp_path, environ=ENV)
    for name in ("signing.pem", "encryption.pem"):
        pem = (tmp_path / name).read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert json.loads((tmp_path / "jwks.json").read_text()) == jwks
    sig, enc = jwks["keys"]
    assert (sig["crv"], sig["use"], sig["alg"]) == ("Ed25519", "sig", "Ed25519")
    assert (enc["crv"], enc["use"], enc["alg"]) == ("X25519", "enc", "ECDH-ES+A256KW")
    assert all("d" not in k for k in jwks["keys"])
    keys = NodeKeys.from_directory(tmp_path, environ=ENV)
    assert keys.signing_kid == sig["kid"]
    peers = PeerKeys.from_jwks({"x": jwks})
    assert peers.signing_key(sig["kid"]).party == "x"


def test_init_refuses_without_passphrase_unless_insecure(tmp_path, caplog):
    with pytest.raises(KeyMaterialError, match="set GATEWAY_KEY_PASSPHRASE"):
        init_keys(tmp_path, environ={})
    with caplog.at_level(logging.WARNING):
        init_keys(tmp_path, environ={}, insecure=True)
    assert "INSECURE" in caplog.text
    assert b"BEGIN PRIVATE KEY" in (tmp_path / "signing.pem").read_bytes()


def test_init_never_overwrites(tmp_path):
    init_keys(tmp_path, environ=ENV)
    with pytest.raises(KeyMaterialError, match="already holds every key"):
        init_keys(tmp_path, environ=ENV)


def test_init_adds_only_the_missing_keys_and_writes_vkeys(tmp_path):
    init_keys(tmp_path, environ=ENV)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.pem")}
    (tmp_path / "log.pem").unlink()
    (tmp_path / "witness.pem").unlink()  # a node made before the audit log had keys
    init_keys(tmp_path, environ=ENV, note_names=("example.test/audit", "example.test/witness"))
    after = {p.name: p.read_bytes() for p in tmp_path.glob("*.pem")}
    assert after["signing.pem"] == before["signing.pem"]
    assert after["encryption.pem"] == before["encryption.pem"]
    assert after["log.pem"] != before["log.pem"]
    notes = load_note_keys(tmp_path / "note-keys.txt", log_origin="example.test/audit",
                           witness_name="example.test/witness")
    keys = NodeKeys.from_directory(tmp_path, environ=ENV)
    assert notes.log.public_key == keys.log_signer("example.test/audit").public_key
    assert notes.witness.public_key == keys.witness_signer("example.test/witness").public_key


def test_note_keys_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "note-keys.txt"
    path.write_text("# comment\nexample.test/audit+00000000+AQ==\n")
    with pytest.raises(KeyMaterialError, match=r"note-keys\.txt:2: "):
        load_note_keys(path, log_origin="example.test/audit", witness_name="w")
    path.write_text("")
    with pytest.raises(KeyMaterialError, match=r"no vkey named 'example\.test/audit'"):
        load_note_keys(path, log_origin="example.test/audit", witness_name="w")


def test_wrong_or_missing_passphrase(tmp_path):
    init_keys(tmp_path, environ=ENV)
    with pytest.raises(KeyMaterialError, match="key is encrypted; set GATEWAY_KEY_PASSPHRASE"):
        NodeKeys.from_directory(tmp_path, environ={})
    with pytest.raises(KeyMaterialError, match="cannot load private key"):
        NodeKeys.from_directory(tmp_path, environ={"GATEWAY_KEY_PASSPHRASE": "wrong"})


def test_peer_jwks_refuses_private_or_mislabelled_keys(tmp_path):
    jwks = init_keys(tmp_path, environ=ENV)
    bad_kid = {"keys": [dict(jwks["keys"][0], kid="not-the-thumbprint")]}
    with pytest.raises(KeyMaterialError, match="is not the key's RFC 7638 thumbprint"):
        PeerKeys.from_jwks({"x": bad_kid})
    private = {"keys": [dict(jwks["keys"][0], d="AAAA")]}
    with pytest.raises(KeyMaterialError, match="unusable JWK"):
        PeerKeys.from_jwks({"x": private})


@pytest.mark.parametrize("text", [
    '{"keys": [], "keys": [%s]}',
    '{"keys": [%s], "\\u006beys": []}',
    '{"keys": [%s, {"kty": "OKP", "kty": "oct"}]}',  # inside a key
])
def test_a_jwks_with_a_member_given_twice_is_refused(tmp_path, text):
    from joserfc.jwk import OKPKey

    from gateway.crypto.keys import load_jwks_file
    from gateway.node import published_jwks

    key = json.dumps(OKPKey.generate_key("Ed25519").as_dict(private=False))
    path = tmp_path / "jwks.json"
    path.write_text(text % key)
    with pytest.raises(KeyMaterialError, match="duplicate member name"):
        load_jwks_file(path)
    with pytest.raises(ValueError, match="duplicate member name"):  # a JWKS a peer serves
        published_jwks.parse((text % key).encode())
