"""Scheduled work, in Asia/Jakarta time: one transfer job per outgoing dataset and
schedule (``transfer:<dataset>``, or ``transfer:<dataset>:<digest>`` when its flows to
different partners run on different schedules; a run seals and sends to the receivers
with work, found by query, each under its own lock), one pull job per dataset and sender
received in peer-pull mode (``delivery = "pull"``), and
the audit log's checkpoint, which peers' witnesses cosign, the roll-up of counted
refusals into the log (gateway.node.refusals), and every two seconds the projection
of delivered batches into the case ledger (gateway.cases.projection).

The schedule is kept in the node's own database, in the table ``scheduler_jobs``
(APScheduler's SQLAlchemy job store on ``node.store.engine``, so on SQLite and
PostgreSQL alike), so that it survives a restart: a run that fell due while the
node was down happens at start-up (once for several missed in a row, unless the
flow says ``coalesce = false``) if it is at most ``misfire_grace_seconds`` late,
and is otherwise skipped, with a warning, until its next due time.

Starting the scheduler (:meth:`NodeScheduler.start`) does not add the jobs afresh,
which would compute every next run time from now and so lose the missed runs. It
starts paused and reconciles the stored jobs with the agreement: a stored job whose
trigger the agreement still asks for keeps its next run time and only gets the
agreement's other settings (misfire grace time, coalescing, name, arguments); a job
whose trigger changed is replaced, with a next run time from the new trigger; a
job the agreement no longer has is removed; a missing one is added. Then it
resumes. Changing the agreement and restarting the node thus updates the jobs.

Replicas: the replicas of a node share one PostgreSQL database and so one job
table, which APScheduler 3 does not support as such (each scheduler assumes the
table is its own). It is made safe enough here, deliberately, rather than adding
a second coordination mechanism: (1) every replica reconciles at start-up to the
same result, idempotently: the table is created under an advisory lock, an
unchanged job is not written at all, and where another replica starting at the
same moment makes a step fail (:class:`ConflictingIdError` when it added the job
first, :class:`JobLookupError` when it removed or replaced it) the step looks
again and retries, or is skipped for a removal; (2) a job that fires on two
replicas is harmless, because each run first takes the leader lock
(per flow ``transfer:<dataset>:<receiver>``, ``pull:<dataset>:<sender>``; ``audit:publish``,
:meth:`Store.try_lock`)
and only one replica runs it. (Each replica's loop wakes at the earliest stored
next run time, and the first to take a due job moves its next run time on, so the
others mostly find nothing due.) What remains is narrow and accepted: a replica
whose loop took a due job just before another replica replaced or updated it
writes the old job back (the change then waits for the next restart); all replicas
must run with the same agreement, or each restart sets the jobs to its own; and a
replica that cannot unpickle a stored job (one written by a newer release, in a
rolling upgrade) deletes it, as APScheduler's job store does, until the next
start adds it again.

Stored jobs name their callables by textual reference (``gateway.exchange.schedule:
transfer_group_job``, ``gateway.exchange.schedule:pull_job`` and
``gateway.exchange.schedule:checkpoint_job``:
renaming them drops the stored jobs, which the next start adds afresh) and hold
only plain arguments: a key of the node (its party and a hash of its database URL
without the password), the dataset and the schedule's digest (of a pull job: the
sender). ``transfer_job`` (dataset and receiver), stored by earlier releases, still runs
its one flow until the next start reconciles it into its group's job.
The job finds the live :class:`Node` in a registry of this process and the flow in
the agreement in force at run time. The rows are pickles (protocol 5): the
database is trusted like everything else it holds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import pickle
import threading
import time
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.engine import make_url

from gateway.cases import projection
from gateway.cases.facts import LEDGER_DATASETS
from gateway.errors import GatewayError
from gateway.exchange import chunked_receiving, pull, retention, sending
from gateway.node import agreement_reload, refusals
from gateway.node.config import DatasetAgreement, Schedule
from gateway.node.node import Node
from gateway.peers import jwks, witness
from gateway.store.database import Store
from gateway.store.tables import inbound_transfers, outbound_batches

__all__ = ["JOB_TABLE", "NodeScheduler", "build_scheduler", "node_key"]

log = logging.getLogger(__name__)

JOB_TABLE = "scheduler_jobs"
# Fixed, not pickle.HIGHEST_PROTOCOL: replicas on a newer Python must write rows
# that the others can still read.
PICKLE_PROTOCOL = 5
TRANSFER_JOB = "gateway.exchange.schedule:transfer_job"
TRANSFER_GROUP_JOB = "gateway.exchange.schedule:transfer_group_job"
CHECKPOINT_JOB = "gateway.exchange.schedule:checkpoint_job"
RETENTION_JOB = "gateway.exchange.schedule:retention_job"
# How often batches past their flow's retention period are purged.
RETENTION_INTERVAL_SECONDS = 3600
PULL_JOB = "gateway.exchange.schedule:pull_job"
EXPIRE_JOB = "gateway.exchange.schedule:expire_job"
# How often chunked batches left half-way past their flow's expiry are dropped.
EXPIRE_INTERVAL_SECONDS = 3600
JWKS_JOB = "gateway.exchange.schedule:jwks_job"
REFUSALS_JOB = "gateway.exchange.schedule:refusals_job"
CASES_JOB = "gateway.exchange.schedule:cases_job"
# How often delivered batches are projected into the case ledger (gateway.cases.projection).
CASES_INTERVAL_SECONDS = 2
# At most how often the counted refusals of closed intervals are written to the log.
REFUSALS_MAX_PERIOD_SECONDS = 60
# How often one job's reconciliation is retried when other replicas change it meanwhile.
_ATTEMPTS = 5

# The live nodes of this process whose schedulers run, by node_key().
_NODES: dict[str, Node] = {}
_NODES_LOCK = threading.Lock()


def node_key(node: Node) -> str:
    """The node's name in stored jobs: its party and a short hash of its database URL.

    The URL is hashed without its password, so that no secret is stored and a
    new password does not change the key.
    """
    shown = make_url(node.store.url).render_as_string(hide_password=True)
    return f"{node.party_id}@{hashlib.sha256(shown.encode()).hexdigest()[:12]}"


def _register(key: str, node: Node) -> None:
    with _NODES_LOCK:
        _NODES[key] = node


def _unregister(key: str, node: Node) -> None:
    with _NODES_LOCK:
        if _NODES.get(key) is node:
            del _NODES[key]


def _registered(key: str) -> Node | None:
    """The live node a stored job names, if it runs in this process.

    A scheduler only runs the jobs of its own node's database, so when the key is
    unknown (a replica whose URL is written differently stored the job) the one
    running node of the same party is the right one.
    """
    with _NODES_LOCK:
        node = _NODES.get(key)
        if node is None:
            party = key.rpartition("@")[0]
            same = [n for n in _NODES.values() if n.party_id == party]
            node = same[0] if len(same) == 1 else None
    if node is None:
        log.error("a scheduled job names node %s, which does not run here; skipped", key)
    return node


def schedule_digest(schedule: Schedule) -> str:
    """A short digest of what makes flows run together: trigger, time zone, grace, coalescing."""
    text = json.dumps(
        [
            schedule.interval_seconds,
            schedule.cron,
            schedule.timezone,
            schedule.misfire_grace_seconds,
            schedule.coalesce,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def transfer_groups(node: Node) -> dict[tuple[str, str], list[DatasetAgreement]]:
    """The node's outgoing flows by (dataset, schedule digest): one transfer job each."""
    groups: dict[tuple[str, str], list[DatasetAgreement]] = {}
    for flow in node.config.agreement.outgoing(node.party_id):
        groups.setdefault((flow.name, schedule_digest(flow.schedule)), []).append(flow)
    return groups


