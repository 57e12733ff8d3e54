"""Fixtures for the tests that run real node processes."""

import contextlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from gateway.ops.process import NodeProcess, wait_until
from schemas.samples import sample_records
from tests.conftest import TOKENS


def start_nodes(nodes):
    """Start node processes side by side (each waits until it answers), not one after another.

    Raises the first failure to start, after every start has ended; the caller stops
    the nodes in any case.
    """
    with ThreadPoolExecutor(len(nodes)) as pool:
        for started in [pool.submit(node.start) for node in nodes]:
            started.result()


def stop_nodes(nodes):
    """Stop node processes side by side; their exit codes, in order."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        return list(pool.map(lambda node: node.stop(), nodes))


@pytest.fixture
def running(deployment_factory):
    deployment = deployment_factory(interval=1, workers=2)
    nodes = {party: NodeProcess(deployment.config_path(party), listen=f"127.0.0.1:{port}",
                                env=deployment.env, log_path=deployment.root / f"{party}.log")
             for party, port in deployment.ports.items()}
    with nodes_running(nodes):
        yield deployment, nodes


@contextlib.contextmanager
def nodes_running(nodes):
    """Start ``nodes`` (a dict of NodeProcess), and stop them, each exiting cleanly."""
    started = False
    try:
        start_nodes(nodes.values())
        started = True
        yield nodes
    finally:
        codes = stop_nodes(nodes.values())
        if started:
            for node, code in zip(nodes.values(), codes, strict=True):
                assert code == 0, node.log_tail()


SENDS = {"ombudsman-ri": "permintaan_klarifikasi", "pemkot-bekasi": "tanggapan_klarifikasi"}
SUBMITTERS = {"ombudsman-ri": "simpel", "pemkot-bekasi": "sistem-pengaduan"}


def gateway(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def refused(deployment, party):
    """The refusals a node counted (gateway.node.refusals), {(kind, peer or client): count}: those
    its schedule already wrote to the log and those whose interval is still open."""
    import json
    from collections import Counter

    found = Counter()
    # One statement, one snapshot: the roll-up moves a count from the table to the log.
    for kind, subject, count, entry in deployment.query(party, (
            "SELECT kind, subject, count, NULL FROM refusal_counts UNION ALL "
            "SELECT NULL, NULL, NULL, entry FROM audit_events WHERE event = 'requests_refused'")):
        if entry is None:
            found[(kind, subject or None)] += count
        else:
            e = json.loads(entry)
            found[(e["reason"], e.get("peer") or e.get("client"))] += e["count"]
    return found


def latest_is_cosigned(deployment, party):
    [(count,)] = deployment.query(
        party, "SELECT count(*) FROM audit_cosignatures WHERE size = "
        "(SELECT max(size) FROM audit_checkpoints) AND size = (SELECT count(*) FROM audit_events)")
    return count


@pytest.fixture
def exchanged(running):
    """Each node has sent the other a batch of 5 records; both logs are cosigned."""
    deployment, nodes = running
    for party, dataset in SENDS.items():
        answer = requests.post(
            f"{nodes[party].base_url}/api/v1/datasets/{dataset}/records",
            json={"schema_version": "1.0",
                  "records": sample_records(dataset, 5, seed=3, version="1.0")},
            headers={"Authorization": f"Bearer {TOKENS[party][SUBMITTERS[party]]}"},
            timeout=10)
        assert answer.status_code == 202, answer.text

    wait_until_exchanged(deployment, SENDS)
    return deployment, nodes


def wait_until_exchanged(deployment, parties):
    """Wait until each party delivered one batch, with its receipt, and received one, and
    each log's latest checkpoint, which covers every entry, is cosigned by the peer's
    witness (after a transfer, or on the checkpoint schedule)."""
    def settled():
        return all(
            deployment.query(p, "SELECT count(*) FROM outbound_batches "
                                "WHERE status = 'delivered'") == [(1,)]
            and deployment.query(p, "SELECT count(*) FROM inbound_batches") == [(1,)]
            and latest_is_cosigned(deployment, p)
            for p in parties
        )

    wait_until(settled, timeout=45, what="both batches delivered and both logs cosigned")
