"""Two gateway nodes exchanging real data end to end, on loopback.

1. creates each institution's keys (if absent) and fresh demo databases;
2. starts the Pemkot Bekasi and Ombudsman RI nodes as real gunicorn servers;
3. the Ombudsman's system posts clarification requests and an LHP whose corrective
   actions were due before it was delivered; its node seals and sends them
   (``gateway transfer run``);
4. Pemkot's system pulls them, checks the sender's signature against the
   agreement's registered key, acknowledges, and answers every request at once
   (and posts one invalid record, to show a refusal); its node sends the answers,
   which the Ombudsman's system pulls in turn;
5. each node signs a checkpoint of its audit log, which the other node's witness
   cosigns; one batch's evidence bundle is exported and verified offline;
6. an auditor verifies both logs with the agreement's keys and reconciles them;
7. prints a summary and each node's case ledger (the requests answered on time,
   the LHP's case overdue), then stops both servers.

Everything is written in the repository (``keys/``, ``var/demo/``), or with
``--dir DIR`` in DIR: a copy of ``config/`` on free ports, the keys and
``var/demo/`` are made there, so the demo runs beside another node or demo.
Pulled records are checked and counted, not written anywhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import requests
from joserfc import jws
from joserfc.jwk import KeySet

from gateway.cases import reports
from gateway.crypto.atrest import STORAGE_KEY_FILE
from gateway.node.config import load_node_config
from gateway.node.node import Node
from gateway.ops.process import NodeProcess, free_port
from schemas.samples import sample_records, sample_versions

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSPHRASE = "demo-only-passphrase-do-not-use-in-production"  # noqa: S105
TOKENS = {  # development tokens; their SHA-256 hashes are in config/*.toml
    "pemkot-bekasi": "dev-only-pemkot-sistem-pengaduan",
    "ombudsman-ri": "dev-only-ombudsman-simpel",
}
AUDITOR_TOKENS = {  # development tokens of the auditor clients in config/*.toml
    "pemkot-bekasi": "dev-only-pemkot-inspektorat",
    "ombudsman-ri": "dev-only-ombudsman-auditor",
}
SENDS = {"ombudsman-ri": "permintaan_klarifikasi", "pemkot-bekasi": "tanggapan_klarifikasi"}
RECORDS_PER_SIDE = 40
LHP_CASE = "9001/LM/IX/{year}/JKT"  # the case of the LHP delivered after its deadlines
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")
LISTEN = {"pemkot-bekasi": "127.0.0.1:8701", "ombudsman-ri": "127.0.0.1:8702"}  # in config/
KEY_FILES = ("signing.pem", "encryption.pem", "log.pem", "witness.pem", STORAGE_KEY_FILE)
# Where the demo writes (see the module's text); set by main().
BASE = ROOT
CONFIG = ROOT / "config"
VAR = ROOT / "var" / "demo"


def schema_version(dataset: str) -> str:
    """The newest schema version of ``dataset`` that the agreement accepts and that
    samples can be made for: what the demo posts."""
    agreement = tomllib.loads(agreement_file().read_text(encoding="utf-8"))
    agreed = next(d["schema_versions"] for d in agreement["datasets"] if d["name"] == dataset)
    return [v for v in sample_versions(dataset) if v in agreed][-1]


def records_of(party: str) -> list[dict[str, Any]]:
    """The sample records ``party``'s system posts (fixed seed: the same every run).

    The Ombudsman's requests each open a case of their own; Pemkot's answers carry
    the requests' case numbers, one answer per request.
    """
    dataset = SENDS[party]
    records = sample_records(dataset, RECORDS_PER_SIDE, seed=2021,
                             version=schema_version(dataset))
    for number, record in zip(case_numbers(), records, strict=True):
        record["nomor_laporan"] = number
    return records


def case_numbers() -> list[str]:
    """The case numbers of the demo's clarification requests (and of their answers)."""
    today = dt.date.today()
    return [f"{1001 + i:04d}/LM/{ROMAN[today.month - 1]}/{today.year}/JKT"
            for i in range(RECORDS_PER_SIDE)]


