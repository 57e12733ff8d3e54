"""Benchmarks of a gateway node, each against a baseline measured in the same run.

``submission``: single-record submissions (``POST /api/v1/datasets/
tanggapan_klarifikasi/records`` with one record, answered 202 after a durable
SQLite commit) to the Pemkot Bekasi node running under gunicorn, against a
plain Flask app that parses the same JSON body and answers 202, served by
gunicorn with the same settings (``gateway.ops.gunicorn_config``: same worker
count and worker class). Both servers run side by side on loopback; the same
client threads send the same bodies to both, in alternating rounds.

Prints one JSON line per figure on stdout::

    {"name": ..., "value": ..., "unit": ..., "baseline": ..., "ratio": ...}

where ``ratio`` is ``value / baseline``. Progress goes to stderr. Exits
non-zero if any request was not answered 202 or the run overran its time limit.

``validation``: records validated per second by the gateway's validator, against
plain marshmallow loading of the same records.

``audit``: the audit log (docs/AUDIT.md). (1) Durable appends: batches of
prepared audit events stored by ``audit_entries.append_prepared`` and hashed into the
Merkle tree by ``node_log.integrate`` in one ``Store.write()`` transaction, against
the same entry texts inserted by the plain ``sqlite3`` module into a plain table
with the same durability (WAL, one commit and one ``fdatasync`` of the log per
batch). (2) A log of ``--audit-log-size`` entries, checkpointed and cosigned by
the peer's witness, served by a real node: ``auditor.verify_log`` over HTTP
and on the entries already in memory, against the raw SHA-256 work of the same tree (leaf hashes and
``merkle.root``). (3) Inclusion proofs in that log from the stored tree
(``node_log.inclusion_proof``) against the same proofs from a ``merkle.MemoryTree``,
and ``GET /api/v1/audit/proof/inclusion`` against ``GET /api/v1/audit/checkpoint``
of the same node. Exits non-zero if a stored entry, a root, a verification or a
proof is not the expected one.

``transfer``: 1,000,000 records of about 1 KiB from the Ombudsman node to the
Pemkot Bekasi node, both real processes, in chunked batches; against the
receiver's bare validation rate for the same records; with each node's peak
memory. See ``scripts/bench_transfer.py``.

``cases_transfer``: the transfer above (200,000 records by default) with the case
ledger switched off on both nodes and with it kept, side by side in one run; the
ledger must cost at most a tenth of the rate. See ``scripts/bench_transfer.py``.

``bulk``: submissions of 1000 records each (as ``gateway-client submit`` sends them)
to the Pemkot Bekasi node, from a few clients through ``gateway.client``; against bare
validation of the same records in this process. See ``scripts/bench_bulk.py``.

``cases_query``: ``gateway.cases.reports.list_cases`` (the function behind ``GET
/api/v1/cases``) and the console's ``monthly`` and ``overdue_steps`` on a node
database holding 1,000,000 cases, against the same SELECT on a plain table with the
same columns and indexes through the ``sqlite3`` module; and ``GET /api/v1/cases`` on a
served node when the route exists.

Usage: ``./scripts/bench [--requests N] [--concurrency C] [--rounds R] ...``
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import hashlib
import http.client
import json
import math
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gateway.cases import ledger, reports
from gateway.exchange.validation import RecordValidator
from gateway.node import audit_log as node_log
from gateway.node.config import load_node_config
from gateway.node.node import Node
from gateway.ops import gunicorn_config
from gateway.ops.process import NodeProcess, ServerProcess, free_port
from gateway.peers import witness
from gateway.store import audit_entries
from gateway.store.audit_entries import PreparedEvent
from gateway.store.database import Store
from gateway.tlog import auditor, merkle
from gateway.tlog.auditor import LogClient, TrustedKeys
from schemas import registry
from schemas.registers import unit_codes
from schemas.samples import sample_records

ROOT = Path(__file__).resolve().parent.parent
PARTY = "pemkot-bekasi"
PEER = "ombudsman-ri"
DATASET = "tanggapan_klarifikasi"
PATH = f"/api/v1/datasets/{DATASET}/records"
TOKEN = "dev-only-pemkot-sistem-pengaduan"  # noqa: S105 (development token; hash in config/)
PASSPHRASE = "bench-only-passphrase"  # noqa: S105 (throw-away keys in a temp directory)
SAMPLE_POOL = 64  # distinct sample records, sent in turn

# The audit benchmark. The auditor's development token (client "inspektorat",
# role "auditor", in config/pemkot-bekasi.toml).
AUDIT_TOKEN = "dev-only-pemkot-inspektorat"  # noqa: S105 (development token; hash in config/)
AUDIT_SEED = 2021
AUDIT_BUILD_CHUNK = 50_000  # entries per transaction while building the big log
AUDIT_VERIFY_ROUNDS = 2  # alternating rounds of offline verification and its baseline
AUDIT_APPEND_TARGET = 5000  # events/s
AUDIT_VERIFY_TARGET = 10  # seconds for the whole log over HTTP
AUDIT_PROOF_TARGET_MS = 5
AUDIT_PROOF_SECONDS = 20  # at most this long per kind of proof measurement

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
        [sys.executable, "-m", "gunicorn", "-c", "python:gateway.ops.gunicorn_config",
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
    shutil.copytree(ROOT / "config", config_dir, ignore=shutil.ignore_patterns("*.jws"))
    for party in (PARTY, PEER):
        key_dir = tmp / "keys" / party
        gateway_cli("keys", "init", "--config", str(config_dir / f"{party}.toml"),
                    env={**env, "GATEWAY_KEY_DIR": str(key_dir)})
    sign_agreements(config_dir, env)
    config_path = config_dir / f"{PARTY}.toml"
    agreement = load_node_config(config_path, environ={}).agreement
    for party in (PARTY, PEER):
        jwks = agreement.party(party).jwks_file
        if not jwks.is_file() or not jwks.is_relative_to(tmp.resolve()):
            raise RuntimeError(f"expected the {party} JWKS inside the temp dir, not {jwks}")
    return config_path


def sign_agreements(config_dir: Path, env: dict[str, str]) -> None:
    """Both parties sign every agreement of ``config_dir`` (again, after an edit)."""
    for file in sorted((config_dir / "agreements").glob("*.toml")):
        for party in (PARTY, PEER):
            gateway_cli("agreements", "sign", str(file), "--config",
                        str(config_dir / f"{party}.toml"),
                        env={**env, "GATEWAY_KEY_DIR": str(config_dir.parent / "keys" / party)})


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

    seconds, hung = run_clients(worker, concurrency, start_gate, deadline=deadline, slack=35)
    tally.seconds += seconds
    if hung:
        tally.statuses["hung"] = tally.statuses.get("hung", 0) + 1
    return tally


def run_clients(worker: Callable[[], None], concurrency: int, gate: threading.Barrier, *,
                deadline: float, slack: float) -> tuple[float, bool]:
    """``concurrency`` threads of ``worker``, released together at ``gate`` (each waits on
    it once ready), waited for until ``slack`` seconds past ``deadline``: the seconds from
    their release until they ended, and whether one was still running."""
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic() + slack))
    return time.perf_counter() - began, any(t.is_alive() for t in threads)


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


# -- the audit log ----------------------------------------------------------------------------


def audit_event_fields(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` audit events as a Pemkot Bekasi node writes them, in log order.

    Per outgoing batch: 20 ``submission_accepted`` events of the internal system,
    then the node's ``batch_sealed``, ``batch_sent`` and ``receipt_verified``;
    ids, digests and counts drawn from ``seed``, timestamps 37 ms apart.
    """
    rng = random.Random(seed)
    began = dt.datetime(2026, 1, 5, 1, 0, tzinfo=dt.UTC)
    datasets = ("tanggapan_klarifikasi", "standar_pelayanan", "rekap_pengaduan",
                "monitoring_tindak_lanjut", "kegiatan_pengembangan")
    signer_kid = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def digest() -> str:
        return rng.randbytes(32).hex()

    events: list[dict[str, Any]] = []
    batch_records = 0
    dataset = datasets[0]
    batch_id = uid()
    for i in range(count):
        at = began + dt.timedelta(milliseconds=37 * i)
        step = i % 23
        if step == 0:
            dataset, batch_id, batch_records = rng.choice(datasets), uid(), 0
        common = {"at": at, "dataset": dataset, "schema_version": "1.0"}
        if step < 20:
            records = rng.randint(1, 50)
            batch_records += records
            events.append({**common, "event": "submission_accepted", "actor": "sistem-pengaduan",
                           "submission_id": uid(), "record_count": records,
                           "records_sha256": digest()})
        elif step == 20:
            events.append({**common, "event": "batch_sealed", "actor": PARTY, "peer": PEER,
                           "batch_id": batch_id, "record_count": batch_records,
                           "records_sha256": digest(), "envelope_sha256": digest()})
        elif step == 21:
            events.append({"at": at, "dataset": dataset, "event": "batch_sent", "actor": PARTY,
                           "peer": PEER, "batch_id": batch_id, "record_count": batch_records,
                           "envelope_sha256": digest()})
        else:
            events.append({"at": at, "dataset": dataset, "event": "receipt_verified",
                           "actor": PARTY, "peer": PEER, "batch_id": batch_id,
                           "records_sha256": digest(), "signer_kid": signer_kid,
                           "receipt_sha256": digest()})
    return events


