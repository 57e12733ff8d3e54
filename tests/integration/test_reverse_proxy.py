"""A node behind Debian's nginx (gateway proxy nginx), and signed requests refused unread.

Real processes on loopback: two nodes (gunicorn, scheduler), Pemkot Bekasi's behind
nginx rendered from the shipped configuration, with short timeouts. Pemkot's
``base_url`` in the agreement is the proxy's address, so the Ombudsman's node
delivers and asks for witnessing through it. The nginx tests are skipped where
nginx is not installed (``scripts/test`` installs it as root).
"""

import contextlib
import datetime as dt
import select
import socket
import time
from collections import Counter

import pytest
import requests
from joserfc.jwk import OKPKey

from gateway.crypto.keys import NodeKeys
from gateway.node import refusals
from gateway.ops.process import NodeProcess, free_port
from gateway.ops.proxy import NginxProcess, ProxyLimits, find_nginx, render_nginx
from gateway.peers import signed_requests
from schemas.samples import sample_records
from tests.conftest import TOKENS
from tests.integration.conftest import refused, start_nodes, stop_nodes, wait_until_exchanged

# nginx in front of a node does not depend on the node's database.
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_pass]

PEMKOT, OMBUDSMAN = "pemkot-bekasi", "ombudsman-ri"
BIG = 16 * 1024 * 1024
# Short timeouts, so that slow clients are cut within the test's few seconds.
LIMITS = ProxyLimits(header_timeout=2, body_timeout=2, send_timeout=5, keepalive_timeout=5,
                     upstream_timeout=30)

needs_nginx = pytest.mark.skipif(
    find_nginx() is None,
    reason="nginx is not installed, the reverse proxy tests are skipped "
           "(as root: apt-get install nginx, which scripts/test does; or set GATEWAY_NGINX)")


@pytest.fixture(scope="module")
def nodes(deployment_factory):
    """Both nodes; Pemkot's listens on a port of its own, its base_url being the proxy's."""
    deployment = deployment_factory(interval=1, workers=2, max_body=BIG)
    listen = {PEMKOT: f"127.0.0.1:{free_port()}",
              OMBUDSMAN: f"127.0.0.1:{deployment.ports[OMBUDSMAN]}"}
    running = {party: NodeProcess(deployment.config_path(party), listen=listen[party],
                                  env=deployment.env, log_path=deployment.root / f"{party}.log")
               for party in listen}
    try:
        start_nodes(running.values())
        yield deployment, running
    finally:
        stop_nodes(running.values())


@pytest.fixture(scope="module")
def proxy(nodes):
    if find_nginx() is None:
        pytest.skip("nginx is not installed")
    deployment, running = nodes
    listen = f"127.0.0.1:{deployment.ports[PEMKOT]}"
    site = render_nginx(deployment.config(PEMKOT), listen=listen, server_name="localhost",
                        tls=None, upstream=running[PEMKOT].listen, limits=LIMITS)
    nginx = NginxProcess(site, listen=listen, prefix=deployment.root / "nginx",
                         log_path=deployment.root / "nginx.log")
    try:
        yield nginx.start()
    finally:
        nginx.stop()


