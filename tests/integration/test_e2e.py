"""Two real node processes (gunicorn, scheduler) exchanging data over loopback HTTP."""

import datetime as dt
import json

import pytest
import requests
from joserfc import jws
from joserfc.jwk import KeySet

from gateway.ops.process import wait_until
from gateway.peers import signed_requests
from schemas.samples import sample_records
from tests.conftest import TOKENS

pytestmark = pytest.mark.e2e

SENDS = {"ombudsman-ri": "permintaan_klarifikasi", "pemkot-bekasi": "tanggapan_klarifikasi"}
OTHER = {"ombudsman-ri": "pemkot-bekasi", "pemkot-bekasi": "ombudsman-ri"}


def signed_headers(deployment, sender, receiver, url, body):
    """The headers with which ``sender``'s node signs a POST of ``body`` to ``url``."""
    from gateway.crypto.keys import NodeKeys

    config = deployment.config(sender)
    keys = NodeKeys.from_directory(config.key_dir, environ=deployment.env)
    target = url.split("/exchange", 1)[1]
    return {"Authorization": signed_requests.authorization(
        signing_key=keys.signing, issuer=sender, audience=receiver, method="POST",
        target="/exchange" + target, body=body, now=dt.datetime.now(dt.UTC))}


def auth(party):
    return {"Authorization": f"Bearer {next(iter(TOKENS[party].values()))}"}


def test_scheduled_exchange_both_ways_with_proof_of_origin(running):
    deployment, nodes = running
    sent = {}
    for party, dataset in SENDS.items():
        sent[party] = sample_records(dataset, 30, seed=len(party), version="1.0")
        answer = requests.post(f"{nodes[party].base_url}/api/v1/datasets/{dataset}/records",
                               json={"schema_version": "1.0", "records": sent[party]},
                               headers=auth(party), timeout=10)
        assert answer.status_code == 202, answer.text

    for sender, dataset in SENDS.items():
        receiver = OTHER[sender]
        url = f"{nodes[receiver].base_url}/api/v1/datasets/{dataset}/batches"

        def arrived(url=url, receiver=receiver):
            return requests.get(url, headers=auth(receiver), timeout=5).json()["batches"]

        # The scheduler runs every second; nobody triggers the transfer by hand.
        wait_until(arrived, timeout=30, what=f"{dataset} at {receiver}")
        (item,) = arrived()
        batch = requests.get(f"{nodes[receiver].base_url}/api/v1/batches/{item['batch_id']}",
                             headers=auth(receiver), timeout=5).json()
        assert batch["records"] == sent[sender]
        sender_jwks = json.loads((deployment.root / "keys" / sender / "jwks.json").read_text())
        signed = jws.deserialize_compact(batch["provenance"]["signed_batch"],
                                         KeySet.import_key_set(sender_jwks),
                                         algorithms=["Ed25519"])
        assert json.loads(signed.payload)["sender"] == sender
        ack = requests.post(f"{nodes[receiver].base_url}/api/v1/batches/{item['batch_id']}/ack",
                            headers=auth(receiver), timeout=5)
        assert ack.status_code == 200

        # The sender holds the receiver's signed receipt for exactly this batch.
        def delivered(sender=sender, batch_id=item["batch_id"]):
            rows = deployment.query(sender, "SELECT status, receipt FROM outbound_batches "
                                    "WHERE batch_id = :b", b=batch_id)
            return rows[0] if rows else None

        wait_until(lambda d=delivered: (d() or ("",))[0] == "delivered", timeout=10,
                   what="delivered status")
        assert delivered()[1] == batch["provenance"]["receipt"]

    # A captured envelope posted without the sender's request signature is refused; the
    # same envelope resent by its sender yields the same receipt, not a copy.
    [(envelope, receipt)] = deployment.query(
        "pemkot-bekasi", "SELECT envelope, receipt FROM outbound_batches")
    url = f"{nodes['ombudsman-ri'].base_url}/exchange/v1/batches"
    bare = requests.post(url, data=envelope, headers={"Content-Type": "application/jose"},
                         timeout=10)
    assert bare.status_code == 401
    signed = signed_headers(deployment, "pemkot-bekasi", "ombudsman-ri", url, envelope.encode())
    replay = requests.post(url, data=envelope, timeout=10,
                           headers={**signed, "Content-Type": "application/jose"})
    assert replay.status_code == 200
    # The very same request again (its signature's single-use id spent) is refused.
    again = requests.post(url, data=envelope, timeout=10,
                          headers={**signed, "Content-Type": "application/jose"})
    assert again.status_code == 401
    assert replay.json() == {"batch_id": replay.json()["batch_id"], "receipt": receipt,
                             "duplicate": True}
    assert deployment.query("ombudsman-ri", "SELECT count(*) FROM inbound_batches") == [(1,)]
    events = [e for (e,) in deployment.query("ombudsman-ri",
                                              "SELECT event FROM audit_events ORDER BY idx")]
    assert events.count("batch_received") == 1
    assert "batch_received_duplicate" in events


