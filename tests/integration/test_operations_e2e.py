"""Operations of real node processes: readiness, metrics summed over gunicorn workers, JSON logs."""

import json
import os

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from gateway.ops import gunicorn_config
from gateway.ops.process import NodeProcess, free_port, wait_until
from tests.conftest import TOKENS

pytestmark = pytest.mark.e2e

PEMKOT = "pemkot-bekasi"
LINE_FIELDS = {"timestamp", "level", "logger", "process", "message"}


def auth(client="sistem-pengaduan"):
    return {"Authorization": f"Bearer {TOKENS[PEMKOT][client]}"}


def log_lines(node):
    """The node's complete log lines so far, each parsed as JSON (any other line fails)."""
    text = node.log_path.read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]
    lines = []
    for raw in complete.splitlines():
        if raw.strip():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                pytest.fail(f"a log line that is not JSON: {raw!r}")
    return lines


def heartbeat_files(node):
    """The files named wgunicorn-* that the node's processes hold open (gunicorn's heartbeats)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                group = int(fh.read().rpartition(")")[2].split()[2])
            if group != node.proc.pid:  # NodeProcess starts it as a process group of its own
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                if os.path.basename(target).startswith("wgunicorn-"):
                    found.append(target)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def request_counts(base_url, route):
    answer = requests.get(f"{base_url}/metrics", headers=auth("operator"), timeout=10)
    assert answer.status_code == 200
    samples = [s for family in text_string_to_metric_families(answer.text)
               for s in family.samples]
    total = sum(s.value for s in samples if s.name == "gateway_http_requests_total"
                and s.labels == {"method": "GET", "route": route, "status": "200"})
    timed = [s for s in samples if s.name == "gateway_http_request_duration_seconds_count"
             and s.labels == {"method": "GET", "route": route}]
    return total, timed


def test_real_nodes_are_ready_count_over_workers_and_log_json(running):
    """One pair of nodes for all of it: starting nodes is what takes time here."""
    deployment, nodes = running
    pemkot = nodes[PEMKOT]
    base = pemkot.base_url

    # Both nodes up, each scheduler running its jobs, each reaching the other.
    for node in nodes.values():
        answer = requests.get(f"{node.base_url}/readyz", timeout=10)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready", "checks": {
            "database": "ok", "keys": "ok", "scheduler": "ok", "peers": "ok"}}

    # Requests until both gunicorn workers (workers = 2) have answered some.
    route = "/api/v1/schemas"
    sent = 0

    def served_by_two_workers():
        nonlocal sent
        for _ in range(10):
            assert requests.get(f"{base}{route}", headers=auth(), timeout=10).status_code == 200
            sent += 1
        workers = {line["process"] for line in log_lines(pemkot)
                   if line["logger"] == "gateway.request" and line.get("route") == route}
        return len(workers) >= 2

    wait_until(served_by_two_workers, timeout=60, interval=0, what="both workers answering")
    # Each worker touches its heartbeat file in memory, where the touch never waits
    # behind the disk's journal (gateway.ops.gunicorn_config.worker_tmp_dir).
    beats = set(heartbeat_files(pemkot))  # each open in its worker and in the master
    assert len(beats) == 2
    assert all(b.startswith(gunicorn_config.worker_tmp_dir + "/") for b in beats), beats
    # Whichever worker answers the scrape, it counts every worker's requests.
    for _ in range(6):
        total, timed = request_counts(base, route)
        assert total >= sent
        assert timed and timed[0].value >= sent

    # A request id the client sends is in the answer and in the node's log lines.
    answer = requests.get(f"{base}{route}", headers={**auth(), "X-Request-Id": "e2e-trace.1"},
                          timeout=10)
    assert answer.headers["X-Request-Id"] == "e2e-trace.1"
    anonymous = requests.get(f"{base}/api/v1/schemas", timeout=10)
    assert anonymous.status_code == 401
    made = anonymous.headers["X-Request-Id"]
    assert len(made) == 32

    def logged(request_id):
        return [line for line in log_lines(pemkot) if line.get("request_id") == request_id]

    wait_until(lambda: logged("e2e-trace.1") and logged(made), timeout=10,
               what="the request lines")
    (line,) = logged("e2e-trace.1")
    assert line["logger"] == "gateway.request" and line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"], line["client"]) == (
        "GET", route, 200, "sistem-pengaduan")
    assert line["duration_seconds"] >= 0
    assert [(x["route"], x["status"]) for x in logged(made)] == [(route, 401)]

    # Every line of both nodes is JSON with the common fields (gunicorn's too), and
    # no token appears in any.
    for node in nodes.values():
        lines = log_lines(node)
        assert all(set(line) >= LINE_FIELDS for line in lines), lines[:3]
        assert {"gunicorn.error", "gateway.request"} <= {line["logger"] for line in lines}
        text = node.log_path.read_text(encoding="utf-8")
        for party_tokens in TOKENS.values():
            for token in party_tokens.values():
                assert token not in text

    # A replica of Pemkot's node, with gunicorn's access log, which is JSON too.
    replica = NodeProcess(deployment.config_path(PEMKOT), listen=f"127.0.0.1:{free_port()}",
                          env={**deployment.env, "GATEWAY_ACCESS_LOG": "1"},
                          log_path=deployment.root / "replica.log", args=("--no-scheduler",))
    try:
        replica.start()
        answer = requests.get(f"{replica.base_url}/api/v1/schemas?x=1", headers=auth(),
                              timeout=10)
        assert answer.status_code == 200
        request_id = answer.headers["X-Request-Id"]

        def access_line():
            return [line for line in log_lines(replica) if line["logger"] == "gunicorn.access"
                    and line.get("request_id") == request_id]

        wait_until(access_line, timeout=10, what="the access log line")
        (line,) = access_line()
        assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/schemas", 200)
        assert "x=1" not in line["message"]
        assert line["duration_seconds"] >= 0 and "remote_addr" in line
        # The replica shares the node's database, where the other replica's scheduler
        # keeps the jobs running: it is ready too.
        ready = requests.get(f"{replica.base_url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
    finally:
        assert replica.stop() == 0, replica.log_tail()