def late_lhp() -> dict[str, Any]:
    """An LHP (newest version) dated 40 days ago whose corrective actions fell due 10 and 5
    days ago: delivered today, its steps start today and are overdue at once."""
    record = sample_records("lahp", 1, seed=2021, version=schema_version("lahp"))[0]
    today = dt.date.today()
    record["nomor_laporan"] = LHP_CASE.format(year=today.year)
    record["tanggal_lahp"] = (today - dt.timedelta(days=40)).isoformat()
    for n, action in enumerate(record["tindakan_korektif"]):
        action["batas_waktu"] = (today - dt.timedelta(days=10 - 5 * min(n, 1))).isoformat()
    return record


def invalid_record() -> dict[str, Any]:
    """The record Pemkot's system posts to show a refusal: a bad status, no case number."""
    dataset = "tanggapan_klarifikasi"
    bad = sample_records(dataset, 1, seed=7, version=schema_version(dataset))[0]
    bad["status"] = "sudah"
    bad.pop("nomor_laporan")
    return bad


def agreement_file() -> Path:
    return CONFIG / "agreements" / "mou-pemkot-bekasi-ombudsman-ri-2021.toml"


def shown(path: Path) -> Path:
    return path.relative_to(BASE)


def use_directory(base: Path) -> None:
    """Write into ``base``: config/ copied there with free ports, keys/ and var/demo/ beside it."""
    global BASE, CONFIG, VAR
    BASE, CONFIG, VAR = base, base / "config", base / "var" / "demo"
    CONFIG.mkdir(parents=True, exist_ok=True)
    ports = {listen: f"127.0.0.1:{free_port()}" for listen in LISTEN.values()}
    for source in sorted((ROOT / "config").glob("**/*.toml")):
        text = source.read_text(encoding="utf-8")
        for fixed, free in ports.items():
            text = text.replace(fixed, free)
        target = CONFIG / source.relative_to(ROOT / "config")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def gateway_cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "gateway", *args], env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"demo: 'gateway {' '.join(args)}' failed:\n{done.stderr.strip()}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="write into DIR instead of the repository (see the module's text)")
    args = parser.parse_args(argv)
    if args.dir is not None:
        use_directory(args.dir.resolve())
    env = dict(os.environ)
    env.setdefault("GATEWAY_KEY_PASSPHRASE", DEMO_PASSPHRASE)
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    nodes: dict[str, NodeProcess] = {}
    configs = {p: CONFIG / f"{p}.toml" for p in TOKENS}
    for party, path in configs.items():
        config = load_node_config(path)
        if not all((config.key_dir / name).exists() for name in KEY_FILES):
            say(f"{party}: creating keys in {shown(config.key_dir)}")
            gateway_cli("keys", "init", "--config", str(path), env=env)
    for party, path in configs.items():
        # Each institution signs the agreement with its registered key (the demo's keys
        # are new, so its signatures are too); a node takes up only what all parties signed.
        say(f"{party}: signing {shown(agreement_file())}")
        gateway_cli("agreements", "sign", str(agreement_file()), "--config", str(path), env=env)
    print(gateway_cli("agreements", "verify", "--config", str(configs["ombudsman-ri"]), env=env),
          end="")
    try:
        for party, path in configs.items():
            config = load_node_config(path)
            node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / party}.db"}
            nodes[party] = NodeProcess(path, listen=config.listen, env=node_env,
                                       log_path=VAR / f"{party}.log", args=("--no-scheduler",))
            say(f"{party}: starting node on http://{config.listen}")
            nodes[party].start()
        return exchange(nodes, env)
    finally:
        for party, node in nodes.items():
            say(f"{party}: stopping node (exit code {node.stop()})")


def post(node: NodeProcess, party: str, dataset: str, records: list[Any]) -> requests.Response:
    return requests.post(
        f"{node.base_url}/api/v1/datasets/{dataset}/records",
        json={"schema_version": schema_version(dataset), "records": records},
        headers={"Authorization": f"Bearer {TOKENS[party]}"}, timeout=30,
    )


def posted(node: NodeProcess, party: str, dataset: str, records: list[Any]) -> None:
    answer = post(node, party, dataset, records)
    answer.raise_for_status()
    body = answer.json()
    say(f"{party}: posted {body['record_count']} {dataset} records "
        f"(HTTP {answer.status_code}, submission {body['submission_id']})")


