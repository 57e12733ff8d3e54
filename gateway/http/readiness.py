"""Whether a node is ready for traffic: the checks behind ``GET /readyz``.

``GET /healthz`` says only that the process answers (liveness). ``GET /readyz``
runs four checks, each ``ok``, ``fail`` or ``skipped``:

``database`` (critical)
    the node's database answers a trivial query, which reads the schema's
    migration revision, within :data:`DATABASE_TIMEOUT_SECONDS`;
``keys`` (critical)
    the signing and encryption keys this process uses are still live in the key
    ring on disk (active, or retiring within their grace period: not retired,
    revoked, or past their grace period, as ``gateway keys`` may have made them
    while the node runs) and not listed under the agreement's ``revoked_keys``;
``scheduler``
    someone runs the scheduled jobs: the job table (gateway.exchange.schedule) holds
    jobs, and none is more than :data:`SCHEDULER_LATE_SECONDS` past its due
    time. APScheduler moves a job's next run time on as it starts each run, so a
    stale one means no scheduler of the node (whichever process or replica) runs;
    a job is noticed late only once it falls due. ``skipped`` when the node
    config turns the scheduler off (``scheduler = false``);
``peers``
    the other parties' nodes answer their JWKS endpoint (``GET
    /exchange/v1/jwks``, as the key refresh fetches it) within
    :data:`PEER_TIMEOUT_SECONDS`. A look at the peers asks at most
    :data:`PEER_SLICE` of them, those this process has not asked yet or asked
    longest ago, and keeps every answer; the next look comes once the last is
    older than :data:`PEER_CACHE_SECONDS`. So the requests a process makes to the
    peers, and the time a probe waits, are the same with two peers or hundreds
    (a hub of 200 partners has each one asked about every three minutes per
    process: at most 16 requests every 15 s). Only a process's first probe waits
    for a look; a later one answers with what is known (``age_seconds`` says
    how old its oldest answer is) and one thread looks again meanwhile. A peer
    not asked yet by this process is ``pending``, which fails nothing: with up
    to :data:`PEER_SLICE` peers, the first look asks every one.

The node is ``ready`` (200) when every check passes; ``degraded`` (200) when only
the scheduler or a peer fails: it still accepts submissions, stores them
durably and serves its own systems, and what waits is delivered once the peer or
the scheduler is back, so taking it out of service would refuse work it can do;
``not_ready`` (503) when the database or the keys fail, since it can then accept
nothing, or sign nothing that its peers would take.

The operator's view also reports ``witnessing``: the newest checkpoint of the node's
log, the cosignatures it carries and the quorum it needs (``[node.witnessing]``).
It is reported, not checked: a checkpoint short of its quorum changes nothing the
node can do for its systems or its peers (it leaves the newest entries unwitnessed,
which auditors see), an unreachable peer already degrades the node through
``peers``, and every new checkpoint is short of its quorum for the moments its
publication takes, so a check on it would flap. The metrics
``gateway_checkpoint_cosignatures`` and ``gateway_witness_quorum`` carry it to
alerting (docs/OPERATIONS.md).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from gateway.crypto.keyring import KEYRING_FILE, Keyring
from gateway.errors import KeyMaterialError
from gateway.http.metrics import scheduler_overdue_seconds
from gateway.node import audit_log
from gateway.node.node import Node
from gateway.peers import jwks

__all__ = [
    "DATABASE_TIMEOUT_SECONDS",
    "PEER_CACHE_SECONDS",
    "PEER_LOOKS_AT_ONCE",
    "PEER_SLICE",
    "PEER_TIMEOUT_SECONDS",
    "SCHEDULER_LATE_SECONDS",
    "Check",
    "Readiness",
    "Report",
]

DATABASE_TIMEOUT_SECONDS = 2.0
PEER_TIMEOUT_SECONDS = 2.0
PEER_CACHE_SECONDS = 15.0
# Peers asked by one look at the peers, at most; and at the same moment.
PEER_SLICE = 16
PEER_LOOKS_AT_ONCE = 16
SCHEDULER_LATE_SECONDS = 60.0

OK, FAIL, SKIPPED, PENDING = "ok", "fail", "skipped", "pending"

# (url, timeout) -> (status, body), as gateway.peers.jwks fetches a JWKS. Tests cut
# the network here.
Getter = Callable[[str, float], tuple[int, bytes]]


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | fail | skipped
    critical: bool  # a failure makes the node not ready (503)
    # For the operator only: what was found, without secrets or file paths.
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    checks: list[Check]
    # The newest checkpoint's cosignatures and quorum, for the operator (not a check).
    witnessing: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        failed = [c for c in self.checks if c.status == FAIL]
        if any(c.critical for c in failed):
            return "not_ready"
        return "degraded" if failed else "ready"

    @property
    def http_status(self) -> int:
        return 503 if self.status == "not_ready" else 200

    def public(self) -> dict[str, Any]:
        """What anyone may see: the status and each check's name and outcome."""
        return {"status": self.status, "checks": {c.name: c.status for c in self.checks}}

    def detailed(self) -> dict[str, Any]:
        """What the operator role sees: each check's findings, and the witnessing, as well."""
        found: dict[str, Any] = {
            "status": self.status,
            "checks": {
                c.name: {"status": c.status, "critical": c.critical, **c.detail}
                for c in self.checks
            },
        }
        if self.witnessing is not None:
            found["witnessing"] = self.witnessing
        return found


