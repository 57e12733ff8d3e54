import datetime as dt
import logging
import pickle
import threading
from contextlib import contextmanager
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from gateway.exchange import schedule as scheduler_module
from gateway.exchange.schedule import IdleExecutor, build_scheduler, node_key
from gateway.node.node import Node


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
            "audit:checkpoint",
            "audit:refusals",
            "cases:project",
            "keys:refresh",
            "retention:purge",
            "transfer:kegiatan_pengembangan",
            "transfer:tanggapan_klarifikasi",
        ]
        # The audit log's checkpoint, at the node's interval (1 s in the test deployments).
        assert jobs["audit:checkpoint"].trigger.interval == dt.timedelta(seconds=1)
        job = jobs["transfer:tanggapan_klarifikasi"]
        assert isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Asia/Jakarta"
        first = job.trigger.get_next_fire_time(
            None, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)
        )  # a Friday, 07:00 WIB
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
        "interval_seconds = 3600",
        "interval_seconds = 600, misfire_grace_seconds = 30, coalesce = false",
        1,
    )
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


# -- The schedule kept in the node's database ---------------------------------------------
# A "restart" below is: a new Node on the same database, build_scheduler, start (paused:
# reconcile only), shutdown, dispose. Times are injected by writing a stored job's
# next_run_time; nothing waits for the clock except the runs started on purpose, which
# are awaited with a deadline.

PEMKOT = "pemkot-bekasi"
# retention:purge: the test agreement keeps the payloads of its flows with personal data 90 days.
# cases:project: its flows of clarification requests and answers feed the case ledger.
IDS = ["audit:checkpoint", "audit:refusals", "cases:project", "keys:refresh", "retention:purge",
       "transfer:kegiatan_pengembangan", "transfer:tanggapan_klarifikasi"]


def _edit_flow(deployment, name, old, new, sender=PEMKOT):
    """Replace ``old`` by ``new`` once in the agreement's block of the flow (name, sender)."""
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    start = text.index(f'name = "{name}"\nsender = "{sender}"')
    tail = text[start:]
    assert old in tail
    agreement.write_text(text[:start] + tail.replace(old, new, 1))


@contextmanager
def _started(deployment, *, paused=True, party=PEMKOT, before_start=None):
    node = Node.from_config(deployment.config(party))
    try:
        scheduler = build_scheduler(node)
        if before_start is not None:
            before_start(scheduler)
        scheduler.start(paused=paused)
        try:
            yield scheduler
        finally:
            scheduler.shutdown(wait=True)
    finally:
        node.store.dispose()


def _restart(deployment, **kwargs):
    """The stored jobs, by id, after a restart of the node."""
    with _started(deployment, **kwargs) as scheduler:
        return {job.id: job for job in scheduler.get_jobs()}


def _set_next_run(deployment, job_id, when):
    with _started(deployment) as scheduler:
        scheduler.modify_job(job_id, next_run_time=when)


def _stored_rows(deployment):
    return deployment.query(PEMKOT, "SELECT id, next_run_time FROM scheduler_jobs ORDER BY id")


def _now():
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_the_jobs_are_stored_in_the_nodes_database(deployment, monkeypassphrase):
    jobs = _restart(deployment)
    rows = _stored_rows(deployment)
    assert [row.id for row in rows] == IDS
    assert {row.id: row.next_run_time for row in rows} == {
        id_: job.next_run_time.timestamp() for id_, job in jobs.items()
    }
    job = jobs["transfer:tanggapan_klarifikasi"]
    # A textual reference and plain arguments: a stored job holds no live object.
    assert job.func_ref == "gateway.exchange.schedule:transfer_group_job"
    flow = deployment.config(PEMKOT).agreement.flow("tanggapan_klarifikasi", sender=PEMKOT)
    assert job.args[1:] == (
        "tanggapan_klarifikasi", scheduler_module.schedule_digest(flow.schedule))
    assert all(isinstance(arg, str) for arg in job.args)
    assert jobs["audit:checkpoint"].func_ref == "gateway.exchange.schedule:checkpoint_job"
    assert not scheduler_module._NODES  # shut down: the node is no longer registered


def test_a_restart_keeps_the_next_run_time_of_unchanged_jobs(deployment, monkeypassphrase):
    first = _restart(deployment)
    due = _now() + dt.timedelta(minutes=17)
    _set_next_run(deployment, "transfer:tanggapan_klarifikasi", due)
    jobs = _restart(deployment)
    assert jobs["transfer:tanggapan_klarifikasi"].next_run_time == due
    assert (
        jobs["transfer:kegiatan_pengembangan"].next_run_time
        == first["transfer:kegiatan_pengembangan"].next_run_time
    )
    assert sorted(jobs) == IDS