def transfer_group_job(key: str, dataset: str, digest: str) -> None:
    """A stored transfer job: seal and send ``dataset``'s pending records to each receiver
    whose flow runs on the schedule ``digest`` and has work (sending.flows_with_work)."""
    node = _registered(key)
    if node is None:
        return
    flows = [
        f for f in sending.flows_with_work(node, dataset) if schedule_digest(f.schedule) == digest
    ]
    _run(node, dataset, flows)


def transfer_job(key: str, dataset: str, receiver: str) -> None:
    """A transfer job stored by an earlier release (one per flow): seal and send
    ``dataset``'s pending records to ``receiver``. The next start replaces it by its
    group's job."""
    node = _registered(key)
    if node is None:
        return
    flow = node.config.agreement.flow(dataset, sender=node.party_id, receiver=receiver)
    if flow is None:
        log.warning(
            "scheduled transfer of %s to %s: the agreement no longer has this flow; nothing done",
            dataset,
            receiver,
        )
        return
    _run(node, dataset, [flow])


def pull_job(key: str, dataset: str, sender: str) -> None:
    """A stored pull job: fetch the batches of ``dataset`` sealed for this node by ``sender``."""
    node = _registered(key)
    if node is None:
        return
    flow = next(
        (d for d in pull.pull_flows(node) if d.name == dataset and d.sender == sender), None
    )
    if flow is None:
        log.warning(
            "scheduled pull of %s from %s: the agreement no longer has this pull flow; "
            "nothing done",
            dataset,
            sender,
        )
        return
    _pull_job(node, flow)


