"""The transfer benchmark: many records from one real node to the other.

The Ombudsman node sends ``permintaan_klarifikasi`` to the Pemkot Bekasi node,
both ``gateway serve`` processes (gunicorn, SQLite) on loopback. The records
(about 1 KiB each, every one distinct) are first accepted into the sender's
outbox by ``gateway.exchange.intake.submit``, the code behind ``POST /records``, in
process. Then the sender starts with its schedule, which seals batches of
100,000 records as chunks of at most 1 MiB under signed manifests and sends
them; the receiver verifies, validates, stores and commits them. Measured:
the seconds from starting the sender to the moment the receiver has committed
every record; the baseline is the receiver's bare schema validation rate for
the same records (``RecordValidator.errors``, in this process). Memory: each
node's processes (``gateway serve``, the gunicorn master and its workers) are
sampled every 0.2 s; the figure is the peak of their summed PSS (shared pages
counted once), with the summed RSS beside it. Afterwards every record is read
back from the receiver's chunks and compared with the sender's outbox by
digest: each must be there exactly once.
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.crypto import canonical
from gateway.crypto.atrest import Cipher, load_cipher
from gateway.crypto.keys import NodeKeys
from gateway.exchange import intake
from gateway.exchange.validation import validator_for
from gateway.node import agreements
from gateway.node.config import load_node_config, load_parties
from gateway.node.node import Node
from gateway.ops.process import NodeProcess, free_port, wait_until
from schemas.samples import sample_records

SENDER = "ombudsman-ri"
RECEIVER = "pemkot-bekasi"
DATASET = "permintaan_klarifikasi"
CLIENT = "simpel"
BATCH_RECORDS = 100_000
BATCH_BYTES = 128 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
SUBMISSION = 10_000  # records per submit() call while loading
# What the summary line compares against (docs/PERFORMANCE.md, "Where the time went").
RATE_TARGET = 14_000  # records/s end to end
RATIO_TARGET = 0.65  # of bare validation
MEMORY_TARGET_MIB = 250  # peak PSS of each node
FILLER = (
    "Pelapor telah menyampaikan keberatan secara tertulis kepada unit pelayanan terkait, "
    "namun sampai batas waktu yang ditetapkan dalam standar pelayanan belum memperoleh "
    "tanggapan maupun penjelasan mengenai tindak lanjut. Pelapor juga telah mendatangi "
    "kantor layanan sebanyak dua kali dan diminta melengkapi dokumen yang sebelumnya sudah "
    "diserahkan. Tim pemeriksaan meminta klarifikasi atas prosedur, jangka waktu, dan biaya "
    "yang dikenakan, serta dasar hukum penolakan permohonan pelapor."
)


def realistic_records(count: int, *, start: int = 0) -> list[dict[str, Any]]:
    """``count`` valid, distinct records of about 1 KiB (a summary of a few sentences).

    Each is a case of its own: its case number (``nomor_laporan``) is made from its
    place, so the case ledger holds one case per record.
    """
    pool = _pool()
    out = []
    for i in range(start, start + count):
        record = dict(pool[i % len(pool)])
        record["ringkasan"] = f"{record['ringkasan']} {FILLER} (berkas {i:07d})"
        record["nomor_laporan"] = case_number(i)
        out.append(record)
    return out


def case_number(i: int) -> str:
    """The case number of the ``i``-th benchmark record: distinct for every ``i``."""
    return f"{i + 1:07d}/LM/XI/2026/JKT"


_POOL: list[dict[str, Any]] = []


def _pool() -> list[dict[str, Any]]:
    if not _POOL:
        for record in sample_records(DATASET, 5000, seed=2021, version="1.0"):
            if record.get("pelapor"):
                # The agreement lets the reporter's name cross, never the NIK, phone or
                # e-mail that some 1.0 samples carry (config/agreement.toml).
                record["pelapor"] = {"nama": record["pelapor"]["nama"]}
            _POOL.append(record)
    return _POOL


def _sign(config_dir: Path, agreement: Path) -> None:
    """Both parties sign the edited agreement again with their fresh keys."""
    registry = load_parties(config_dir / "parties")
    for party in (SENDER, RECEIVER):
        key = NodeKeys.from_directory(config_dir.parent / "keys" / party).signing
        agreements.sign(agreement, party, key, registry)


def _agreement_for_bench(text: str) -> str:
    block = re.compile(r'(name = "permintaan_klarifikasi"\n(?:.+\n)*?)schedule = .*\n'
                       r'max_records_per_batch = .*\nmax_batch_bytes = .*\n')
    text, found = block.subn(
        lambda m: m.group(1) + "schedule = { interval_seconds = 2 }\n"
        f"max_records_per_batch = {BATCH_RECORDS}\nmax_batch_bytes = {BATCH_BYTES}\n"
        f"max_chunk_bytes = {CHUNK_BYTES}\n", text)
    if found != 1:
        raise RuntimeError("cannot find the permintaan_klarifikasi flow in the agreement")
    return text


def group_memory(pgid: int, each: dict[str, int] | None = None,
                  cpu: dict[str, float] | None = None,
                  kernel: dict[str, tuple[float, int]] | None = None) -> tuple[int, int]:
    """Summed PSS and RSS (bytes) of the processes in process group ``pgid``.

    ``cpu``: each process's CPU seconds so far; ``kernel``: of those, the seconds in the
    kernel, and its minor page faults (fresh pages faulted in).
    """
    pss = rss = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as fh:
                fields = fh.read().rpartition(")")[2].split()
            if int(fields[2]) != pgid:  # field 5 of stat: the process group
                continue
            if cpu is not None:  # utime + stime, fields 14 and 15 of stat
                cpu[entry] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            if kernel is not None:  # stime, and minflt: field 10 of stat
                kernel[entry] = (int(fields[12]) / os.sysconf("SC_CLK_TCK"), int(fields[7]))
            with open(f"/proc/{entry}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        if each is not None:
                            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                                name = cmd.read().replace(b"\0", b" ")[:60].decode()
                            key = f"{entry} {name}"
                            each[key] = max(each.get(key, 0), int(line.split()[1]) // 1024)
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pss, rss


class MemorySampler(threading.Thread):
    def __init__(self, nodes: dict[str, NodeProcess]) -> None:
        super().__init__(daemon=True)
        self.nodes = nodes
        self.peak = {name: (0, 0) for name in nodes}
        self.each: dict[str, dict[str, int]] = {name: {} for name in nodes}
        self.cpu: dict[str, dict[str, float]] = {name: {} for name in nodes}
        self.kernel: dict[str, dict[str, tuple[float, int]]] = {name: {} for name in nodes}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            for name, node in self.nodes.items():
                if node.proc is None:
                    continue
                pss, rss = group_memory(node.proc.pid, self.each[name], self.cpu[name],
                                        self.kernel[name])
                old = self.peak[name]
                self.peak[name] = (max(old[0], pss), max(old[1], rss))


def _committed(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(
            "SELECT coalesce(sum(record_count), 0) FROM inbound_batches WHERE dataset = ?",
            (DATASET,)).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def _receipted(db: Path) -> int:
    """Records in the sender's batches whose receipt it has verified."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(
            "SELECT coalesce(sum(record_count), 0) FROM outbound_batches "
            "WHERE dataset = ? AND status = 'delivered'", (DATASET,)).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()


