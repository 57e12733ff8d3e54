"""Benchmarks of a gateway node, each against a baseline measured in the same run.

``submission``: single-record submissions (``POST /api/v1/datasets/
tanggapan_klarifikasi/records`` with one record, answered 202 after a durable
SQLite commit) to the Pemkot Bekasi node running under gunicorn, against a
plain Flask app that parses the same JSON body and answers 202, served by
gunicorn with the same settings (``gateway.gunicorn_config``: same worker
count and worker class). Both servers run side by side on loopback; the same
client threads send the same bodies to both, in alternating rounds.

Prints one JSON line per figure on stdout::

    {"name": ..., "value": ..., "unit": ..., "baseline": ..., "ratio": ...}

where ``ratio`` is ``value / baseline``. Progress goes to stderr. Exits
non-zero if any request was not answered 202 or the run overran its time limit.

Usage: ``./scripts/bench [--requests N] [--concurrency C] [--rounds R] ...``
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from gateway import gunicorn_config
from gateway.config import load_node_config
from gateway.process import NodeProcess, ServerProcess, free_port
from schemas.samples import sample_records

ROOT = Path(__file__).resolve().parent.parent
PARTY = "pemkot-bekasi"
PEER = "ombudsman-ri"
DATASET = "tanggapan_klarifikasi"
PATH = f"/api/v1/datasets/{DATASET}/records"
TOKEN = "dev-only-pemkot-sistem-pengaduan"  # noqa: S105 (development token; hash in config/)
PASSPHRASE = "bench-only-passphrase"  # noqa: S105 (throw-away keys in a temp directory)
SAMPLE_POOL = 64  # distinct sample records, sent in turn

# The baseline: a plain Flask app that parses the same JSON body and answers 202.
BASELINE_APP = '''\
import json

from flask import Flask, jsonify, request

app = Flask("bench_baseline")


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@app.post("/api/v1/datasets/<dataset>/records")
def submit_records(dataset):
    body = json.loads(request.get_data(cache=False))
    return jsonify({"dataset": dataset, "record_count": len(body["records"])}), 202
'''


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)



# -- the servers ------------------------------------------------------------------------------


def baseline_server(app_dir: Path, *, listen: str, workers: int, threads: int,
                    log_path: Path) -> ServerProcess:
    """The plain Flask app under gunicorn with the gateway's gunicorn settings."""
    env = {"GATEWAY_WORKERS": str(workers), "GATEWAY_THREADS": str(threads)}
    return ServerProcess(
        [sys.executable, "-m", "gunicorn", "-c", "python:gateway.gunicorn_config",
         "--pythonpath", str(app_dir), "bench_baseline:app"],
        listen=listen, env=env, log_path=log_path, cwd=ROOT,
    )


def gateway_cli(*args: str, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"'gateway {' '.join(args)}' failed:\n{done.stderr.strip()}")


def prepare_node(tmp: Path, env: dict[str, str]) -> Path:
    """Copies of config/*.toml in ``tmp/config`` with fresh keys for both parties in ``tmp/keys``.

    The copies keep their relative paths, so ``../keys/<party>`` (each node's key
    directory, and the ``jwks_file`` of each party in the agreement) points into ``tmp``.
    Returns the Pemkot Bekasi node config.
    """
    config_dir = tmp / "config"
    config_dir.mkdir()
    for name in ("agreement.toml", f"{PARTY}.toml", f"{PEER}.toml"):
        shutil.copyfile(ROOT / "config" / name, config_dir / name)
    for party in (PARTY, PEER):
        key_dir = tmp / "keys" / party
        gateway_cli("keys", "init", "--config", str(config_dir / f"{party}.toml"),
                    env={**env, "GATEWAY_KEY_DIR": str(key_dir)})
    config_path = config_dir / f"{PARTY}.toml"
    agreement = load_node_config(config_path, environ={}).agreement
    for party in (PARTY, PEER):
        jwks = agreement.party(party).jwks_file
        if not jwks.is_file() or not jwks.is_relative_to(tmp.resolve()):
            raise RuntimeError(f"expected the {party} JWKS inside the temp dir, not {jwks}")
    return config_path


# -- the load generator -----------------------------------------------------------------------