def transfer(nodes: dict[str, NodeProcess], party: str, env: dict[str, str]) -> None:
    node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / party}.db"}
    result = json.loads(gateway_cli("transfer", "run", "--config",
                                    str(nodes[party].config), env=node_env))
    say(f"{party}: transfer run sealed {result['sealed']} batch(es), "
        f"delivered {result['delivered']} with verified receipts")


def exchange(nodes: dict[str, NodeProcess], env: dict[str, str]) -> int:
    ombudsman, pemkot = nodes["ombudsman-ri"], nodes["pemkot-bekasi"]
    posted(ombudsman, "ombudsman-ri", SENDS["ombudsman-ri"], records_of("ombudsman-ri"))
    posted(ombudsman, "ombudsman-ri", "lahp", [late_lhp()])
    transfer(nodes, "ombudsman-ri", env)

    agreement = load_node_config(pemkot.config).agreement
    for dataset in (SENDS["ombudsman-ri"], "lahp"):
        pull(pemkot, "pemkot-bekasi", dataset, agreement)

    posted(pemkot, "pemkot-bekasi", SENDS["pemkot-bekasi"], records_of("pemkot-bekasi"))
    refused = post(pemkot, "pemkot-bekasi", "tanggapan_klarifikasi", [invalid_record()])
    errors = refused.json()["error"]["errors"]
    say(f"pemkot-bekasi: an invalid record is refused with HTTP {refused.status_code}: "
        + "; ".join(f"{e['path']} {e['code']}" for e in errors))
    transfer(nodes, "pemkot-bekasi", env)
    pull(ombudsman, "ombudsman-ri", SENDS["pemkot-bekasi"], agreement)
    project_ledgers(nodes, env)

    audit(nodes, env)

    print()
    print(summary_header())
    for party in nodes:
        print(summary_line(party))
    print()
    print(f"Logs and databases: {shown(VAR)}/")
    return show_cases(nodes, env)


def project_ledgers(nodes: dict[str, NodeProcess], env: dict[str, str]) -> None:
    """Each node's case ledger takes the batches it delivered and received. The nodes run
    without their schedule here (whose cases:project job does it every two seconds): the
    ledger takes them when told, as `gateway transfer run` sends when told."""
    for party, node in nodes.items():
        node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / party}.db"}
        say(f"{party}: " + gateway_cli("cases", "project", "--config", str(node.config),
                                       env=node_env).strip())


def show_cases(nodes: dict[str, NodeProcess], env: dict[str, str]) -> int:
    """Each node's cases from its ledger (``gateway.cases.reports``), one line a case, and
    where to see them; 1 if a node lacks an overdue or an on-time case."""
    os.environ.setdefault("GATEWAY_KEY_PASSPHRASE", env["GATEWAY_KEY_PASSPHRASE"])
    missing = []
    for party, node in nodes.items():
        config = load_node_config(node.config, environ={
            **env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / party}.db"})
        ledger_node = Node.from_config(config)
        try:
            page = reports.list_cases(ledger_node, limit=reports.MAX_LIMIT)
        finally:
            ledger_node.store.dispose()
        statuses = [c["status"] for c in page["cases"]]
        print()
        print(f"Cases in the ledger of {party} on {page['as_of']}: "
              + ", ".join(f"{statuses.count(s)} {s}" for s in reports.CASE_STATUSES
                          if s in statuses))
        # One case of each status, the first of its kind by case number.
        shown_cases = {c["status"]: c for c in reversed(page["cases"])}
        for case in sorted(shown_cases.values(), key=lambda c: c["case_number"]):
            print(f"  {case['case_number']:<22} {case['status']:<13} "
                  f"{case['unit'] or '-':<22} steps {case['steps']}, open {case['open_steps']}, "
                  f"next due {case['next_due_on'] or '-'}")
        print(f"  On the running node: {node.base_url}/console/service-levels "
              f"(auditor console) and GET {node.base_url}/api/v1/cases "
              f"(Authorization: Bearer {AUDITOR_TOKENS[party]})")
        missing += [f"{party}: no {s} case" for s in ("overdue", "done_on_time")
                    if s not in statuses]
    if missing:
        print(f"demo: {'; '.join(missing)}", file=sys.stderr)
        return 1
    return 0


def audit(nodes: dict[str, NodeProcess], env: dict[str, str]) -> None:
    for party, node in nodes.items():
        node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / party}.db"}
        signed = gateway_cli("audit", "checkpoint", "--config", str(node.config), env=node_env)
        lines = signed.splitlines()
        cosigners = [line.split()[1] for line in lines[lines.index("") + 2:]]
        say(f"{party}: checkpoint of {lines[1]} audit entries signed as {lines[0]}, "
            f"cosigned by {', '.join(cosigners) or 'no witness'}")

    node_env = {**env, "GATEWAY_DATABASE_URL": f"sqlite:///{VAR / 'pemkot-bekasi'}.db"}
    db = sqlite3.connect(VAR / "pemkot-bekasi.db")
    try:
        batch_id = db.execute("SELECT batch_id FROM inbound_batches LIMIT 1").fetchone()[0]
    finally:
        db.close()
    bundle = VAR / f"evidence-{batch_id}.json"
    gateway_cli("audit", "export", "--config", str(nodes["pemkot-bekasi"].config),
                "--batch", batch_id, "--out", str(bundle), env=node_env)
    agreement = str(agreement_file())
    verified = gateway_cli("audit", "verify", "--agreement", agreement, "--no-state", str(bundle),
                           env=env)
    say(f"pemkot-bekasi: evidence of batch {batch_id} exported to "
        f"{shown(bundle)} and verified offline:")
    print(verified, end="")

    say("auditor: verifying both logs with the agreement's keys, then reconciling them")
    urls = [nodes[p].base_url for p in ("pemkot-bekasi", "ombudsman-ri")]
    print(gateway_cli("audit", "reconcile", *urls, "--agreement", agreement,
                      "--state", str(VAR / "auditor"),
                      env={**env, "GATEWAY_AUDIT_TOKEN_A": AUDITOR_TOKENS["pemkot-bekasi"],
                           "GATEWAY_AUDIT_TOKEN_B": AUDITOR_TOKENS["ombudsman-ri"]}), end="")