def test_new_misfire_and_coalescing_rules_are_applied_and_the_schedule_kept(
    deployment, monkeypassphrase
):
    _restart(deployment)
    due = _now() + dt.timedelta(minutes=17)
    _set_next_run(deployment, "transfer:tanggapan_klarifikasi", due)
    _edit_flow(
        deployment,
        "tanggapan_klarifikasi",
        "interval_seconds = 3600",
        "interval_seconds = 3600, misfire_grace_seconds = 30, coalesce = false",
    )
    jobs = _restart(deployment)
    job = jobs["transfer:tanggapan_klarifikasi"]
    assert (job.misfire_grace_time, job.coalesce, job.next_run_time) == (30, False, due)
    other = jobs["transfer:kegiatan_pengembangan"]
    assert (other.misfire_grace_time, other.coalesce) == (300, True)


def test_a_changed_trigger_replaces_the_job(deployment, monkeypassphrase):
    _restart(deployment)
    due = _now() + dt.timedelta(minutes=17)
    _set_next_run(deployment, "transfer:tanggapan_klarifikasi", due)
    _set_next_run(deployment, "transfer:kegiatan_pengembangan", due)
    _edit_flow(
        deployment, "tanggapan_klarifikasi", "interval_seconds = 3600", 'cron = "30 8 * * 1-5"'
    )
    _edit_flow(
        deployment, "kegiatan_pengembangan", "interval_seconds = 3600", "interval_seconds = 600"
    )
    before = _now()
    jobs = _restart(deployment)
    cron = jobs["transfer:tanggapan_klarifikasi"]
    assert isinstance(cron.trigger, CronTrigger)
    local = cron.next_run_time.astimezone(ZoneInfo("Asia/Jakarta"))
    assert (local.hour, local.minute, local.weekday() < 5) == (8, 30, True)
    assert before < cron.next_run_time <= before + dt.timedelta(days=4)
    interval = jobs["transfer:kegiatan_pengembangan"]
    assert interval.trigger.interval == dt.timedelta(seconds=600)
    assert (
        before + dt.timedelta(seconds=599)
        <= interval.next_run_time
        <= _now() + dt.timedelta(seconds=601)
    )


def test_a_flow_removed_from_the_agreement_loses_its_job(deployment, monkeypassphrase):
    assert sorted(_restart(deployment)) == IDS
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    start = text.index('[[datasets]]\nname = "kegiatan_pengembangan"\nsender = "pemkot-bekasi"')
    end = text.index("[[datasets]]", start + 1)
    agreement.write_text(text[:start] + text[end:])
    config = deployment.config_path(PEMKOT)
    config.write_text(
        config.read_text().replace(
            'submit = ["tanggapan_klarifikasi", "kegiatan_pengembangan"]',
            'submit = ["tanggapan_klarifikasi"]',
        )
    )
    kept = [name for name in IDS if name != "transfer:kegiatan_pengembangan"]
    assert sorted(_restart(deployment)) == kept
    assert [row.id for row in _stored_rows(deployment)] == kept


def test_two_replicas_reconciling_one_after_the_other_leave_one_job_each(
    deployment, monkeypassphrase
):
    with _started(deployment) as first:
        nexts = {job.id: job.next_run_time for job in first.get_jobs()}
        with _started(deployment) as second:  # another Node on the same database
            assert {job.id: job.next_run_time for job in second.get_jobs()} == nexts
    rows = _stored_rows(deployment)
    assert [row.id for row in rows] == IDS
    assert {row.id: row.next_run_time for row in rows} == {
        id_: when.timestamp() for id_, when in nexts.items()
    }


