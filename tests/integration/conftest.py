"""Fixtures for the tests that run real node processes."""

import pytest

from gateway.process import NodeProcess


@pytest.fixture
def running(deployment_factory):
    deployment = deployment_factory(interval=1, workers=2)
    nodes = {}
    try:
        for party, port in deployment.ports.items():
            nodes[party] = NodeProcess(deployment.config_path(party), listen=f"127.0.0.1:{port}",
                                       env=deployment.env,
                                       log_path=deployment.root / f"{party}.log").start()
        yield deployment, nodes
    finally:
        for node in nodes.values():
            assert node.stop() == 0, node.log_tail()
