"""The partners benchmark: one hub node, many partner governments, over real HTTP.

The Ombudsman node (``gateway serve`` under gunicorn with its usual workers, on
PostgreSQL, in a schema of its own that is dropped afterwards) is the hub; 10, 50
and 200 partners (``--partners``) are simulated by this one process, which speaks
the real protocol to it:

* **Setup.** One party file per partner (``parties/<id>.toml``, its ``base_url``
  ``http://127.0.0.1:PORT/p/<id>`` on this process's HTTP server), real keys per
  partner (``gateway.crypto.keys.init_keys``, unencrypted development keys: 201
  passphrase-protected key sets would take minutes to derive), and one signed
  agreement per partner (format 2, the hub and the partner; ``tanggapan_klarifikasi``
  partner to hub, ``permintaan_klarifikasi`` hub to partner), signed by both with
  ``gateway.node.agreements.sign``. The hub's config says ``agreements =
  "agreements"``, ``parties = "parties"`` and ``[node.witnessing] quorum = 3``.
* **What a partner serves** (this process, ``ThreadingHTTPServer``): its JWKS, the
  batch endpoint (opens the hub's envelope with ``gateway.crypto.envelope``, checks
  the hub's signed request, answers with a receipt signed by the partner's key) and
  its witness (``add-checkpoint``: checks the hub's signature and the consistency
  proof from what it cosigned before, then cosigns with its witness key).
* **What the hub sends**: its case-management client submits
  ``permintaan_klarifikasi`` records for each partner (``receiver`` in the body), which
  the hub's transfer job seals and delivers to the partner's batch endpoint.
* **What a partner sends**: sealed batches of ``tanggapan_klarifikasi`` (real
  envelopes, signed requests), whose receipts it verifies with the hub's key; and
  its own log's checkpoints (a ``merkle.MemoryTree`` of the batches it sent, signed
  with its log key) for the hub to witness, whose cosignatures it verifies.

Measured per partner count: the hub's memory (PSS and RSS of its process group)
and CPU over an idle window (nothing sent; the hub's schedule runs), the scheduler's
jobs (rows of ``scheduler_jobs``), table scans in the idle window
(``pg_stat_user_tables`` of the hub's schema), ``GET /readyz`` p50/p99, every
partner sending at once (latency from POST to verified receipt, records/s),
witness requests to the hub, the hub sending to every partner (from a partner's
last submission accepted to its last records delivered, which includes the wait for
the transfer job's schedule; records/s while the job delivers), one checkpoint
publication of the hub (from its first add-checkpoint request at a partner's witness
to its last answer, and how many requests it made), and the time to onboard one more
partner (its party file and signed agreement, written and signed aside, renamed into
the hub's directories, until the hub accepts a batch from it): without a restart
(gateway.node.agreement_reload takes it up at its next poll) and, as the baseline,
another one with a restart, side by side.

The figures of 10 partners are the baseline of the others: each figure line
carries the ratio to it, and the summary says which figures grow faster than the
partner count (superlinear) and which per-request or per-job costs grow at all.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import http.server
import json
import logging
import os
import shutil
import threading
import time
import tomllib
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_transfer import group_memory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from gateway.crypto import envelope
from gateway.crypto.keys import NodeKeys, PeerKeys, init_keys, load_note_keys
from gateway.errors import GatewayError
from gateway.exchange.sending import BATCHES_PATH, JOSE_MEDIA_TYPE
from gateway.node import agreements
from gateway.node.config import load_parties
from gateway.ops.process import NodeProcess, free_port, wait_until
from gateway.peers import signed_requests
from gateway.peers.jwks import JWKS_PATH
from gateway.peers.witness import ADD_CHECKPOINT_PATH
from gateway.tlog import merkle, note
from schemas.samples import sample_records, sample_versions

ROOT = Path(__file__).resolve().parent.parent
HUB = "ombudsman-ri"
INBOUND = "tanggapan_klarifikasi"  # partner -> hub
OUTBOUND = "permintaan_klarifikasi"  # hub -> partner (needs submission with a receiver)
HUB_TOKEN = "dev-only-ombudsman-simpel"  # noqa: S105 (development token; hash in config/)
POSTGRES_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MAX_BATCH_BYTES = 4 * 1024 * 1024
IDLE_SECONDS = 20.0
READYZ_CALLS = 50
CHECKPOINT_SECONDS = 10  # the hub's checkpoint_interval_seconds in the benchmark
METRICS_CALLS = 10
# Cosignatures a checkpoint of the hub needs ([node.witnessing]); its witnesses take turns.
QUORUM = 3
WITNESSING = f"""
[node.witnessing]
quorum = {QUORUM}
"""
# The hub's transfer job for the hub-to-partner flows runs this often (the agreement's
# schedule of permintaan_klarifikasi): a submission waits for it, up to this long.
OUTBOUND_INTERVAL_SECONDS = 10
# An operator of the hub, for GET /metrics (added to the benchmark's copy of its config).
OPERATOR_TOKEN = "bench-only-operator"  # noqa: S105 (a throw-away node in a temp directory)
OPERATOR = f"""
[[clients]]
id = "operator"
name = "Operator (benchmark)"
token_sha256 = "{hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest()}"
roles = ["operator"]
"""

AGREEMENT = """\
format = 2
id = "mou-{partner}-ombudsman-ri"
version = 1
title = "Nota Kesepahaman {name} dan Ombudsman Republik Indonesia"
signed_on = 2024-01-15
timezone = "Asia/Jakarta"
parties = ["{partner}", "ombudsman-ri"]