def _exactly_once(sender_db: Path, receiver_db: Path, cipher: Cipher) -> str | None:
    """None if every outbox record arrived exactly once; else what differs.

    ``cipher``: the receiver's storage key; its chunks are stored encrypted.
    """
    sent: collections.Counter[str] = collections.Counter()
    conn = sqlite3.connect(sender_db)
    try:
        for (digest,) in conn.execute(
                "SELECT record_sha256 FROM outbox_records WHERE dataset = ?", (DATASET,)):
            sent[digest] += 1
    finally:
        conn.close()
    got: collections.Counter[str] = collections.Counter()
    conn = sqlite3.connect(receiver_db)
    try:
        for (sealed,) in conn.execute(
                "SELECT c.signed FROM inbound_chunks c JOIN inbound_batches b "
                "ON b.batch_id = c.batch_id WHERE b.dataset = ?", (DATASET,)):
            part = cipher.open(sealed).split(".")[1]
            document = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for record in document["records"]:
                got[hashlib.sha256(canonical.dumps(record)).hexdigest()] += 1
    finally:
        conn.close()
    if sent == got:
        return None
    missing = sum((sent - got).values())
    extra = sum((got - sent).values())
    return f"{missing} records missing and {extra} extra or duplicated at the receiver"


@dataclass
class Deployment:
    """The two nodes of the benchmark: their configs, ports and environments, under ``work``."""

    work: Path
    config_dir: Path
    ports: dict[str, int]
    env: dict[str, str]
    node_env: dict[str, dict[str, str]]


