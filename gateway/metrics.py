"""Prometheus metrics of the transfers and the audit log, read from the node's database.

Every gauge and counter is computed from the database when Prometheus scrapes,
so the figures are the same whichever worker process or replica answers, and
survive restarts. Served at ``GET /metrics`` to clients with the ``operator``
role (Prometheus sends the token as ``authorization: Bearer``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from gateway.node import Node, age_seconds
from gateway.storage import audit_events, audit_tree, outbound_batches, outbox_records

__all__ = ["NodeCollector"]


def _age(now: dt.datetime, stamp: str | None) -> float:
    if stamp is None:
        return 0.0
    return max(0.0, age_seconds(now, stamp))


class NodeCollector(Collector):
    """Collects the node's transfer and audit figures at scrape time."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def collect(self) -> Iterator[Metric]:
        node = self.node
        now = node.now()
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
        sent_records = CounterMetricFamily(
            "gateway_sent_records", "Records delivered with a verified receipt.", labels=labels
        )
        sent_bytes = CounterMetricFamily(
            "gateway_sent_bytes", "Envelope bytes delivered with a verified receipt.", labels=labels
        )
        retries = CounterMetricFamily(
            "gateway_send_failures", "Failed delivery attempts (each is retried).", labels=labels
        )
        c, b, e = outbox_records.c, outbound_batches.c, audit_events.c
        with node.store.read() as conn:
            for flow in node.config.agreement.outgoing(node.party_id):
                key = [flow.name, flow.receiver]
                count, first = conn.execute(
                    select(func.count(), func.min(c.created_at)).where(
                        c.dataset == flow.name, c.batch_id.is_(None)
                    )
                ).one()
                pending.add_metric(key, count)
                waiting = conn.execute(
                    select(func.min(b.created_at)).where(
                        b.dataset == flow.name,
                        b.receiver == flow.receiver,
                        b.status.in_(("sealed", "dead")),
                    )
                ).scalar()
                oldest.add_metric(key, max(_age(now, first), _age(now, waiting)))
                by_state: dict[str, int] = dict(
                    conn.execute(
                        select(b.status, func.count())
                        .where(b.dataset == flow.name, b.receiver == flow.receiver)
                        .group_by(b.status)
                    ).all()
                )
                for state in ("sealed", "dead", "cancelled", "delivered"):
                    batches.add_metric([*key, state], by_state.get(state, 0))
                records, size = conn.execute(
                    select(func.sum(b.record_count), func.sum(func.length(b.envelope))).where(
                        b.dataset == flow.name,
                        b.receiver == flow.receiver,
                        b.status == "delivered",
                    )
                ).one()
                sent_records.add_metric(key, int(records or 0))
                sent_bytes.add_metric(key, int(size or 0))
                failures = conn.execute(
                    select(func.count()).where(
                        e.event == "batch_send_failed",
                        e.dataset == flow.name,
                        e.peer == flow.receiver,
                    )
                ).scalar()
                retries.add_metric(key, int(failures or 0))
            entries = conn.execute(select(func.count()).select_from(audit_events)).scalar()
            tree = conn.execute(
                select(func.count()).select_from(audit_tree).where(audit_tree.c.level == 0)
            ).scalar()
        yield from (pending, oldest, batches, sent_records, sent_bytes, retries)
        yield GaugeMetricFamily("gateway_audit_entries", "Entries in the audit log.", value=entries)
        yield GaugeMetricFamily(
            "gateway_audit_unintegrated_entries",
            "Audit entries not yet in the Merkle tree (not yet in a checkpoint).",
            value=int(entries or 0) - int(tree or 0),
        )