def test_two_replicas_starting_at_once_both_start(deployment, monkeypassphrase):
    # The nodes are made one after the other (that migrates the database); their
    # schedulers start at once.
    nodes = [Node.from_config(deployment.config(PEMKOT)) for _ in range(2)]
    schedulers = [build_scheduler(node) for node in nodes]
    barrier = threading.Barrier(2)
    errors = []

    def start(scheduler):
        try:
            barrier.wait(timeout=30)
            scheduler.start(paused=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in schedulers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert [sorted(job.id for job in s.get_jobs()) for s in schedulers] == [IDS, IDS]
    finally:
        for scheduler in schedulers:
            if scheduler.running:
                scheduler.shutdown(wait=True)
        for node in nodes:
            node.store.dispose()
    assert [row.id for row in _stored_rows(deployment)] == IDS


def test_a_replica_that_loses_a_race_looks_again(deployment, monkeypassphrase):
    first = _restart(deployment)
    with _started(deployment) as other:  # a job the agreement does not have
        other.add_job(
            "gateway.exchange.schedule:checkpoint_job",
            "interval",
            args=("x",),
            hours=1,
            id="transfer:retired",
        )

    def stale(scheduler):
        # This replica's view is out of date: it sees the jobs missing (another replica
        # added them meanwhile) and the retired one still there (another removed it).
        real_get_job, real_get_jobs, seen = scheduler.get_job, scheduler.get_jobs, set()

        def get_job(job_id, jobstore=None):
            if job_id not in seen:
                seen.add(job_id)
                return None
            return real_get_job(job_id, jobstore)

        def get_jobs(jobstore=None):
            jobs = real_get_jobs(jobstore)
            if scheduler.running and "others" not in seen:
                seen.add("others")
                with _started(deployment):
                    pass  # another replica reconciles: the retired job is removed
                assert "transfer:retired" in [job.id for job in jobs]
            return jobs

        scheduler.get_job, scheduler.get_jobs = get_job, get_jobs

    jobs = _restart(deployment, before_start=stale)
    assert sorted(jobs) == IDS
    assert {job.id: job.next_run_time for job in jobs.values()} == {
        job.id: job.next_run_time for job in first.values()
    }
    assert [row.id for row in _stored_rows(deployment)] == IDS


def _recording(monkeypatch, expected):
    """Record the transfers run (instead of running them); set the event at ``expected``."""
    ran, done = [], threading.Event()

    def run(node, dataset, flows):
        ran.append(dataset)
        if len(ran) >= expected:
            done.set()

    monkeypatch.setattr(scheduler_module, "_run", run)
    monkeypatch.setattr(scheduler_module, "_publish", lambda node: None)
    return ran, done


@pytest.mark.parametrize(("coalesce", "runs"), [(True, 1), (False, 3)])
def test_runs_missed_while_down_run_at_start_within_the_grace_time(
    deployment, monkeypassphrase, monkeypatch, coalesce, runs
):
    _edit_flow(
        deployment,
        "tanggapan_klarifikasi",
        "interval_seconds = 3600",
        f"interval_seconds = 60, coalesce = {str(coalesce).lower()}",
    )
    _restart(deployment)
    down_since = _now() - dt.timedelta(seconds=150)  # due 150, 90 and 30 s ago
    _set_next_run(deployment, "transfer:tanggapan_klarifikasi", down_since)
    ran, done = _recording(monkeypatch, runs)
    with _started(deployment, paused=False):
        assert done.wait(timeout=20), ran
    assert ran == ["tanggapan_klarifikasi"] * runs
    after = _restart(deployment)["transfer:tanggapan_klarifikasi"]
    assert after.next_run_time == down_since + dt.timedelta(seconds=180)


def test_a_run_missed_by_more_than_the_grace_time_is_skipped_and_logged(
    deployment, monkeypassphrase, monkeypatch, caplog
):
    _restart(deployment)
    down_since = _now() - dt.timedelta(seconds=600)  # the grace time is 300 s
    _set_next_run(deployment, "transfer:tanggapan_klarifikasi", down_since)
    ran, _ = _recording(monkeypatch, 1)
    missed = threading.Event()

    def listen(scheduler):
        scheduler.add_listener(
            lambda event: event.job_id == "transfer:tanggapan_klarifikasi" and missed.set(),
            EVENT_JOB_MISSED,
        )

    with (
        caplog.at_level(logging.WARNING, logger="gateway.exchange.schedule"),
        _started(deployment, paused=False, before_start=listen),
    ):
        assert missed.wait(timeout=20)
    assert ran == []
    assert any(
        "transfer:tanggapan_klarifikasi" in r.getMessage() and "missed" in r.getMessage()
        for r in caplog.records
        if r.name == "gateway.exchange.schedule"
    )
    after = _restart(deployment)["transfer:tanggapan_klarifikasi"]
    assert after.next_run_time == down_since + dt.timedelta(hours=1)


def test_a_stored_job_finds_its_node_and_flow_when_it_runs(
    deployment, monkeypassphrase, monkeypatch, caplog
):
    ran, _ = _recording(monkeypatch, 1)
    with _started(deployment) as scheduler:
        key = scheduler.node_key
        scheduler_module.transfer_job(key, "tanggapan_klarifikasi", "ombudsman-ri")
        # Stored by a replica whose database URL is written otherwise: the one node of
        # the party that runs here.
        scheduler_module.transfer_job(
            PEMKOT + "@000000000000", "kegiatan_pengembangan", "ombudsman-ri"
        )
        with caplog.at_level(logging.WARNING, logger="gateway.exchange.schedule"):
            scheduler_module.transfer_job(key, "tanggapan_klarifikasi", "pemkot-bekasi")
            scheduler_module.transfer_job("ombudsman-ri@000000000000", "x", "y")
    assert ran == ["tanggapan_klarifikasi", "kegiatan_pengembangan"]
    messages = [r.getMessage() for r in caplog.records if r.name == "gateway.exchange.schedule"]
    assert any("no longer has this flow" in m for m in messages)
    assert any("does not run here" in m for m in messages)
    scheduler_module.transfer_job(key, "tanggapan_klarifikasi", "ombudsman-ri")  # shut down
    assert ran == ["tanggapan_klarifikasi", "kegiatan_pengembangan"]


def test_the_node_key_holds_no_password():
    def node(url):
        return SimpleNamespace(party_id="pemkot-bekasi", store=SimpleNamespace(url=url))

    key = node_key(node("postgresql+psycopg://gw:s3cret@db.example/gateway"))
    assert "s3cret" not in key and key.startswith("pemkot-bekasi@")
    assert key == node_key(node("postgresql+psycopg://gw:other@db.example/gateway"))
    assert key != node_key(node("postgresql+psycopg://gw:s3cret@db.example/other"))


def test_jobs_stored_before_the_package_was_layered_are_read_under_the_new_module(
    deployment, monkeypassphrase
):
    before = _restart(deployment)
    # A node upgraded in place: its stored jobs name gateway.scheduler, the module's old name.
    node = Node.from_config(deployment.config(PEMKOT))
    try:
        with node.store.write() as conn:
            for job_id, state in conn.execute(
                text("SELECT id, job_state FROM scheduler_jobs")
            ).all():
                job = pickle.loads(state)  # noqa: S301 (rows this test's node wrote)
                job["func"] = job["func"].replace(
                    "gateway.exchange.schedule:", "gateway.scheduler:"
                )
                conn.execute(
                    text("UPDATE scheduler_jobs SET job_state = :s WHERE id = :i"),
                    {"s": pickle.dumps(job), "i": job_id},
                )
    finally:
        node.store.dispose()
    assert all(
        b"gateway.scheduler:" in row.job_state
        for row in deployment.query(PEMKOT, "SELECT job_state FROM scheduler_jobs")
    )
    after = _restart(deployment)
    assert sorted(after) == sorted(before) == IDS
    for job_id, job in after.items():
        assert job.func_ref.startswith("gateway.exchange.schedule:"), job_id
        assert job.func_ref == before[job_id].func_ref
        assert job.next_run_time == before[job_id].next_run_time  # the schedule is kept


def test_the_case_ledger_takes_one_slice_at_a_time_while_a_batch_is_on_its_way(
    deployment, monkeypassphrase, monkeypatch
):
    """While the node sends or receives a batch the ledger yields (one small slice every
    LEDGER_YIELD_SECONDS); otherwise it projects everything queued, in full slices."""
    node = Node.from_config(deployment.config("pemkot-bekasi"))
    key = node_key(node)
    calls = []
    queued = [5]  # slices waiting

    def project(n, *, budget=scheduler_module.projection.BUDGET):
        calls.append("slice" if budget == scheduler_module.projection.BUDGET else budget)
        if not queued[0]:
            return 0
        queued[0] -= 1
        if queued[0] == 2:
            exchanging[0] = True  # a batch sets out while the ledger catches up
        return 10_000

    monkeypatch.setattr(scheduler_module.projection, "project", project)
    clock = [1000.0]
    monkeypatch.setattr(scheduler_module.time, "monotonic", lambda: clock[0])
    exchanging = [True]
    monkeypatch.setattr(scheduler_module, "_exchanging", lambda n: exchanging[0])
    scheduler_module._register(key, node)
    try:
        scheduler_module.cases_job(key)
        scheduler_module.cases_job(key)  # too soon: nothing
        assert calls == [scheduler_module.LEDGER_YIELD_BUDGET] and queued == [4]
        clock[0] += scheduler_module.CASES_INTERVAL_SECONDS - 0.05  # the next run, early
        exchanging[0] = False
        scheduler_module.cases_job(key)  # catches up until the next batch sets out
        assert queued == [2]
        scheduler_module.cases_job(key)  # busy, long after the last slice taken while busy
        assert queued == [1] and calls[-1] == scheduler_module.LEDGER_YIELD_BUDGET
        scheduler_module.cases_job(key)  # and not again at once
        assert queued == [1]
        exchanging[0] = False
        scheduler_module.cases_job(key)
        assert queued == [0] and calls[-1] == "slice"
    finally:
        scheduler_module._unregister(key, node)
        scheduler_module._slice_taken.pop(key, None)
        node.store.dispose()


def test_a_batch_on_its_way_is_a_sealed_one_or_a_chunked_one_being_received(
    deployment, monkeypassphrase
):
    from sqlalchemy import insert

    from gateway.store.tables import inbound_transfers

    node = Node.from_config(deployment.config("pemkot-bekasi"))
    try:
        assert not scheduler_module._exchanging(node)
        with node.store.write() as conn:
            conn.execute(insert(inbound_transfers).values(
                batch_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, sender="ombudsman-ri",
                dataset="permintaan_klarifikasi", schema_version="2.0", sequence=1,
                record_count=2, chunk_count=2, records_root="0" * 64, manifest="m",
                manifest_sha256="0" * 64, signer_kid="k", chunks_received=0,
                bytes_received=0, frontier=b"", started_at="2026-12-07T00:00:00Z",
                updated_at="2026-12-07T00:00:00Z"))
        assert scheduler_module._exchanging(node)
    finally:
        node.store.dispose()


def _idle_scheduler(calls: list[str], idle: threading.Event) -> BackgroundScheduler:
    def on_idle() -> None:
        calls.append("idle")
        idle.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_executor(IdleExecutor(on_idle), "default")
    return scheduler


def test_memory_goes_back_when_the_last_run_ends_not_a_short_one_beside_a_long():
    calls: list[str] = []
    idle, long_may_end, short_done = threading.Event(), threading.Event(), threading.Event()
    scheduler = _idle_scheduler(calls, idle)

    def short_job() -> None:
        calls.append("short")
        short_done.set()

    scheduler.start()
    try:
        # Both due at once: submitted in one pass, the short one ends before the
        # scheduler has even told its listeners that either was submitted.
        scheduler.pause()
        scheduler.add_job(long_may_end.wait, args=(30,))
        scheduler.add_job(short_job)
        scheduler.resume()
        assert short_done.wait(30)
        assert not idle.wait(0.3)  # bounded: the short one's end has long been told
        long_may_end.set()
        assert idle.wait(30)
        assert calls == ["short", "idle"]
        calls.clear()
        idle.clear()
        scheduler.add_job(short_job)  # alone, it ends idle
        assert idle.wait(30)
        assert calls == ["short", "idle"]
    finally:
        long_may_end.set()
        scheduler.shutdown(wait=True)
    assert scheduler._executors["default"].running == 0


def test_every_scheduled_time_of_a_submission_counts_and_failures_end_runs():
    calls: list[str] = []
    idle = threading.Event()
    scheduler = _idle_scheduler(calls, idle)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=35)

    def fails() -> None:
        calls.append("ran")
        raise RuntimeError("a failing run")

    scheduler.start(paused=True)
    try:
        # Four times already due (not coalesced): one submission of four runs, which
        # fail; idle once, after the last.
        scheduler.add_job(fails, IntervalTrigger(seconds=10, start_date=start),
                          next_run_time=start, coalesce=False, misfire_grace_time=60)
        scheduler.resume()
        assert idle.wait(30)
        scheduler.pause()
    finally:
        scheduler.shutdown(wait=True)
    assert calls == ["ran", "ran", "ran", "ran", "idle"]