class Readiness:
    """The readiness checks of one node, in one process (it keeps the peers' answers)."""

    def __init__(self, node: Node, *, get: Getter = jwks.http_get) -> None:
        self.node = node
        self.get = get
        self._database_lock = threading.Lock()
        self._database_probe: tuple[threading.Thread, dict[str, Any]] | None = None
        self._peers_lock = threading.Lock()
        # The last look's time, and each peer's last answer with the time it came.
        self._peers_looked: float | None = None
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}
        self._peers_look: threading.Thread | None = None  # a look under way, in the background

    def run(self) -> Report:
        found = self._query_database()
        checks = [self._database(found), self.keys(), self._scheduler(found), self.peers()]
        return Report(checks, witnessing=self._witnessing(found))

    # -- database and scheduler -----------------------------------------------------------------

    def _query_database(self) -> dict[str, Any]:
        """The schema's revision and the scheduled jobs, given
        :data:`DATABASE_TIMEOUT_SECONDS` to answer (else an ``error``).

        The queries run in a thread of their own, so that a database that hangs
        does not hold the probe. One runs at a time: a check that finds one under
        way (another probe's, or one that hangs) waits for it and takes its
        answer instead of starting another, so hanging queries cannot pile up.
        """
        with self._database_lock:
            probe = self._database_probe
            if probe is None or not probe[0].is_alive():
                found: dict[str, Any] = {}
                thread = threading.Thread(
                    target=self._probe_database, args=(found,), name="readyz-database", daemon=True
                )
                probe = self._database_probe = (thread, found)
                thread.start()
        thread, found = probe
        thread.join(DATABASE_TIMEOUT_SECONDS)
        if thread.is_alive():
            return {"error": f"no answer within {DATABASE_TIMEOUT_SECONDS:g} s"}
        return dict(found)

    def _probe_database(self, found: dict[str, Any]) -> None:
        try:
            with self.node.store.read() as conn:
                found["revision"] = conn.execute(
                    text("SELECT version_num FROM alembic_version")
                ).scalar()
                found["jobs"], found["overdue"] = scheduler_overdue_seconds(conn)
                latest = audit_log.latest_checkpoint(conn)
                if latest is not None:
                    found["checkpoint"] = (
                        latest.size,
                        audit_log.cosignature_count(conn, latest.size),
                    )
        except Exception as exc:  # any failure is the finding
            found["error"] = type(exc).__name__

    def _database(self, found: dict[str, Any]) -> Check:
        detail: dict[str, Any] = {"backend": self.node.store.backend}
        if "error" in found:
            return Check("database", FAIL, True, {**detail, "error": found["error"]})
        if not found.get("revision"):
            return Check("database", FAIL, True, {**detail, "error": "no schema revision"})
        return Check("database", OK, True, {**detail, "revision": found["revision"]})

    def _scheduler(self, found: dict[str, Any]) -> Check:
        if not self.node.config.scheduler_enabled:
            return Check("scheduler", SKIPPED, False, {"reason": "scheduler = false"})
        if "jobs" not in found:
            return Check("scheduler", FAIL, False, {"error": "the database did not answer"})
        jobs, overdue = int(found["jobs"]), float(found["overdue"])
        detail: dict[str, Any] = {"jobs": max(jobs, 0), "overdue_seconds": round(overdue, 1)}
        if jobs <= 0:
            return Check("scheduler", FAIL, False, {**detail, "error": "no scheduled jobs"})
        if overdue > SCHEDULER_LATE_SECONDS:
            error = "a job is overdue: no scheduler runs the jobs"
            return Check("scheduler", FAIL, False, {**detail, "error": error})
        return Check("scheduler", OK, False, detail)

    def _witnessing(self, found: dict[str, Any]) -> dict[str, Any] | None:
        """The newest checkpoint's cosignatures against the quorum; None before the first
        checkpoint, or when the database did not answer."""
        if "checkpoint" not in found:
            return None
        size, cosignatures = found["checkpoint"]
        quorum = self.node.config.witnessing.quorum
        return {
            "checkpoint_size": size,
            "cosignatures": cosignatures,
            "quorum": quorum,
            "quorum_met": cosignatures >= quorum,
        }

    # -- keys -----------------------------------------------------------------------------------

    def keys(self) -> Check:
        node = self.node
        now = node.now()
        keys = node.keys
        ring = keys.ring
        ring_file = node.config.key_dir / KEYRING_FILE
        try:
            if ring_file.exists():  # made by the first rotation; changed by gateway keys
                ring = Keyring.load(node.config.key_dir)
        except (KeyMaterialError, OSError):
            return Check("keys", FAIL, True, {"error": "the key ring cannot be read"})
        revoked = set(node.config.party.revoked_keys)
        problems: list[str] = []
        in_use = {"signing": keys.signing_kid, "encryption": keys.encryption_kid}
        for what, kid in in_use.items():
            if kid in revoked:
                problems.append(f"the {what} key {kid} is revoked in the agreement")
            if ring is None:
                continue
            entry = next((e for e in ring.entries if e.kid == kid), None)
            if entry is None:
                problems.append(f"the {what} key {kid} is not in the key ring")
            elif not entry.live(now):
                state = "past its grace period" if entry.status == "retiring" else entry.status
                problems.append(f"the {what} key {kid} is {state}")
        detail: dict[str, Any] = {f"{what}_kid": kid for what, kid in in_use.items()}
        if problems:
            return Check("keys", FAIL, True, {**detail, "problems": problems})
        return Check("keys", OK, True, detail)

    # -- peers ----------------------------------------------------------------------------------

    def peers(self) -> Check:
        """The peers' nodes, as last seen; a slice of them looked at again once the last
        look is older than :data:`PEER_CACHE_SECONDS`, in the background (only the first
        look is waited for)."""
        with self._peers_lock:  # the first look: one at a time; the others wait and share it
            if self._peers_looked is None:
                self._peers_looked = time.monotonic()
                self._keep(self._look_at_peers(self._slice()))
            elif time.monotonic() - self._peers_looked > PEER_CACHE_SECONDS:
                self._look_again()
            answers = dict(self._answers)
        node = self.node
        now = time.monotonic()
        found: dict[str, dict[str, Any]] = {}
        oldest = now
        for party in node.config.agreement.parties.values():
            if party.id == node.party_id:
                continue
            seen = answers.get(party.id)
            if seen is None:
                found[party.id] = {"status": PENDING}
            else:
                found[party.id] = seen[1]
                oldest = min(oldest, seen[0])
        failed = any(p["status"] == FAIL for p in found.values())
        # How old the oldest answer reported is.
        detail = {"parties": found, "age_seconds": round(now - oldest, 1)}
        return Check("peers", FAIL if failed else OK, False, detail)

    def _slice(self) -> list[tuple[str, str]]:
        """The peers (id, base URL) to look at next: at most :data:`PEER_SLICE`, those not
        asked yet, then those asked longest ago (the lock is held)."""
        node = self.node
        others = [p for p in node.config.agreement.parties.values() if p.id != node.party_id]
        if len(others) > PEER_SLICE:
            answers = self._answers
            others = heapq.nsmallest(
                PEER_SLICE,
                others,
                key=lambda p: (p.id in answers, answers[p.id][0] if p.id in answers else 0.0),
            )
        return [(p.id, p.base_url) for p in others]

    def _keep(self, looked: dict[str, dict[str, Any]]) -> None:
        """Keep a look's answers; forget parties no longer in an agreement (lock held)."""
        now = time.monotonic()
        self._answers.update({party: (now, answer) for party, answer in looked.items()})
        parties = self.node.config.agreement.parties
        for gone in [p for p in self._answers if p not in parties]:
            del self._answers[gone]

    def _look_again(self) -> None:
        """Start a look at the peers in a thread, unless one is under way (the lock is held)."""
        if self._peers_look is not None and self._peers_look.is_alive():
            return
        self._peers_looked = time.monotonic()
        peers = self._slice()

        def look() -> None:
            found = self._look_at_peers(peers)
            with self._peers_lock:
                self._keep(found)

        self._peers_look = threading.Thread(target=look, name="readyz-peers", daemon=True)
        self._peers_look.start()

    def _look_at_peers(self, peers: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
        timeout = min(PEER_TIMEOUT_SECONDS, float(self.node.config.peer_timeout_seconds))

        def look(base_url: str) -> dict[str, Any]:
            started = time.monotonic()
            try:
                status, _ = self.get(base_url + jwks.JWKS_PATH, timeout)
            except Exception as exc:  # refused, timed out, TLS: the kind is the finding
                return {"status": FAIL, "error": type(exc).__name__}
            seconds = round(time.monotonic() - started, 3)
            if status != 200:
                return {"status": FAIL, "error": f"HTTP {status}", "seconds": seconds}
            return {"status": OK, "seconds": seconds}

        if not peers:
            return {}
        looks = min(len(peers), PEER_LOOKS_AT_ONCE)
        with ThreadPoolExecutor(looks, thread_name_prefix="readyz-peer") as pool:
            answers = list(pool.map(look, [url for _, url in peers]))
        return {party: answer for (party, _), answer in zip(peers, answers, strict=True)}
