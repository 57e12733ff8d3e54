"""Two real nodes with mutual TLS: HTTPS between them and for their institutions' systems."""

import subprocess
import sys

import pytest
import requests

from gateway.node.config import load_agreement
from gateway.node.node import Node
from gateway.node.outbound_tls import PeerTLS
from gateway.ops.devca import CA_CERT, client_files, make_dev_ca, party_files
from gateway.ops.process import NodeProcess, wait_until
from gateway.peers import jwks
from schemas.samples import sample_records
from tests.conftest import PARTIES, TOKENS

pytestmark = pytest.mark.e2e

# Each party's system that submits and pulls (the first client of TOKENS).
SYSTEMS = {party: next(iter(TOKENS[party])) for party in PARTIES}
# permintaan_klarifikasi is pushed to Pemkot; tanggapan_klarifikasi is pulled by the Ombudsman.
SENDS = {"ombudsman-ri": "permintaan_klarifikasi", "pemkot-bekasi": "tanggapan_klarifikasi"}
OTHER = {"ombudsman-ri": "pemkot-bekasi", "pemkot-bekasi": "ombudsman-ri"}

TLS_TABLE = """
[node.tls]
cert_file = "tls/{party}.pem"
key_file = "tls/{party}-key.pem"
client_ca_file = "tls/ca.pem"
peer_ca_file = "tls/ca.pem"
"""


@pytest.fixture(scope="module")
def mtls(deployment_factory, tmp_path_factory):
    """Both nodes serving HTTPS, each asking every client for a certificate of the dev CA."""
    deployment = deployment_factory(interval=1, workers=1, delivery="pull")
    path = deployment.root / "agreement.toml"
    path.write_text(path.read_text().replace("http://127.0.0.1", "https://127.0.0.1"))
    agreement = load_agreement(path)
    tls_dir = deployment.root / "tls"
    make_dev_ca(tls_dir, agreement, clients=[*SYSTEMS.values(), "auditor"])
    # The same names from a CA that the nodes do not trust.
    rogue_dir = tmp_path_factory.mktemp("rogue-ca")
    make_dev_ca(rogue_dir, agreement, clients=list(SYSTEMS.values()))
    clients = {
        party: PeerTLS(ca_file=tls_dir / CA_CERT, cert=client_files(tls_dir, name))
        for party, name in SYSTEMS.items()
    }
    for party in PARTIES:
        config = deployment.config_path(party)
        text = config.read_text().replace("[node]\n", '[node]\nmode = "development"\n', 1)
        config.write_text(text + TLS_TABLE.format(party=party))
    nodes = {}
    try:
        for party, port in deployment.ports.items():
            nodes[party] = NodeProcess(
                deployment.config_path(party), listen=f"127.0.0.1:{port}", env=deployment.env,
                log_path=deployment.root / f"{party}.log", tls=clients[party]).start()
        yield deployment, nodes, clients, rogue_dir
    finally:
        for node in nodes.values():
            assert node.stop() == 0, node.log_tail()


def test_a_batch_goes_each_way_over_mutual_tls(mtls):
    deployment, nodes, clients, _ = mtls
    sent = {}
    for party, dataset in SENDS.items():
        sent[party] = sample_records(dataset, 12, seed=len(party), version="1.0")
        answer = requests.post(
            f"{nodes[party].base_url}/api/v1/datasets/{dataset}/records",
            json={"schema_version": "1.0", "records": sent[party]},
            headers=auth(party), timeout=10, **clients[party].options())
        assert answer.status_code == 202, answer.text
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"

    for sender, dataset in SENDS.items():
        receiver = OTHER[sender]
        base, tls = nodes[receiver].base_url, clients[receiver].options()

        def arrived(base=base, tls=tls, dataset=dataset, receiver=receiver):
            return requests.get(f"{base}/api/v1/datasets/{dataset}/batches",
                                headers=auth(receiver), timeout=5, **tls).json()["batches"]

        # The schedulers push (permintaan) or pull (tanggapan) every second, over HTTPS.
        wait_until(arrived, timeout=30, what=f"{dataset} at {receiver}")
        (item,) = arrived()
        batch = requests.get(f"{base}/api/v1/batches/{item['batch_id']}",
                             headers=auth(receiver), timeout=5, **tls).json()
        assert batch["records"] == sent[sender]
        ack = requests.post(f"{base}/api/v1/batches/{item['batch_id']}/ack",
                            headers=auth(receiver), timeout=5, **tls)
        assert ack.status_code == 200

        def status(sender=sender, batch_id=item["batch_id"]):
            return deployment.query(sender, "SELECT status FROM outbound_batches "
                                    "WHERE batch_id = :b", b=batch_id)

        wait_until(lambda s=status: s() == [("delivered",)], timeout=10, what="delivered")

    # Each node's witness cosigned the other's checkpoints, over HTTPS too.
    for party in PARTIES:
        wait_until(lambda p=party: deployment.query(p, "SELECT count(*) FROM audit_cosignatures")
                   != [(0,)], timeout=10, what=f"a cosignature of {party}'s log")


def test_a_process_configured_with_the_node_reaches_its_peer(mtls):
    deployment, *_ = mtls
    # Node.from_config registers the node's TLS settings for its peers' https origins.
    node = Node.from_config(deployment.config("pemkot-bekasi"), environ=deployment.env)
    try:
        report = jwks.refresh(node)
    finally:
        node.store.dispose()
    assert report.failed == {}
    assert report.updated + report.unchanged == ["ombudsman-ri"]


def test_a_client_without_a_certificate_of_the_agreed_ca_is_refused(mtls):
    _, nodes, clients, rogue_dir = mtls
    ca = str(clients["pemkot-bekasi"].ca_file)
    url = f"{nodes['pemkot-bekasi'].base_url}/healthz"
    assert requests.get(url, timeout=5, **clients["pemkot-bekasi"].options()).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5, verify=ca)
    rogue = tuple(str(p) for p in client_files(rogue_dir, SYSTEMS["pemkot-bekasi"]))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=5, verify=ca, cert=rogue)
    # Nor may a node of another CA pose as the peer, with the peer's very name.
    impostor = tuple(str(p) for p in party_files(rogue_dir, "ombudsman-ri"))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url.replace("/healthz", "/exchange/v1/jwks"), timeout=5, verify=ca,
                     cert=impostor)
    # Plain HTTP gets no answer from a node that serves HTTPS.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url.replace("https://", "http://"), timeout=5)


def test_an_auditor_verifies_a_log_over_mutual_tls(mtls, tmp_path):
    deployment, nodes, *_ = mtls
    party = "ombudsman-ri"
    wait_until(lambda: deployment.query(party, "SELECT count(*) FROM audit_checkpoints")
               != [(0,)], timeout=10, what="a checkpoint")
    tls_dir = deployment.root / "tls"
    args = [sys.executable, "-m", "gateway", "audit", "verify", "--url", nodes[party].base_url,
            "--agreement", str(deployment.root / "agreement.toml"), "--no-state",
            "--min-cosignatures", "0", "--tls-ca", str(tls_dir / CA_CERT)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "GATEWAY_AUDIT_TOKEN": TOKENS[party]["auditor"]}
    cert, key = client_files(tls_dir, "auditor")
    done = subprocess.run([*args, "--tls-cert", str(cert), "--tls-key", str(key)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("OK")
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stderr == "gateway: error: cannot reach the node: SSLError\n"


def auth(party):
    return {"Authorization": f"Bearer {TOKENS[party][SYSTEMS[party]]}"}