def raw_request(address, head, *, timeout):
    """Send a request's head (and no body); the status line of the answer, or None by timeout."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        received = b""
        try:
            while b"\r\n" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            return None
        return received.split(b"\r\n", 1)[0]


def head(address, authorization):
    lines = [f"POST {signed_request_path()} HTTP/1.1", f"Host: {address}",
             "Content-Type: application/jose", f"Content-Length: {BIG}"]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + b"eyJ"  # and 3 bytes of the 16 MiB


def signed_request_path():
    return "/exchange/v1/batches"


def test_a_bad_request_signature_is_answered_before_the_body_is_sent(nodes):
    """Straight to gunicorn: a request announcing 16 MiB (the node's limit) of which only
    the head is sent is refused at once when its signature header fails a check."""
    deployment, running = nodes
    node = running[PEMKOT]
    keys = NodeKeys.from_directory(deployment.config(OMBUDSMAN).key_dir, environ=deployment.env)
    now = dt.datetime.now(dt.UTC)

    def signed(key=keys.signing, audience=PEMKOT, at=now, body=bytes(BIG)):
        return signed_requests.authorization(
            signing_key=key, issuer=OMBUDSMAN, audience=audience, method="POST",
            target=signed_request_path(), body=body, now=at)

    spent = signed(body=b"x")
    first = requests.post(f"{node.base_url}{signed_request_path()}", data=b"x", timeout=10,
                          headers={"Authorization": spent, "Content-Type": "application/jose"})
    assert first.status_code == 400  # signed, not an envelope: its id is spent
    cases = {
        "missing": None,
        "scheme": f"Bearer {TOKENS[PEMKOT]['sistem-pengaduan']}",
        "unknown_key": signed(key=OKPKey.generate_key("Ed25519")),
        "wrong_audience": signed(audience="kota-depok"),
        "stale": signed(at=now - dt.timedelta(seconds=400)),
        "replay": spent,
    }
    for case, authorization in cases.items():
        started = time.monotonic()
        status = raw_request(node.listen, head(node.listen, authorization), timeout=5)
        assert status is not None, f"{case}: no answer in 5 s (the node waits for the body)"
        assert status.startswith(b"HTTP/1.1 401 "), (case, status)
        assert time.monotonic() - started < 5
    # Not audited one by one (the caller is not authenticated): counted, once each.
    kinds = Counter()
    for (kind, _peer), count in refused(deployment, PEMKOT).items():
        kinds[kind] += count
    assert kinds == Counter(refusals.signed_kind(case) for case in cases)


@needs_nginx
def test_a_node_behind_nginx_exchanges_both_ways(nodes, proxy):
    deployment, running = nodes
    health = requests.get(f"{proxy.base_url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert health.headers["Server"] == "nginx"  # server_tokens off: no version
    sends = {PEMKOT: ("tanggapan_klarifikasi", proxy.base_url, "sistem-pengaduan"),
             OMBUDSMAN: ("permintaan_klarifikasi", running[OMBUDSMAN].base_url, "simpel")}
    for party, (dataset, base, client) in sends.items():
        answer = requests.post(
            f"{base}/api/v1/datasets/{dataset}/records",
            json={"schema_version": "1.0",
                  "records": sample_records(dataset, 5, seed=3, version="1.0")},
            headers={"Authorization": f"Bearer {TOKENS[party][client]}"}, timeout=10)
        assert answer.status_code == 202, answer.text

    # The Ombudsman's node delivers to Pemkot and asks it to witness through nginx.
    wait_until_exchanged(deployment, sends)
    # Bodies over a route's limit are refused by nginx, before the node sees them.
    for path, size in (("/exchange/v1/outbox/x/receipt", 64 * 1024 + 1),
                       ("/exchange/v1/witness/add-checkpoint", 64 * 1024 + 1),
                       ("/console/login", 64 * 1024 + 1),
                       ("/exchange/v1/batches", BIG + 1)):
        status = raw_request(proxy.listen, (
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n").encode(), timeout=5)
        assert status is not None and status.startswith(b"HTTP/1.1 413 "), (path, status)


@needs_nginx
def test_slow_clients_are_cut_by_nginx_and_probes_still_answer(nodes, proxy):
    """60 connections: 40 send their head a byte at a time, 20 send a head and stall in the
    body. Health probes through nginx answer within a second throughout; nginx cuts every
    slow connection (client_header_timeout, client_body_timeout: 2 s here)."""
    host, port = proxy.listen.rsplit(":", 1)
    trickling = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 200
    stalled = (b"POST /api/v1/datasets/tanggapan_klarifikasi/records HTTP/1.1\r\n"
               b"Host: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
               b"\r\n{\"records\": ")
    slow = []
    for index in range(60):
        sock = socket.create_connection((host, int(port)), timeout=2)
        sock.setblocking(False)
        if index >= 40:
            sock.send(stalled)
        slow.append(sock)
    trickle = {sock: 0 for sock in slow[:40]}
    open_ = set(slow)
    probes = []
    started = time.monotonic()
    deadline = started + 8  # the loop ends by itself; nginx cuts all well before
    try:
        while open_ and time.monotonic() < deadline:
            for sock in list(trickle):
                if sock in open_ and trickle[sock] < len(trickling):
                    try:
                        sock.send(trickling[trickle[sock]:trickle[sock] + 1])
                        trickle[sock] += 1
                    except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                        pass
            readable, _, _ = select.select(list(open_), [], [], 0.25)
            for sock in readable:  # an answer (408) before the request is whole, or the close
                with contextlib.suppress(ConnectionResetError, BlockingIOError):
                    sock.recv(4096)
                open_.discard(sock)
            probe = time.monotonic()
            answer = requests.get(f"{proxy.base_url}/healthz", timeout=1)
            probes.append((answer.status_code, time.monotonic() - probe))
        elapsed = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    assert not open_, f"{len(open_)} slow connections still open after {elapsed:.1f} s"
    assert elapsed < LIMITS.header_timeout + LIMITS.body_timeout + 2
    assert len(probes) >= 4
    assert all(status == 200 and seconds < 1 for status, seconds in probes), probes
