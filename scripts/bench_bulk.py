"""The bulk benchmark: submissions of many records each, as ``gateway-client submit`` sends them.

The Pemkot Bekasi node is started as the ``submission`` benchmark starts it
(``gateway serve --no-scheduler``: gunicorn, SQLite, fresh keys; every 202 follows a
durable commit). ``--bulk-records`` distinct, valid ``tanggapan_klarifikasi``
records of the newest schema version are cut into requests of ``--bulk-size``
records (``gateway.client.api.submission_body``, with a fresh idempotency key each,
as ``gateway-client submit`` makes them) and sent through ``GatewayClient.submit_body``
by ``--bulk-concurrency`` client threads, each with a client of its own. The
baseline is bare validation of the same records in this process
(``RecordValidator.errors``, best of three per round). The records are split into
``--bulk-rounds`` rounds; in each, the baseline validates the round's records and
the clients send them, alternating which goes first. Measured: records accepted per
second over the rounds' wall time, against records validated per second; and each
request's latency as the client sees it. Afterwards the node's ``outbox_records``
must hold exactly the accepted records: as many, and the same SHA-256 of their
canonical JSON (read back through the node's storage key).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gateway.client import GatewayClient, GatewayClientError, RetryPolicy
from gateway.client.api import encode_record, new_idempotency_key, submission_body
from gateway.crypto import canonical
from gateway.crypto.atrest import load_cipher
from gateway.exchange.validation import validator_for
from gateway.node.config import load_node_config
from gateway.ops import gunicorn_config
from gateway.ops.process import NodeProcess, free_port
from schemas import registry
from schemas.samples import sample_records

PARTY = "pemkot-bekasi"
DATASET = "tanggapan_klarifikasi"
TOKEN = "dev-only-pemkot-sistem-pengaduan"  # noqa: S105 (development token; hash in config/)
POOL = 2000  # distinct sample records; each benchmark record is one of them, made distinct
TARGET = 0.7  # node records/s against bare validation records/s


def bulk_records(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    """``count`` valid ``tanggapan_klarifikasi`` records (newest version), all distinct.

    Each is a sample record (seed 2021) whose explanation (``penjelasan``, free text
    of at most 8000 characters) ends with its own follow-up reference.
    """
    pool = _pool()
    out = []
    for i in range(start, start + count):
        record = dict(pool[i % len(pool)])
        record["penjelasan"] = f"{record['penjelasan']} Nomor agenda tindak lanjut TL-{i:07d}."
        out.append(record)
    return out


_POOL: list[dict[str, Any]] = []


def _pool() -> list[dict[str, Any]]:
    if not _POOL:
        _POOL.extend(sample_records(DATASET, POOL, seed=2021, version=_version()))
    return _POOL


def _version() -> str:
    return registry.versions(DATASET)[-1]


@dataclass
class Request:
    """One request's body, its idempotency key and the digests the node must store."""

    body: bytes
    key: str
    records: int
    records_sha256: str
    digests: list[str]


def make_requests(records: list[dict[str, Any]], size: int) -> list[Request]:
    """The records cut into bodies of ``size`` records, as ``gateway-client submit`` does."""
    version = _version()
    out = []
    for first in range(0, len(records), size):
        part = records[first:first + size]
        forms = [canonical.dumps(r) for r in part]
        out.append(Request(
            body=submission_body(version, [encode_record(r) for r in part]),
            key=new_idempotency_key(),
            records=len(part),
            records_sha256=hashlib.sha256(b"[" + b",".join(forms) + b"]").hexdigest(),
            digests=[hashlib.sha256(f).hexdigest() for f in forms],
        ))
    return out


@dataclass
class Tally:
    """What the node answered."""

    seconds: float = 0.0
    accepted: int = 0  # records
    latencies: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s != "202")


