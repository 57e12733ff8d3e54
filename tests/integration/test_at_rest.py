"""Payloads encrypted at rest: no personal data in clear in the databases or any file written.

The personal data are the sample records' values that the agreed schemas mark
personal (NIKs, names, phone numbers, ...), found as in test_e2e. Each is looked
for as it is and base64url-encoded, as it would stand in the payload of a
stored JWS.
"""

import base64
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gateway.exchange import sending
from gateway.store.tables import metadata
from schemas.samples import sample_records
from tests.conftest import BACKEND
from tests.integration.test_api import bridge, node, submit
from tests.integration.test_e2e import sensitive_values

ROOT = Path(__file__).resolve().parents[2]
PERMINTAAN = "permintaan_klarifikasi"


def forms(value):
    """``value`` as UTF-8, and the parts of its base64(url) encodings that it alone decides.

    A value that starts 0, 1 or 2 bytes into a 3-byte group encodes three ways;
    the characters of the groups wholly inside it are the same wherever it
    stands. Parts shorter than 12 characters would match random base64 by chance.
    """
    raw = value.encode("utf-8")
    found = {raw}
    for shift in range(3):
        first = -(-shift // 3)  # the first group wholly inside the value
        last = (shift + len(raw)) // 3
        if 4 * (last - first) < 12:
            continue
        encoded = base64.b64encode(b"\0" * shift + raw)[4 * first:4 * last]
        found |= {encoded, encoded.replace(b"+", b"-").replace(b"/", b"_")}
    return found


def leaked(data, secrets):
    """The secrets of which some form is in ``data`` (bytes)."""
    return sorted(s for s in secrets if any(f in data for f in forms(s)))


def personal_data(batches):
    """The personal values of ``(dataset, version, records)``: NIKs and names among them,
    and phone numbers where the version has them (permintaan_klarifikasi 2.0 has none)."""
    secrets = set().union(*(sensitive_values(dataset, records, version)
                            for dataset, version, records in batches))
    assert any(s.isdigit() and len(s) == 16 for s in secrets)  # NIKs
    phones = any(r.get("pelapor", {}).get("telepon") for _, _, records in batches
                 for r in records)  # fmt: skip
    assert any(s.startswith("+628") for s in secrets) == phones  # phone numbers
    assert any(" " in s and s.replace(" ", "").isalpha() for s in secrets)  # names
    return secrets


def test_the_forms_find_a_value_in_clear_and_in_a_jws_payload():
    import json

    secret = "Siti Rahayu binti Ahmad"
    document = json.dumps({"records": [{"pelapor": {"nama": secret}}]}).encode()
    for prefix in (b"", b"x", b"xy"):
        payload = base64.urlsafe_b64encode(prefix + document).rstrip(b"=")
        assert leaked(b"eyJ0eXAiOiJKV1MifQ." + payload + b".c2ln", {secret}) == [secret]
    assert leaked(document, {secret}) == [secret]
    assert leaked(base64.urlsafe_b64encode(b"another " + document.replace(b"Siti", b"Sita")),
                  {secret}) == []


def _dump(deployment, party):
    """Every value of every table of a node's database, as bytes, read without its keys."""
    parts = []
    for table in metadata.sorted_tables:
        for row in deployment.query(party, f"SELECT * FROM {table.name}"):  # noqa: S608
            for value in row:
                if isinstance(value, bytes | memoryview):
                    parts.append(bytes(value))
                elif value is not None:
                    parts.append(str(value).encode("utf-8"))
    return b"\n".join(parts)


def test_no_table_of_either_node_holds_personal_data_in_clear(deployment_factory, make_apps):
    deployment = deployment_factory(max_chunk_bytes=4096)  # chunks, and a transfer left half-way
    apps = make_apps(deployment)
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    sent = [r for r in sample_records(PERMINTAAN, 80, seed=11, version="1.0") if r.get("pelapor")]
    whole, halfway = sent[:15], sent[15:30]
    delivered = personal_data([(PERMINTAAN, "1.0", whole)])
    secrets = delivered | personal_data([(PERMINTAAN, "1.0", halfway)])

    assert submit(ombudsman, whole, dataset=PERMINTAAN).status_code == 202
    [batch_id] = sending.run(node(ombudsman), post=bridge(apps)).delivered
    assert submit(ombudsman, halfway, dataset=PERMINTAAN).status_code == 202
    through = bridge(apps)

    def cut_after_two_chunks(url, body, timeout, headers):
        if url.rsplit("/", 1)[-1] not in ("manifest", "0", "1"):
            raise requests.ConnectionError("the line drops")
        return through(url, body, timeout, headers)

    assert sending.run(node(ombudsman), post=cut_after_two_chunks).failed
    assert deployment.query("pemkot-bekasi", "SELECT count(*) FROM inbound_transfers") == [(1,)]

    # The receiver's system pulls the records in clear, chunk by chunk.
    batch = pemkot.client.get(f"/api/v1/batches/{batch_id}", headers=pemkot.auth()).get_json()
    pulled = []
    for chunk in batch["chunks"]:
        pulled += pemkot.client.get(f"/api/v1/batches/{batch_id}/chunks/{chunk['index']}",
                                    headers=pemkot.auth()).get_json()["records"]
    assert pulled == whole

    for party in ("ombudsman-ri", "pemkot-bekasi"):
        assert leaked(_dump(deployment, party), secrets) == [], party
    # Yet they are there, sealed: opened with the node's storage key.
    cipher = deployment.cipher("pemkot-bekasi")
    payloads = []
    for (sealed,) in deployment.query("pemkot-bekasi", "SELECT signed FROM inbound_chunks"):
        part = cipher.open(sealed).split(".")[1]
        payloads.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    assert leaked(b"".join(payloads), delivered) == sorted(delivered)


def _demo():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


@pytest.mark.e2e
@pytest.mark.skipif(BACKEND != "sqlite",
                    reason="the demo runs on SQLite whatever the backend: once, on the SQLite pass")
def test_a_demo_run_leaves_no_personal_data_in_clear_in_any_file(tmp_path):
    """Every file the demo writes: databases (and their -wal/-shm files, if left), logs,
    keys, the evidence bundle, the auditor's state. The demo writes no records out for
    the receiving institution's systems (they pull them over the API), so there is no
    intended inbox to spare."""
    demo = _demo()
    secrets = personal_data([*((dataset, demo.schema_version(dataset), demo.records_of(party))
                               for party, dataset in demo.SENDS.items()),
                             ("tanggapan_klarifikasi", demo.schema_version("tanggapan_klarifikasi"),
                              [demo.invalid_record()])])
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--dir",
                           str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    for party, dataset in demo.SENDS.items():
        receiver = next(p for p in demo.SENDS if p != party)
        assert f"{receiver}: {demo.RECORDS_PER_SIDE} {dataset} records pulled" in done.stdout

    written = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    names = {path.relative_to(tmp_path).as_posix() for path in written}
    assert {"var/demo/pemkot-bekasi.db", "var/demo/ombudsman-ri.log",
            "keys/pemkot-bekasi/storage.jwk"} <= names
    leaks = {path.relative_to(tmp_path).as_posix(): leaked(data, secrets)
             for path, data in written.items()}
    assert leaks == {path: [] for path in leaks}