@dataclass
class Tally:
    """What one target answered during the measured rounds."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get("202", 0)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != "202")


def run_load(
    base_url: str, bodies: list[bytes], count: int, *, concurrency: int, deadline: float,
    tally: Tally | None = None,
) -> Tally:
    """``count`` POSTs from ``concurrency`` threads; adds timings and statuses to ``tally``."""
    tally = tally if tally is not None else Tally()
    host, _, port = base_url.removeprefix("http://").rpartition(":")
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {TOKEN}",
    }
    lock = threading.Lock()
    next_index = iter(range(count))
    start_gate = threading.Barrier(concurrency + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        errors: list[str] = []
        start_gate.wait()
        try:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    break
                if time.monotonic() > deadline:
                    statuses["timed_out"] = statuses.get("timed_out", 0) + 1
                    continue
                began = time.perf_counter()
                try:
                    # Connections are kept alive between requests where the server
                    # allows it; http.client reconnects when the server closed one.
                    conn.request("POST", PATH, body=bodies[i % len(bodies)], headers=headers)
                    response = conn.getresponse()
                    answer = response.read()
                    status = str(response.status)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status = type(exc).__name__
                    answer = str(exc).encode()
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
                if status != "202":
                    message = f"{status}: {answer[:300].decode(errors='replace').strip()}"
                    if message not in errors:
                        errors.append(message)
        finally:
            conn.close()
            with lock:
                tally.latencies.extend(latencies)
                for s, n in statuses.items():
                    tally.statuses[s] = tally.statuses.get(s, 0) + n
                for message in errors:
                    if message not in tally.errors and len(tally.errors) < 3:
                        tally.errors.append(message)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic() + 35))
    tally.seconds += time.perf_counter() - began
    if any(t.is_alive() for t in threads):
        tally.statuses["hung"] = tally.statuses.get("hung", 0) + 1
    return tally


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def figure(name: str, value: float, unit: str, baseline: float, digits: int) -> str:
    return json.dumps({
        "name": name,
        "value": round(value, digits),
        "unit": unit,
        "baseline": round(baseline, digits),
        "ratio": round(value / baseline, 3) if baseline else None,
    })


# -- the benchmark ----------------------------------------------------------------------------


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def submission(args: argparse.Namespace, tmp: Path) -> int:
    deadline = time.monotonic() + args.time_limit
    env = {**os.environ, "GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
    env.pop("GATEWAY_ACCESS_LOG", None)
    config_path = prepare_node(tmp, env)
    node_config = load_node_config(config_path, environ={})
    workers = args.workers or node_config.workers
    threads = args.threads or node_config.threads
    db_path = tmp / f"{PARTY}.db"
    node_env = {
        **env,
        "GATEWAY_DATABASE_URL": f"sqlite:///{db_path}",
        "GATEWAY_KEY_DIR": str(tmp / "keys" / PARTY),
        "GATEWAY_WORKERS": str(workers),
        "GATEWAY_THREADS": str(threads),
    }
    (tmp / "bench_baseline.py").write_text(BASELINE_APP, encoding="utf-8")

    records = sample_records(DATASET, SAMPLE_POOL, seed=2021)
    bodies = [
        json.dumps({"schema_version": "1.0", "records": [r]}, ensure_ascii=False).encode()
        for r in records
    ]

    node = NodeProcess(config_path, listen=f"127.0.0.1:{free_port()}", env=node_env,
                       log_path=tmp / "node.log", args=("--no-scheduler",))
    baseline = baseline_server(tmp, listen=f"127.0.0.1:{free_port()}", workers=workers,
                              threads=threads,
                              log_path=tmp / "baseline.log")
    try:
        say(f"starting the {PARTY} node and the plain Flask baseline, each with "
            f"{workers} gunicorn {gunicorn_config.worker_class} workers of {threads} threads")
        node.start()
        baseline.start()
        targets = {"gateway": node.base_url, "baseline": baseline.base_url}

        say(f"warm-up: {args.warmup} requests to each target")
        warm = {name: run_load(url, bodies, args.warmup, concurrency=args.concurrency,
                               deadline=deadline) for name, url in targets.items()}

        tallies = {name: Tally() for name in targets}
        order = list(targets)
        for round_no, count in enumerate(split(args.requests, args.rounds), start=1):
            if time.monotonic() > deadline:
                say(f"the time limit of {args.time_limit} s is over; skipping the remaining rounds")
                for tally in tallies.values():
                    tally.statuses["skipped"] = tally.statuses.get("skipped", 0) + count
                continue
            for name in order if round_no % 2 else reversed(order):
                seconds, ok = tallies[name].seconds, tallies[name].ok
                run_load(targets[name], bodies, count, concurrency=args.concurrency,
                         deadline=deadline, tally=tallies[name])
                seconds, ok = tallies[name].seconds - seconds, tallies[name].ok - ok
                say(f"round {round_no}/{args.rounds}: {name:<8} {ok}/{count} answered 202 "
                    f"in {seconds:.2f} s = {ok / seconds:.1f} requests/s")
    finally:
        say(f"stopping the node (exit code {node.stop()}) "
            f"and the baseline (exit code {baseline.stop()})")

    failed = 0
    for name, tally in (*((f"{n} warm-up", t) for n, t in warm.items()), *tallies.items()):
        if tally.failed:
            failed += tally.failed
            say(f"{name}: {tally.failed} request(s) not answered 202: {tally.statuses}")
            for line in tally.errors:
                say(f"  {line}")
    stored = count_outbox(db_path)
    expected = args.warmup + args.requests
    if stored != expected and not failed:
        say(f"the node's outbox holds {stored} records, expected {expected}")
        failed += 1
    if failed:
        say("FAILED: figures are not reported for a run with failed requests")
        return 1

    gw, base = tallies["gateway"], tallies["baseline"]
    gw_rate, base_rate = gw.ok / gw.seconds, base.ok / base.seconds
    print(figure("submission_single_record_throughput", gw_rate, "requests/s", base_rate, 1))
    for q in (50, 99):
        print(figure(f"submission_single_record_latency_p{q}",
                     percentile(gw.latencies, q) * 1000, "ms",
                     percentile(base.latencies, q) * 1000, 2))
    sys.stdout.flush()
    say(f"{gw.ok + base.ok} measured requests, all answered 202; "
        f"{stored} records durably stored in the node's outbox; "
        f"throughput ratio {gw_rate / base_rate:.3f} (target >= {args.target})")
    return 0


def validation(args: argparse.Namespace) -> int:
    """Records validated per second by the gateway's validator against plain marshmallow."""
    from gateway.validation import RecordValidator
    from schemas import registry

    per_dataset = max(1, args.validation_records)
    totals = {"gateway": 0.0, "baseline": 0.0}
    count = 0
    for dataset in registry.dataset_names():
        version = registry.versions(dataset)[-1]
        try:
            records = sample_records(dataset, per_dataset, seed=2021)
        except KeyError:
            say(f"validation: no sample generator for {dataset}; skipped")
            continue
        schema_cls = registry.schema_class(dataset, version)
        validator = RecordValidator(dataset, version, schema_cls())
        plain = schema_cls()
        if validator.errors(records):
            say(f"FAILED: sample records of {dataset} {version} do not validate")
            return 1

        def gateway_run(records: list[dict[str, object]] = records,
                        validator: RecordValidator = validator) -> None:
            validator.errors(records)

        def baseline_run(records: list[dict[str, object]] = records,
                         plain: object = plain) -> None:
            for record in records:
                plain.load(record)  # type: ignore[attr-defined]

        seconds = {"gateway": 0.0, "baseline": 0.0}
        runs = {"gateway": gateway_run, "baseline": baseline_run}
        for round_no in range(args.rounds):
            order = ["gateway", "baseline"] if round_no % 2 == 0 else ["baseline", "gateway"]
            for name in order:
                began = time.perf_counter()
                runs[name]()
                seconds[name] += time.perf_counter() - began
        n = per_dataset * args.rounds
        print(figure(f"validation_{dataset}_throughput", n / seconds["gateway"], "records/s",
                     n / seconds["baseline"], 1))
        totals["gateway"] += seconds["gateway"]
        totals["baseline"] += seconds["baseline"]
        count += n
    if count:
        print(figure("validation_throughput", count / totals["gateway"], "records/s",
                     count / totals["baseline"], 1))
        say(f"validation: {count} records per side; ratio "
            f"{totals['baseline'] / totals['gateway']:.3f} (target >= 0.7)")
    sys.stdout.flush()
    return 0