def sensitive_values(dataset, records, version="1.0"):
    """Every string the agreed schema (``version``) marks as personal, specific or
    confidential."""
    from schemas.redact import REDACTED, redact_record

    found = set()

    def walk(original, redacted):
        if redacted == REDACTED:
            stack = [original]
            while stack:
                item = stack.pop()
                if isinstance(item, str) and len(item) >= 6:
                    found.add(item)
                elif isinstance(item, dict):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
        elif isinstance(original, dict) and isinstance(redacted, dict):
            for key in original:
                walk(original[key], redacted.get(key))
        elif isinstance(original, list) and isinstance(redacted, list):
            for a, b in zip(original, redacted, strict=False):
                walk(a, b)

    for record in records:
        walk(record, redact_record(dataset, version, record))
    return found


def log_text(path):
    """A node's log as written, and each JSON line's values as decoded (where JSON's
    escapes could hide a value from a plain search)."""
    raw = path.read_text(errors="replace")
    decoded = []

    def strings(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield str(key)
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        else:
            yield str(value)

    for line in raw.splitlines():
        try:
            decoded.extend(strings(json.loads(line)))
        except ValueError:
            continue
    return raw + "\n" + "\n".join(decoded)


def test_personal_data_stays_out_of_logs_audit_entries_and_error_messages(running):
    deployment, nodes = running
    dataset = SENDS["ombudsman-ri"]
    records = [r for r in sample_records(dataset, 60, seed=77, version="1.0")
               if r.get("pelapor")][:20]
    secrets = sensitive_values(dataset, records)
    assert any(s.isdigit() and len(s) == 16 for s in secrets)  # NIKs among them
    assert any(s.startswith("+628") for s in secrets)  # and phone numbers
    url = f"{nodes['ombudsman-ri'].base_url}/api/v1/datasets/{dataset}/records"
    answers = []
    # Refused submissions that hold the personal data: a wrong type beside it, a bad NIK.
    broken = [dict(records[0], tanggal_surat=12345),
              dict(records[1], pelapor=dict(records[1]["pelapor"], nik="12" + "x" * 14))]
    for record in broken:
        answer = requests.post(url, json={"schema_version": "1.0", "records": [record]},
                               headers=auth("ombudsman-ri"), timeout=10)
        assert answer.status_code == 422
        answers.append(answer.text)
    answer = requests.post(url, json={"schema_version": "1.0", "records": records},
                           headers=auth("ombudsman-ri"), timeout=10)
    assert answer.status_code == 202
    receiver = nodes["pemkot-bekasi"].base_url
    wait_until(lambda: requests.get(f"{receiver}/api/v1/datasets/{dataset}/batches",
                                    headers=auth("pemkot-bekasi"), timeout=5).json()["batches"],
               timeout=30, what="the batch at the receiver")
    # A peer sends garbage, and a forged envelope naming a reporter in clear.
    for body in (b"not an envelope", json.dumps(records[0]).encode()):
        requests.post(f"{receiver}/exchange/v1/batches", data=body,
                      headers={"Content-Type": "application/jose"}, timeout=10)
    for node in nodes.values():
        node.stop()
    written = {f"{party} log": log_text(deployment.root / f"{party}.log") for party in nodes}
    for party in nodes:
        written[f"{party} audit log"] = "\n".join(e for (e,) in deployment.query(
            party, "SELECT entry FROM audit_events"))
    written["error answers"] = "\n".join(answers)
    leaks = {where: sorted(s for s in secrets if s in text) for where, text in written.items()}
    assert leaks == {where: [] for where in written}
