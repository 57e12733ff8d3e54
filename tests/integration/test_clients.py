"""Clients managed with "gateway clients": tokens shown once, hashed, expiring, rotated, revoked."""

import datetime as dt
import hashlib
import json
import subprocess
import sys

import pytest

from gateway.errors import BadRequest
from gateway.node import credentials
from schemas.samples import sample_records
from tests.conftest import PASSPHRASE
from tests.integration.test_api import PERMINTAAN, TANGGAPAN, events, node, submit


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def status_with(app, token, dataset=TANGGAPAN):
    return submit(app, sample_records(dataset, 1, version="1.0"), dataset=dataset,
                  headers=bearer(token)).status_code


def test_a_managed_client_works_until_rotated_revoked_or_expired(pemkot):
    gateway = node(pemkot)
    now = [dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)]
    gateway.clock = lambda: now[0]
    token = credentials.add(gateway, "sistem-baru", submit=[TANGGAPAN], expires_in_days=30,
                        operator="budi")
    assert token.startswith(credentials.TOKEN_PREFIX) and len(token) > 40
    assert status_with(pemkot, token) == 202
    assert status_with(pemkot, token, PERMINTAAN) == 403  # only what it was given
    [entry] = [e for e in events(pemkot) if e["event"] == "client_added"]
    assert (entry["actor"], entry["client"]) == ("budi", "sistem-baru")
    listed = {row["id"]: row for row in credentials.listing(gateway)}
    assert listed["sistem-baru"]["status"] == "active"
    assert token not in json.dumps(listed)
    assert hashlib.sha256(token.encode()).hexdigest() not in json.dumps(listed)

    new = credentials.rotate(gateway, "sistem-baru", operator="budi")
    assert status_with(pemkot, token) == 401 and status_with(pemkot, new) == 202

    now[0] += dt.timedelta(days=31)
    assert status_with(pemkot, new) == 401
    assert {r["id"]: r for r in credentials.listing(gateway)}["sistem-baru"]["status"] == "expired"

    other = credentials.add(gateway, "sistem-lain", pull=[PERMINTAAN], operator="budi")
    assert pemkot.client.get(f"/api/v1/datasets/{PERMINTAAN}/batches",
                             headers=bearer(other)).status_code == 200
    credentials.revoke(gateway, "sistem-lain", operator="siti")
    assert pemkot.client.get(f"/api/v1/datasets/{PERMINTAAN}/batches",
                             headers=bearer(other)).status_code == 401
    kinds = [(e["event"], e["actor"]) for e in events(pemkot) if e["event"].startswith("client_")]
    assert kinds == [("client_added", "budi"), ("client_rotated", "budi"),
                     ("client_added", "budi"), ("client_revoked", "siti")]


@pytest.mark.parametrize("kwargs, message", [
    ({"submit": [PERMINTAAN]}, "is not one that pemkot-bekasi sends"),
    ({"pull": [TANGGAPAN]}, "is not one that pemkot-bekasi receives"),
    ({"roles": ["admin"]}, "unknown roles"),
    ({"rate_limit": "fast"}, "not a rate"),
])
def test_a_client_beyond_the_agreement_is_refused(pemkot, kwargs, message):
    with pytest.raises(BadRequest, match=message):
        credentials.add(node(pemkot), "sistem-x", operator="budi", **kwargs)


def test_ids_of_config_clients_and_existing_ones_are_taken(pemkot):
    with pytest.raises(BadRequest, match="in the node config"):
        credentials.add(node(pemkot), "sistem-pengaduan", operator="budi")
    credentials.add(node(pemkot), "sistem-y", operator="budi")
    with pytest.raises(BadRequest, match="exists"):
        credentials.add(node(pemkot), "sistem-y", operator="budi")


def run(*args, deployment):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "GATEWAY_KEY_PASSPHRASE": PASSPHRASE})


def test_the_clients_commands(deployment):
    config = str(deployment.config_path("pemkot-bekasi"))
    done = run("clients", "add", "sistem-cli", "--submit", TANGGAPAN, "--expires-days", "7",
               "--operator", "budi", "--config", config, deployment=deployment)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("gwt_") and "shown once" in done.stderr
    listed = run("clients", "list", "--json", "--config", config, deployment=deployment)
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows["sistem-cli"]["submit"] == [TANGGAPAN] and token not in listed.stdout
    assert rows["sistem-pengaduan"]["source"] == "config"
    table = run("clients", "list", "--config", config, deployment=deployment)
    assert "sistem-cli" in table.stdout and "managed" in table.stdout
    refused = run("clients", "add", "sistem-z", "--submit", PERMINTAAN, "--config", config,
                  deployment=deployment)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "is not one that pemkot-bekasi sends" in refused.stderr
    rotated = run("clients", "rotate", "sistem-cli", "--config", config, deployment=deployment)
    assert rotated.returncode == 0 and rotated.stdout.strip() != token
    revoked = run("clients", "revoke", "sistem-cli", "--config", config, deployment=deployment)
    assert revoked.stdout.strip() == "sistem-cli: revoked"
