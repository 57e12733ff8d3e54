"""``gateway-client`` end to end: two real nodes, the real command, 10,000 records.

Pemkot Bekasi's system submits a CSV of 10,000 sample records of
``tanggapan_klarifikasi`` (made by ``gateway schemas sample --csv``); the run is
killed part-way and run again; the nodes' schedule carries the batches to the
Ombudsman, whose system pulls them: every record must arrive exactly once and
every batch be acknowledged. Then, on the same nodes: an idempotency key used
again with other records, and a malformed CSV file.
"""

import collections
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gateway.client import GatewayClient, IdempotencyKeyReused
from gateway.client.files import read_records
from gateway.ops.process import wait_until
from schemas.export import json_schema
from schemas.samples import sample_records
from tests.conftest import TOKENS

pytestmark = pytest.mark.e2e

TANGGAPAN = "tanggapan_klarifikasi"
COUNT = 10_000
COMMAND = Path(sys.executable).with_name("gateway-client")


def gateway_client(*args, env, check=True):
    done = subprocess.run([str(COMMAND), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def environment(nodes, party, client_id, state_dir):
    return {**os.environ, "GATEWAY_URL": nodes[party].base_url,
            "GATEWAY_TOKEN": TOKENS[party][client_id], "GATEWAY_CLIENT_STATE_DIR": str(state_dir)}


def chunks_done(state_dir):
    found = list(state_dir.glob("submit-*.json"))
    if not found:
        return 0
    try:
        state = json.loads(found[0].read_text())
    except ValueError:  # never half-written: replaced whole; but read while it is replaced
        return 0
    return sum(1 for c in state["chunks"] if c["submission_id"])


def canonical(record):
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


@pytest.mark.sqlite_pass  # the client's side; the nodes' on PostgreSQL: test_faults, test_e2e
def test_a_csv_of_10000_records_arrives_once_and_is_acknowledged(running, tmp_path):
    assert COMMAND.exists(), f"{COMMAND} is missing: install the package (pip install -e .)"
    deployment, nodes = running
    csv_file = tmp_path / "tanggapan.csv"
    with csv_file.open("wb") as out:
        subprocess.run([sys.executable, "-m", "gateway", "schemas", "sample", TANGGAPAN,
                        "--count", str(COUNT), "--seed", "2021", "--csv"],
                       stdout=out, timeout=120, check=True)
    sent = read_records(csv_file, csv_file.read_bytes(), "csv",
                        schema=json_schema(TANGGAPAN, "2.0")).records
    assert len(sent) == COUNT
    state_dir = tmp_path / "state"
    pemkot = environment(nodes, "pemkot-bekasi", "sistem-pengaduan", state_dir)

    # Killed once the node has stored the first chunk (500 records: the node's limit).
    submit = [str(COMMAND), "submit", "--dataset", TANGGAPAN, str(csv_file)]
    with subprocess.Popen(submit, env=pemkot, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as first:
        wait_until(lambda: chunks_done(state_dir) or first.poll() is not None, timeout=60,
                   what="the first chunk stored")
        first.send_signal(signal.SIGKILL)
    # And as if the answer to the last chunk stored had been lost on the way back.
    [state_file] = state_dir.glob("submit-*.json")
    state = json.loads(state_file.read_text())
    stored = [c for c in state["chunks"] if c["submission_id"]]
    stored[-1]["submission_id"] = stored[-1]["received_at"] = None
    state_file.write_text(json.dumps(state))

    done = gateway_client("submit", "--dataset", TANGGAPAN, csv_file, env=pemkot)
    ids = done.stdout.split()
    assert len(ids) == COUNT // 500 == len(set(ids))
    assert "500 records per request, the node's limit" in done.stderr
    earlier = len(stored) - 1
    assert (f"{earlier} of them by an earlier run" in done.stderr) == (earlier > 0)
    assert deployment.query("pemkot-bekasi", "SELECT count(*), sum(record_count) FROM "
                            "submissions") == [(len(ids), COUNT)]
    assert deployment.query("pemkot-bekasi", "SELECT count(*) FROM outbox_records") == [(COUNT,)]

    # The schedule (every second) seals and delivers; nobody triggers it by hand.
    def arrived():
        [(records,)] = deployment.query(
            "ombudsman-ri", "SELECT coalesce(sum(record_count), 0) FROM inbound_batches "
            "WHERE dataset = :d", d=TANGGAPAN)
        return records == COUNT

    wait_until(arrived, timeout=60, interval=0.2, what="10,000 records at the Ombudsman")

    out_dir = tmp_path / "received"
    ombudsman = environment(nodes, "ombudsman-ri", "simpel", tmp_path / "ombudsman-state")
    status = json.loads(gateway_client("status", "--json", env=ombudsman).stdout)
    batches = status["waiting"][TANGGAPAN]["batches"]
    assert status["waiting"][TANGGAPAN]["records"] == COUNT and batches > 1
    done = gateway_client("pull", "--dataset", TANGGAPAN, "--out", out_dir, env=ombudsman)
    files = [Path(line) for line in done.stdout.split()]
    assert len(files) == batches and sorted(files) == sorted(out_dir.glob("*.json"))
    received = collections.Counter()
    for file in files:
        document = json.loads(file.read_text())
        assert document["sender"] == "pemkot-bekasi"
        assert len(document["records"]) == document["record_count"]
        received.update(canonical(r) for r in document["records"])
    assert received == collections.Counter(canonical(r) for r in sent)  # each exactly once
    assert deployment.query("ombudsman-ri", "SELECT count(*) FROM inbound_batches WHERE "
                            "acked_at IS NULL") == [(0,)]
    again = gateway_client("pull", "--dataset", TANGGAPAN, "--out", out_dir, env=ombudsman)
    assert again.stdout == ""

    # Pemkot's system sees its submissions delivered, and so finished.
    def finished():
        report = json.loads(gateway_client("status", "--json", env=pemkot).stdout)
        return all(s.get("finished") for s in report["submissions"])

    wait_until(finished, timeout=30, interval=0.2, what="the submissions delivered")
    assert "local submissions: all finished" in gateway_client("status", env=pemkot).stdout

    # The same nodes (two real servers are slow to start): a key reused, bad input.
    key_reuse_and_bad_input(deployment, nodes, tmp_path)


def key_reuse_and_bad_input(deployment, nodes, tmp_path):
    url = nodes["pemkot-bekasi"].base_url
    client = GatewayClient(url, TOKENS["pemkot-bekasi"]["sistem-pengaduan"])
    records = sample_records(TANGGAPAN, 2, seed=9)
    first = client.submit(TANGGAPAN, records, "kunci-e2e")
    assert client.submit(TANGGAPAN, records, "kunci-e2e") == first.__class__(
        **{**first.__dict__, "replayed": True})
    with pytest.raises(IdempotencyKeyReused):
        client.submit(TANGGAPAN, records[:1], "kunci-e2e")
    # On the wire: 422, the stable code and the header's name as the path.
    answer = requests.post(
        f"{url}/api/v1/datasets/{TANGGAPAN}/records", timeout=10,
        json={"schema_version": "2.0", "records": records[1:]},
        headers={"Authorization": f"Bearer {TOKENS['pemkot-bekasi']['sistem-pengaduan']}",
                 "Idempotency-Key": '"kunci-e2e"'})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "idempotency_key_reused"
    assert answer.json()["error"]["path"] == "Idempotency-Key"

    bad = tmp_path / "bad.csv"
    bad.write_text('nomor_laporan,status\n"0123/LM/XI/2026,selesai\n', encoding="utf-8")
    env = environment(nodes, "pemkot-bekasi", "sistem-pengaduan", tmp_path / "state")
    done = gateway_client("submit", "--dataset", TANGGAPAN, bad, env=env, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"gateway-client: error: {bad}:")
    assert "malformed CSV" in done.stderr
    assert deployment.query("pemkot-bekasi", "SELECT count(*) FROM submissions "
                            "WHERE idempotency_key IS NOT NULL") == [(COUNT // 500 + 1,)]