def transfer_benchmark(args: argparse.Namespace, tmp: Path, *, prepare: Any, say: Any,
                       figure: Any, passphrase: str) -> int:
    count: int = args.transfer_records or 1_000_000
    deployment = _deploy(args, tmp, prepare=prepare, passphrase=passphrase)
    _fill_outbox(deployment, count, say=say)
    validation_rate = _validation_rate(count)
    if validation_rate is None:
        say("FAILED: the benchmark records do not validate")
        return 1
    seconds, sampler = _transfer(args, deployment, count, say=say)
    return _report(deployment, count, seconds, validation_rate, sampler, say=say, figure=figure)


def _deploy(args: argparse.Namespace, tmp: Path, *, prepare: Any, passphrase: str,
            name: str = "transfer", case_ledger: bool = True) -> Deployment:
    """Both nodes' configs and keys in ``tmp/<name>``, the agreement set for the benchmark.

    ``case_ledger=False``: both node configs get ``case_ledger = false``.
    """
    os.environ["GATEWAY_KEY_PASSPHRASE"] = passphrase
    env = {**os.environ}
    env.pop("GATEWAY_ACCESS_LOG", None)
    work = tmp / name
    work.mkdir()
    receiver_config = prepare(work, env)
    config_dir = receiver_config.parent
    if not case_ledger:
        for party in (SENDER, RECEIVER):
            _ledger_off(config_dir / f"{party}.toml")
    ports = {RECEIVER: free_port(), SENDER: free_port()}
    for party, port in ((RECEIVER, ports[RECEIVER]), (SENDER, ports[SENDER])):
        registered = config_dir / "parties" / f"{party}.toml"
        registered.write_text(re.sub(r'base_url = ".*"', f'base_url = "http://127.0.0.1:{port}"',
                                     registered.read_text(encoding="utf-8")), encoding="utf-8")
    agreement = next((config_dir / "agreements").glob("*.toml"))
    agreement.write_text(_agreement_for_bench(agreement.read_text(encoding="utf-8")),
                         encoding="utf-8")
    _sign(config_dir, agreement)
    node_env = {
        party: {
            **env,
            "GATEWAY_DATABASE_URL": f"sqlite:///{work / party}.db",
            "GATEWAY_KEY_DIR": str(work / "keys" / party),
            # The sender's HTTP API is idle here: it only sends.
            "GATEWAY_WORKERS": str(args.transfer_workers if party == RECEIVER else 1),
            "GATEWAY_THREADS": "4",
        }
        for party in (SENDER, RECEIVER)
    }
    return Deployment(work, config_dir, ports, env, node_env)


def _ledger_off(config: Path) -> None:
    """Sets ``case_ledger = false`` in the ``[node]`` table of the node config ``config``."""
    text = config.read_text(encoding="utf-8")
    if "\ncase_ledger" in text or "\n[node]\n" not in text:
        raise RuntimeError(f"cannot switch the case ledger off in {config.name}")
    config.write_text(text.replace("\n[node]\n", "\n[node]\ncase_ledger = false\n", 1),
                      encoding="utf-8")


def _fill_outbox(deployment: Deployment, count: int, *, say: Any) -> None:
    """Accepts ``count`` records into the sender's outbox, as ``POST /records`` does."""
    say(f"transfer: generating and accepting {count} records of about 1 KiB into the "
        f"{SENDER} outbox")
    sender_config = load_node_config(deployment.config_dir / f"{SENDER}.toml",
                                     environ=deployment.node_env[SENDER])
    node = Node.from_config(sender_config)
    client = next(c for c in sender_config.clients if c.id == CLIENT)
    began = time.perf_counter()
    size = 0
    try:
        for start in range(0, count, SUBMISSION):
            part = realistic_records(min(SUBMISSION, count - start), start=start)
            if start == 0:
                size = sum(len(canonical.dumps(r)) for r in part) // len(part)
            intake.submit(node, client, DATASET, {"schema_version": "1.0", "records": part})
    finally:
        node.store.dispose()
    say(f"transfer: {count} records accepted in {time.perf_counter() - began:.0f} s "
        f"(mean canonical size {size} bytes)")


