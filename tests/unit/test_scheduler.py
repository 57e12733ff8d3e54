import datetime as dt

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from gateway.node import Node
from gateway.scheduler import build_scheduler


def test_one_job_per_outgoing_dataset_in_jakarta_time(deployment, monkeypassphrase):
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    # The second dataset (tanggapan, sent by Pemkot) on a cron schedule.
    head, _sep, tail = text.rpartition("interval_seconds = 3600")
    agreement.write_text(head + 'cron = "30 8 * * 1-5"' + tail)
    node = Node.from_config(deployment.config("pemkot-bekasi"))
    try:
        scheduler = build_scheduler(node)
        (job,) = scheduler.get_jobs()
        assert job.id == "transfer:tanggapan_klarifikasi"
        assert isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Asia/Jakarta"
        first = job.trigger.get_next_fire_time(
            None, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC))  # a Friday, 07:00 WIB
        assert first.isoformat() == "2026-11-27T08:30:00+07:00"
        other = build_scheduler(Node.from_config(deployment.config("ombudsman-ri")))
        (job,) = other.get_jobs()
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == dt.timedelta(hours=1)
    finally:
        node.store.dispose()
