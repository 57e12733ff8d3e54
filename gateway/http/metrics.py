"""Prometheus metrics of the node: from its database, and of the HTTP requests it answers.

Two kinds, served together at ``GET /metrics`` to clients with the ``operator``
role (Prometheus sends the token as ``authorization: Bearer``):

* :class:`NodeCollector`: the transfers, the audit log, the witnesses and the
  schedule, computed from the database when Prometheus scrapes, so the figures
  are the same whichever worker process or replica answers, and survive restarts;
* :class:`CaseCollector`: the case ledger's service levels (steps overdue per
  unit, cases per status), read from the database at scrape time likewise;
* :class:`RequestMetrics`: the HTTP requests and refused submissions, counted by
  each worker process as it answers them. Under gunicorn, where the workers are
  separate processes, each writes its counts to files in the directory named by
  ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's multiprocess mode; the
  gunicorn config makes a fresh one at every start), and a scrape sums every
  worker's files (:func:`metrics_registry`); they restart from zero with the
  server, as counters may. Each replica counts its own requests.

docs/OPERATIONS.md lists every metric with its meaning and suggested alerts.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import column, func, inspect, select, table
from sqlalchemy.engine import Connection

from gateway.cases import gauges, projection, reports
from gateway.node import agreement_reload, audit_log, refusals
from gateway.node.node import Node
from gateway.store.tables import (
    audit_checkpoints,
    audit_cosignatures,
    audit_events,
    audit_tree,
    inbound_batches,
    outbound_batches,
    outbox_records,
    witness_alerts,
    witnessed_logs,
)
from gateway.timestamps import age_seconds

__all__ = [
    "DURATION_BUCKETS",
    "MULTIPROCESS_ENV",
    "UNMATCHED_ROUTE",
    "CaseCollector",
    "NodeCollector",
    "RequestMetrics",
    "metrics_registry",
    "multiprocess_dir",
    "scheduler_overdue_seconds",
]

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The table of APScheduler's job store (gateway.exchange.schedule.JOB_TABLE, not imported
# here so that the metrics do not load the scheduler).
_JOB_TABLE = "scheduler_jobs"
# Request durations, in seconds: from a health check to a large batch from a peer.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The route label of a request that matched no route (404, 405): never the raw path.
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WITNESS_ALERT_KINDS = ("fork", "inconsistent")
_REFUSAL_KINDS = frozenset(refusals.KINDS)


def _age(now: dt.datetime, stamp: str | None) -> float:
    if stamp is None:
        return 0.0
    return max(0.0, age_seconds(now, stamp))


class RequestMetrics:
    """The HTTP requests and refused submissions that this process answered.

    ``registry``: where to register them; None in multiprocess mode, where they
    are read back from the workers' files (:class:`MultiProcessCollector`).
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "gateway_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_http_request_duration_seconds",
            "Time to answer an HTTP request (until the answer is handed to the server), "
            "by method and route template.",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "gateway_submissions_rejected",
            "Submissions of records refused, by dataset and error code "
            "(validation_failed: a record does not match the agreed schema).",
            ["dataset", "reason"],
            registry=registry,
        )
        self.refused = Counter(
            "gateway_requests_refused",
            "Requests refused without an audit entry of their own (callers that did not "
            "authenticate, clients over their rate limit), by kind; the audit log gets one "
            "requests_refused entry per kind and interval.",
            ["kind"],
            registry=registry,
        )
        # The labelled children of each (method, route, status) answered so far: looking
        # them up by their labels costs more than counting. As bounded as the labels are.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        """Count one answered request; ``route``: its URL rule (None: it matched none)."""
        method = method if method in _METHODS else "OTHER"
        label = route or UNMATCHED_ROUTE
        key = (method, label, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, label, str(status)),
                self.duration.labels(method, label),
            )
        requests, duration = children
        requests.inc()
        duration.observe(seconds)

    def reject(self, dataset: str, reason: str) -> None:
        """Count one refused submission (``dataset``: an agreed name, or ``unknown``)."""
        self.rejected.labels(dataset, reason).inc()

    def refuse(self, kind: str) -> None:
        """Count one refusal of a kind of gateway.node.refusals (any other: ``other``)."""
        self.refused.labels(kind if kind in _REFUSAL_KINDS else "other").inc()