def _validation_rate(count: int) -> float | None:
    """The baseline: records validated per second, bare; None if they do not validate."""
    sample = realistic_records(min(count, 20_000))
    validator = validator_for(DATASET, "1.0")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        if validator.errors(sample):
            return None
        best = min(best, time.perf_counter() - t0)
    return len(sample) / best


def _transfer(args: argparse.Namespace, deployment: Deployment, count: int, *,
              say: Any, receipts: bool = False,
              ledger: dict[str, float] | None = None) -> tuple[float, MemorySampler]:
    """The measured run: the seconds until the receiver has every record, and the memory.

    The clock starts with the sender; the nodes' memory is sampled meanwhile. With
    ``receipts``, the clock stops only when the sender has also verified the receipt
    of every batch (and so queued its own side of the case ledger). With ``ledger``,
    the nodes then run on until both case ledgers have taken every delivered batch,
    and ``ledger["caught_up"]`` is the seconds from the start to then.
    """
    nodes = {
        party: NodeProcess(deployment.config_dir / f"{party}.toml",
                           listen=f"127.0.0.1:{deployment.ports[party]}",
                           env=deployment.node_env[party],
                           log_path=deployment.work / f"{party}.log")
        for party in (RECEIVER, SENDER)
    }
    sampler = MemorySampler(nodes)
    receiver_db = deployment.work / f"{RECEIVER}.db"
    try:
        nodes[RECEIVER].start()
        sampler.start()
        say(f"transfer: starting the {SENDER} node; its schedule sends every 2 s")
        t0 = time.perf_counter()
        nodes[SENDER].start()
        done = [0]

        sender_db = deployment.work / f"{SENDER}.db"

        def arrived() -> bool:
            done[0] = _committed(receiver_db)
            return done[0] >= count and (not receipts or _receipted(sender_db) >= count)

        last_report = [t0]

        def progress() -> bool:
            finished = arrived()
            now = time.perf_counter()
            if now - last_report[0] > 15:
                last_report[0] = now
                say(f"transfer: {done[0]} of {count} committed after {now - t0:.0f} s")
            return finished

        wait_until(progress, timeout=args.time_limit, interval=0.1,
                   what=f"{count} records at the receiver")
        seconds = time.perf_counter() - t0
        if ledger is not None:
            wait_until(lambda: _ledger_queue(receiver_db) + _ledger_queue(sender_db) == 0,
                       timeout=args.time_limit, interval=0.1, what="both case ledgers")
            ledger["caught_up"] = time.perf_counter() - t0
    finally:
        sampler.stop.set()
        for proc in nodes.values():
            proc.stop()
    sampler.join()
    return seconds, sampler


def _report(deployment: Deployment, count: int, seconds: float, validation_rate: float,
            sampler: MemorySampler, *, say: Any, figure: Any) -> int:
    """Checks that every record arrived exactly once, then prints the figures."""
    for party, each in sampler.each.items():
        say(f"transfer: {party} peak PSS per process (MiB): {each}")
        say(f"transfer: {party} CPU seconds per process: "
            f"{ {pid: round(t, 1) for pid, t in sampler.cpu[party].items()} }")
        say(f"transfer: {party} of which in the kernel, seconds and minor page faults: "
            f"{ {pid: (round(t, 1), n) for pid, (t, n) in sampler.kernel[party].items()} }")
    say("transfer: checking that every record arrived exactly once")
    work = deployment.work
    problem = _exactly_once(work / f"{SENDER}.db", work / f"{RECEIVER}.db",
                            load_cipher(work / "keys" / RECEIVER, environ=deployment.env))
    if problem:
        say(f"FAILED: {problem}")
        return 1
    rate = count / seconds
    print(figure("transfer_throughput", rate, "records/s", validation_rate, 1))
    mib = 1024 * 1024
    for party, role in ((SENDER, "sender"), (RECEIVER, "receiver")):
        pss, rss = sampler.peak[party]
        print(json.dumps({"name": f"transfer_peak_memory_{role}", "value": round(pss / mib, 1),
                          "unit": "MiB PSS", "rss": round(rss / mib, 1),
                          "limit": MEMORY_TARGET_MIB}))
    say(f"transfer: {count} records in {seconds:.1f} s = {rate:.0f} records/s "
        f"(target >= {RATE_TARGET}); the receiver validates {validation_rate:.0f} records/s "
        f"bare (ratio {rate / validation_rate:.3f}, target >= {RATIO_TARGET}); peak memory "
        + ", ".
        join(f"{p} {sampler.peak[p][0] / mib:.0f} MiB PSS ({sampler.peak[p][1] / mib:.0f} RSS)"
             for p in (SENDER, RECEIVER)))
    return 0