def pull(node: NodeProcess, party: str, dataset: str, agreement: Any) -> None:
    auth = {"Authorization": f"Bearer {TOKENS[party]}"}
    listing = requests.get(f"{node.base_url}/api/v1/datasets/{dataset}/batches",
                           headers=auth, timeout=30)
    listing.raise_for_status()
    total = 0
    for item in listing.json()["batches"]:
        batch = requests.get(f"{node.base_url}/api/v1/batches/{item['batch_id']}",
                             headers=auth, timeout=30).json()
        provenance = batch["provenance"]
        sender_jwks = json.loads(agreement.party(provenance["sender"]).jwks_file.read_text())
        # Verify the sender's signature independently of the node that stored it.
        verified = jws.deserialize_compact(provenance["signed_batch"],
                                           KeySet.import_key_set(sender_jwks),
                                           algorithms=["Ed25519"])
        assert json.loads(verified.payload)["records"] == batch["records"]
        requests.post(f"{node.base_url}/api/v1/batches/{item['batch_id']}/ack", headers=auth,
                      timeout=30).raise_for_status()
        total += len(batch["records"])
        say(f"{party}: pulled batch {item['batch_id']} from {provenance['sender']}: "
            f"{len(batch['records'])} records, signature by {provenance['signer_kid'][:12]}… "
            "verified, acknowledged")
    say(f"{party}: {total} {dataset} records pulled")


SUMMARY_QUERIES = (
    ("outbox records", "SELECT count(*) FROM outbox_records"),
    ("batches out", "SELECT count(*) FROM outbound_batches"),
    ("receipts", "SELECT count(*) FROM outbound_batches WHERE receipt IS NOT NULL"),
    ("batches in", "SELECT count(*) FROM inbound_batches"),
    ("records in", "SELECT sum(record_count) FROM inbound_batches"),
    ("audit events", "SELECT count(*) FROM audit_events"),
)


def summary_header() -> str:
    return f"{'node':<15}" + "".join(f" {title:>14}" for title, _ in SUMMARY_QUERIES)


def summary_line(party: str) -> str:
    db = sqlite3.connect(VAR / f"{party}.db")
    try:
        counts = [int(db.execute(sql).fetchone()[0] or 0) for _, sql in SUMMARY_QUERIES]
    finally:
        db.close()
    return f"{party:<15}" + "".join(f" {n:>14}" for n in counts)


if __name__ == "__main__":
    sys.exit(main())