def send(base_url: str, batch: list[Request], *, concurrency: int, deadline: float,
         tally: Tally, run_clients: Callable[..., tuple[float, bool]]) -> None:
    """Every request of ``batch`` from ``concurrency`` threads, each with its own client.

    Nothing is retried (a 429 or 503 is a failure here), and a 202 counts only if the
    node's answer gives the records' count and digest.
    """
    lock = threading.Lock()
    queue = iter(batch)
    gate = threading.Barrier(concurrency + 1)

    def worker() -> None:
        session = requests.Session()
        seen: list[int] = []
        session.hooks["response"].append(lambda r, *_a, **_k: seen.append(r.status_code))
        client = GatewayClient(base_url, TOKEN, session=session, retry=RetryPolicy(attempts=1))
        latencies: list[float] = []
        statuses: collections.Counter[str] = collections.Counter()
        errors: list[str] = []
        accepted = 0
        gate.wait()
        try:
            while True:
                with lock:
                    request = next(queue, None)
                if request is None:
                    break
                if time.monotonic() > deadline:
                    statuses["timed_out"] += 1
                    continue
                seen.clear()
                began = time.perf_counter()
                try:
                    answer = client.submit_body(DATASET, request.body,
                                                idempotency_key=request.key)
                except GatewayClientError as exc:
                    status, problem = str(seen[-1] if seen else type(exc).__name__), str(exc)
                else:
                    status, problem = str(seen[-1]), ""
                    if answer.replayed or answer.record_count != request.records or (
                            answer.records_sha256 != request.records_sha256):
                        status, problem = "wrong_answer", repr(answer)
                latencies.append(time.perf_counter() - began)
                statuses[status] += 1
                if status == "202":
                    accepted += request.records
                elif len(errors) < 3:
                    errors.append(f"{status}: {problem[:300]}")
        finally:
            session.close()
            with lock:
                tally.latencies.extend(latencies)
                tally.statuses.update(statuses)
                tally.accepted += accepted
                tally.errors.extend(errors[:max(0, 3 - len(tally.errors))])

    seconds, hung = run_clients(worker, concurrency, gate, deadline=deadline, slack=130)
    tally.seconds += seconds
    if hung:
        tally.statuses["hung"] += 1


def validate_best(records: list[dict[str, Any]], times: int = 3) -> float | None:
    """Seconds of the fastest of ``times`` bare validations of ``records``; None if invalid."""
    validator = validator_for(DATASET, _version())
    best = float("inf")
    for _ in range(times):
        began = time.perf_counter()
        if validator.errors(records):
            return None
        best = min(best, time.perf_counter() - began)
    return best


def outbox_problem(db: Path, key_dir: Path, env: dict[str, str],
                   sent: list[Request]) -> str | None:
    """None if the outbox holds exactly the records of ``sent``; else what differs.

    Each stored record is opened with the node's storage key and hashed again from
    its canonical JSON: that digest, the stored ``record_sha256`` and the one the
    client computed before sending must all agree.
    """
    expected = collections.Counter(d for r in sent for d in r.digests)
    cipher = load_cipher(key_dir, environ=env)
    stored: collections.Counter[str] = collections.Counter()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        for sealed, digest in conn.execute(
                "SELECT b.record, o.record_sha256 FROM outbox_records o"
                " JOIN outbox_record_bodies b ON b.seq = o.seq WHERE o.dataset = ?", (DATASET,)):
            again = hashlib.sha256(canonical.dumps(json.loads(cipher.open(sealed)))).hexdigest()
            if again != digest:
                return f"a stored record's content does not match its record_sha256 {digest}"
            stored[digest] += 1
        submissions = int(conn.execute("SELECT count(*) FROM submissions").fetchone()[0])
    finally:
        conn.close()
    if submissions != len(sent):
        return f"the node holds {submissions} submissions, expected {len(sent)}"
    if stored != expected:
        missing = sum((expected - stored).values())
        extra = sum((stored - expected).values())
        return (f"the outbox holds {sum(stored.values())} records, expected "
                f"{sum(expected.values())}: {missing} missing, {extra} extra or duplicated")
    return None


