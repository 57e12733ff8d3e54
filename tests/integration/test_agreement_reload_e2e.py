"""A running hub (gunicorn, two workers) takes up a new signed agreement, and ends it,
with no restart: every worker, recorded once."""

import datetime as dt
import json
import time

import requests

from gateway.ops.process import NodeProcess
from schemas.samples import sample_records
from tests.agreement_files import ENV, HUB, OPERATOR_TOKEN, signed_hub
from tests.conftest import TOKENS

BEKASI, DEPOK = "pemkot-bekasi", "pemkot-depok"
NEW_FLOW = "rekap_pengaduan"  # the hub sends it to Depok under the new agreement
DEADLINE = 30.0
# Requests in a row that must all see the change: gunicorn gives each to either worker.
IN_A_ROW = 40


def submit(url, dataset):
    records = sample_records(dataset, 1, seed=int(time.monotonic() * 1000) % 10_000,
                             version="1.0")
    return requests.post(
        f"{url}/api/v1/datasets/{dataset}/records",
        json={"schema_version": "1.0", "records": records},
        headers={"Authorization": f"Bearer {TOKENS[HUB]['simpel']}", "Connection": "close"},
        timeout=10)


def in_force(url):
    answer = requests.get(f"{url}/api/v1/agreements", timeout=10,
                          headers={"Authorization": f"Bearer {OPERATOR_TOKEN}",
                                   "Connection": "close"})
    assert answer.status_code == 200, answer.text
    return {a["id"]: a["version"] for a in answer.json()["agreements"]
            if a["status"] == "in_force"}


def every_worker_sees(check, deadline=DEADLINE):
    """Poll until ``check`` holds for IN_A_ROW requests in a row (each on a new
    connection, so that both workers answer some), within ``deadline`` seconds."""
    end = time.monotonic() + deadline
    streak = 0
    while streak < IN_A_ROW:
        assert time.monotonic() < end, f"not every worker saw it within {deadline} s"
        streak = streak + 1 if check() else 0
    return True


def entries(deployment, event):
    rows = deployment.query(HUB, "SELECT entry FROM audit_events WHERE event = :e", e=event)
    return [json.loads(r[0]) for r in rows]


def test_a_new_agreement_and_its_end_reach_every_worker_without_a_restart(deployment_factory):
    deployment = deployment_factory()
    hub = signed_hub(deployment, partners=(BEKASI, DEPOK), workers=2, poll=0.5)
    hub.drop_agreement("mou-bekasi", partner=BEKASI, dataset="kegiatan_pengembangan")
    url = f"http://127.0.0.1:{deployment.ports[HUB]}"
    node = NodeProcess(hub.config_path, listen=f"127.0.0.1:{deployment.ports[HUB]}",
                       env={**ENV}, log_path=deployment.root / "hub.log")
    node.start()
    try:
        assert in_force(url) == {"mou-bekasi": 1}
        refused = submit(url, NEW_FLOW)
        assert refused.status_code == 404 and "not in the agreement" in refused.text

        # An operator drops a second agreement, signed by both parties, into the directory.
        hub.drop_agreement("mou-depok", partner=DEPOK, dataset=NEW_FLOW)
        every_worker_sees(lambda: in_force(url) == {"mou-bekasi": 1, "mou-depok": 1})
        every_worker_sees(lambda: submit(url, NEW_FLOW).status_code == 202)
        [taken] = [e for e in entries(deployment, "agreement_taken_up")
                   if e["agreement_id"] == "mou-depok"]
        assert taken["parties"] == [HUB, DEPOK] and taken["version"] == 1
        # The process that runs the schedule added the new flow's transfer job.
        jobs = {r[0] for r in deployment.query(HUB, "SELECT id FROM scheduler_jobs")}
        assert f"transfer:{NEW_FLOW}" in jobs
        def stored():
            return deployment.query(
                HUB, "SELECT count(*) FROM outbox_records WHERE dataset = :d", d=NEW_FLOW)[0][0]

        assert stored() >= IN_A_ROW

        # Ended by an update whose ends_on has come: its flow stops on every worker.
        hub.drop_agreement("mou-depok", partner=DEPOK, dataset=NEW_FLOW, version=2,
                           ends_on=dt.date(2020, 1, 1))
        every_worker_sees(lambda: submit(url, NEW_FLOW).status_code == 404)
        every_worker_sees(lambda: in_force(url) == {"mou-bekasi": 1})
        [ended] = entries(deployment, "agreement_ended")
        assert ended["agreement_id"] == "mou-depok" and ended["reason"] == "ends_on"
        assert ended["version"] == 2 and ended["previous_version"] == 1
        assert len([e for e in entries(deployment, "agreement_taken_up")
                    if e["agreement_id"] == "mou-depok"]) == 1
        # Its data is kept; nothing more comes in.
        kept = stored()
        assert kept >= IN_A_ROW
        assert submit(url, NEW_FLOW).status_code == 404 and stored() == kept
        deadline = time.monotonic() + DEADLINE
        while f"transfer:{NEW_FLOW}" in {
                r[0] for r in deployment.query(HUB, "SELECT id FROM scheduler_jobs")}:
            assert time.monotonic() < deadline, "the ended flow's job was not removed"
            time.sleep(0.1)
    finally:
        assert node.stop() == 0, node.log_tail()
