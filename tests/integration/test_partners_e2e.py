"""A hub and two partners, real node processes under signed agreements: one dataset sent
to many partners, each submission naming its receiver (docs/API.md)."""

import pytest
import requests

from gateway.ops.process import NodeProcess, wait_until
from schemas.samples import sample_records
from tests.integration.conftest import nodes_running
from tests.partners_deployment import HUB, HUB_TOKEN, make_partners_deployment, partner_token

pytestmark = pytest.mark.e2e

PARTNERS = ("pemkot-bekasi", "pemkot-depok")
ASKED = "permintaan_klarifikasi"
ANSWERED = "tanggapan_klarifikasi"


@pytest.fixture
def hub_and_partners(deployment_factory, tmp_path):
    # deployment_factory: the nodes' databases follow the backend under test.
    deployment = make_partners_deployment(tmp_path / "partners", PARTNERS, interval=1)
    nodes = {
        party: NodeProcess(deployment.config_path(party), listen=f"127.0.0.1:{port}",
                           env=deployment.as_deployment().env,
                           log_path=deployment.root / f"{party}.log")
        for party, port in deployment.ports.items()
    }
    with nodes_running(nodes):
        yield deployment, nodes


def _auth(party):
    return {"Authorization": f"Bearer {HUB_TOKEN if party == HUB else partner_token(party)}"}


def _submit(nodes, party, dataset, body):
    return requests.post(f"{nodes[party].base_url}/api/v1/datasets/{dataset}/records",
                         json=body, headers=_auth(party), timeout=10)


def _arrived(nodes, party, dataset):
    url = f"{nodes[party].base_url}/api/v1/datasets/{dataset}/batches"
    return requests.get(url, headers=_auth(party), timeout=5).json()["batches"]


def _records(nodes, party, batch_id):
    url = f"{nodes[party].base_url}/api/v1/batches/{batch_id}"
    return requests.get(url, headers=_auth(party), timeout=5).json()["records"]


def test_one_dataset_to_two_partners_each_gets_its_own(hub_and_partners):
    deployment, nodes = hub_and_partners
    records = {p: sample_records(ASKED, 3 + i, seed=i, version="1.0")
               for i, p in enumerate(PARTNERS)}

    unnamed = _submit(nodes, HUB, ASKED, {"schema_version": "1.0", "records": records[PARTNERS[0]]})
    assert unnamed.status_code == 422, unnamed.text
    error = unnamed.json()["error"]
    assert (error["code"], error["path"]) == ("receiver_required", "/receiver")
    assert error["receivers"] == list(PARTNERS)
    indonesian = requests.post(
        f"{nodes[HUB].base_url}/api/v1/datasets/{ASKED}/records",
        json={"schema_version": "1.0", "records": records[PARTNERS[0]]},
        headers={**_auth(HUB), "Accept-Language": "id"}, timeout=10)
    assert "salah satu dari pemkot-bekasi, pemkot-depok" in indonesian.json()["error"]["message"]
    stranger = _submit(nodes, HUB, ASKED, {"schema_version": "1.0", "receiver": "pemkot-bogor",
                                           "records": records[PARTNERS[0]]})
    assert stranger.status_code == 422
    assert stranger.json()["error"]["code"] == "unknown_receiver"

    submitted = {}
    for partner in PARTNERS:
        answer = _submit(nodes, HUB, ASKED, {"schema_version": "1.0", "receiver": partner,
                                             "records": records[partner]})
        assert answer.status_code == 202, answer.text
        assert answer.json()["receiver"] == partner
        submitted[partner] = answer.json()["submission_id"]
    # Each partner answers; a partner sends to the hub alone and names no receiver.
    answers = {p: sample_records(ANSWERED, 2, seed=7 + i, version="1.0")
               for i, p in enumerate(PARTNERS)}
    for partner in PARTNERS:
        answer = _submit(nodes, partner, ANSWERED,
                         {"schema_version": "1.0", "records": answers[partner]})
        assert answer.status_code == 202, answer.text
        assert answer.json()["receiver"] == HUB

    for partner in PARTNERS:
        # The hub's schedule runs every second; nobody triggers the transfer by hand.
        wait_until(lambda p=partner: _arrived(nodes, p, ASKED), timeout=60,
                   what=f"{ASKED} at {partner}")
        (item,) = _arrived(nodes, partner, ASKED)
        assert _records(nodes, partner, item["batch_id"]) == records[partner]
        status = requests.get(f"{nodes[HUB].base_url}/api/v1/submissions/{submitted[partner]}",
                              headers=_auth(HUB), timeout=5).json()
        assert status["receiver"] == partner
        assert [b["receiver"] for b in status["batches"]] == [partner]
    hub = deployment.as_deployment()
    # One channel per partner, each numbered from 1, on both sides.
    sealed = hub.query(HUB, "SELECT receiver, sequence FROM outbound_batches "
                            "WHERE dataset = :d ORDER BY receiver", d=ASKED)
    assert [tuple(r) for r in sealed] == [(p, 1) for p in PARTNERS]
    for partner in PARTNERS:
        got = hub.query(partner, "SELECT sender, sequence FROM inbound_batches")
        assert [tuple(r) for r in got] == [(HUB, 1)]
        pending = hub.query(HUB, "SELECT receiver FROM submissions WHERE id = :id",
                            id=submitted[partner])
        assert [r[0] for r in pending] == [partner]

    wait_until(lambda: len(_arrived(nodes, HUB, ANSWERED)) == 2, timeout=60,
               what=f"{ANSWERED} from both partners at the hub")
    got = hub.query(HUB, "SELECT sender, sequence FROM inbound_batches WHERE dataset = :d "
                         "ORDER BY sender", d=ANSWERED)
    assert [tuple(r) for r in got] == [(p, 1) for p in PARTNERS]
