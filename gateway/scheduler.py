"""Scheduled work, in Asia/Jakarta time: one transfer job per outgoing dataset,
and the audit log's checkpoint, which peers' witnesses cosign."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from gateway import transfer, witness
from gateway.config import DatasetAgreement
from gateway.node import Node

__all__ = ["build_scheduler"]

log = logging.getLogger(__name__)


def _job(node: Node, dataset: DatasetAgreement) -> None:
    # Every replica of the node schedules the job; one runs it at a time.
    with node.store.try_lock(f"transfer:{dataset.name}:{dataset.receiver}") as leader:
        if not leader:
            log.info("transfer of %s runs on another replica; skipped here", dataset.name)
            return
        _run(node, dataset)


def _run(node: Node, dataset: DatasetAgreement) -> None:
    try:
        report = transfer.run(node, dataset=dataset.name)
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("scheduled transfer of %s failed", dataset.name)
        return
    if report.sealed or report.delivered or report.failed:
        log.info(
            "transfer %s: sealed %d, delivered %d, failed %d",
            dataset.name,
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


def build_scheduler(node: Node) -> BackgroundScheduler:
    """A scheduler (not yet started) with a job for each dataset this node sends."""
    tz = node.config.agreement.timezone
    scheduler = BackgroundScheduler(timezone=tz)
    for dataset in node.config.agreement.outgoing(node.party_id):
        schedule = dataset.schedule
        trigger = (
            IntervalTrigger(seconds=schedule.interval_seconds, timezone=tz)
            if schedule.interval_seconds
            else CronTrigger.from_crontab(schedule.cron or "", timezone=tz)
        )
        scheduler.add_job(
            _job,
            trigger,
            args=(node, dataset),
            id=f"transfer:{dataset.name}",
            name=f"transfer {dataset.name} to {dataset.receiver}",
            coalesce=schedule.coalesce,
            max_instances=1,
            misfire_grace_time=schedule.misfire_grace_seconds,
        )
        log.info(
            "scheduled transfer of %s to %s: %s",
            dataset.name,
            dataset.receiver,
            schedule.describe(),
        )
    scheduler.add_job(
        _checkpoint_job,
        IntervalTrigger(seconds=node.config.checkpoint_interval_seconds, timezone=tz),
        args=(node,),
        id="audit:checkpoint",
        name="sign a checkpoint and have it cosigned",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=60,
    )
    return scheduler
