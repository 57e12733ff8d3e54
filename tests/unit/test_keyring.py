"""The key lifecycle: the key ring, agreement pins, peers' JWKS, and the key commands."""

import datetime as dt
import json

import pytest

from gateway.crypto.keyring import Keyring
from gateway.crypto.keys import NodeKeys, PeerKeys
from gateway.errors import ConfigError, KeyMaterialError
from gateway.node import key_lifecycle, published_jwks
from gateway.node.config import load_agreement
from gateway.node.node import own_pins
from gateway.peers import jwks
from tests.conftest import PASSPHRASE

# After the keys were made (their files' time), as a rotation is.
T0 = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
ENV = {"GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
PEMKOT, OMBUDSMAN = "pemkot-bekasi", "ombudsman-ri"


def events(app, event):
    with app.node.store.read() as conn:
        from sqlalchemy import text

        rows = conn.execute(text("SELECT entry FROM audit_events WHERE event = :e"), {"e": event})
        return [json.loads(e) for (e,) in rows]


def rotate(deployment, party, use, at=T0):
    return key_lifecycle.rotate(deployment.config(party), use, operator="budi", environ=ENV, now=at)


def keys_at(deployment, party, at, pinned=None):
    return NodeKeys.from_directory(deployment.config(party).key_dir, environ=ENV, pinned=pinned,
                                   now=at)


def test_a_rotated_key_signs_only_once_pinned_and_the_old_one_works_through_its_grace(
        deployment):
    first = keys_at(deployment, PEMKOT, T0)
    new = rotate(deployment, PEMKOT, "sig")
    registered = own_pins(deployment.config(PEMKOT))
    assert new.kid not in registered
    # Not pinned: the node goes on signing with the key it had, now retiring.
    assert keys_at(deployment, PEMKOT, T0, registered).signing_kid == first.signing_kid
    assert keys_at(deployment, PEMKOT, T0, registered | {new.kid}).signing_kid == new.kid
    # Seven days later (the default grace period) the old key no longer works at all.
    late = T0 + dt.timedelta(days=7, seconds=1)
    with pytest.raises(KeyMaterialError, match="not registered for it in the agreement"):
        keys_at(deployment, PEMKOT, late, registered)
    assert keys_at(deployment, PEMKOT, late, registered | {new.kid}).signing_kid == new.kid


def test_an_encryption_key_rotation_keeps_the_old_key_for_decryption_until_retired(deployment):
    first = keys_at(deployment, OMBUDSMAN, T0)
    new = rotate(deployment, OMBUDSMAN, "enc")
    keys = keys_at(deployment, OMBUDSMAN, T0)
    assert set(keys.decryption) == {first.encryption_kid, new.kid}
    with pytest.raises(KeyMaterialError, match="grace period"):
        key_lifecycle.retire(deployment.config(OMBUDSMAN), first.encryption_kid, operator="budi",
                      environ=ENV, now=T0 + dt.timedelta(days=1))
    with pytest.raises(KeyMaterialError, match="active; rotate it first"):
        key_lifecycle.retire(deployment.config(OMBUDSMAN), new.kid, operator="budi", environ=ENV,
                             now=T0)
    key_lifecycle.retire(deployment.config(OMBUDSMAN), first.encryption_kid, operator="budi",
                  environ=ENV, now=T0 + dt.timedelta(days=8))
    assert set(keys_at(deployment, OMBUDSMAN, T0).decryption) == {new.kid}
    # Its private key is destroyed; its public key stays published, expired.
    ring = Keyring.load(deployment.config(OMBUDSMAN).key_dir)
    assert ring.find(first.encryption_kid).file is None
    assert not (deployment.config(OMBUDSMAN).key_dir / "encryption.pem").exists()
    [old] = [k for k in ring.public_jwks()["keys"] if k["kid"] == first.encryption_kid]
    assert old["exp"] == int((T0 + dt.timedelta(days=8)).timestamp())


def test_revoking_the_only_active_key_makes_a_replacement_and_is_audited(deployment, make_apps):
    config = deployment.config(PEMKOT)
    first = keys_at(deployment, PEMKOT, T0)
    revoked, replacement = key_lifecycle.revoke(config, first.signing_kid, operator="budi",
                                         reason="keyCompromise", environ=ENV, now=T0)
    assert revoked.status == "revoked" and replacement is not None
    jwks = Keyring.load(config.key_dir).public_jwks()
    [entry] = [k for k in jwks["keys"] if k["kid"] == first.signing_kid]
    assert entry["revoked"] == {"revoked_at": int(T0.timestamp()), "reason": "keyCompromise"}
    # Until the replacement is pinned the node has no signing key: it refuses to start.
    with pytest.raises(KeyMaterialError, match="signing key is not registered"):
        keys_at(deployment, PEMKOT, T0, own_pins(config))
    with pytest.raises(KeyMaterialError, match="already revoked"):
        key_lifecycle.revoke(config, first.signing_kid, operator="budi", reason="keyCompromise",
                      environ=ENV, now=T0)
    pemkot = make_apps(deployment_with_pin(deployment, PEMKOT, replacement.kid))[PEMKOT]
    assert pemkot.node.keys.signing_kid == replacement.kid
    assert [(e["kid"], e["reason"], e["actor"]) for e in events(pemkot, "key_revoked")] == [
        (first.signing_kid, "keyCompromise", "budi")]
    assert [e["kid"] for e in events(pemkot, "key_rotated")] == [replacement.kid]


def deployment_with_pin(deployment, party, *kids):
    path = deployment.root / "agreement.toml"
    line = f'jwks_file = "keys/{party}/jwks.json"\n'
    path.write_text(path.read_text().replace(line, line + f"key_pins = {json.dumps(kids)}\n"))
    return deployment


def test_peer_keys_take_only_pinned_unrevoked_unexpired_keys_from_a_served_jwks(deployment):
    first = keys_at(deployment, OMBUDSMAN, T0)
    new = rotate(deployment, OMBUDSMAN, "enc")
    served = Keyring.load(deployment.config(OMBUDSMAN).key_dir).public_jwks()
    registered = {OMBUDSMAN: json.loads(
        (deployment.config(OMBUDSMAN).key_dir / "jwks.json").read_text())}

    def build(pins=(), revoked=(), now=T0, published=None):
        return PeerKeys.pinned(registered, pins={OMBUDSMAN: pins},
                               revoked={OMBUDSMAN: revoked},
                               published={OMBUDSMAN: served} if published is None else published,
                               now=now)

    # Served but not pinned: ignored. Pinned: used, and newest, so peers encrypt to it.
    assert build().encryption_key_of(OMBUDSMAN).thumbprint() == first.encryption_kid
    assert build(pins=[new.kid]).encryption_key_of(OMBUDSMAN).thumbprint() == new.kid
    # Pinned but not served (not fetched yet): nothing to use it with.
    assert new.kid not in build(pins=[new.kid], published={}).kids(OMBUDSMAN)
    # The served JWKS says the old key expires with its grace period.
    later = T0 + dt.timedelta(days=7, seconds=1)
    assert first.encryption_kid not in build(pins=[new.kid], now=later).kids(OMBUDSMAN)
    # Revoked by the agreement.
    assert first.signing_kid not in build(revoked=[first.signing_kid]).kids(OMBUDSMAN)
    # A served key whose kid is not its thumbprint cannot pass for a pinned one.
    forged = {"keys": [dict(k, kid=new.kid) if k["kid"] == first.signing_kid else k
                       for k in served["keys"] if k["kid"] != new.kid]}
    assert new.kid not in build(pins=[new.kid], published={OMBUDSMAN: forged}).kids(OMBUDSMAN)


def test_jwks_refresh_keeps_what_parses_and_the_last_good_one_otherwise(apps):
    pemkot = apps[PEMKOT]
    answers = iter([(200, b'{"keys": []}'), (200, b"not json"), (503, b""),
                    (200, b'{"keys": [1]}'), (200, b"{" + b" " * 70000 + b"}")])
    for expected in ("updated", "failed", "failed", "failed", "failed"):
        report = jwks.refresh(pemkot.node, get=lambda url, timeout: next(answers))
        assert (OMBUDSMAN in report.updated) == (expected == "updated")
        assert (OMBUDSMAN in report.failed) == (expected == "failed")
    assert published_jwks.load(pemkot.node.store) == {OMBUDSMAN: {"keys": []}}
    same = jwks.refresh(pemkot.node, get=lambda url, timeout: (200, b'{"keys": []}'))
    assert same.unchanged == [OMBUDSMAN]


def test_the_served_jwks_follows_the_key_ring_at_once(apps, deployment):
    ombudsman = apps[OMBUDSMAN]
    before = ombudsman.client.get("/exchange/v1/jwks").get_json()
    new = rotate(deployment, OMBUDSMAN, "sig")
    after = ombudsman.client.get("/exchange/v1/jwks").get_json()
    assert {k["kid"] for k in after["keys"]} == {k["kid"] for k in before["keys"]} | {new.kid}
    assert all({"kid", "use", "alg", "iat"} <= set(k) for k in after["keys"])


@pytest.mark.parametrize("setting, problem", [
    ('key_pins = ["short"]', "must be an RFC 7638 key thumbprint"),
    ('revoked_keys = "x"', "must be a list"),
])
def test_agreement_pins_are_checked(deployment, setting, problem):
    path = deployment.root / "agreement.toml"
    line = 'jwks_file = "keys/pemkot-bekasi/jwks.json"\n'
    path.write_text(path.read_text().replace(line, line + setting + "\n"))
    with pytest.raises(ConfigError, match=problem):
        load_agreement(path)


def test_the_agreement_sets_the_grace_period(deployment):
    path = deployment.root / "agreement.toml"
    path.write_text(path.read_text() + "\n[keys]\ngrace_period_days = 2\n")
    assert load_agreement(path).keys.grace_period_days == 2
    path.write_text(path.read_text().replace("grace_period_days = 2", "grace_days = 2"))
    with pytest.raises(ConfigError, match=r"keys\.grace_days: is not a known setting"):
        load_agreement(path)