def test_runs_that_overlap_without_end_still_release_after_the_longest_hold():
    calls: list[str] = []
    now = [1000.0]
    idle_at_all = threading.Event()

    def on_idle() -> None:
        calls.append(f"idle at {now[0]:.0f}")
        idle_at_all.set()

    executor = IdleExecutor(on_idle, max_hold_seconds=60, clock=lambda: now[0])
    long_may_end, ends_told = threading.Event(), threading.Semaphore(0)
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_executor(executor, "default")
    scheduler.start()
    # After the executor's own listener (added as the scheduler starts), which runs first.
    scheduler.add_listener(lambda _e: ends_told.release(), EVENT_JOB_EXECUTED)
    try:
        scheduler.add_job(long_may_end.wait, args=(30,))
        for step in (20, 50, 61, 70, 130):  # seconds after the start, while it runs
            now[0] = 1000.0 + step
            scheduler.add_job(lambda: None)
            assert ends_told.acquire(timeout=30)
        # Held past 60 s at the third end, and again 60 s after that one.
        assert calls == ["idle at 1061", "idle at 1130"]
        long_may_end.set()
        assert ends_told.acquire(timeout=30)
        assert calls[-1] == "idle at 1130" and len(calls) == 3  # the last end: idle
    finally:
        long_may_end.set()
        scheduler.shutdown(wait=True)
