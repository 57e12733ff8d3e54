import datetime as dt

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from gateway.node import Node
from gateway.scheduler import build_scheduler


def test_one_job_per_outgoing_dataset_in_jakarta_time(deployment, monkeypassphrase):
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    # tanggapan_klarifikasi (sent by Pemkot) on a cron schedule.
    start = text.index('name = "tanggapan_klarifikasi"')
    tail = text[start:].replace("interval_seconds = 3600", 'cron = "30 8 * * 1-5"', 1)
    agreement.write_text(text[:start] + tail)
    node = Node.from_config(deployment.config("pemkot-bekasi"))
    try:
        scheduler = build_scheduler(node)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert sorted(jobs) == [
            "audit:checkpoint", "transfer:kegiatan_pengembangan", "transfer:tanggapan_klarifikasi"]
        # The audit log's checkpoint, at the node's interval (1 s in the test deployments).
        assert jobs["audit:checkpoint"].trigger.interval == dt.timedelta(seconds=1)
        job = jobs["transfer:tanggapan_klarifikasi"]
        assert isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Asia/Jakarta"
        first = job.trigger.get_next_fire_time(
            None, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC))  # a Friday, 07:00 WIB
        assert first.isoformat() == "2026-11-27T08:30:00+07:00"
        ombudsman = Node.from_config(deployment.config("ombudsman-ri"))
        try:
            other = build_scheduler(ombudsman)
        finally:
            ombudsman.store.dispose()
        job = next(j for j in other.get_jobs() if j.id == "transfer:permintaan_klarifikasi")
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == dt.timedelta(hours=1)
    finally:
        node.store.dispose()


def test_misfire_and_coalescing_rules_come_from_the_agreement(deployment, monkeypassphrase):
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    start = text.index('name = "tanggapan_klarifikasi"')
    tail = text[start:].replace(
        "interval_seconds = 3600", "interval_seconds = 600, misfire_grace_seconds = 30, "
        "coalesce = false", 1)
    agreement.write_text(text[:start] + tail)
    node = Node.from_config(deployment.config("pemkot-bekasi"))
    try:
        jobs = {job.id: job for job in build_scheduler(node).get_jobs()}
    finally:
        node.store.dispose()
    changed = jobs["transfer:tanggapan_klarifikasi"]
    default = jobs["transfer:kegiatan_pengembangan"]
    assert (changed.misfire_grace_time, changed.coalesce) == (30, False)
    assert (default.misfire_grace_time, default.coalesce) == (300, True)
