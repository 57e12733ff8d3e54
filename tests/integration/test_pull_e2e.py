"""Peer-pull mode with real node processes on loopback: the receiver fetches its batches."""

import json
import os
import subprocess
import sys

import pytest

from gateway.ops.process import NodeProcess, free_port, wait_until
from tests.integration.test_faults import submit  # the same dataset: tanggapan_klarifikasi

pytestmark = pytest.mark.e2e

DATASET = "tanggapan_klarifikasi"  # agreed with delivery = "pull" below


def batches(deployment):
    return deployment.query("pemkot-bekasi", "SELECT status FROM outbound_batches "
                            "WHERE dataset = :d ORDER BY sequence", d=DATASET)


def test_a_receiver_without_inbound_connections_pulls_its_batches(deployment_factory):
    deployment = deployment_factory(interval=1, delivery="pull")
    sender = NodeProcess(deployment.config_path("pemkot-bekasi"),
                         listen=f"127.0.0.1:{deployment.ports['pemkot-bekasi']}",
                         env=deployment.env, log_path=deployment.root / "pemkot-bekasi.log").start()
    receiver = None
    try:
        # The Ombudsman node is not running: the sender's schedule seals, and never posts.
        submit(sender, 3, seed=51)
        wait_until(lambda: batches(deployment) == [("sealed",)], timeout=30,
                   what="the sealed batch")

        # The command pulls it now.
        done = subprocess.run(
            [sys.executable, "-m", "gateway", "transfer", "pull", "--config",
             str(deployment.config_path("ombudsman-ri")), "--dataset", DATASET],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, **deployment.env})
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"received": 1, "delivered": 1, "failed": 0,
                                           "errors": []}
        assert batches(deployment) == [("delivered",)]

        # The receiver's node listens where the agreement does not point: no inbound
        # connection can reach it, and its scheduled pull job fetches the next batch.
        receiver = NodeProcess(deployment.config_path("ombudsman-ri"),
                               listen=f"127.0.0.1:{free_port()}", env=deployment.env,
                               log_path=deployment.root / "ombudsman-ri.log").start()
        submit(sender, 4, seed=52)
        wait_until(lambda: batches(deployment) == [("delivered",), ("delivered",)], timeout=60,
                   what="the second batch pulled by the receiver's schedule")
        assert deployment.query("ombudsman-ri", "SELECT count(*), sum(record_count) "
                                "FROM inbound_batches") == [(2, 7)]
        sent = [e for (e,) in deployment.query(
            "pemkot-bekasi", "SELECT event FROM audit_events ORDER BY idx")]
        assert sent.count("batch_sent") == sent.count("receipt_verified") == 2
        assert "batch_send_failed" not in sent and "request_rejected" not in sent
        received = [e for (e,) in deployment.query(
            "ombudsman-ri", "SELECT event FROM audit_events ORDER BY idx")]
        assert received.count("batch_received") == 2
    finally:
        for node in (sender, receiver):
            if node is not None:
                assert node.stop() == 0, node.log_tail()