def multiprocess_dir() -> str | None:
    """The multiprocess directory this process writes its counts to, if any."""
    path = os.environ.get(MULTIPROCESS_ENV)
    return path if path and os.path.isdir(path) else None


def metrics_registry(node: Node) -> tuple[CollectorRegistry, RequestMetrics]:
    """The registry that ``GET /metrics`` serves, and the request metrics to count into."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))
    registry.register(CaseCollector(node))
    path = multiprocess_dir()
    if path is None:
        return registry, RequestMetrics(registry)
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return registry, RequestMetrics(None)


def scheduler_overdue_seconds(conn: Connection, now: float | None = None) -> tuple[int, float]:
    """The number of scheduled jobs, and how many seconds the most overdue is late (0 if none).

    APScheduler keeps each job's next run time in the job table and moves it on
    as soon as it starts the run; while a scheduler runs the jobs, none is late
    by more than a moment. (-1, 0.0) when there is no job table.
    """
    if not inspect(conn).has_table(_JOB_TABLE):
        return -1, 0.0
    # The job store's table, by name: its columns are id, next_run_time, job_state.
    jobs = table(_JOB_TABLE, column("next_run_time"))
    count, earliest = conn.execute(
        select(func.count(), func.min(jobs.c.next_run_time)).where(
            jobs.c.next_run_time.is_not(None)
        )
    ).one()
    if not count or earliest is None:
        return int(count or 0), 0.0
    moment = time.time() if now is None else now
    return int(count), max(0.0, moment - float(earliest))


@dataclass
class _States:
    """Outgoing batches of one flow in one state."""

    count: int = 0
    oldest: str | None = None  # created_at of the oldest
    records: int = 0
    failing: int = 0  # with at least one failed attempt
    size: int = 0  # envelope bytes
    newest_delivery: str | None = None


@dataclass
class _Outgoing:
    """The outgoing figures of every flow, by (dataset, receiver)."""

    pending: dict[tuple[str, str | None], tuple[int, str | None]]
    batches: dict[tuple[str, str], dict[str, _States]]
    failures: dict[tuple[str, str], int]


def _outgoing_figures(conn: Connection) -> _Outgoing:
    """One grouped query per table for every outgoing flow (batch_send_failed entries are
    counted in one pass over the log, not one pass per flow)."""
    c, b, e = outbox_records.c, outbound_batches.c, audit_events.c
    pending = {
        (str(dataset), None if receiver is None else str(receiver)): (int(n), first)
        for dataset, receiver, n, first in conn.execute(
            select(c.dataset, c.receiver, func.count(), func.min(c.created_at))
            .where(c.batch_id.is_(None))
            .group_by(c.dataset, c.receiver)
        )
    }
    batches: dict[tuple[str, str], dict[str, _States]] = {}
    for row in conn.execute(
        select(
            b.dataset,
            b.receiver,
            b.status,
            func.count(),
            func.min(b.created_at),
            func.sum(b.record_count),
            func.count().filter(b.attempts > 0),
            func.sum(func.length(b.envelope)),
            func.max(b.delivered_at),
        ).group_by(b.dataset, b.receiver, b.status)
    ):
        dataset, receiver, status, n, oldest, records, failing, size, delivered = row
        batches.setdefault((str(dataset), str(receiver)), {})[str(status)] = _States(
            int(n), oldest, int(records or 0), int(failing or 0), int(size or 0), delivered
        )
    failures = {
        (str(dataset), str(peer)): int(n)
        for dataset, peer, n in conn.execute(
            select(e.dataset, e.peer, func.count())
            .where(e.event == "batch_send_failed")
            .group_by(e.dataset, e.peer)
        )
    }
    return _Outgoing(pending, batches, failures)


class NodeCollector(Collector):
    """Collects the node's transfer, audit, witness and schedule figures at scrape time."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        now = node.now()
        with node.store.read() as conn:
            yield from self._outgoing(conn, now)
            yield from self._incoming(conn, now)
            yield from self._audit(conn, now)
            yield from self._witnesses(conn, now)
            jobs, overdue = scheduler_overdue_seconds(conn)
        yield from self._agreements()
        yield GaugeMetricFamily(
            "gateway_scheduler_jobs",
            "Scheduled jobs in the database (-1: the job table does not exist yet).",
            value=jobs,
        )
        yield GaugeMetricFamily(
            "gateway_scheduler_overdue_seconds",
            "How long past its due time the most overdue scheduled job is (0: none is due). "
            "More than a minute: no scheduler runs the jobs.",
            value=overdue,
        )

    def _agreements(self) -> Iterator[Metric]:
        counts = agreement_reload.counts(self.node)
        gauge = GaugeMetricFamily(
            "gateway_agreements",
            "Agreements of this node by status: in force (as the worker that answers sees "
            "them), ended, suspended (taken up, but not in force here: its file is refused "
            "or missing) and agreement files refused (docs/OPERATIONS.md).",
            labels=["status"],
        )
        for status, n in counts.items():
            gauge.add_metric([status], n)
        yield gauge

    def _outgoing(self, conn: Connection, now: dt.datetime) -> Iterator[Metric]:
        node = self.node
        labels = ["dataset", "peer"]
        pending = GaugeMetricFamily(
            "gateway_outbox_pending_records", "Records accepted and not yet sealed.", labels=labels
        )
        oldest = GaugeMetricFamily(
            "gateway_outbox_oldest_pending_age_seconds",
            "Age of the oldest record not yet delivered (pending or in a batch not delivered).",
            labels=labels,
        )
        batches = GaugeMetricFamily(
            "gateway_outbound_batches", "Outgoing batches by state.", labels=[*labels, "state"]
        )
        waiting = GaugeMetricFamily(
            "gateway_outbound_waiting_records",
            "Records in sealed batches not yet delivered (pushed and retried, or waiting "
            "for the receiver to pull them).",
            labels=labels,
        )
        retrying = GaugeMetricFamily(
            "gateway_outbound_retrying_batches",
            "Sealed batches not yet delivered whose delivery failed at least once.",
            labels=labels,
        )
        last_delivery = GaugeMetricFamily(
            "gateway_outbound_last_delivery_age_seconds",
            "Seconds since the flow's last batch was delivered (no sample before the first).",
            labels=labels,
        )
        sent_records = CounterMetricFamily(
            "gateway_sent_records", "Records delivered with a verified receipt.", labels=labels
        )
        sent_bytes = CounterMetricFamily(
            "gateway_sent_bytes", "Envelope bytes delivered with a verified receipt.", labels=labels
        )
        retries = CounterMetricFamily(
            "gateway_send_failures", "Failed delivery attempts (each is retried).", labels=labels
        )
        # A few grouped queries for every flow at once, not a few per flow: a hub has
        # hundreds of flows, and a scrape must not cost a query per flow.
        figures = _outgoing_figures(conn)
        for flow in node.config.agreement.outgoing(node.party_id):
            key = [flow.name, flow.receiver]
            # Records from before revision 0015 name no receiver: the dataset's one, while
            # it has one (gateway.exchange.sending).
            count, first = figures.pending.get((flow.name, flow.receiver), (0, None))
            older, oldest_older = (
                figures.pending.get((flow.name, None), (0, None))
                if node.config.agreement.receivers(flow.name, sender=node.party_id)
                == (flow.receiver,)
                else (0, None)
            )
            pending.add_metric(key, count + older)
            first = min((t for t in (first, oldest_older) if t is not None), default=None)
            by_state = figures.batches.get((flow.name, flow.receiver), {})
            undelivered = min(
                (
                    stamp
                    for s in ("sealed", "dead")
                    if (stamp := by_state[s].oldest if s in by_state else None) is not None
                ),
                default=None,
            )
            oldest.add_metric(key, max(_age(now, first), _age(now, undelivered)))
            for state in ("sealed", "dead", "cancelled", "delivered"):
                batches.add_metric([*key, state], by_state[state].count if state in by_state else 0)
            sealed = by_state.get("sealed", _States())
            waiting.add_metric(key, sealed.records)
            retrying.add_metric(key, sealed.failing)
            delivered = by_state.get("delivered", _States())
            if delivered.newest_delivery is not None:
                last_delivery.add_metric(key, _age(now, delivered.newest_delivery))
            sent_records.add_metric(key, delivered.records)
            sent_bytes.add_metric(key, delivered.size)
            retries.add_metric(key, figures.failures.get((flow.name, flow.receiver), 0))
        yield from (pending, oldest, batches, waiting, retrying, last_delivery)
        yield from (sent_records, sent_bytes, retries)

    def _incoming(self, conn: Connection, now: dt.datetime) -> Iterator[Metric]:
        node = self.node
        labels = ["dataset", "peer"]
        unacked = GaugeMetricFamily(
            "gateway_inbound_unacknowledged_batches",
            "Batches received and not yet acknowledged by the node's own systems.",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "gateway_inbound_last_batch_age_seconds",
            "Seconds since the flow's last batch was received (no sample before the first).",
            labels=labels,
        )
        i = inbound_batches.c
        found = {
            (str(dataset), str(sender)): (int(n or 0), latest)
            for dataset, sender, n, latest in conn.execute(
                select(
                    i.dataset,
                    i.sender,
                    func.count().filter(i.acked_at.is_(None)),
                    func.max(i.received_at),
                ).group_by(i.dataset, i.sender)
            )
        }
        for flow in node.config.agreement.incoming(node.party_id):
            key = [flow.name, flow.sender]
            waiting, latest = found.get((flow.name, flow.sender), (0, None))
            unacked.add_metric(key, waiting)
            if latest is not None:
                last.add_metric(key, _age(now, latest))
        yield from (unacked, last)

    def _audit(self, conn: Connection, now: dt.datetime) -> Iterator[Metric]:
        entries = conn.execute(select(func.count()).select_from(audit_events)).scalar()
        tree = conn.execute(
            select(func.count()).select_from(audit_tree).where(audit_tree.c.level == 0)
        ).scalar()
        k = audit_checkpoints.c
        newest = conn.execute(select(k.size, k.created_at).order_by(k.size.desc()).limit(1)).first()
        yield GaugeMetricFamily("gateway_audit_entries", "Entries in the audit log.", value=entries)
        yield GaugeMetricFamily(
            "gateway_audit_unintegrated_entries",
            "Audit entries not yet in the Merkle tree (not yet in a checkpoint).",
            value=int(entries or 0) - int(tree or 0),
        )
        yield GaugeMetricFamily(
            "gateway_audit_checkpoint_size",
            "Size (entries) of the newest checkpoint this node signed of its audit log.",
            value=int(newest[0]) if newest is not None else 0,
        )
        if newest is not None:
            yield GaugeMetricFamily(
                "gateway_audit_checkpoint_age_seconds",
                "Seconds since the newest checkpoint was signed (one is signed only when "
                "the log grew).",
                value=_age(now, str(newest[1])),
            )
        yield GaugeMetricFamily(
            "gateway_checkpoint_cosignatures",
            "Cosignatures by witnesses that the newest checkpoint of this node's log carries "
            "(compare with gateway_witness_quorum).",
            value=0 if newest is None else audit_log.cosignature_count(conn, int(newest[0])),
        )
        yield GaugeMetricFamily(
            "gateway_witness_quorum",
            "Cosignatures a checkpoint of this node's log needs ([node.witnessing] quorum).",
            value=self.node.config.witnessing.quorum,
        )

    def _witnesses(self, conn: Connection, now: dt.datetime) -> Iterator[Metric]:
        node = self.node
        cosigned = GaugeMetricFamily(
            "gateway_witness_cosigned_size",
            "Size of the newest checkpoint of this node's log that the peer's witness cosigned.",
            labels=["peer"],
        )
        cosigned_age = GaugeMetricFamily(
            "gateway_witness_cosignature_age_seconds",
            "Seconds since the peer's witness last cosigned this node's log, by the "
            "cosignature's timestamp (no sample before the first).",
            labels=["peer"],
        )
        witnessed = GaugeMetricFamily(
            "gateway_witness_peer_log_size",
            "Size of the peer's log in the newest checkpoint this node, as its witness, cosigned.",
            labels=["peer"],
        )
        alerts = GaugeMetricFamily(
            "gateway_witness_alerts",
            "Checkpoints of the peer's log that this node's witness refused with evidence, "
            "by kind (fork, inconsistent); kept in the database until an operator acts.",
            labels=["peer", "kind"],
        )
        s, w, a = audit_cosignatures.c, witnessed_logs.c, witness_alerts.c
        raised: dict[tuple[str, str], int] = {
            (str(origin), str(kind)): int(n)
            for origin, kind, n in conn.execute(
                select(a.origin, a.kind, func.count()).group_by(a.origin, a.kind)
            ).all()
        }
        peer_sizes = {str(o): int(n) for o, n in conn.execute(select(w.origin, w.size))}
        for party in node.config.agreement.parties.values():
            if party.id == node.party_id:
                continue
            # The witness's newest cosignature: one read of the (witness, size) index.
            newest = conn.execute(
                select(s.size, s.timestamp)
                .where(s.witness == party.witness_name)
                .order_by(s.size.desc())
                .limit(1)
            ).first()
            cosigned.add_metric([party.id], int(newest[0]) if newest is not None else 0)
            if newest is not None:
                cosigned_age.add_metric([party.id], max(0.0, now.timestamp() - int(newest[1])))
            witnessed.add_metric([party.id], peer_sizes.get(party.log_origin, 0))
            for kind in WITNESS_ALERT_KINDS:
                alerts.add_metric([party.id, kind], raised.get((party.log_origin, kind), 0))
        yield from (cosigned, cosigned_age, witnessed, alerts)


class CaseCollector(Collector):
    """Collects the case ledger's figures at scrape time, on today's date in Asia/Jakarta.

    Two aggregate queries over indexed columns (gateway.cases.gauges), whatever the
    ledger's size. A node with the ledger switched off answers zeros.
    """

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        at = reports.today(node)
        overdue = GaugeMetricFamily(
            "gateway_case_steps_overdue",
            "Steps of cases not done and past their due date, by the responsible unit's code "
            '("" when not known).',
            labels=["unit"],
        )
        for unit, n in sorted(reports.overdue_by_unit(node, at=at).items()):
            overdue.add_metric([unit], n)
        by_status = GaugeMetricFamily(
            "gateway_cases",
            "Cases of the ledger by status today: open, due_soon, overdue, done_on_time, "
            "done_late.",
            labels=["status"],
        )
        for status, n in gauges.cases_by_status(node, at=at).items():
            by_status.add_metric([status], n)
        pending = GaugeMetricFamily(
            "gateway_case_ledger_pending_batches",
            "Delivered batches not yet projected into the case ledger (the cases:project "
            "job takes them every two seconds).",
        )
        pending.add_metric([], projection.pending(node))
        yield from (overdue, by_status, pending)