# -- the case ledger's cost: the same transfer with the ledger off and on ---------------------

CASES_TARGET = 0.9  # the rate with the ledger kept, at least this share of the rate without


def cases_transfer_benchmark(args: argparse.Namespace, tmp: Path, *, prepare: Any, say: Any,
                             figure: Any, passphrase: str) -> int:
    """The transfer with the case ledger off (``case_ledger = false`` on both nodes) and on.

    Each repeat runs both, on fresh nodes and databases, alternating which goes
    first. The clock of each runs until the receiver has committed every record and
    the sender has verified every receipt (the two transactions that queue a batch
    for the ledger); with the ledger on, the seconds until both ledgers have taken
    every batch are reported beside. Afterwards every record must have arrived
    exactly once and, with the ledger on, each node's ``cases`` table must hold one
    row per record (none with it off).
    """
    count: int = args.transfer_records or 200_000
    seconds = {"off": 0.0, "on": 0.0}
    for repeat in range(args.cases_repeats):
        order = ("off", "on") if repeat % 2 == 0 else ("on", "off")
        for side in order:
            deployment = _deploy(args, tmp, prepare=prepare, passphrase=passphrase,
                                 name=f"cases-transfer-{repeat + 1}-{side}",
                                 case_ledger=side == "on")
            _fill_outbox(deployment, count, say=say)
            say(f"cases_transfer: repeat {repeat + 1}/{args.cases_repeats}, ledger {side}")
            caught: dict[str, float] = {}
            took, sampler = _transfer(args, deployment, count, say=say, receipts=True,
                                      ledger=caught if side == "on" else None)
            problem = _check_cases(deployment, count, ledger=side == "on")
            if problem is None:
                work = deployment.work
                problem = _exactly_once(work / f"{SENDER}.db", work / f"{RECEIVER}.db",
                                        load_cipher(work / "keys" / RECEIVER,
                                                    environ=deployment.env))
            if problem:
                say(f"FAILED: ledger {side}: {problem}")
                return 1
            seconds[side] += took
            cpu = {p: round(sum(sampler.cpu[p].values()), 1) for p in (SENDER, RECEIVER)}
            say(f"cases_transfer: ledger {side}: {count} records in {took:.1f} s = "
                f"{count / took:.0f} records/s (receiver committed, sender verified every "
                f"receipt); CPU seconds {cpu}; exactly once; cases rows as expected")
            if "caught_up" in caught:
                lag = caught["caught_up"] - took
                say(f"cases_transfer: both ledgers had taken every batch {caught['caught_up']:.1f}"
                    f" s after the start, {lag:.1f} s after the last receipt")
            if not args.keep:
                shutil.rmtree(deployment.work, ignore_errors=True)
    total = count * args.cases_repeats
    on, off = total / seconds["on"], total / seconds["off"]
    print(figure("cases_transfer_throughput", on, "records/s", off, 1), flush=True)
    say(f"cases_transfer: ledger on {on:.0f} records/s, off {off:.0f} records/s, ratio "
        f"{on / off:.3f} (target >= {CASES_TARGET}: "
        f"{'met' if on / off >= CASES_TARGET else 'NOT met'})")
    return 0


def _ledger_queue(db: Path) -> int:
    """Delivered batches a node's case ledger has not taken yet (its ``case_inbox``)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM case_inbox").fetchone()[0])
    finally:
        conn.close()


def _check_cases(deployment: Deployment, count: int, *, ledger: bool) -> str | None:
    """None if each node's ``cases`` table holds one row per record (ledger on) or none."""
    expected = count if ledger else 0
    for party in (RECEIVER, SENDER):
        conn = sqlite3.connect(f"file:{deployment.work / party}.db?mode=ro", uri=True)
        try:
            found = int(conn.execute("SELECT count(*) FROM cases").fetchone()[0])
            numbers = int(conn.execute(
                "SELECT count(DISTINCT case_number) FROM case_events").fetchone()[0])
        finally:
            conn.close()
        if found != expected or numbers != expected:
            return (f"the {party} node's ledger holds {found} cases and events of {numbers}, "
                    f"expected {expected} (one per record)")
    return None
