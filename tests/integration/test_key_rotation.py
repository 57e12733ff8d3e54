"""Key rotation, revocation and retirement across two real node processes, batches in flight."""

import base64
import collections
import datetime as dt
import json
import os
import shutil
import subprocess
import sys

import pytest
import requests
from joserfc.jwk import OKPKey

from gateway.crypto.keys import NodeKeys, load_private
from gateway.ops.process import wait_until
from gateway.peers import signed_requests
from tests.integration.conftest import refused as counted_refusals
from tests.integration.test_faults import start, submit

pytestmark = [
    pytest.mark.e2e,
    # About a minute of node restarts; what is in the database here (the audit log, the
    # fetched JWKS) is covered on both backends by tests/unit/test_keyring.py.
    pytest.mark.skipif(os.environ.get("GATEWAY_TEST_BACKEND") == "postgresql",
                       reason="runs once, on the SQLite pass"),
]

PEMKOT, OMBUDSMAN = "pemkot-bekasi", "ombudsman-ri"
DATASET = "tanggapan_klarifikasi"  # Pemkot sends it to the Ombudsman


def gateway(deployment, party, *args):
    """Run a ``gateway`` command for ``party``'s node; its standard output.

    Options go before the arguments, and ``--`` before a key id, which may begin
    with "-" (a base64url thumbprint) and would otherwise be read as an option.
    """
    words = list(args)
    at = words.index("--") if "--" in words else len(words)
    words[at:at] = ["--config", str(deployment.config_path(party))]
    done = subprocess.run(
        [sys.executable, "-m", "gateway", *words],
        capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **deployment.env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def pin(deployment, party, *kids, revoked=()):
    """Pin (or revoke) keys of ``party`` in the agreement both nodes load."""
    path = deployment.root / "agreement.toml"
    line = f'jwks_file = "keys/{party}/jwks.json"\n'
    extra = f"key_pins = {json.dumps(list(kids))}\nrevoked_keys = {json.dumps(list(revoked))}\n"
    text = path.read_text()
    start_at = text.index(line) + len(line)
    # Replace what an earlier call added, if anything.
    if text[start_at:].startswith("key_pins"):
        end = text.index("revoked_keys", start_at)
        end = text.index("\n", end) + 1
        text = text[:start_at] + text[end:]
    path.write_text(text[:start_at] + extra + text[start_at:])


def jwe_kid(envelope):
    header = envelope.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def batches(deployment):
    return deployment.query(PEMKOT, "SELECT batch_id, status, envelope FROM outbound_batches "
                                    "ORDER BY created_at")


def received(deployment):
    rows = deployment.query(OMBUDSMAN, "SELECT batch_id, signer_kid, record_count "
                                       "FROM inbound_batches")
    return {batch_id: (kid, count) for batch_id, kid, count in rows}


def post_signed(node, body, key):
    """POST an envelope to ``node`` in a request signed as Pemkot's with ``key``."""
    path = "/exchange/v1/batches"
    header = signed_requests.authorization(
        signing_key=key, issuer=PEMKOT, audience=OMBUDSMAN, method="POST", target=path,
        body=body, now=dt.datetime.now(dt.UTC))
    return requests.post(node.base_url + path, data=body, timeout=10, headers={
        "Authorization": header, "Content-Type": "application/jose"})


def events(deployment, party, event):
    return [json.loads(e) for (e,) in deployment.query(
        party, "SELECT entry FROM audit_events WHERE event = :e ORDER BY idx", e=event)]


# On the SQLite pass only: keys are files whatever the backend, and the batches in flight are
# stored as in the other exchange tests, which run on both.
@pytest.mark.sqlite_pass
def test_rotation_and_revocation_with_batches_in_flight_lose_nothing(deployment_factory):
    deployment = deployment_factory(
        interval=1, retry="max_attempts = 1000, initial_seconds = 1, max_seconds = 1")
    agreement = deployment.root / "agreement.toml"
    agreement.write_text(agreement.read_text() + "\n[keys]\ngrace_period_days = 7\n"
                         "jwks_refresh_seconds = 1\n")
    old_pemkot = NodeKeys.from_directory(deployment.config(PEMKOT).key_dir, environ=deployment.env)
    old_ombudsman = NodeKeys.from_directory(deployment.config(OMBUDSMAN).key_dir,
                                            environ=deployment.env)
    nodes = {}
    try:
        # 1. Batch A is sealed to the Ombudsman's first encryption key while its node is down.
        nodes[PEMKOT] = start(deployment, PEMKOT)
        submit(nodes[PEMKOT], 5, seed=1)
        wait_until(lambda: deployment.query(
            PEMKOT, "SELECT attempts FROM outbound_batches WHERE attempts > 0"),
            timeout=60, what="batch A sealed and its delivery failed")
        [(batch_a, _, envelope_a)] = batches(deployment)
        assert jwe_kid(envelope_a) == old_ombudsman.encryption_kid

        # 2. Both parties rotate; the new keys are pinned in the agreement; nodes restart.
        new_enc = gateway(deployment, OMBUDSMAN, "keys", "rotate", "--use", "enc").strip()
        new_ombudsman_sig = gateway(deployment, OMBUDSMAN, "keys", "rotate", "--use", "sig").strip()
        # Kept aside to play a thief who copied the old key before it was revoked.
        old_key_file = deployment.root / "old-signing.pem"
        shutil.copy(deployment.config(PEMKOT).key_dir / "signing.pem", old_key_file)
        new_pemkot_sig = gateway(deployment, PEMKOT, "keys", "rotate", "--use", "sig").strip()
        # Unpinned, a new key is not used: the node still signs with the old one.
        listed = [json.loads(line) for line in
                  gateway(deployment, PEMKOT, "keys", "list").splitlines()]
        current = {row["use"]: row["kid"] for row in listed if row["current"]}
        assert current["sig"] == old_pemkot.signing_kid
        pin(deployment, OMBUDSMAN, new_enc, new_ombudsman_sig)
        pin(deployment, PEMKOT, new_pemkot_sig)
        nodes.pop(PEMKOT).stop()
        nodes[OMBUDSMAN] = start(deployment, OMBUDSMAN)
        nodes[PEMKOT] = start(deployment, PEMKOT)

        # Batch A, sealed before the rotation, is opened with the retiring key; batch B,
        # sealed after it, goes to the new key. Both travel in requests signed with
        # Pemkot's new key, which the Ombudsman's node fetched from Pemkot's JWKS
        # because the agreement pins it.
        wait_until(lambda: batch_a in received(deployment), timeout=60, what="batch A delivered")
        wait_until(lambda: deployment.query(
            PEMKOT, "SELECT 1 FROM peer_jwks WHERE jwks LIKE :k", k=f"%{new_enc}%"),
            timeout=60, what="the Ombudsman's new key fetched by Pemkot")
        submit(nodes[PEMKOT], 7, seed=2)
        wait_until(lambda: len(received(deployment)) == 2, timeout=60, what="batch B delivered")
        wait_until(lambda: {s for _, s, _ in batches(deployment)} == {"delivered"}, timeout=60,
                   what="both receipts accepted")
        (_, _, envelope_b), = [b for b in batches(deployment) if b[0] != batch_a]
        assert jwe_kid(envelope_b) == new_enc
        # Batch A's envelope was signed when it was sealed, with the old key: still good.
        got = received(deployment)
        assert got.pop(batch_a) == (old_pemkot.signing_kid, 5)
        assert list(got.values()) == [(new_pemkot_sig, 7)]
        digests = collections.Counter(d for (d,) in deployment.query(
            PEMKOT, "SELECT record_sha256 FROM outbox_records"))
        assert sum(digests.values()) == 12 and set(digests.values()) == {1}
        assert [e["kid"] for e in events(deployment, PEMKOT, "key_rotated")] == [new_pemkot_sig]

        # 3. Pemkot revokes its old signing key (as if it leaked). Its JWKS says so; once
        # the Ombudsman's node has fetched it, the old key is refused though the agreement
        # still registers it in jwks_file.
        gateway(deployment, PEMKOT, "keys", "revoke", "--", old_pemkot.signing_kid)
        assert not (deployment.config(PEMKOT).key_dir / "signing.pem").exists()
        served = requests.get(f"{nodes[PEMKOT].base_url}/exchange/v1/jwks", timeout=5).json()
        [entry] = [k for k in served["keys"] if k["kid"] == old_pemkot.signing_kid]
        assert entry["revoked"]["reason"] == "keyCompromise"
        gateway(deployment, OMBUDSMAN, "keys", "refresh")
        nodes.pop(OMBUDSMAN).stop()
        nodes[OMBUDSMAN] = start(deployment, OMBUDSMAN)
        leaked = OKPKey.import_key(load_private(old_key_file, deployment.env[
            "GATEWAY_KEY_PASSPHRASE"].encode()))
        unknown = ("request_unknown_key", None)
        before = counted_refusals(deployment, OMBUDSMAN)[unknown]
        refused = post_signed(nodes[OMBUDSMAN], envelope_a.encode(), leaked)
        assert refused.status_code == 401
        assert counted_refusals(deployment, OMBUDSMAN)[unknown] == before + 1

        # 4. The Ombudsman retires its old encryption key early: what was sealed to it is
        # refused from then on, and nothing else changes.
        gateway(deployment, OMBUDSMAN, "keys", "retire", "--force", "--",
                old_ombudsman.encryption_kid)
        nodes.pop(OMBUDSMAN).stop()
        nodes[OMBUDSMAN] = start(deployment, OMBUDSMAN)
        current_pemkot = NodeKeys.from_directory(deployment.config(PEMKOT).key_dir,
                                                 environ=deployment.env)
        assert current_pemkot.signing_kid == new_pemkot_sig
        late = post_signed(nodes[OMBUDSMAN], envelope_a.encode(), current_pemkot.signing)
        assert late.status_code == 400
        assert events(deployment, OMBUDSMAN, "envelope_rejected")[-1]["reason"] == "recipient_key"
        assert [(e["event"], e["kid"]) for e in events(deployment, OMBUDSMAN, "key_retired")] \
            == [("key_retired", old_ombudsman.encryption_kid)]
        assert len(received(deployment)) == 2  # nothing stored twice, nothing lost
    finally:
        for node in nodes.values():
            node.stop()