def fdatasync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


def audit_append(args: argparse.Namespace, tmp: Path, prepared: list[PreparedEvent],
                 texts: list[str]) -> bool:
    """Durable appends of batches of prepared events, against plain SQLite of the same texts."""
    ok = True
    for size in args.audit_batch_sizes:
        batches = max(1, min(args.audit_events, len(prepared)) // size)
        store = Store(f"sqlite:///{tmp / f'append-{size}.db'}")
        store.create_schema()
        plain_path = tmp / f"append-{size}-plain.db"
        plain = sqlite3.connect(plain_path, isolation_level=None)
        plain.execute("PRAGMA journal_mode=WAL")
        plain.execute("PRAGMA synchronous=NORMAL")
        plain.execute("CREATE TABLE plain_log (idx INTEGER PRIMARY KEY, entry TEXT NOT NULL)")
        plain_wal = Path(f"{plain_path}-wal")
        store_db = sqlite3.connect(tmp / f"append-{size}.db")

        def gateway_batch(start: int, stop: int, store: Store = store) -> None:
            with store.write() as conn:
                audit_entries.append_prepared(conn, prepared[start:stop])
                node_log.integrate(conn)

        def baseline_batch(start: int, stop: int, plain: sqlite3.Connection = plain,
                           plain_wal: Path = plain_wal) -> None:
            plain.execute("BEGIN IMMEDIATE")
            plain.executemany("INSERT INTO plain_log (idx, entry) VALUES (?, ?)",
                              zip(range(start, stop), texts[start:stop], strict=True))
            plain.execute("COMMIT")
            fdatasync_file(plain_wal)

        runs: dict[str, Callable[[int, int], None]] = {
            "gateway": gateway_batch, "baseline": baseline_batch,
        }
        seconds = {"gateway": 0.0, "baseline": 0.0}
        position = {"gateway": 0, "baseline": 0}
        per_round: dict[str, list[float]] = {"gateway": [], "baseline": []}
        try:
            for round_no, count in enumerate(split(batches, min(args.rounds, batches))):
                for name in ("gateway", "baseline") if round_no % 2 == 0 else ("baseline",
                                                                               "gateway"):
                    began = time.perf_counter()
                    for _ in range(count):
                        start = position[name]
                        runs[name](start, start + size)
                        position[name] = start + size
                    took = time.perf_counter() - began
                    seconds[name] += took
                    per_round[name].append(count * size / took)
            total = batches * size
            # Both sides hold the same entries, and the tree commits to exactly them.
            with store.read() as conn:
                root = node_log.mth(conn, 0, node_log.tree_size(conn))
            same = True
            for db, table in ((plain, "plain_log"), (store_db, "audit_events")):
                rows = db.execute(f"SELECT entry FROM {table} ORDER BY idx")  # noqa: S608
                same = same and all(a == b for (a,), b in zip(rows, texts[:total], strict=True))
            expected_root = merkle.root([merkle.leaf_hash(t.encode()) for t in texts[:total]])
        finally:
            store.dispose()
            store_db.close()
            plain.close()
        if not same or root != expected_root:
            say(f"FAILED: after appending batches of {size}, the stored entries or the tree "
                "are not the expected ones")
            ok = False
            continue
        rate = {name: total / seconds[name] for name in seconds}
        say(f"append, batches of {size}: {total} events per side; gateway "
            f"{rate['gateway']:.0f} events/s, plain SQLite {rate['baseline']:.0f} events/s "
            f"(target >= {AUDIT_APPEND_TARGET} events/s); first and last of "
            f"{len(per_round['gateway'])} rounds: gateway {per_round['gateway'][0]:.0f} and "
            f"{per_round['gateway'][-1]:.0f}, plain {per_round['baseline'][0]:.0f} and "
            f"{per_round['baseline'][-1]:.0f} events/s")
        print(figure(f"audit_append_batch{size}_throughput", rate["gateway"], "events/s",
                     rate["baseline"], 1), flush=True)
    return ok


class MemoryLogClient(LogClient):
    """A log already fetched: what :func:`auditor.verify_log` reads, without HTTP or JSON."""

    def __init__(self, signed: str, items: list[tuple[int, str, str]]) -> None:
        self.signed = signed  # the latest checkpoint, cosigned
        self.items = items

    def checkpoint(self, size: int | None = None, *, cosigned: bool = False) -> str:
        return self.signed

    def entry_pages(self, start: int, end: int) -> Iterator[list[tuple[int, str, str]]]:
        for a in range(start, end, auditor.PAGE):
            yield self.items[a : min(end, a + auditor.PAGE)]


@dataclass
class WitnessReply:
    status_code: int
    text: str


def witness_in_process(
    peer: Node,
) -> Callable[[str, bytes, float, Mapping[str, str]], WitnessReply]:
    """A ``witness.publish`` poster that hands the request to ``peer``'s witness directly."""

    def post(_url: str, body: bytes, _timeout: float, _headers: Mapping[str, str]) -> WitnessReply:
        answer = witness.add_checkpoint(peer, body)
        return WitnessReply(answer.status, answer.body)

    return post


def fetch_pages(base_url: str, size: int) -> tuple[list[tuple[int, str, str]], float, float, int]:
    """Every entry by ``GET /api/v1/audit/entries`` in pages of :data:`auditor.PAGE`.

    Returns the entries, the seconds spent waiting for the answers (the node's
    work and the transfer), the seconds spent parsing them, and the bytes read.
    """
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {AUDIT_TOKEN}"
    items: list[tuple[int, str, str]] = []
    waited = parsed = 0.0
    received = 0
    try:
        for start in range(0, size, auditor.PAGE):
            began = time.perf_counter()
            answer = session.get(f"{base_url}/api/v1/audit/entries", timeout=60,
                                 params={"start": start, "end": min(size, start + auditor.PAGE),
                                         "format": "lines"})
            body = answer.content
            got = time.perf_counter()
            if answer.status_code != 200:
                raise RuntimeError(f"GET /api/v1/audit/entries answered {answer.status_code}")
            page = []
            for line in body.decode("utf-8").splitlines():
                index, leaf, entry = line.split(" ", 2)
                page.append((int(index), leaf, entry))
            parsed += time.perf_counter() - got
            waited += got - began
            received += len(body)
            items.extend(page)
            # Entries kept for the offline pass are left out of garbage collection, so
            # that keeping them does not slow down the collections of what follows.
            gc.freeze()
    finally:
        session.close()
    return items, waited, parsed, received


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of the live processes of one process group, from /proc."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # fields from the state on: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, int, bytes]:
    began = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {AUDIT_TOKEN}"})
    response = conn.getresponse()
    body = response.read()
    return time.perf_counter() - began, response.status, body


@dataclass
class BuiltLog:
    """A node's database holding the benchmark's audit log, checkpointed and cosigned."""

    config_path: Path
    node_env: dict[str, str]
    signed: node_log.SignedCheckpoint
    cosigned_note: str
    keys: TrustedKeys


def build_audit_log(args: argparse.Namespace, tmp: Path,
                    prepared: list[PreparedEvent]) -> BuiltLog:
    """A log of ``--audit-log-size`` entries, cosigned by the peer's witness, not measured."""
    size = args.audit_log_size
    deploy = tmp / "audit"
    deploy.mkdir()
    env = {**os.environ, "GATEWAY_KEY_PASSPHRASE": PASSPHRASE}
    env.pop("GATEWAY_ACCESS_LOG", None)
    config_path = prepare_node(deploy, env)
    node_env = {
        **env,
        "GATEWAY_DATABASE_URL": f"sqlite:///{deploy / f'{PARTY}.db'}",
        "GATEWAY_KEY_DIR": str(deploy / "keys" / PARTY),
    }
    node = Node.from_config(load_node_config(config_path, environ=node_env), environ=node_env)
    peer_env = {
        **env,
        "GATEWAY_DATABASE_URL": f"sqlite:///{deploy / f'{PEER}.db'}",
        "GATEWAY_KEY_DIR": str(deploy / "keys" / PEER),
    }
    peer = Node.from_config(load_node_config(config_path.with_name(f"{PEER}.toml"),
                                             environ=peer_env), environ=peer_env)
    try:
        say(f"audit log: appending {size} entries ({len(prepared)} prepared events in turn, "
            f"each with its own index) in transactions of {AUDIT_BUILD_CHUNK}")
        began = time.perf_counter()
        for start in range(0, size, AUDIT_BUILD_CHUNK):
            stop = min(size, start + AUDIT_BUILD_CHUNK)
            chunk = [prepared[i % len(prepared)] for i in range(start, stop)]
            with node.store.write() as conn:
                audit_entries.append_prepared(conn, chunk)
        appended = time.perf_counter() - began
        # Auditors verify against a witnessed checkpoint: the peer's witness (its node,
        # in this process, on its own database) cosigns this one.
        published = witness.publish(node, post=witness_in_process(peer))
        if published.failed:
            raise RuntimeError(f"the peer's witness did not cosign: {published.failed}")
        signed = published.checkpoint
        with node.store.read() as conn:
            cosigned_note = node_log.cosigned_note(conn, signed)
        say(f"audit log: appended in {appended:.1f} s; integrated into the tree, signed and "
            f"cosigned (witness.publish) in {time.perf_counter() - began - appended:.1f} s")
        keys = TrustedKeys(
            log=node.note_keys[PARTY].log,
            witnesses=tuple(k.witness for p, k in node.note_keys.items() if p != PARTY),
        )
    finally:
        node.store.dispose()
        peer.store.dispose()
    return BuiltLog(config_path, node_env, signed, cosigned_note, keys)


def audit_log(args: argparse.Namespace, tmp: Path, prepared: list[PreparedEvent],
              deadline: float) -> bool:
    """Full verification of, and inclusion proofs in, a log of ``--audit-log-size`` entries."""
    size = args.audit_log_size
    built = build_audit_log(args, tmp, prepared)
    if built.signed.size != size:
        say(f"FAILED: the checkpoint covers {built.signed.size} entries, expected {size}")
        return False

    server = NodeProcess(built.config_path, listen=f"127.0.0.1:{free_port()}",
                         env=built.node_env, log_path=tmp / "node.log", args=("--no-scheduler",))
    try:
        say(f"starting the {PARTY} node on that database")
        server.start()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the time limit of {args.time_limit} s is over")
        http_seconds = verify_over_http(server, built, size)
        if http_seconds is None:
            return False
        leaves = verify_offline(server, built, size, http_seconds)
        if leaves is None:
            return False
        if time.monotonic() > deadline:
            raise TimeoutError(f"the time limit of {args.time_limit} s is over")
        indexes = random.Random(AUDIT_SEED).choices(range(size), k=args.audit_proofs)
        return (stored_proofs(built, leaves, indexes, size)
                and served_proofs(server, built, leaves, indexes, size))
    finally:
        gc.unfreeze()
        say(f"stopping the node (exit code {server.stop()})")


def verify_over_http(server: NodeProcess, built: BuiltLog, size: int) -> float | None:
    """Seconds of ``auditor.verify_log`` over HTTP, as an auditor runs it; None if it fails."""
    assert server.proc is not None
    node_cpu, own_cpu = group_cpu_seconds(server.proc.pid), time.process_time()
    began = time.perf_counter()
    report = auditor.verify_log(LogClient(server.base_url, AUDIT_TOKEN), built.keys)
    http_seconds = time.perf_counter() - began
    node_cpu = group_cpu_seconds(server.proc.pid) - node_cpu
    own_cpu = time.process_time() - own_cpu
    if (not report.ok or report.entries_checked != size
            or report.root_hash != built.signed.root_hash):
        say(f"FAILED: verify_log over HTTP: {[str(p) for p in report.problems]}")
        return None
    say(f"verify_log over HTTP: {size} entries in {http_seconds:.2f} s; CPU time meanwhile: "
        f"the node's processes {node_cpu:.2f} s, this client {own_cpu:.2f} s")
    return http_seconds


def verify_offline(server: NodeProcess, built: BuiltLog, size: int,
                   http_seconds: float) -> list[bytes] | None:
    """Where the time of verification over HTTP goes: fetching the pages, then the offline part.

    The offline part (per-entry checks, leaf hashes, root) is measured against raw
    SHA-256 of the same tree. Returns the leaf hashes, or None if a check fails.
    """
    assert server.proc is not None
    node_cpu = group_cpu_seconds(server.proc.pid)
    items, waited, parsed, received = fetch_pages(server.base_url, size)
    node_cpu = group_cpu_seconds(server.proc.pid) - node_cpu
    pages = math.ceil(size / auditor.PAGE)
    say(f"fetch only: {pages} pages of {auditor.PAGE}: waiting for the node {waited:.2f} s "
        f"({waited / pages * 1000:.0f} ms a page; the node's CPU time {node_cpu:.2f} s), "
        f"parsing the pages {parsed:.2f} s, {received / 1e6:.0f} MB "
        f"({received / size:.0f} bytes an entry)")

    blobs = [entry.encode("utf-8") for _, _, entry in items]
    memory = MemoryLogClient(built.cosigned_note, items)
    seconds = {"gateway": 0.0, "baseline": 0.0}
    leaves: list[bytes] = []
    raw_root = b""
    for round_no in range(AUDIT_VERIFY_ROUNDS):
        for name in ("gateway", "baseline") if round_no % 2 == 0 else ("baseline", "gateway"):
            began = time.perf_counter()
            if name == "gateway":
                offline = auditor.verify_log(memory, built.keys)
            else:
                sha256 = hashlib.sha256
                leaves = [sha256(b"\x00" + blob).digest() for blob in blobs]
                raw_root = merkle.root(leaves)
            seconds[name] += time.perf_counter() - began
            if name == "gateway" and not offline.ok:
                say(f"FAILED: verify_log offline: {[str(p) for p in offline.problems]}")
                return None
    if raw_root != built.signed.root_hash:
        say("FAILED: the root of the entries' hashes is not the signed root")
        return None
    offline_seconds = seconds["gateway"] / AUDIT_VERIFY_ROUNDS
    raw_seconds = seconds["baseline"] / AUDIT_VERIFY_ROUNDS
    say(f"verify_log offline {offline_seconds:.2f} s, raw SHA-256 {raw_seconds:.2f} s "
        f"(mean of {AUDIT_VERIFY_ROUNDS} alternating rounds); over HTTP: "
        f"{http_seconds:.2f} s ~ node + transfer {waited:.2f} + page JSON {parsed:.2f} "
        f"+ offline {offline_seconds:.2f} (target <= {AUDIT_VERIFY_TARGET} s)")
    print(figure(f"audit_verify_{size}_http", http_seconds, "s", raw_seconds, 3))
    print(figure(f"audit_verify_{size}_offline", offline_seconds, "s", raw_seconds, 3))
    sys.stdout.flush()
    del items, blobs, memory
    gc.unfreeze()
    return leaves


def stored_proofs(built: BuiltLog, leaves: list[bytes], indexes: list[int], size: int) -> bool:
    """Inclusion proofs from the stored tree against those from a tree in memory.

    Stops early when the stored tree's proofs have taken AUDIT_PROOF_SECONDS.
    """
    tree = merkle.MemoryTree(leaves)
    stored_ms: list[float] = []
    memory_ms: list[float] = []
    verify_seconds = 0.0
    store = Store(built.node_env["GATEWAY_DATABASE_URL"])
    try:
        with store.read() as conn:
            for index in indexes[:3]:  # warm-up
                node_log.inclusion_proof(conn, index, size)
            for index in indexes:
                if sum(stored_ms) > AUDIT_PROOF_SECONDS * 1000:
                    break
                began = time.perf_counter()
                proof = node_log.inclusion_proof(conn, index, size)
                stored_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                expected = tree.inclusion_proof(index, size)
                memory_ms.append((time.perf_counter() - began) * 1000)
                began = time.perf_counter()
                merkle.verify_inclusion(leaves[index], index, size, proof,
                                        built.signed.root_hash)
                verify_seconds += time.perf_counter() - began
                if proof != expected:
                    say(f"FAILED: the stored tree's proof of {index} is not the in-memory one")
                    return False
    except merkle.ProofError as exc:
        say(f"FAILED: an inclusion proof does not verify: {exc}")
        return False
    finally:
        store.dispose()
    for q in (50, 99, 100):
        label = "max" if q == 100 else f"p{q}"
        print(figure(f"audit_inclusion_proof_{size}_{label}", percentile(stored_ms, q), "ms",
                     percentile(memory_ms, q), 4))
    sys.stdout.flush()
    say(f"inclusion proofs: {len(stored_ms)} of {len(indexes)} from the stored tree "
        f"(stopping after {AUDIT_PROOF_SECONDS} s), all equal to the in-memory tree's and "
        f"verified against the signed root ({verify_seconds / len(stored_ms) * 1e6:.0f} us "
        f"each to verify); p99 {percentile(stored_ms, 99):.3f} ms "
        f"(target <= {AUDIT_PROOF_TARGET_MS} ms)")
    return True


def served_proofs(server: NodeProcess, built: BuiltLog, leaves: list[bytes],
                  indexes: list[int], size: int) -> bool:
    """``GET /api/v1/audit/proof/inclusion`` against ``GET /api/v1/audit/checkpoint``.

    The two alternate; stops early when the proofs have taken AUDIT_PROOF_SECONDS.
    """
    host, _, port = server.listen.rpartition(":")
    web = http.client.HTTPConnection(host, int(port), timeout=60)
    latencies: dict[str, list[float]] = {"gateway": [], "baseline": []}
    try:
        for index in indexes[:3]:  # warm-up
            timed_get(web, "/api/v1/audit/checkpoint")
            timed_get(web, f"/api/v1/audit/proof/inclusion?index={index}")
        for n, index in enumerate(indexes):
            if sum(latencies["gateway"]) > AUDIT_PROOF_SECONDS * 1000:
                break
            for name in ("gateway", "baseline") if n % 2 == 0 else ("baseline", "gateway"):
                path = (f"/api/v1/audit/proof/inclusion?index={index}" if name == "gateway"
                        else "/api/v1/audit/checkpoint")
                seconds_taken, status, body = timed_get(web, path)
                if status != 200:
                    raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
                latencies[name].append(seconds_taken * 1000)
                if name == "gateway":
                    answer = json.loads(body)
                    hashes = [base64.b64decode(h) for h in answer["hashes"]]
                    merkle.verify_inclusion(leaves[index], index, size, hashes,
                                            built.signed.root_hash)
    except merkle.ProofError as exc:
        say(f"FAILED: an inclusion proof served over HTTP does not verify: {exc}")
        return False
    finally:
        web.close()
    for q in (50, 99):
        print(figure(f"audit_inclusion_proof_{size}_http_p{q}",
                     percentile(latencies["gateway"], q), "ms",
                     percentile(latencies["baseline"], q), 3))
    sys.stdout.flush()
    say(f"inclusion proofs over HTTP: {len(latencies['gateway'])} requests (stopping after "
        f"{AUDIT_PROOF_SECONDS} s), each answered 200 and verified; baseline: as many "
        "GET /api/v1/audit/checkpoint, alternating with them")
    return True


def audit_benchmark(args: argparse.Namespace, tmp: Path) -> int:
    deadline = time.monotonic() + args.time_limit
    tmp = tmp / "audit-bench"
    tmp.mkdir()
    count = max(args.audit_events, max(args.audit_batch_sizes))
    fields = audit_event_fields(count, AUDIT_SEED)
    began = time.perf_counter()
    prepared = [audit_entries.prepare(**f) for f in fields]
    say(f"audit: prepared {count} events in {time.perf_counter() - began:.1f} s = "
        f"{(time.perf_counter() - began) / count * 1e6:.1f} us each (not measured below: "
        "the node prepares an event before it queues for the write lock)")
    texts = [p.entry(i) for i, p in enumerate(prepared)]
    say(f"audit: entries are {sum(map(len, texts)) / len(texts):.0f} bytes on average")
    if not audit_append(args, tmp, prepared, texts):
        return 1
    if time.monotonic() > deadline:
        say(f"FAILED: the time limit of {args.time_limit} s is over")
        return 1
    del texts
    return 0 if audit_log(args, tmp, prepared, deadline) else 1


# -- the case ledger's queries at 1,000,000 cases ---------------------------------------------

CASES_SEED = 2021
CASES_YEARS = 5  # the ledger's cases are received over this many years, up to today
CASES_BATCH_DAYS = 20  # working days of receipts recorded per transaction while building
CASES_P99_TARGET_MS = 100
CASES_COLUMNS = ("case_number, unit, opened_on, state, next_due_on, steps, open_steps, "
                 "late_steps, events, updated_at")
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass
class CaseLedgerPlan:
    """What the generated ledger holds: per working day, the requests and answers received."""

    days: list[dt.date]
    requests: dict[int, list[tuple[str, str]]]  # day index -> [(case number, unit)]
    answers: dict[int, list[tuple[str, str]]]  # day index -> [(case number, unit)]
    numbers: list[str]
    units: list[str]


def case_ledger_plan(count: int, today: dt.date, seed: int = CASES_SEED) -> CaseLedgerPlan:
    """``count`` clarification cases received on the working days of the last five years.

    Units from the unit register, a few much busier than the rest. Each case is one
    request (round 1); most are answered: 84 % within the 14 working days, 14 % later
    (up to 40 working days), 2 % not at all (open, mostly overdue by now). Answers due
    after today have not come yet, so the last weeks' cases are open too.
    """
    rng = random.Random(seed)
    first = today.replace(year=today.year - CASES_YEARS)
    days = [first + dt.timedelta(days=n) for n in range((today - first).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    units = sorted(unit_codes())
    weights = [1 / (rank + 1) for rank in range(len(units))]  # Zipf-like: some units busier
    rng.shuffle(units)
    unit_of = rng.choices(units, weights, k=count)
    day_of = sorted(rng.randrange(len(days)) for _ in range(count))
    requests: dict[int, list[tuple[str, str]]] = {}
    answers: dict[int, list[tuple[str, str]]] = {}
    numbers: list[str] = []
    serial: dict[int, int] = {}
    for i, d in enumerate(day_of):
        day = days[d]
        serial[day.year] = serial.get(day.year, 0) + 1
        number = f"{serial[day.year]:06d}/LM/{ROMAN[day.month - 1]}/{day.year}/JKT"
        numbers.append(number)
        requests.setdefault(d, []).append((number, unit_of[i]))
        draw = rng.random()
        if draw < 0.02:
            continue  # never answered
        delay = rng.randint(1, 14) if draw < 0.86 else rng.randint(15, 40)
        if d + delay < len(days):
            answers.setdefault(d + delay, []).append((number, unit_of[i]))
    return CaseLedgerPlan(days, requests, answers, numbers, units)


def build_case_ledger(node: Node, plan: CaseLedgerPlan) -> tuple[float, int]:
    """Records the plan through ``ledger.record_batch``, one batch per day and kind.

    Returns the seconds it took and the number of events.
    """
    began = time.perf_counter()
    events = 0
    for start in range(0, len(plan.days), CASES_BATCH_DAYS):
        with node.store.write() as conn:
            for d in range(start, min(start + CASES_BATCH_DAYS, len(plan.days))):
                day = plan.days[d]
                for kind, found in (("request", plan.requests), ("answer", plan.answers)):
                    batch = found.get(d)
                    if not batch:
                        continue
                    dataset, sender, receiver, version, hour = (
                        ("permintaan_klarifikasi", PEER, PARTY, "2.0", 2) if kind == "request"
                        else ("tanggapan_klarifikasi", PARTY, PEER, "3.0", 7))
                    facts = [
                        (i, {"case": number, "kind": kind, "unit": unit,
                             **({"round": 1} if kind == "request" else {"status": "selesai"})})
                        for i, (number, unit) in enumerate(batch)
                    ]
                    events += ledger.record_batch(
                        conn, node, batch_id=str(uuid.UUID(int=(d << 1) | (kind == "answer"))),
                        dataset=dataset, schema_version=version, sender=sender,
                        receiver=receiver, receipt_at=f"{day.isoformat()}T0{hour}:00:00Z",
                        facts=facts)
        if start // CASES_BATCH_DAYS % 10 == 0:
            say(f"cases_query: recorded {events} events through ledger.record_batch, "
                f"{time.perf_counter() - began:.0f} s")
    return time.perf_counter() - began, events


def plain_case_tables(node_db: Path, plain_db: Path) -> None:
    """The baseline's database: the ledger's three tables with their columns and indexes,
    made from the node database's own DDL, holding the same rows."""
    conn = sqlite3.connect(plain_db)
    try:
        conn.execute("ATTACH DATABASE ? AS node", (str(node_db),))
        tables = ("cases", "case_steps", "case_step_stats")
        ddl = conn.execute(
            "SELECT type, name, sql FROM node.sqlite_master WHERE tbl_name IN (?, ?, ?) "
            "AND sql IS NOT NULL ORDER BY type = 'index'", tables).fetchall()
        for _type, _name, sql in ddl:
            conn.execute(sql)
        for table in tables:
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM node.{table}")  # noqa: S608
        conn.commit()
        analyzed = conn.execute("SELECT count(*) FROM node.sqlite_master "
                                "WHERE name = 'sqlite_stat1'").fetchone()[0]
        conn.execute("DETACH DATABASE node")
        if analyzed:  # the node's planner has statistics: so has the baseline's
            conn.execute("ANALYZE")
    finally:
        conn.close()


@dataclass
class CaseQuery:
    """One query: the gateway's call, and the baseline's SQL with its parameters."""

    name: str
    gateway: Callable[[random.Random], tuple[Callable[[], Any], str, tuple[Any, ...]]]


def case_queries(node: Node, plan: CaseLedgerPlan, at: reports.Today) -> list[CaseQuery]:
    """The filters of ``GET /api/v1/cases`` and what the console page reads.

    Each returns, for a random draw, the gateway's call and the baseline's SQL.
    """
    day, soon = at.day.isoformat(), at.soon.isoformat()
    months = sorted({d.isoformat()[:7] for d in plan.days})
    busy = plan.units[:5]  # the busiest units
    page = 100
    listed = f"SELECT {CASES_COLUMNS} FROM cases"  # noqa: S608 (constant text)
    ordered = f"ORDER BY case_number LIMIT {page}"

    def cases_call(**kw: Any) -> Callable[[], Any]:
        return lambda: reports.list_cases(node, limit=page, **kw)

    def last12(_: random.Random) -> tuple[Callable[[], Any], str, tuple[Any, ...]]:
        first, last = months[-13], months[-2]
        return (lambda: reports.monthly(node, first, last),
                "SELECT unit, month, late, response_days, sum(count) FROM case_step_stats "
                "WHERE month >= ? AND month <= ? GROUP BY unit, month, late, response_days;"
                "SELECT unit, substr(due_on, 1, 7), due_on < ?, count(*) FROM case_steps "
                "WHERE done_on IS NULL AND due_on >= ? AND due_on <= ? "
                "GROUP BY unit, substr(due_on, 1, 7), due_on < ?",
                (first, last, day, f"{first}-01", f"{last}-31", day))

    return [
        CaseQuery("none", lambda r: (cases_call(), f"{listed} {ordered}", ())),
        CaseQuery("unit", lambda r: (
            cases_call(unit=(u := r.choice(busy))), f"{listed} WHERE unit = ? {ordered}", (u,))),
        CaseQuery("status_overdue", lambda r: (
            cases_call(status="overdue"),
            f"{listed} WHERE state = 'open' AND next_due_on < ? {ordered}", (day,))),
        CaseQuery("status_done_late", lambda r: (
            cases_call(status="done_late"), f"{listed} WHERE state = 'done_late' {ordered}",
            ())),
        CaseQuery("unit_status_overdue", lambda r: (
            cases_call(unit=(u := r.choice(plan.units)), status="overdue"),
            f"{listed} WHERE unit = ? AND state = 'open' AND next_due_on < ? {ordered}",
            (u, day))),
        CaseQuery("period_month", lambda r: (
            cases_call(period=(m := r.choice(months))),
            f"{listed} WHERE opened_on >= ? AND opened_on <= ? {ordered}",
            reports.parse_period(m))),
        CaseQuery("after_cursor", lambda r: (
            cases_call(after=(n := r.choice(plan.numbers))),
            f"{listed} WHERE case_number > ? {ordered}", (n,))),
        CaseQuery("monthly_12_months", last12),
        CaseQuery("overdue_steps", lambda r: (
            lambda: reports.overdue_steps(node),
            "SELECT * FROM case_steps WHERE done_on IS NULL AND due_on < ? "
            "ORDER BY due_on, case_number, step LIMIT 500", (day,))),
        CaseQuery("status_due_soon", lambda r: (
            cases_call(status="due_soon"),
            f"{listed} WHERE state = 'open' AND next_due_on >= ? AND next_due_on <= ? {ordered}",
            (day, soon))),
    ]


def _plain_run(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """The baseline: each statement of ``sql`` (``;``-separated) with its share of params."""
    rows: list[Any] = []
    for statement in sql.split(";"):
        n = statement.count("?")
        rows.extend(conn.execute(statement, params[:n]).fetchall())
        params = params[n:]
    return rows


def _same_answer(name: str, answer: Any, rows: list[Any]) -> bool:
    """Whether the gateway's answer holds what the baseline's rows do."""
    if isinstance(answer, dict) and "cases" in answer:
        return [c["case_number"] for c in answer["cases"]] == [r[0] for r in rows]
    if isinstance(answer, list):
        return [(s["case_number"], s["step"]) for s in answer] == [(r[0], r[1]) for r in rows]
    counted = sum(f.due for f in answer.values())
    return counted == sum(int(r[-1]) for r in rows) or name != "monthly_12_months"


def time_case_queries(node: Node, plain_db: Path, queries: list[CaseQuery],
                      calls: int) -> dict[str, dict[str, list[float]]]:
    """Each query ``calls`` times per side, alternating which side goes first; checks that
    both sides answer alike. Milliseconds per call."""
    rng = random.Random(CASES_SEED)
    plain = sqlite3.connect(plain_db)
    timings: dict[str, dict[str, list[float]]] = {}
    try:
        for query in queries:
            ms: dict[str, list[float]] = {"gateway": [], "baseline": []}
            for n in range(calls + 3):
                call, sql, params = query.gateway(rng)
                answer: Any = None
                rows: list[Any] = []
                for side in ("gateway", "baseline") if n % 2 == 0 else ("baseline", "gateway"):
                    began = time.perf_counter()
                    if side == "gateway":
                        answer = call()
                    else:
                        rows = _plain_run(plain, sql, params)
                    if n >= 3:  # three unmeasured calls first
                        ms[side].append((time.perf_counter() - began) * 1000)
                if not _same_answer(query.name, answer, rows):
                    raise RuntimeError(f"cases_query {query.name}: the gateway's answer "
                                       "differs from the baseline's rows")
            timings[query.name] = ms
    finally:
        plain.close()
    return timings


def cases_query_benchmark(args: argparse.Namespace, tmp: Path) -> int:
    """``reports.list_cases`` and the console's reads at ``--cases-count`` cases."""
    tmp = tmp / "cases-query"
    tmp.mkdir()
    os.environ["GATEWAY_KEY_PASSPHRASE"] = PASSPHRASE  # the node opened in this process
    env = {**os.environ}
    env.pop("GATEWAY_ACCESS_LOG", None)
    config_path = prepare_node(tmp, env)
    node_db = tmp / f"{PARTY}.db"
    node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{node_db}",
                "GATEWAY_KEY_DIR": str(tmp / "keys" / PARTY)}
    node = Node.from_config(load_node_config(config_path, environ=node_env))
    try:
        at = reports.today(node)
        plan = case_ledger_plan(args.cases_count, at.day)
        say(f"cases_query: {args.cases_count} cases over {len(plan.days)} working days, "
            f"{sum(map(len, plan.answers.values()))} answered; recording them through "
            "ledger.record_batch")
        seconds, events = build_case_ledger(node, plan)
        say(f"cases_query: {events} events recorded in {seconds:.1f} s = "
            f"{events / seconds:.0f} events/s ({args.cases_count / seconds:.0f} cases/s)")
        if not check_case_ledger(node_db, args.cases_count, at):
            return 1
        plain_db = tmp / "plain.db"
        plain_case_tables(node_db, plain_db)
        queries = case_queries(node, plan, at)
        timings = time_case_queries(node, plain_db, queries, args.cases_queries)
    finally:
        node.store.dispose()
    over = []
    for name, ms in timings.items():
        for q in (50, 99):
            print(figure(f"cases_query_{args.cases_count}_{name}_p{q}",
                         percentile(ms["gateway"], q), "ms", percentile(ms["baseline"], q), 3))
        if percentile(ms["gateway"], 99) > CASES_P99_TARGET_MS:
            over.append(name)
    sys.stdout.flush()
    say(f"cases_query: {args.cases_queries} calls per query and side, alternating; every "
        f"answer equal to the baseline's rows; p99 over {CASES_P99_TARGET_MS} ms: "
        f"{', '.join(over) or 'none'}")
    explain_case_queries(node_db, queries)
    return served_cases(args, config_path, node_env, plan)


def check_case_ledger(node_db: Path, count: int, at: reports.Today) -> bool:
    """One ``cases`` row per generated case; says how many are open and overdue."""
    conn = sqlite3.connect(node_db)
    try:
        total, open_, overdue, late = conn.execute(
            "SELECT count(*), sum(state = 'open'), sum(state = 'open' AND next_due_on < ?), "
            "sum(state = 'done_late') FROM cases", (at.day.isoformat(),)).fetchone()
        steps = conn.execute("SELECT count(*) FROM case_steps").fetchone()[0]
    finally:
        conn.close()
    say(f"cases_query: the ledger holds {total} cases ({steps} steps): {open_} open "
        f"({open_ / total:.1%}), {overdue} of them overdue on {at.day}; {late} done late")
    if total != count:
        say(f"FAILED: the ledger holds {total} cases, expected {count}")
        return False
    return True


def explain_case_queries(node_db: Path, queries: list[CaseQuery]) -> None:
    """SQLite's plan of each baseline query (the gateway's are the same statements)."""
    conn = sqlite3.connect(node_db)
    try:
        for query in queries:
            _call, sql, params = query.gateway(random.Random(CASES_SEED))
            for statement in sql.split(";"):
                n = statement.count("?")
                plan_rows = conn.execute(f"EXPLAIN QUERY PLAN {statement}", params[:n])
                say(f"cases_query: plan of {query.name}: "
                    + "; ".join(row[-1] for row in plan_rows))
                params = params[n:]
    finally:
        conn.close()


def served_cases(args: argparse.Namespace, config_path: Path, node_env: dict[str, str],
                 plan: CaseLedgerPlan) -> int:
    """``GET /api/v1/cases`` on a served node with the generated ledger, if the route exists;
    against ``GET /healthz`` (the served node's floor: a request and its answer) on the
    same node and connection."""
    if not (ROOT / "gateway" / "http" / "api" / "cases.py").is_file():
        say("cases_query: GET /api/v1/cases skipped: gateway/http/api/cases.py does not exist "
            "in this tree (the in-process figures above measure the function behind it)")
        return 0
    server = NodeProcess(config_path, listen=f"127.0.0.1:{free_port()}", env=node_env,
                         log_path=config_path.parent.parent / "node.log",
                         args=("--no-scheduler",))
    rng = random.Random(CASES_SEED)
    months = sorted({d.isoformat()[:7] for d in plan.days})
    draws: dict[str, Callable[[], str]] = {
        "none": lambda: "",
        "unit": lambda: f"unit={plan.units[rng.randrange(5)]}",
        "status_overdue": lambda: "status=overdue",
        "status_done_late": lambda: "status=done_late",
        "unit_status_overdue": lambda: f"unit={rng.choice(plan.units)}&status=overdue",
        "period_month": lambda: f"period={rng.choice(months)}",
        "after_cursor": lambda: "after=" + urllib.parse.quote(rng.choice(plan.numbers), safe=""),
    }
    try:
        server.start()
        host, _, port = server.listen.rpartition(":")
        web = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            for name, draw in draws.items():
                ms: dict[str, list[float]] = {"gateway": [], "baseline": []}
                for n in range(args.cases_queries + 3):
                    for side in ("gateway", "baseline") if n % 2 == 0 else ("baseline", "gateway"):
                        path = (f"/api/v1/cases?limit=100&{draw()}" if side == "gateway"
                                else "/healthz")
                        took, status, body = timed_get(web, path)
                        if status != 200:
                            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
                        if n >= 3:
                            ms[side].append(took * 1000)
                for q in (50, 99):
                    print(figure(f"cases_query_{args.cases_count}_http_{name}_p{q}",
                                 percentile(ms["gateway"], q), "ms",
                                 percentile(ms["baseline"], q), 3))
                sys.stdout.flush()
        finally:
            web.close()
        served_console(args, server.base_url, plan)
    finally:
        say(f"stopping the node (exit code {server.stop()})")
    return 0


def served_console(args: argparse.Namespace, base_url: str, plan: CaseLedgerPlan) -> None:
    """The console's service-levels page (signed in as an auditor), whole, on the served
    node: its default twelve months, and one unit's; against the sign-in page on the same
    session. The charts are images of their own; each is timed too, once drawn."""
    session = requests.Session()
    form = session.get(f"{base_url}/console/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if token is None:
        raise RuntimeError("no sign-in form on /console/login")
    signed = session.post(f"{base_url}/console/login", timeout=30,
                          data={"token": AUDIT_TOKEN, "csrf_token": token.group(1)})
    if signed.status_code != 200 or "service-levels" not in signed.text:
        raise RuntimeError(f"console sign-in answered {signed.status_code}")
    rng = random.Random(CASES_SEED)
    pages: dict[str, Callable[[], str]] = {
        "page": lambda: "/console/service-levels",
        "page_unit": lambda: f"/console/service-levels?unit={rng.choice(plan.units)}",
        "chart": lambda: "/console/service-levels/chart/share-on-time.svg",
    }
    try:
        for name, draw in pages.items():
            ms: dict[str, list[float]] = {"gateway": [], "baseline": []}
            for n in range(args.cases_queries + 3):
                for side in ("gateway", "baseline") if n % 2 == 0 else ("baseline", "gateway"):
                    path = draw() if side == "gateway" else "/console/login"
                    began = time.perf_counter()
                    answer = session.get(base_url + path, timeout=60)
                    took = time.perf_counter() - began
                    if answer.status_code != 200:
                        raise RuntimeError(f"GET {path} answered {answer.status_code}")
                    if n >= 3:
                        ms[side].append(took * 1000)
            for q in (50, 99):
                print(figure(f"cases_query_{args.cases_count}_console_{name}_p{q}",
                             percentile(ms["gateway"], q), "ms",
                             percentile(ms["baseline"], q), 3))
            sys.stdout.flush()
    finally:
        session.close()


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


def positives(text: str) -> tuple[int, ...]:
    return tuple(positive(part) for part in text.split(","))


def partners_options(parser: argparse.ArgumentParser) -> None:
    """The options of the partners benchmark (scripts/bench_partners.py)."""
    parser.add_argument("--partners", type=positives, default=(10, 50, 200),
                        help="partners: the partner counts, comma-separated (default: 10,50,200)")
    parser.add_argument("--partners-batches", type=positive, default=3,
                        help="partners: batches each partner sends in the load (default: 3)")
    parser.add_argument("--partners-records", type=positive, default=20,
                        help="partners: records per batch (default: 20)")
    parser.add_argument("--partners-concurrency", type=positive, default=16,
                        help="partners: partners sending at the same moment (default: 16)")


def bulk_options(parser: argparse.ArgumentParser) -> None:
    """The options of the bulk benchmark (scripts/bench_bulk.py)."""
    parser.add_argument("--bulk-records", type=positive, default=100_000,
                        help="bulk: measured records submitted (default: 100000)")
    parser.add_argument("--bulk-size", type=positive, default=1000,
                        help="bulk: records per request (default: 1000, as gateway-client "
                             "submit sends them)")
    parser.add_argument("--bulk-concurrency", type=positive, default=4,
                        help="bulk: client threads (default: 4)")
    parser.add_argument("--bulk-rounds", type=positive, default=5,
                        help="bulk: rounds, alternating the node and bare validation "
                             "(default: 5)")


def bulk(args: argparse.Namespace, tmp: Path) -> int:
    from bench_bulk import bulk_benchmark

    return bulk_benchmark(args, tmp, prepare=prepare_node, say=say, figure=figure,
                          percentile=percentile, run_clients=run_clients,
                          passphrase=PASSPHRASE)


def say_log_tails(tmp: Path) -> None:
    """The last lines of each server log of the run, after a failure."""
    for log in ("node.log", "baseline.log", "audit-bench/node.log", "bulk/node.log",
                "transfer/ombudsman-ri.log", "transfer/pemkot-bekasi.log",
                *(str(p.relative_to(tmp)) for p in sorted(tmp.glob("cases-*/*.log"))),
                *(str(p.relative_to(tmp)) for p in sorted(tmp.glob("partners-*/*.log")))):
        if (tmp / log).is_file():
            tail = (tmp / log).read_text(encoding="utf-8", errors="replace").splitlines()
            say(f"last lines of {log}:\n" + "\n".join(tail[-20:]))


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
    parser.add_argument("--target", type=float, default=0.6,
                        help="throughput ratio to report against (default: 0.6)")
    parser.add_argument("--benchmark",
                        choices=("all", "submission", "validation", "audit", "transfer",
                                 "cases_transfer", "cases_query", "partners", "bulk"),
                        default="all", help="which benchmark to run (default: all)")
    parser.add_argument("--validation-records", type=positive, default=2000,
                        help="sample records per dataset for the validation benchmark")
    parser.add_argument("--audit-events", type=positive, default=200_000,
                        help="audit events appended per side and batch size (default: 200000)")
    parser.add_argument("--audit-batch-sizes", type=positives, default=(100, 1000),
                        help="events per durable append, comma-separated (default: 100,1000)")
    parser.add_argument("--audit-log-size", type=positive, default=1_000_000,
                        help="entries of the log that is verified and proved (default: 1000000)")
    parser.add_argument("--audit-proofs", type=positive, default=2000,
                        help="inclusion proofs of random entries (default: 2000)")
    parser.add_argument("--transfer-records", type=positive, default=None,
                        help="records sent node to node in the transfer benchmark (default: "
                             "1000000) and in each run of cases_transfer (default: 200000)")
    parser.add_argument("--transfer-workers", type=positive, default=2,
                        help="gunicorn workers of the receiving node in the transfer "
                             "benchmark (default: 2; the sender has 1)")
    parser.add_argument("--cases-repeats", type=positive, default=1,
                        help="cases_transfer: pairs of runs, ledger off and on, alternating "
                             "which goes first (default: 1)")
    parser.add_argument("--cases-count", type=positive, default=1_000_000,
                        help="cases_query: cases in the ledger (default: 1000000)")
    parser.add_argument("--cases-queries", type=positive, default=300,
                        help="cases_query: timed calls per query and side (default: 300)")
    partners_options(parser)
    bulk_options(parser)
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
        if status == 0 and args.benchmark in ("all", "bulk"):
            status = bulk(args, tmp)
        if status == 0 and args.benchmark in ("all", "audit"):
            status = audit_benchmark(args, tmp)
        if status == 0 and args.benchmark in ("all", "transfer"):
            from bench_transfer import transfer_benchmark

            status = transfer_benchmark(args, tmp, prepare=prepare_node, say=say, figure=figure,
                                        passphrase=PASSPHRASE)
        if status == 0 and args.benchmark in ("all", "cases_transfer"):
            from bench_transfer import cases_transfer_benchmark

            status = cases_transfer_benchmark(args, tmp, prepare=prepare_node, say=say,
                                              figure=figure, passphrase=PASSPHRASE)
        if status == 0 and args.benchmark in ("all", "cases_query"):
            status = cases_query_benchmark(args, tmp)
        if status == 0 and args.benchmark in ("all", "partners"):
            from bench_partners import partners_benchmark

            status = partners_benchmark(args, tmp, say=say, figure=figure, passphrase=PASSPHRASE)
        return status
    except (RuntimeError, TimeoutError, subprocess.SubprocessError, requests.RequestException,
            auditor.VerificationError) as exc:
        say(f"FAILED: {exc}")
        say_log_tails(tmp)
        return 2
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