def _rounds(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def bulk_benchmark(args: argparse.Namespace, tmp: Path, *, prepare: Callable[..., Path],
                   say: Callable[[str], None], figure: Callable[..., str],
                   percentile: Callable[[list[float], float], float],
                   run_clients: Callable[..., tuple[float, bool]], passphrase: str) -> int:
    deadline = time.monotonic() + args.time_limit
    count, size = args.bulk_records, args.bulk_size
    rounds = min(args.bulk_rounds, max(1, count // size))
    work = tmp / "bulk"
    work.mkdir()
    env = {**os.environ, "GATEWAY_KEY_PASSPHRASE": passphrase}
    env.pop("GATEWAY_ACCESS_LOG", None)
    config_path = prepare(work, env)
    node_config = load_node_config(config_path, environ={})
    workers = args.workers or node_config.workers
    threads = args.threads or node_config.threads
    if size > node_config.max_records_per_submission:
        say(f"FAILED: --bulk-size {size} is over the node's max_records_per_submission "
            f"({node_config.max_records_per_submission})")
        return 1
    db_path = work / f"{PARTY}.db"
    node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{db_path}",
                "GATEWAY_KEY_DIR": str(work / "keys" / PARTY),
                "GATEWAY_WORKERS": str(workers), "GATEWAY_THREADS": str(threads)}

    warm_count = args.bulk_concurrency * size  # one request per client, not timed
    say(f"bulk: making {count} + {warm_count} (warm-up) distinct {DATASET} {_version()} "
        f"records and checking that each validates")
    records = bulk_records(count + warm_count)
    if validate_best(records, times=1) is None:
        say("FAILED: the benchmark records do not validate")
        return 1
    warm_records, records = records[count:], records[:count]
    parts, first = [], 0
    for n in _rounds(count, rounds):
        parts.append(records[first:first + n])
        first += n
    warm = make_requests(warm_records, size)
    batches = [make_requests(part, size) for part in parts]
    sent = [*warm, *(r for batch in batches for r in batch)]
    if len({d for r in sent for d in r.digests}) != count + warm_count:
        say("FAILED: the benchmark records are not all distinct")
        return 1
    body_bytes = sum(len(r.body) for r in sent) // len(sent)

    node = NodeProcess(config_path, listen=f"127.0.0.1:{free_port()}", env=node_env,
                       log_path=work / "node.log", args=("--no-scheduler",))
    tally, warm_tally, validated = Tally(), Tally(), 0.0
    try:
        say(f"bulk: starting the {PARTY} node ({workers} gunicorn "
            f"{gunicorn_config.worker_class} workers of {threads} threads); requests of "
            f"{size} records ({body_bytes} bytes), {args.bulk_concurrency} clients")
        node.start()
        say(f"bulk: node PID {node.proc.pid if node.proc else None}; warm-up: "
            f"{len(warm)} requests")
        send(node.base_url, warm, concurrency=args.bulk_concurrency, deadline=deadline,
             tally=warm_tally, run_clients=run_clients)
        for round_no, (part, batch) in enumerate(zip(parts, batches, strict=True), start=1):
            if time.monotonic() > deadline:
                say(f"the time limit of {args.time_limit} s is over; skipping the remaining "
                    "rounds")
                tally.statuses["skipped"] += len(batch)
                continue
            seconds, accepted = tally.seconds, tally.accepted
            order = ("baseline", "node") if round_no % 2 else ("node", "baseline")
            for side in order:
                if side == "node":
                    send(node.base_url, batch, concurrency=args.bulk_concurrency,
                         deadline=deadline, tally=tally, run_clients=run_clients)
                    continue
                best = validate_best(part)
                if best is None:
                    say("FAILED: the benchmark records do not validate")
                    return 1
                validated += best
                base_rate = len(part) / best
            took, got = tally.seconds - seconds, tally.accepted - accepted
            say(f"bulk: round {round_no}/{rounds}: node {got}/{len(part)} records accepted "
                f"in {took:.2f} s = {got / took:.0f} records/s; bare validation "
                f"{base_rate:.0f} records/s")
    finally:
        say(f"bulk: stopping the node (exit code {node.stop()})")
    return _report(args, work, node_env, sent, count, tally, warm_tally, validated, say=say,
                   figure=figure, percentile=percentile)


def _report(args: argparse.Namespace, work: Path, node_env: dict[str, str], sent: list[Request],
            count: int, tally: Tally, warm_tally: Tally, validated: float, *,
            say: Callable[[str], None], figure: Callable[..., str],
            percentile: Callable[[list[float], float], float]) -> int:
    """Checks every answer and the node's outbox, then prints the figures."""
    failed = 0
    for name, t in (("warm-up", warm_tally), ("measured", tally)):
        if t.failed:
            failed += t.failed
            say(f"bulk: {name}: {t.failed} request(s) not answered 202: {dict(t.statuses)}")
            for line in t.errors:
                say(f"  {line}")
    if not failed:
        say("bulk: checking that the node's outbox holds exactly the accepted records")
        problem = outbox_problem(work / f"{PARTY}.db", work / "keys" / PARTY, node_env, sent)
        if problem:
            say(f"bulk: {problem}")
            failed += 1
    if failed:
        say("FAILED: figures are not reported for a run with failed requests")
        return 1
    rate, base_rate = tally.accepted / tally.seconds, count / validated
    print(figure("bulk_submission_throughput", rate, "records/s", base_rate, 1))
    for q in (50, 99):
        print(json.dumps({"name": f"bulk_submission_latency_p{q}",
                          "value": round(percentile(tally.latencies, q) * 1000, 2), "unit": "ms",
                          "records_per_request": args.bulk_size}))
    print(flush=True, end="")
    say(f"bulk: {len(tally.latencies)} measured requests of {args.bulk_size} records, all "
        f"answered 202; {sum(r.records for r in sent)} records (warm-up included) in the "
        f"node's outbox, each with its digest; {rate:.0f} records/s against {base_rate:.0f} "
        f"validated bare: ratio {rate / base_rate:.3f} (target >= {TARGET}: "
        f"{'met' if rate / base_rate >= TARGET else 'NOT met'})")
    return 0