def _pull_job(node: Node, flow: DatasetAgreement) -> None:
    # Every replica of the node schedules the job; one runs it at a time.
    with node.store.try_lock(pull.lock_name(flow)) as leader:
        if not leader:
            log.info(
                "pull of %s from %s runs on another replica; skipped here", flow.name, flow.sender
            )
            return
        _pull_run(node, flow)


def _pull_run(node: Node, flow: DatasetAgreement) -> None:
    try:
        report = pull.run(node, dataset=flow.name, sender=flow.sender)
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("scheduled pull of %s from %s failed", flow.name, flow.sender)
        return
    if report.received or report.delivered or report.failed:
        log.info(
            "pull %s from %s: received %d, delivered %d, failed %d",
            flow.name,
            flow.sender,
            len(report.received),
            len(report.delivered),
            len(report.failed),
        )


def checkpoint_job(key: str) -> None:
    """A stored checkpoint job: sign a checkpoint and have it cosigned."""
    node = _registered(key)
    if node is not None:
        _checkpoint_job(node)


def _maintenance(key: str, lock: str, what: str, work: Callable[[Node], object]) -> None:
    """Run ``work`` on one replica of the node at a time; a failure waits for the next run."""
    node = _registered(key)
    if node is None:
        return
    with node.store.try_lock(lock) as leader:
        if not leader:
            return
        try:
            work(node)
        except Exception:  # the next run retries
            log.exception("%s failed", what)


def retention_job(key: str) -> None:
    """A stored retention job: purge the batches past their flow's retention period."""

    def purge(node: Node) -> None:
        report = retention.purge(node)
        if report.sent or report.received:
            log.info(
                "retention: purged %d sent and %d received batches",
                len(report.sent),
                len(report.received),
            )

    _maintenance(key, "retention:purge", "retention purge", purge)


def expire_job(key: str) -> None:
    """A stored job: drop the chunked batches left half-way past their flow's expiry."""

    def expire(node: Node) -> None:
        expired = chunked_receiving.expire_transfers(node)
        if expired:
            log.info("dropped %d chunked batches left half-way: %s", len(expired), expired)

    _maintenance(key, "transfers:expire", "expiry of chunked transfers", expire)


def jwks_job(key: str, limit: int | None = None) -> None:
    """A stored job: fetch the JWKS of the ``limit`` peers fetched longest ago (of every
    peer, for a job stored by an earlier release), to pick up their pinned new keys.

    See gateway.peers.jwks.
    """

    def fetch(node: Node) -> None:
        jwks.refresh(node, limit=limit)

    _maintenance(key, "keys:refresh", "JWKS refresh", fetch)


def refusals_job(key: str) -> None:
    """A stored job: write the counted refusals of closed intervals to the audit log."""

    def roll_up(node: Node) -> None:
        written = refusals.roll_up(node)
        if written:
            log.info("refusals: %d audit entries for closed intervals", written)

    _maintenance(key, "refusals:roll-up", "refusal roll-up", roll_up)


# How long gateway serve's scheduler may hold freed memory while its jobs overlap
# (IdleExecutor).
IDLE_MAX_HOLD_SECONDS = 60.0