def count_outbox(db_path: Path) -> int:
    db = sqlite3.connect(db_path)
    try:
        return int(db.execute("SELECT count(*) FROM outbox_records").fetchone()[0])
    finally:
        db.close()


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=positive, default=6000,
                        help="measured requests per target (default: 6000)")
    # Throughput is measured at a load that saturates both servers: the node answers
    # only after a shared durable commit, so with few clients it idles between them.
    parser.add_argument("--concurrency", type=positive, default=32,
                        help="concurrent client threads (default: 32)")
    parser.add_argument("--warmup", type=positive, default=200,
                        help="unmeasured requests per target first (default: 200)")
    # Many short rounds, alternating, so that the machine's drift (seen here: the
    # baseline alone moving by a third between runs) reaches both targets alike.
    parser.add_argument("--rounds", type=positive, default=12,
                        help="measured rounds, alternating which target goes first (default: 12)")
    parser.add_argument("--workers", type=positive, default=None,
                        help="gunicorn workers for both servers (default: the node config's)")
    parser.add_argument("--threads", type=positive, default=None,
                        help="threads per worker for both servers (default: the node config's)")
    parser.add_argument("--time-limit", type=positive, default=600,
                        help="seconds after which remaining requests are abandoned (default: 600)")
    parser.add_argument("--target", type=float, default=0.5,
                        help="throughput ratio to report against (default: 0.5)")
    parser.add_argument("--benchmark", choices=("all", "submission", "validation"),
                        default="all", help="which benchmark to run (default: all)")
    parser.add_argument("--validation-records", type=positive, default=2000,
                        help="sample records per dataset for the validation benchmark")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp directory (databases, logs) and print its path")
    args = parser.parse_args(argv)
    if args.rounds > args.requests:
        parser.error("--rounds cannot exceed --requests")

    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    try:
        status = 0
        if args.benchmark in ("all", "validation"):
            status = validation(args)
        if status == 0 and args.benchmark in ("all", "submission"):
            status = submission(args, tmp)
        return status
    except (RuntimeError, TimeoutError, subprocess.SubprocessError) as exc:
        say(f"FAILED: {exc}")
        for log in ("node.log", "baseline.log"):
            if (tmp / log).is_file():
                tail = (tmp / log).read_text(encoding="utf-8", errors="replace").splitlines()
                say(f"last lines of {log}:\n" + "\n".join(tail[-20:]))
        return 2
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
