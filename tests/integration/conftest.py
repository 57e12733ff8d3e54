"""Fixtures for the tests that run real node processes."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.process import NodeProcess


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
    started = False
    try:
        start_nodes(nodes.values())
        started = True
        yield deployment, nodes
    finally:
        codes = stop_nodes(nodes.values())
        if started:
            for node, code in zip(nodes.values(), codes, strict=True):
                assert code == 0, node.log_tail()
