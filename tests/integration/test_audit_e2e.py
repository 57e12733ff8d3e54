"""The audit log across two real node processes: witnessing over HTTP, the auditor's CLI.

The nodes exchange batches on their schedule; each transfer ends with a
checkpoint that the other node's witness cosigns. An auditor then verifies both
logs and reconciles them with `gateway audit`, exports and verifies one
batch's evidence, and catches an entry edited in a live node's database.
"""

import json

import pytest

from tests.conftest import TOKENS
from tests.integration.conftest import gateway

pytestmark = pytest.mark.e2e

def auditor_env(deployment, tmp_path):
    return {**deployment.env, "PATH": "/usr/bin:/bin",
            "GATEWAY_AUDIT_TOKEN_A": TOKENS["pemkot-bekasi"]["auditor"],
            "GATEWAY_AUDIT_TOKEN_B": TOKENS["ombudsman-ri"]["auditor"],
            "GATEWAY_AUDIT_TOKEN": TOKENS["ombudsman-ri"]["auditor"],
            "HOME": str(tmp_path)}


def test_auditor_verifies_and_reconciles_both_logs_then_catches_an_edit(exchanged, tmp_path):
    deployment, nodes = exchanged
    env = auditor_env(deployment, tmp_path)
    agreement = str(deployment.root / "agreement.toml")
    state = str(tmp_path / "state")
    urls = [nodes["pemkot-bekasi"].base_url, nodes["ombudsman-ri"].base_url]

    done = gateway("audit", "reconcile", *urls, "--agreement", agreement, "--state", state, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reconciliation: 2 batches, 2 matched, 0 gaps, 0 pending" in done.stdout
    assert "cosigned by: ombudsman.test/witness" in done.stdout
    assert "cosigned by: pemkot.test/witness" in done.stdout

    # An operator edits one entry of the running Ombudsman node's log.
    [(index, entry)] = deployment.query(
        "ombudsman-ri", "SELECT idx, entry FROM audit_events WHERE event = 'batch_sealed'")
    deployment.query("ombudsman-ri", "UPDATE audit_events SET entry = :e WHERE idx = :i",
                     e=entry.replace('"record_count":5', '"record_count":4'), i=index)
    done = gateway("audit", "verify", "--url", urls[1], "--agreement", agreement,
                   "--state", state, env=env)
    assert done.returncode == 1
    assert f"FAILED: entry {index}: the entry changed since you verified it" in done.stdout


def test_evidence_bundle_is_exported_and_verified_offline(exchanged, tmp_path):
    deployment, _ = exchanged
    [(batch_id,)] = deployment.query("pemkot-bekasi", "SELECT batch_id FROM inbound_batches")
    bundle = tmp_path / "bundle.json"
    done = gateway("audit", "export", "--config", str(deployment.config_path("pemkot-bekasi")),
                   "--batch", batch_id, "--out", str(bundle), env=deployment.env)
    assert done.returncode == 0, done.stderr
    data = json.loads(bundle.read_text())
    assert [json.loads(e["entry"])["event"] for e in data["entries"]] == ["batch_received"]
    assert data["entries"][0]["proof"].startswith("c2sp.org/tlog-proof@v1\n")

    env = auditor_env(deployment, tmp_path)
    agreement = str(deployment.root / "agreement.toml")
    done = gateway("audit", "verify", "--agreement", agreement, "--no-state", str(bundle), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "entries verified: 1" in done.stdout and "OK" in done.stdout

    data["entries"][0]["entry"] = data["entries"][0]["entry"].replace('"record_count":5',
                                                                      '"record_count":6')
    bundle.write_text(json.dumps(data))
    done = gateway("audit", "verify", "--agreement", agreement, "--no-state", str(bundle), env=env)
    assert done.returncode == 1
    index = data["entries"][0]["index"]
    assert f"FAILED: entry {index}: the entry is not in the checkpoint's tree" in done.stdout


def test_audit_cli_refuses_bad_input_with_one_line(tmp_path, deployment):
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    done = gateway("audit", "verify", "--no-state", str(not_json))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "not JSON" in done.stderr
    done = gateway("audit", "verify")
    assert done.returncode == 2 and "give a BUNDLE file or --url" in done.stderr
    not_json.write_text("[1, 2]")
    done = gateway("audit", "verify", "--no-state", str(not_json))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "not an audit bundle" in done.stderr
    done = gateway("audit", "export", "--config", str(deployment.config_path("pemkot-bekasi")),
                   "--batch", "no-such-batch", env=deployment.env)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("this node's log has no entry for batch no-such-batch")