# While the node is sending or receiving a batch, the case ledger takes one slice of
# LEDGER_YIELD_BUDGET records at most every LEDGER_YIELD_SECONDS, and catches up (in
# slices of projection.BUDGET) once the exchange is done: the records in transit get the
# CPU first, and the ledger still moves on at about 1,000 records a second. Small slices
# keep the scheduler's process small while the workers hold chunks (docs/SERVICE_LEVELS.md;
# measured in docs/PERFORMANCE.md). A little under the job's interval, so that each run
# takes its slice even when it looks a few milliseconds early.
LEDGER_YIELD_SECONDS = CASES_INTERVAL_SECONDS * 0.9
LEDGER_YIELD_BUDGET = 2_000
# When each process last projected a slice while the node was exchanging, by node key.
_slice_taken: dict[str, float] = {}


def _exchanging(node: Node) -> bool:
    """Whether a batch is on its way: one sealed and being sent (neither delivered nor
    given up as dead), or a chunked one being received."""
    b, t = outbound_batches.c, inbound_transfers.c
    with node.store.read() as conn:
        if conn.execute(select(t.batch_id).limit(1)).first() is not None:
            return True
        sending = select(b.batch_id).where(b.status == "sealed").limit(1)
        return conn.execute(sending).first() is not None


def cases_job(key: str) -> None:
    """A stored job: project the delivered batches into the case ledger; while the node
    is exchanging, one slice of :data:`LEDGER_YIELD_BUDGET` records every
    :data:`LEDGER_YIELD_SECONDS` at most."""

    def project(node: Node) -> None:
        records = 0
        # Slice by slice, looking again before each: a batch that sets out meanwhile
        # makes the ledger yield at once, not after all that is queued.
        while not _exchanging(node):
            taken = projection.project(node)
            if not taken:
                break
            records += taken
        else:
            now = time.monotonic()
            last = _slice_taken.get(key, -LEDGER_YIELD_SECONDS)
            if not records and now - last >= LEDGER_YIELD_SECONDS:
                _slice_taken[key] = now
                records = projection.project(node, budget=LEDGER_YIELD_BUDGET)
        if records:
            log.info("case ledger: %d records of delivered batches projected", records)

    _maintenance(key, "cases:project", "case ledger projection", project)


def _run(node: Node, dataset: str, flows: list[DatasetAgreement]) -> None:
    # Every replica of the node schedules the job; each flow (dataset, receiver) is
    # run by one at a time, under its leader lock, so that replicas share the partners.
    try:
        report = sending.run_flows(node, flows, exclusive=True)
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("scheduled transfer of %s failed", dataset)
        return
    if report.sealed or report.delivered or report.failed:
        log.info(
            "transfer %s: sealed %d, delivered %d, failed %d",
            dataset,
            len(report.sealed),
            len(report.delivered),
            len(report.failed),
        )


def _checkpoint_job(node: Node) -> None:
    with node.store.try_lock("audit:publish") as leader:
        if leader:
            _publish(node)


def _publish(node: Node) -> None:
    try:
        report = witness.publish(node)
    except Exception:  # the next run retries
        log.exception("scheduled checkpoint failed")
        return
    for party, reason in report.failed.items():
        log.warning("checkpoint %d not cosigned by %s: %s", report.checkpoint.size, party, reason)


# Where the job functions lived before the package was layered: a node upgraded in
# place still has its jobs stored under this module's former name.
_FORMER_MODULE = "gateway.scheduler:"