[purposes]
1 = "Percepatan penanganan dan penyelesaian laporan masyarakat atas dugaan maladministrasi"

[[datasets]]
name = "permintaan_klarifikasi"
sender = "ombudsman-ri"
receiver = "{partner}"
schema_versions = ["1.0", "2.0"]
purpose = 1
schedule = {{ interval_seconds = {interval} }}
max_records_per_batch = 1000
max_batch_bytes = 4194304
retention_days = 90
[datasets.personal_data]
fields = ["/ringkasan", "/dokumen_diminta", "/pelapor/nama", "/nomor_identitas/nik"]
purpose = 1
legal_basis = "UU 37/2008 Pasal 24 dan 28; UU 27/2022 Pasal 20 ayat (2) huruf e"

[[datasets]]
name = "tanggapan_klarifikasi"
sender = "{partner}"
receiver = "ombudsman-ri"
schema_versions = ["1.0", "2.0", "3.0"]
purpose = 1
schedule = {{ interval_seconds = 300 }}
max_records_per_batch = 1000
max_batch_bytes = 4194304
retention_days = 90
[datasets.personal_data]
fields = ["/penjelasan", "/pejabat_penanggung_jawab/nama"]
purpose = 1
legal_basis = "UU 37/2008 Pasal 28 dan 31; UU 27/2022 Pasal 20 ayat (2) huruf c dan e"

[service_levels]
due_soon_working_days = 3

[service_levels.klarifikasi]
working_days = 14
basis = "Peraturan Ombudsman 58/2023"
unconfirmed = true

[service_levels.tindakan_korektif]
stated = true
working_days = 30
basis = "Peraturan Ombudsman 58/2023 Pasal 54"

[service_levels.rekomendasi]
days = 60
basis = "UU 37/2008 Pasal 38 ayat (2)"

[service_levels.klarifikasi_tindak_lanjut]
stated = true
working_days = 14
basis = "penilaian_tindak_lanjut: batas_waktu_tanggapan"
"""

PARTY = """\
id = "{partner}"
name = "{name}"
base_url = "{base_url}"
jwks_file = "../../keys/{partner}/jwks.json"
log_origin = "bench.{partner}.example/audit"
witness_name = "bench.{partner}.example/witness"
note_keys_file = "../../keys/{partner}/note-keys.txt"
"""


def partner_id(i: int) -> str:
    return f"pemda-{i:03d}"


def log_origin(partner: str) -> str:
    return f"bench.{partner}.example/audit"


def witness_name(partner: str) -> str:
    return f"bench.{partner}.example/witness"


# -- the simulated partners --------------------------------------------------------------------


@dataclass
class Witnessed:
    """What a partner's witness last cosigned of the hub's log."""

    size: int = 0
    root_hash: bytes = merkle.EMPTY_ROOT


@dataclass
class Partner:
    id: str
    keys: NodeKeys
    tree: merkle.MemoryTree = field(default_factory=merkle.MemoryTree)
    sequence: int = 0
    cosigned_size: int = 0  # the hub's witness's size of this partner's log
    witnessed: Witnessed = field(default_factory=Witnessed)
    lock: threading.Lock = field(default_factory=threading.Lock)
    receipts: dict[str, str] = field(default_factory=dict)  # batches the hub sent it

    @property
    def jwks_body(self) -> bytes:
        return json.dumps(self.keys.public_jwks()).encode()


@dataclass
class Hub:
    """What the partners know of the hub: its keys, as its registry entry gives them."""

    base_url: str
    peer_keys: PeerKeys
    log_verifier: note.Verifier
    witness_verifier: note.CosignatureVerifier


@dataclass
class Observed:
    """What the partners' side of the hub's calls saw (the harness server counts it)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: dict[str, int] = field(default_factory=dict)  # kind -> count
    # The hub's checkpoint size -> [first request, last answer, requests]
    checkpoints: dict[int, list[float]] = field(default_factory=dict)
    arrivals: dict[str, float] = field(default_factory=dict)  # batch id -> when it came
    # Partner -> (when, records) of each batch the hub delivered to it, first delivery only.
    delivered: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.requests)


