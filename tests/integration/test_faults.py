"""Faults with real node processes on loopback: a peer that is down, then back, or gone."""

import pytest
import requests

from gateway.process import NodeProcess, wait_until
from schemas.samples import sample_records
from tests.conftest import TOKENS

pytestmark = pytest.mark.e2e

DATASET = "tanggapan_klarifikasi"
# Short waits so that the test runs in seconds: 1 s, then 2 s; dead after 4 attempts.
RETRY = "max_attempts = 4, initial_seconds = 1, max_seconds = 2"


def start(deployment, party):
    return NodeProcess(deployment.config_path(party),
                       listen=f"127.0.0.1:{deployment.ports[party]}", env=deployment.env,
                       log_path=deployment.root / f"{party}.log").start()


def submit(node, count, seed):
    answer = requests.post(
        f"{node.base_url}/api/v1/datasets/{DATASET}/records",
        json={"schema_version": "1.0", "records": sample_records(DATASET, count, seed=seed)},
        headers={"Authorization": f"Bearer {TOKENS['pemkot-bekasi']['sistem-pengaduan']}"},
        timeout=10)
    assert answer.status_code == 202, answer.text


def batch_state(deployment):
    rows = deployment.query("pemkot-bekasi",
                            "SELECT status, attempts FROM outbound_batches WHERE dataset = :d",
                            d=DATASET)
    return rows[0] if rows else None


def test_a_peer_that_comes_back_gets_the_batch_by_itself(deployment_factory):
    deployment = deployment_factory(interval=1, retry=RETRY)
    sender = start(deployment, "pemkot-bekasi")
    receiver = None
    try:
        submit(sender, 3, seed=11)
        # The Ombudsman node is down: the scheduled transfer fails and waits to retry.
        wait_until(lambda: (batch_state(deployment) or ("", 0))[1] >= 1, timeout=30,
                   what="a failed attempt")
        assert batch_state(deployment)[0] == "sealed"
        receiver = start(deployment, "ombudsman-ri")
        wait_until(lambda: batch_state(deployment)[0] == "delivered", timeout=30,
                   what="delivery once the peer is back")
        assert deployment.query("ombudsman-ri", "SELECT sum(record_count) FROM inbound_batches"
                                ) == [(3,)]
    finally:
        for node in (sender, receiver):
            if node is not None:
                assert node.stop() == 0, node.log_tail()


def test_a_peer_that_never_comes_back_leaves_a_dead_batch(deployment_factory):
    deployment = deployment_factory(interval=1, retry=RETRY)
    sender = start(deployment, "pemkot-bekasi")
    try:
        submit(sender, 2, seed=12)
        wait_until(lambda: (batch_state(deployment) or ("", 0))[0] == "dead", timeout=45,
                   what="the dead-letter state")
        assert batch_state(deployment) == ("dead", 4)
        events = [e for (e,) in deployment.query(
            "pemkot-bekasi", "SELECT event FROM audit_events ORDER BY idx")]
        assert events.count("batch_send_failed") == 4
        assert events.count("batch_dead_lettered") == 1
    finally:
        assert sender.stop() == 0, sender.log_tail()


def test_two_replicas_one_killed_the_other_delivers_exactly_once(deployment_factory):
    import os
    import signal

    from gateway.process import free_port

    deployment = deployment_factory(interval=1, retry=RETRY)
    config = deployment.config_path("pemkot-bekasi")
    # Two replicas of the Pemkot node on one database, each with its own scheduler.
    replicas = [
        NodeProcess(config, listen=f"127.0.0.1:{port}", env=deployment.env,
                    log_path=deployment.root / f"replica-{i}.log").start()
        for i, port in enumerate((deployment.ports["pemkot-bekasi"], free_port()))
    ]
    receiver = None
    try:
        submit(replicas[1], 4, seed=13)  # accepted by either replica
        wait_until(lambda: (batch_state(deployment) or ("", 0))[1] >= 1, timeout=30,
                   what="a failed attempt while the peer is down")
        victim = replicas.pop(0)
        assert victim.proc is not None
        os.killpg(victim.proc.pid, signal.SIGKILL)  # the replica we started, by its PID
        victim.proc.wait(timeout=30)
        assert victim.stop() == -signal.SIGKILL  # closes its log
        receiver = start(deployment, "ombudsman-ri")
        wait_until(lambda: batch_state(deployment)[0] == "delivered", timeout=30,
                   what="delivery by the surviving replica")
        assert deployment.query("ombudsman-ri", "SELECT count(*), sum(record_count) "
                                "FROM inbound_batches") == [(1, 4)]
        assert deployment.query("pemkot-bekasi", "SELECT count(*) FROM outbound_batches") == [(1,)]
    finally:
        for node in (*replicas, receiver):
            if node is not None:
                assert node.stop() == 0, node.log_tail()