class _NodeJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The job store in the node's database; the engine is the node's, left open."""

    def shutdown(self) -> None:
        pass  # Store.dispose closes the engine

    def _reconstitute_job(self, job_state: bytes) -> Any:
        # The rows are this job store's own, written by APScheduler's pickling.
        state = pickle.loads(job_state)  # noqa: S301
        func = state.get("func")
        if isinstance(func, str) and func.startswith(_FORMER_MODULE):
            state["func"] = f"{__name__}:{func.removeprefix(_FORMER_MODULE)}"
            job_state = pickle.dumps(state, self.pickle_protocol)
        return super()._reconstitute_job(job_state)


def _log_missed(event: Any) -> None:
    log.warning(
        "the run of %s due at %s was missed by more than its misfire grace time (the node "
        "was down or busy); skipped until its next due time",
        event.job_id,
        event.scheduled_run_time,
    )


class IdleExecutor(ThreadPoolExecutor):  # type: ignore[misc]
    """APScheduler's thread pool, calling ``on_idle`` whenever the last run under way ends.

    ``gateway serve`` hands its freed memory back then (gateway.ops.malloc): not after
    a short job that ended while a transfer runs, whose next chunk reuses the buffers.
    Where runs overlap without end (a hub's many flows), a run that ends
    ``max_hold_seconds`` after the last call makes the call anyway, so that the process
    holds what it freed for that long at most. A run is counted when it is submitted,
    before it can start, once for each scheduled time it is for (missed ones, where a
    job does not coalesce them); each time ends in one event: executed, failed or
    missed (APScheduler's ``run_job``).
    """

    def __init__(
        self,
        on_idle: Callable[[], object],
        *,
        max_hold_seconds: float = IDLE_MAX_HOLD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_workers: int = 10,
    ) -> None:
        super().__init__(max_workers)
        self._on_idle = on_idle
        self._max_hold = max_hold_seconds
        self._clock = clock
        self._count_lock = threading.Lock()
        self._running = 0
        self._last_call = clock()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        scheduler.add_listener(self._ended, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def submit_job(self, job: Any, run_times: list[dt.datetime]) -> None:
        with self._count_lock:
            self._running += len(run_times)
        try:
            super().submit_job(job, run_times)
        except BaseException:  # not run (its maximum of instances runs already)
            with self._count_lock:
                self._running -= len(run_times)
            raise

    @property
    def running(self) -> int:
        """Scheduled times being run or waiting for a thread of the pool."""
        return self._running

    def _ended(self, _event: Any) -> None:
        with self._count_lock:
            self._running = max(0, self._running - 1)
            now = self._clock()
            call = self._running == 0 or now - self._last_call >= self._max_hold
            if call:
                self._last_call = now
        if call:
            self._on_idle()


class NodeScheduler(BackgroundScheduler):  # type: ignore[misc]
    """A scheduler whose jobs are kept in the node's database.

    Before it first starts, :meth:`get_jobs` lists the jobs the agreement asks for;
    :meth:`start` reconciles them with the stored ones (see the module's text).
    """

    def __init__(self, node: Node) -> None:
        self._job_store = _NodeJobStore(
            engine=node.store.engine, tablename=JOB_TABLE, pickle_protocol=PICKLE_PROTOCOL
        )
        super().__init__(
            timezone=node.config.agreement.timezone, jobstores={"default": self._job_store}
        )
        self.gateway_node = node
        self.node_key = node_key(node)
        self._wanted: list[Any] | None = None
        self.add_listener(_log_missed, EVENT_JOB_MISSED)

    def start(self, paused: bool = False) -> None:
        """Start paused, reconcile the stored jobs with the agreement, then resume
        (unless ``paused``)."""
        _create_table(self.gateway_node.store, self._job_store)
        if self._wanted is None:
            # The jobs added before the first start are what the agreement asks for;
            # taken out so that starting does not add them blindly.
            self._wanted = self.get_jobs()
            self.remove_all_jobs()
        super().start(paused=True)
        _register(self.node_key, self.gateway_node)
        try:
            _reconcile(self, self._wanted)
        except BaseException:
            self.shutdown(wait=False)
            raise
        self.gateway_node.on_agreements_changed.append(self.reconcile_jobs)
        if not paused:
            self.resume()

    def shutdown(self, wait: bool = True) -> None:
        callbacks = self.gateway_node.on_agreements_changed
        if self.reconcile_jobs in callbacks:
            callbacks.remove(self.reconcile_jobs)
        super().shutdown(wait=wait)
        _unregister(self.node_key, self.gateway_node)

    def reconcile_jobs(self, node: Node) -> None:
        """The agreements in force changed while the node runs (gateway.node.agreement_reload):
        add the jobs a new agreement needs, remove those no agreement needs any more."""
        _reconcile(self, build_scheduler(node).get_jobs())

    def _process_jobs(self) -> float | None:
        # APScheduler 3's loop looks for due jobs once more after shutdown(), when the
        # executors are already shut down (agronholm/apscheduler#285): a job due then
        # would fail to start yet have its stored next run time moved on, so that the
        # run would be lost instead of made up at the next start.
        if self.state == STATE_STOPPED:
            return None
        wait: float | None = super()._process_jobs()
        return wait


def _create_table(store: Store, jobstore: SQLAlchemyJobStore) -> None:
    # The job store creates its table if missing, but two replicas starting at once
    # could both try; here they take turns (advisory lock; SQLite writers queue anyway).
    with store.write() as conn:
        Store.serialize(conn, f"scheduler:{JOB_TABLE}")
        jobstore.jobs_t.create(conn, checkfirst=True)


def _trigger_key(trigger: Any) -> tuple[Any, ...]:
    """What makes two triggers fire at the same times (an interval trigger's start,
    now + interval when it was made, does not count: a kept job keeps its phase)."""
    return (
        type(trigger).__name__,
        str(trigger),
        str(trigger.timezone),
        trigger.jitter,
        trigger.end_date,
    )


def _settings(job: Any) -> dict[str, Any]:
    return {
        "func": job.func_ref,
        "args": tuple(job.args),
        "kwargs": dict(job.kwargs),
        "name": job.name,
        "misfire_grace_time": job.misfire_grace_time,
        "coalesce": job.coalesce,
        "max_instances": job.max_instances,
        "executor": job.executor,
    }


def _reconcile(scheduler: NodeScheduler, wanted: list[Any]) -> None:
    """Make the stored jobs those of ``wanted``, keeping the next run times that still hold."""
    ids = {job.id for job in wanted}
    for job in wanted:
        outcome, next_run = _reconcile_one(scheduler, job)
        log.info(
            "scheduled job %s %s; next run at %s",
            job.id,
            outcome,
            next_run.isoformat() if next_run else "none",
        )
    for stored in scheduler.get_jobs():
        if stored.id in ids:
            continue
        try:
            scheduler.remove_job(stored.id)
        except JobLookupError:
            continue  # another replica removed it first
        log.info("scheduled job %s removed: the agreement no longer has it", stored.id)


def _reconcile_one(scheduler: NodeScheduler, want: Any) -> tuple[str, dt.datetime | None]:
    """Store one job the agreement asks for; how, and its next run time."""
    settings = _settings(want)
    for _ in range(_ATTEMPTS):
        try:
            stored = scheduler.get_job(want.id)
            if stored is None:
                job = scheduler.add_job(trigger=want.trigger, id=want.id, **settings)
                return "added", job.next_run_time
            if _trigger_key(stored.trigger) != _trigger_key(want.trigger):
                now = dt.datetime.now(scheduler.timezone)
                job = scheduler.modify_job(
                    want.id,
                    trigger=want.trigger,
                    next_run_time=want.trigger.get_next_fire_time(None, now),
                    **settings,
                )
                return "replaced (its schedule changed)", job.next_run_time
            if _settings(stored) != settings:
                job = scheduler.modify_job(want.id, **settings)
                return "updated (its schedule kept)", job.next_run_time
            return "kept", stored.next_run_time
        except (ConflictingIdError, JobLookupError):
            # Another replica added, replaced or removed it meanwhile: look again.
            continue
    raise GatewayError(f"could not store the scheduled job {want.id}: it kept changing")


def _trigger(schedule: Schedule, tz: str) -> IntervalTrigger | CronTrigger:
    # The flow's agreement's time zone (Schedule.timezone) is part of its group.
    if schedule.interval_seconds:
        return IntervalTrigger(seconds=schedule.interval_seconds, timezone=tz)
    return CronTrigger.from_crontab(schedule.cron or "", timezone=tz)


def _add_flow_job(
    scheduler: NodeScheduler,
    flow: DatasetAgreement,
    func: str,
    args: tuple[str, ...],
    *,
    job_id: str,
    name: str,
) -> None:
    """A job on the flow's schedule, with its misfire and coalescing rules."""
    schedule = flow.schedule
    scheduler.add_job(
        func,
        _trigger(schedule, schedule.timezone),
        args=args,
        id=job_id,
        name=name,
        coalesce=schedule.coalesce,
        max_instances=1,
        misfire_grace_time=schedule.misfire_grace_seconds,
    )
    log.info("scheduled %s: %s", name, schedule.describe())


def _add_every(
    scheduler: NodeScheduler,
    func: str,
    seconds: int,
    *,
    job_id: str,
    name: str,
    grace: int | None = None,
    args: tuple[Any, ...] = (),
) -> None:
    """A node-wide job every ``seconds``: runs missed meanwhile are one run, never two at
    once; a run late by more than ``grace`` (default: one period) is skipped."""
    scheduler.add_job(
        func,
        IntervalTrigger(seconds=seconds, timezone=scheduler.gateway_node.config.agreement.timezone),
        args=(scheduler.node_key, *args),
        id=job_id,
        name=name,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=seconds if grace is None else grace,
    )


def build_scheduler(node: Node) -> NodeScheduler:
    """A scheduler (not yet started) with a job for each dataset this node sends, one for
    each it pulls, and the checkpoint's; its :meth:`~NodeScheduler.start` reconciles them
    with the stored ones."""
    scheduler = NodeScheduler(node)
    groups = transfer_groups(node)
    schedules_of: dict[str, int] = {}
    for name, _ in groups:
        schedules_of[name] = schedules_of.get(name, 0) + 1
    for (name, digest), group in groups.items():
        # One job per dataset and schedule, whatever the number of partners: the
        # dataset's own id when all its flows share one schedule.
        _add_flow_job(
            scheduler,
            group[0],
            TRANSFER_GROUP_JOB,
            (scheduler.node_key, name, digest),
            job_id=f"transfer:{name}" if schedules_of[name] == 1 else f"transfer:{name}:{digest}",
            name=f"transfer {name} to {group[0].receiver}"
            if len(group) == 1
            else f"transfer {name} ({group[0].schedule.describe()})",
        )
    for dataset in pull.pull_flows(node):
        # Sealed by the sender on the same schedule; fetched from its outbox on this one.
        _add_flow_job(
            scheduler,
            dataset,
            PULL_JOB,
            (scheduler.node_key, dataset.name, dataset.sender),
            job_id=f"pull:{dataset.name}:{dataset.sender}",
            name=f"pull {dataset.name} from {dataset.sender}",
        )
    _add_every(
        scheduler,
        CHECKPOINT_JOB,
        node.config.checkpoint_interval_seconds,
        job_id="audit:checkpoint",
        name="sign a checkpoint and have it cosigned",
        grace=60,
    )
    agreement = node.config.agreement
    # A slice of the peers a run, often enough for each to be fetched every period.
    interval, limit = jwks.plan(len(agreement.parties) - 1, agreement.keys.jwks_refresh_seconds)
    _add_every(
        scheduler,
        JWKS_JOB,
        interval,
        job_id="keys:refresh",
        name="fetch the peers' JWKS",
        args=(limit,),
    )
    if any(f.chunked for f in agreement.incoming(node.party_id)):
        _add_every(
            scheduler,
            EXPIRE_JOB,
            EXPIRE_INTERVAL_SECONDS,
            job_id="transfers:expire",
            name="drop chunked batches left half-way",
        )
    # Often enough that an interval reaches the log soon after it closes.
    _add_every(
        scheduler,
        REFUSALS_JOB,
        min(node.config.refusal_interval_seconds, REFUSALS_MAX_PERIOD_SECONDS),
        job_id="audit:refusals",
        name="write the counted refusals to the audit log",
    )
    flows = (*agreement.outgoing(node.party_id), *agreement.incoming(node.party_id))
    if node.config.case_ledger and any(f.name in LEDGER_DATASETS for f in flows):
        _add_every(
            scheduler,
            CASES_JOB,
            CASES_INTERVAL_SECONDS,
            job_id="cases:project",
            name="project delivered batches into the case ledger",
        )
    # The data of ended agreements is kept, and purged, for their retention period too.
    kept = [f.retention_days for f in agreement.ended_flows]
    kept += [f.retention_days for f in agreement_reload.ended_flows(node.store)]
    if any(f.retention_days is not None for f in flows) or any(d is not None for d in kept):
        _add_every(
            scheduler,
            RETENTION_JOB,
            RETENTION_INTERVAL_SECONDS,
            job_id="retention:purge",
            name="purge batches past their retention period",
        )
    return scheduler