class Partners:
    """Every simulated partner, their HTTP server and their clients to the hub."""

    def __init__(self, partners: dict[str, Partner], hub: Hub | None = None) -> None:
        self.partners = partners
        self.hub = hub
        self.observed = Observed()
        self.server: http.server.ThreadingHTTPServer | None = None

    # -- the server: what the hub calls on a partner -------------------------------------------

    def serve(self, port: int) -> None:
        harness = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                harness.answer_get(self)

            def do_POST(self) -> None:
                harness.answer_post(self)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.request_queue_size = 256
        self.server = server
        threading.Thread(target=server.serve_forever, name="partners-http", daemon=True).start()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _route(self, path: str) -> tuple[Partner | None, str]:
        parts = path.split("/", 3)  # "", "p", id, rest
        if len(parts) < 4 or parts[1] != "p":
            return None, path
        return self.partners.get(parts[2]), "/" + parts[3]

    @staticmethod
    def _reply(handler: Any, status: int, body: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def answer_get(self, handler: Any) -> None:
        partner, rest = self._route(handler.path)
        if partner is None or rest != JWKS_PATH:
            self._reply(handler, 404, b"{}", "application/json")
            return
        self.observed.count("jwks")
        self._reply(handler, 200, partner.jwks_body, "application/json")

    def answer_post(self, handler: Any) -> None:
        partner, rest = self._route(handler.path)
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if partner is None or self.hub is None:
            self._reply(handler, 404, b"{}", "application/json")
            return
        try:
            signed_requests.verify(
                handler.headers.get("Authorization"), peer_keys=self.hub.peer_keys,
                audience=partner.id, method="POST", target=rest, body=body,
                now=dt.datetime.now(dt.UTC))
            if rest == BATCHES_PATH:
                status, answer, kind = self._receive(partner, body), "application/json", "batch"
                self._reply(handler, 200, status, answer)
            elif rest == ADD_CHECKPOINT_PATH:
                kind = "add_checkpoint"
                code, text_body, media = self._witness(partner, body)
                self._reply(handler, code, text_body.encode(), media)
            else:
                kind = "unknown"
                self._reply(handler, 404, b"{}", "application/json")
        except (GatewayError, ValueError) as exc:
            kind = "refused"
            with self.observed.lock:
                self.observed.errors.append(f"{partner.id} {rest}: {type(exc).__name__}: {exc}")
            self._reply(handler, 400, b'{"error": {"code": "refused"}}', "application/json")
        self.observed.count(kind)

    def _receive(self, partner: Partner, token: bytes) -> bytes:
        """Open a batch the hub sealed for ``partner``; its receipt, signed by the partner."""
        assert self.hub is not None
        batch = envelope.open_batch(
            token, own_party=partner.id, decryption_key=partner.keys.decryption,
            peer_keys=self.hub.peer_keys, max_bytes=envelope.envelope_limit(MAX_BATCH_BYTES))
        batch_id = batch.header.batch_id
        with partner.lock:
            receipt = partner.receipts.get(batch_id)
            duplicate = receipt is not None
            if receipt is None:
                receipt = envelope.sign_receipt(
                    batch, received_at=dt.datetime.now(dt.UTC), signing_key=partner.keys.signing)
                partner.receipts[batch_id] = receipt
        with self.observed.lock:
            if not duplicate and batch_id not in self.observed.arrivals:
                self.observed.arrivals[batch_id] = time.perf_counter()
                self.observed.delivered.setdefault(partner.id, []).append(
                    (time.perf_counter(), len(batch.records)))
        return json.dumps({"batch_id": batch_id, "receipt": receipt,
                           "duplicate": duplicate}).encode()

    def _witness(self, partner: Partner, body: bytes) -> tuple[int, str, str]:
        """C2SP tlog-witness add-checkpoint for the hub's log, as a partner's witness."""
        assert self.hub is not None
        began = time.perf_counter()
        request = note.parse_add_checkpoint(body)
        opened = note.open_note(request.checkpoint, [self.hub.log_verifier])
        checkpoint = note.Checkpoint.from_text(opened.text)
        with partner.lock:
            known = partner.witnessed
            if request.old_size != known.size:
                answer = (409, note.format_tlog_size(known.size), "text/x.tlog.size")
            else:
                merkle.verify_consistency(known.size, checkpoint.size, known.root_hash,
                                          checkpoint.root_hash, request.consistency_proof)
                partner.witnessed = Witnessed(checkpoint.size, checkpoint.root_hash)
                signer = partner.keys.witness_signer(witness_name(partner.id))
                signature = signer.cosign(opened.text, int(time.time()))
                answer = (200, note.format_signature_lines([signature]), "text/plain")
        with self.observed.lock:
            seen = self.observed.checkpoints.setdefault(checkpoint.size, [began, 0.0, 0])
            seen[1] = time.perf_counter()
            seen[2] += 1
        return answer

    # -- the clients: what a partner sends to the hub --------------------------------------------

    def _post(self, conn: http.client.HTTPConnection, partner: Partner, path: str, body: bytes,
              content_type: str) -> tuple[int, bytes]:
        assert self.hub is not None
        authorization = signed_requests.authorization(
            signing_key=partner.keys.signing, issuer=partner.id, audience=HUB, method="POST",
            target=path, body=body, now=dt.datetime.now(dt.UTC))
        conn.request("POST", path, body=body, headers={
            "Authorization": authorization, "Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()

    def send_batch(self, conn: http.client.HTTPConnection, partner: Partner,
                   records: list[dict[str, Any]], version: str) -> float:
        """Seal and deliver one batch; verify the hub's receipt. The seconds it took."""
        assert self.hub is not None
        began = time.perf_counter()
        with partner.lock:
            partner.sequence += 1
            sequence = partner.sequence
        header = envelope.BatchHeader(
            sender=partner.id, receiver=HUB, dataset=INBOUND, schema_version=version,
            batch_id=str(uuid.uuid4()), created_at=dt.datetime.now(dt.UTC), sequence=sequence)
        token = envelope.seal_batch(
            header, records, signing_key=partner.keys.signing,
            recipient_key=self.hub.peer_keys.encryption_key_of(HUB), max_bytes=MAX_BATCH_BYTES)
        status, body = self._post(conn, partner, BATCHES_PATH, token.encode("ascii"),
                                  JOSE_MEDIA_TYPE)
        if status != 200:
            raise RuntimeError(f"{partner.id}: batch answered {status}: {body[:300]!r}")
        envelope.verify_receipt(
            json.loads(body)["receipt"], peer_keys=self.hub.peer_keys, receiver=HUB,
            batch_id=header.batch_id, records_sha256=envelope.records_digest(records))
        partner.tree.append(merkle.leaf_hash(header.batch_id.encode()))
        return time.perf_counter() - began

    def ask_witness(self, conn: http.client.HTTPConnection, partner: Partner) -> float:
        """Have the hub's witness cosign the partner's newest checkpoint; the seconds it took."""
        assert self.hub is not None
        began = time.perf_counter()
        size = partner.tree.size
        text_ = note.Checkpoint(log_origin(partner.id), size, partner.tree.root()).to_text()
        signed = note.sign_note(text_, partner.keys.log_signer(log_origin(partner.id)))
        old = partner.cosigned_size
        proof = partner.tree.consistency_proof(old, size) if old else []
        body = note.format_add_checkpoint(note.AddCheckpoint(old, tuple(proof), signed))
        status, answer = self._post(conn, partner, ADD_CHECKPOINT_PATH, body.encode(),
                                    "text/plain; charset=utf-8")
        if status != 200:
            raise RuntimeError(f"{partner.id}: add-checkpoint answered {status}: {answer[:200]!r}")
        signatures = note.parse_signature_lines(answer)
        verifier = self.hub.witness_verifier
        if not any(s.key_hash == verifier.key_hash for s in signatures):
            raise RuntimeError(f"{partner.id}: no cosignature by the hub's witness")
        for signature in signatures:
            if signature.key_hash == verifier.key_hash:
                verifier.verify(text_, signature)
        partner.cosigned_size = size
        return time.perf_counter() - began


# -- the deployment ----------------------------------------------------------------------------


@dataclass
class Layout:
    """A hub's config directory for one partner count, under ``work``."""

    work: Path
    config: Path  # the hub's node config
    keys: Path  # every party's key directory, shared by the runs
    port: int
    harness_port: int
    env: dict[str, str]
    schema: str
    engine: Engine  # the PostgreSQL database, for counting and dropping the schema

    @property
    def agreements(self) -> Path:
        return self.config.parent / "agreements"

    @property
    def parties(self) -> Path:
        return self.config.parent / "parties"


def make_keys(keys: Path, count: int, passphrase: str, *, say: Any) -> None:
    """The hub's keys (passphrase-protected) and ``count`` partners' (development keys)."""
    hub_dir = keys / HUB
    if not hub_dir.exists():
        init_keys(hub_dir, environ={"GATEWAY_KEY_PASSPHRASE": passphrase},
                  note_names=("gateway.ombudsman.go.id/audit", "gateway.ombudsman.go.id/witness"))
    began = time.perf_counter()
    made = 0
    # Development keys on purpose (see the module's text): no warning for each.
    logging.getLogger("gateway.crypto.keys").setLevel(logging.ERROR)
    for i in range(1, count + 1):
        partner = partner_id(i)
        if (keys / partner).exists():
            continue
        init_keys(keys / partner, environ={}, insecure=True,
                  note_names=(log_origin(partner), witness_name(partner)))
        made += 1
    if made:
        say(f"partners: keys of {made} partners made in {time.perf_counter() - began:.1f} s")


def hub_config_text(port: int) -> str:
    """The shipped Ombudsman node config, listening on ``port``, checkpointing often."""
    text_ = (ROOT / "config" / f"{HUB}.toml").read_text(encoding="utf-8")
    text_ = text_.replace('listen = "127.0.0.1:8702"', f'listen = "127.0.0.1:{port}"')
    return text_.replace("\n[node]\n", f"\n[node]\ncheckpoint_interval_seconds = "
                         f"{CHECKPOINT_SECONDS}\n", 1) + OPERATOR + WITNESSING


def stage_partner(layout: Layout, i: int, keys: NodeKeys) -> list[tuple[Path, Path]]:
    """Party file and agreement of partner ``i``, signed by both parties, written aside
    (in a directory next to the hub's on the same file system): the moves that put them
    in place, the party file first and the agreement last (:func:`place`)."""
    partner = partner_id(i)
    name = f"Pemerintah Daerah Uji {i:03d}"
    base_url = f"http://127.0.0.1:{layout.harness_port}/p/{partner}"
    # Its parties/ is two levels under work/, as the hub's is: the registry's
    # ../../keys/<party> paths hold there too.
    stage = layout.work / f"staging-{partner}"
    (stage / "parties").mkdir(parents=True, exist_ok=True)
    staged_party = stage / "parties" / f"{partner}.toml"
    staged_party.write_text(PARTY.format(partner=partner, name=name, base_url=base_url),
                            encoding="utf-8")
    shutil.copyfile(layout.parties / f"{HUB}.toml", stage / "parties" / f"{HUB}.toml")
    file = layout.agreements / f"mou-{partner}-ombudsman-ri.toml"
    staged = stage / file.name
    staged.write_text(AGREEMENT.format(partner=partner, name=name,
                                       interval=OUTBOUND_INTERVAL_SECONDS), encoding="utf-8")
    registry = load_parties(stage / "parties")
    for party, key in ((partner, keys.signing), (HUB, hub_signing_key(layout))):
        agreements.sign(staged, party, key, registry)
    return [
        (staged_party, layout.parties / staged_party.name),
        *((agreements.signature_file(staged, party), agreements.signature_file(file, party))
          for party in (partner, HUB)),
        (staged, file),
    ]


def place(moves: list[tuple[Path, Path]]) -> None:
    """Move staged files in, each by a rename: a node reading the directories never sees
    half of a file (and sees an agreement only with its signatures)."""
    for staged, final in moves:
        staged.replace(final)
    shutil.rmtree(moves[0][0].parent.parent, ignore_errors=True)


_HUB_SIGNING: dict[Path, Any] = {}


def hub_signing_key(layout: Layout) -> Any:
    """The hub's signing key (its key set is passphrase-protected: read once)."""
    if layout.keys not in _HUB_SIGNING:
        _HUB_SIGNING[layout.keys] = NodeKeys.from_directory(
            layout.keys / HUB, environ=layout.env).signing
    return _HUB_SIGNING[layout.keys]


def write_partner(layout: Layout, i: int, keys: NodeKeys) -> None:
    """Party file and agreement of partner ``i``, signed by both parties, in place."""
    place(stage_partner(layout, i, keys))


def postgres_schema(base: str) -> tuple[Engine, str]:
    engine = create_engine(base, poolclass=NullPool)
    schema = f"bench_partners_{os.getpid()}_{os.urandom(3).hex()}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return engine, schema


def drop_schema(layout: Layout) -> None:
    with layout.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{layout.schema}" CASCADE'))
    layout.engine.dispose()


def deploy(tmp: Path, keys: Path, count: int, loaded: dict[str, NodeKeys], *,
           passphrase: str, postgres: str) -> Layout:
    work = tmp / f"partners-{count}"
    config_dir = work / "config"
    (config_dir / "agreements").mkdir(parents=True)
    (config_dir / "parties").mkdir()
    (work / "keys").symlink_to(keys)  # the paths of the registry: ../../keys/<party>
    port, harness_port = free_port(), free_port()
    (config_dir / f"{HUB}.toml").write_text(hub_config_text(port), encoding="utf-8")
    hub_party = (ROOT / "config" / "parties" / f"{HUB}.toml").read_text(encoding="utf-8")
    hub_party = hub_party.replace('base_url = "http://127.0.0.1:8702"',
                                  f'base_url = "http://127.0.0.1:{port}"')
    (config_dir / "parties" / f"{HUB}.toml").write_text(hub_party, encoding="utf-8")
    engine, schema = postgres_schema(postgres)
    env = {**os.environ, "GATEWAY_KEY_PASSPHRASE": passphrase,
           "GATEWAY_DATABASE_URL": f"{postgres}?options=-csearch_path%3D{schema}"}
    env.pop("GATEWAY_ACCESS_LOG", None)
    layout = Layout(work, config_dir / f"{HUB}.toml", keys, port, harness_port, env, schema,
                    engine)
    for i in range(1, count + 1):
        write_partner(layout, i, loaded[partner_id(i)])
    return layout


def hub_of(layout: Layout) -> Hub:
    hub_keys = layout.keys / HUB
    jwks = json.loads((hub_keys / "jwks.json").read_text(encoding="utf-8"))
    notes = load_note_keys(hub_keys / "note-keys.txt",
                           log_origin="gateway.ombudsman.go.id/audit",
                           witness_name="gateway.ombudsman.go.id/witness")
    return Hub(f"http://127.0.0.1:{layout.port}", PeerKeys.from_jwks({HUB: jwks}), notes.log,
               notes.witness)


# -- measuring ---------------------------------------------------------------------------------


def group_usage(pgid: int) -> tuple[int, int, float]:
    """PSS, RSS (bytes) and CPU seconds (user + system) of process group ``pgid``."""
    cpu: dict[str, float] = {}
    pss, rss = group_memory(pgid, cpu=cpu)
    return pss, rss, sum(cpu.values())


def table_scans(layout: Layout) -> dict[str, int]:
    """Sequential and index scans, and rows written, per table of the hub's schema."""
    with layout.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = conn.execute(text(
            "SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0), "
            "n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE schemaname = :s"),
            {"s": layout.schema}).all()
    found: dict[str, int] = {}
    for name, scans, written in rows:
        found[f"{name}:scans"] = int(scans)
        found[f"{name}:written"] = int(written)
    return found


def scheduler_jobs(layout: Layout) -> list[str]:
    with layout.engine.connect() as conn:
        try:
            return [str(r[0]) for r in conn.execute(text(
                f'SELECT id FROM "{layout.schema}".scheduler_jobs ORDER BY id'))]  # noqa: S608
        except Exception:  # not created yet
            return []


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def timed_gets(base_url: str, path: str, calls: int,
               token: str | None = None) -> tuple[list[float], bytes]:
    """``calls`` GETs of ``path`` on one kept-alive connection: their seconds, the last body."""
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    times: list[float] = []
    body = b""
    try:
        for _ in range(calls):
            began = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            times.append(time.perf_counter() - began)
            if response.status not in (200, 503):
                raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
    finally:
        conn.close()
    return times, body


def agreements_poll_seconds(config: Path) -> float:
    """The hub's ``agreements_poll_seconds`` (gateway.node.agreement_reload polls that often)."""
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    return float(data.get("node", {}).get("agreements_poll_seconds", 5.0))


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    # "total": may grow with the partner count, at most linearly; "per-request": the cost
    # of one request or job run, which should not grow at all; "rate": higher is better.
    kind: str


class Run:
    """One partner count: the hub started, measured and stopped."""

    def __init__(self, args: argparse.Namespace, layout: Layout, harness: Partners,
                 count: int, *, say: Any) -> None:
        self.args = args
        self.layout = layout
        self.harness = harness
        self.count = count
        self.say = say
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.node = NodeProcess(layout.config, listen=f"127.0.0.1:{layout.port}", env=layout.env,
                                log_path=layout.work / "hub.log")

    def add(self, name: str, value: float, unit: str, kind: str) -> None:
        self.figures.append(Figure(name, value, unit, kind))

    def measure(self) -> None:
        began = time.perf_counter()
        self.node.start(timeout=300)
        self.add("startup", time.perf_counter() - began, "s", "total")
        wait_until(lambda: scheduler_jobs(self.layout), timeout=60, what="the scheduler's jobs")
        # Let the first runs of the schedule (key refresh, first checkpoint) pass.
        time.sleep(CHECKPOINT_SECONDS + 2)
        self.idle()
        self.readiness()
        self.deliveries()
        self.outbound()
        self.checkpoint()
        jobs = scheduler_jobs(self.layout)
        self.add("scheduler_jobs", len(jobs), "jobs", "total")
        kinds: dict[str, int] = {}
        for job in jobs:
            kinds[job.split(":")[0]] = kinds.get(job.split(":")[0], 0) + 1
        self.say(f"partners {self.count}: scheduler jobs by kind {kinds}")
        self.onboard()

    def idle(self) -> None:
        # A worker's first probe, which looks at every peer before it answers.
        first, _ = timed_gets(self.node.base_url, "/readyz", 1)
        self.add("readyz_first", 1000 * first[0], "ms", "total")
        pgid = self.node.proc.pid if self.node.proc else 0
        calls = self.harness.observed.snapshot()
        scans = table_scans(self.layout)
        _, _, cpu = group_usage(pgid)
        time.sleep(IDLE_SECONDS)
        pss, rss, cpu_after = group_usage(pgid)
        time.sleep(1.5)  # PostgreSQL publishes a backend's table statistics about every second
        scans_after = table_scans(self.layout)
        called = self.harness.observed.snapshot()
        self.add("memory_pss", pss / 2**20, "MiB", "total")
        self.add("memory_rss", rss / 2**20, "MiB", "total")
        self.add("idle_cpu", 100 * (cpu_after - cpu) / IDLE_SECONDS, "% of a CPU", "total")
        grown = {k: v - scans.get(k, 0) for k, v in scans_after.items() if v - scans.get(k, 0)}
        self.add("idle_table_scans", sum(v for k, v in grown.items() if k.endswith(":scans")),
                 "scans", "total")
        calls = {k: v - calls.get(k, 0) for k, v in called.items() if v - calls.get(k, 0)}
        self.add("idle_calls_to_partners", sum(calls.values()), "requests", "total")
        self.say(f"partners {self.count}: idle {IDLE_SECONDS:.0f} s: CPU "
                 f"{cpu_after - cpu:.2f} s, PSS {pss / 2**20:.0f} MiB, RSS {rss / 2**20:.0f} MiB; "
                 f"calls to partners {calls}; table activity {dict(sorted(grown.items()))}")

    def readiness(self) -> None:
        # One kept-alive connection: one worker answers every call. Its first probe came
        # before the idle window; the peers' answers are now older than the readiness
        # cache keeps them (gateway.http.readiness), so the first of these looks again.
        times, body = timed_gets(self.node.base_url, "/readyz", READYZ_CALLS)
        answer = json.loads(body)
        self.add("readyz_p50", 1000 * percentile(times, 0.5), "ms", "per-request")
        self.add("readyz_p99", 1000 * percentile(times, 0.99), "ms", "per-request")
        self.say(f"partners {self.count}: GET /readyz x{READYZ_CALLS}: max "
                 f"{1000 * max(times):.1f} ms; status {answer.get('status')}, "
                 f"checks {answer.get('checks')}")
        # The scrape names every peer and flow, so it grows with them: at most linearly.
        times, body = timed_gets(self.node.base_url, "/metrics", METRICS_CALLS, OPERATOR_TOKEN)
        self.add("metrics_scrape_p50", 1000 * percentile(times, 0.5), "ms", "total")
        self.say(f"partners {self.count}: GET /metrics x{METRICS_CALLS}: "
                 f"{len(body.splitlines())} lines, max {1000 * max(times):.1f} ms")

    def deliveries(self) -> None:
        """Every partner sends ``--partners-batches`` batches at once, then asks the witness."""
        args = self.args
        records, version = inbound_records(args.partners_records)
        partners = [self.harness.partners[partner_id(i)] for i in range(1, self.count + 1)]
        latencies: list[float] = []
        witnessing: list[float] = []
        lock = threading.Lock()
        parts = urllib.parse.urlsplit(self.node.base_url)

        def one(partner: Partner) -> None:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            try:
                took = [self.harness.send_batch(conn, partner, records, version)
                        for _ in range(args.partners_batches)]
                asked = self.harness.ask_witness(conn, partner)
            finally:
                conn.close()
            with lock:
                latencies.extend(took)
                witnessing.append(asked)

        began = time.perf_counter()
        with ThreadPoolExecutor(min(self.count, args.partners_concurrency)) as pool:
            list(pool.map(one, partners))
        seconds = time.perf_counter() - began
        self.loaded_at = time.perf_counter()
        total = self.count * args.partners_batches * len(records)
        self.add("inbound_p50", 1000 * percentile(latencies, 0.5), "ms", "per-request")
        self.add("inbound_p99", 1000 * percentile(latencies, 0.99), "ms", "per-request")
        self.add("inbound_throughput", total / seconds, "records/s", "rate")
        self.add("witness_request_p50", 1000 * percentile(witnessing, 0.5), "ms", "per-request")
        self.add("witness_request_p99", 1000 * percentile(witnessing, 0.99), "ms", "per-request")
        self.say(f"partners {self.count}: {len(latencies)} batches of {len(records)} records "
                 f"({total} records) from {self.count} partners, "
                 f"{min(self.count, args.partners_concurrency)} at a time, in {seconds:.1f} s; "
                 f"{len(witnessing)} checkpoints witnessed by the hub")

    def outbound(self) -> None:
        """The hub sends to every partner: ``--partners-batches`` submissions of
        ``--partners-records`` records of the outbound dataset per partner, each naming the
        partner as its ``receiver``, then its transfer job seals and delivers them."""
        args = self.args
        records, version = outbound_records(args.partners_records)
        partners = [partner_id(i) for i in range(1, self.count + 1)]
        observed = self.harness.observed
        submitted: dict[str, float] = {}
        lock = threading.Lock()

        def one(receiver: str) -> None:
            for _ in range(args.partners_batches):
                submit_to(self.node.base_url, receiver, records, version)
            with lock:
                submitted[receiver] = time.perf_counter()

        began = time.perf_counter()
        with ThreadPoolExecutor(min(self.count, args.partners_concurrency)) as pool:
            list(pool.map(one, partners))
        intake = time.perf_counter() - began
        expected = args.partners_batches * len(records)

        def arrived(receiver: str) -> float | None:
            """When the last of the receiver's records submitted now reached it."""
            got = [(t, n) for t, n in observed.delivered.get(receiver, []) if t >= began]
            return max(t for t, _ in got) if sum(n for _, n in got) >= expected else None

        def all_arrived() -> bool:
            with observed.lock:
                return all(arrived(r) is not None for r in partners)

        wait_until(all_arrived, timeout=3 * OUTBOUND_INTERVAL_SECONDS + 2 * self.count,
                   interval=0.2, what="the hub's deliveries to every partner")
        with observed.lock:
            done = {r: arrived(r) for r in partners}
            arrivals = sorted(t for r in partners for t, _ in observed.delivered[r] if t >= began)
        latencies = [float(done[r] or 0.0) - submitted[r] for r in partners]
        last = max(float(t or 0.0) for t in done.values())
        total = self.count * expected
        # The transfer job may run while the submissions still come in: then a partner's
        # records go in two runs, 10 s apart. Deliveries more than 3 s apart are counted
        # as different runs; a run's time is its first to last delivery.
        runs: list[list[float]] = [[arrivals[0]]]
        for t in arrivals[1:]:
            if t - runs[-1][-1] > 3.0:
                runs.append([])
            runs[-1].append(t)
        longest = max(run[-1] - run[0] for run in runs)
        sending = sum(run[-1] - run[0] for run in runs)
        self.add("outbound_submit_seconds", intake, "s", "total")
        self.add("outbound_p50", 1000 * percentile(latencies, 0.5), "ms", "per-request")
        self.add("outbound_p99", 1000 * percentile(latencies, 0.99), "ms", "per-request")
        self.add("outbound_batches", len(arrivals), "batches", "total")
        self.add("outbound_job_run", longest, "s", "total")
        self.add("outbound_throughput", total / max(sending, 1e-3), "records/s", "rate")
        # The checkpoint measured next: the one the job publishes after its last delivery
        # (or a later one), with the hub quiet otherwise.
        self.loaded_at = last
        self.say(f"partners {self.count}: hub->partner: {total} records in "
                 f"{self.count * args.partners_batches} submissions (receiver set) in "
                 f"{intake:.1f} s; delivered to every partner {last - began:.1f} s after the "
                 f"first submission, in {len(arrivals)} batches by {len(runs)} runs of the "
                 f"transfer job (every {OUTBOUND_INTERVAL_SECONDS} s), each delivering for "
                 f"{', '.join(f'{r[-1] - r[0]:.1f}' for r in runs)} s")

    def checkpoint(self) -> None:
        """One publication of the hub's checkpoint begun after the load (both directions):
        its cost."""
        observed = self.harness.observed
        after = self.loaded_at

        def published() -> list[float] | None:
            with observed.lock:
                found = [v for v in observed.checkpoints.values() if v[0] > after]
            if not found:
                return None
            first = min(found, key=lambda v: v[0])
            return first if time.perf_counter() - first[1] > 3 else None

        wait_until(published, timeout=CHECKPOINT_SECONDS * 3 + 2 * self.count, interval=0.5,
                   what="a checkpoint publication of the hub")
        seen = published()
        assert seen is not None
        # With a quorum, both should stay flat in the partner count.
        self.add("checkpoint_publication", seen[1] - seen[0], "s", "per-request")
        self.add("witness_requests_per_checkpoint", seen[2], "requests", "per-request")
        if seen[2]:
            self.add("checkpoint_cost_per_witness", 1000 * (seen[1] - seen[0]) / seen[2], "ms",
                     "per-request")

    def onboard(self) -> None:
        """One more partner without a restart, and (the baseline) one more with a restart:
        from its files moved into the hub's directories until the hub accepts a batch."""
        hot = self.onboard_one(self.count + 1, restart=False)
        cold = self.onboard_one(self.count + 2, restart=True)
        self.add("onboarding", hot, "s", "total")
        self.add("onboarding_restart", cold, "s", "total")
        poll = agreements_poll_seconds(self.layout.config)
        self.notes.append(f"onboarding: {hot:.1f} s without a restart (the hub polls its "
                          f"directories every {poll:g} s), {cold:.1f} s with one (x"
                          f"{cold / hot:.1f})")
        self.say(f"partners {self.count}: {self.notes[-1]}")

    def onboard_one(self, i: int, *, restart: bool) -> float:
        newcomer = self.harness.partners[partner_id(i)]
        records, version = inbound_records(1)
        parts = urllib.parse.urlsplit(self.node.base_url)
        moves = stage_partner(self.layout, i, newcomer.keys)  # written and signed aside
        began = time.perf_counter()
        place(moves)
        if restart:
            self.node.stop()
            self.node.start(timeout=300)
        refused = 0

        def accepted() -> bool:
            nonlocal refused
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            try:
                newcomer.sequence = 0  # a refused batch takes no sequence number
                self.harness.send_batch(conn, newcomer, records, version)
                return True
            except (RuntimeError, OSError):
                refused += 1
                return False
            finally:
                conn.close()

        wait_until(accepted, timeout=120, interval=0.1, what="a batch of the new partner")
        took = time.perf_counter() - began
        self.say(f"partners {self.count}: partner {i} onboarded "
                 f"{'with a restart' if restart else 'without a restart'} in {took:.2f} s "
                 f"({refused} batches refused before)")
        return took

    def stop(self) -> None:
        self.node.stop()


_RECORDS: dict[int, tuple[list[dict[str, Any]], str]] = {}


def inbound_records(count: int) -> tuple[list[dict[str, Any]], str]:
    """``count`` valid sample records of the inbound dataset, and their schema version."""
    if count not in _RECORDS:
        records = sample_records(INBOUND, count, seed=2021)
        _RECORDS[count] = (records, sample_versions(INBOUND)[-1])
    return _RECORDS[count]


_OUT_RECORDS: dict[int, tuple[list[dict[str, Any]], str]] = {}


def outbound_records(count: int) -> tuple[list[dict[str, Any]], str]:
    """``count`` valid sample records of the outbound dataset, and their schema version."""
    if count not in _OUT_RECORDS:
        records = sample_records(OUTBOUND, count, seed=2022)
        _OUT_RECORDS[count] = (records, sample_versions(OUTBOUND)[-1])
    return _OUT_RECORDS[count]


def submit_to(base_url: str, receiver: str, records: list[dict[str, Any]],
              version: str) -> str:
    """Submit ``records`` of the outbound dataset at the hub for ``receiver``, as the
    hub's case-management system does; the submission's id."""
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    body = json.dumps({"schema_version": version, "records": records, "receiver": receiver})
    try:
        conn.request("POST", f"/api/v1/datasets/{OUTBOUND}/records", body=body.encode(),
                     headers={"Authorization": f"Bearer {HUB_TOKEN}",
                              "Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    if response.status != 202:
        raise RuntimeError(f"submission for {receiver} answered {response.status}: "
                           f"{answer[:300]!r}")
    return str(json.loads(answer)["submission_id"])


# -- the benchmark -----------------------------------------------------------------------------


def partners_benchmark(args: argparse.Namespace, tmp: Path, *, say: Any, figure: Any,
                       passphrase: str) -> int:
    counts: tuple[int, ...] = tuple(sorted(set(args.partners)))
    postgres = os.environ.get("GATEWAY_BENCH_POSTGRES", POSTGRES_DEFAULT)
    keys = tmp / "partners-keys"
    make_keys(keys, max(counts) + 2, passphrase, say=say)
    loaded = {partner_id(i): NodeKeys.from_directory(keys / partner_id(i), environ={})
              for i in range(1, max(counts) + 3)}
    results: dict[int, Run] = {}
    for count in counts:
        say(f"partners {count}: writing {count} party files and signed agreements")
        layout = deploy(tmp, keys, count, loaded, passphrase=passphrase, postgres=postgres)
        harness = Partners({partner_id(i): Partner(partner_id(i), loaded[partner_id(i)])
                            for i in range(1, count + 3)}, hub_of(layout))
        harness.serve(layout.harness_port)
        run = Run(args, layout, harness, count, say=say)
        try:
            run.measure()
        finally:
            run.stop()
            harness.close()
            drop_schema(layout)
            if not args.keep:
                shutil.rmtree(layout.work, ignore_errors=True)
        if harness.observed.errors:
            say(f"partners {count}: the partners refused {len(harness.observed.errors)} calls "
                f"of the hub, first: {harness.observed.errors[0]}")
            return 1
        results[count] = run
    report(results, say=say, figure=figure)
    return 0


# A figure that grows by more than this share of the partner count's growth is flagged as
# growing faster than linearly; a per-request cost by more than this factor, as growing.
SUPERLINEAR = 1.25
GROWING = 1.5


def report(results: dict[int, Run], *, say: Any, figure: Any) -> None:
    """Figure lines (baseline: the smallest partner count) and the growth table."""
    counts = sorted(results)
    base = counts[0]
    by_name = {c: {f.name: f for f in results[c].figures} for c in counts}
    names = [f.name for f in results[base].figures]
    for count in counts[1:]:
        for name in names:
            here, there = by_name[count].get(name), by_name[base][name]
            if here is None:
                continue
            print(figure(f"partners_{count}_{name}", here.value, here.unit, there.value, 3),
                  flush=True)
    top = counts[-1]
    growth = top / base
    header = " | ".join(f"{c} partners" for c in counts)
    lines = [f"| figure | {header} | {base} -> {top} |", "|---" * (len(counts) + 2) + "|"]
    flagged = []
    for name in names:
        first, last = by_name[base][name], by_name[top].get(name)
        if last is None:
            continue
        ratio = last.value / first.value if first.value else (1.0 if not last.value else
                                                                 float("inf"))
        cells = " | ".join(f"{by_name[c][name].value:.4g}" for c in counts if name in by_name[c])
        mark = ""
        if first.kind == "rate":
            mark = " (falls)" if ratio < 1 / GROWING else ""
        elif first.kind == "per-request" and ratio > GROWING:
            mark = " GROWS"
        elif ratio > growth * SUPERLINEAR:
            mark = " SUPERLINEAR"
        if mark:
            flagged.append(f"{name}{mark}")
        lines.append(f"| {name} ({first.unit}) | {cells} | x{ratio:.2f}{mark} |")
    say(f"partners: growth (x{growth:g} partners):\n" + "\n".join(lines))
    for count in counts:
        for text_ in results[count].notes:
            say(f"partners {count}: note: {text_}")
    say("partners: flagged: " + (", ".join(flagged) if flagged else "nothing"))
