"""Retention: payloads purged after the agreed period, digests kept in the audit log."""

import datetime as dt

import pytest
from sqlalchemy import select

from gateway.exchange import retention
from gateway.store.tables import (
    inbound_batches,
    outbound_batches,
    outbox_record_bodies,
    outbox_records,
)
from schemas.samples import sample_records
from tests.integration.test_api import TANGGAPAN, bridge, events, node, submit

START = dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def kept_30_days(deployment_factory, make_apps):
    deployment = deployment_factory()
    agreement = deployment.root / "agreement.toml"
    text = agreement.read_text()
    at = text.index('name = "tanggapan_klarifikasi"')
    kept = text.index("retention_days = 90", at)
    agreement.write_text(text[:kept] + text[kept:].replace("= 90", "= 30", 1))
    apps = make_apps(deployment)
    moment = [START]
    for app in apps.values():
        node(app).clock = lambda: moment[0]
    return apps, moment


def deliver(apps, count, seed):
    from gateway.exchange import sending

    pemkot = apps["pemkot-bekasi"]
    assert submit(pemkot, sample_records(TANGGAPAN, count, seed=seed)).status_code == 202
    [batch_id] = sending.run(node(pemkot), post=bridge(apps)).delivered
    return batch_id


def test_delivered_and_acknowledged_payloads_are_purged_after_the_period(kept_30_days):
    apps, moment = kept_30_days
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    taken = deliver(apps, 3, seed=1)
    untaken = deliver(apps, 2, seed=2)
    assert ombudsman.client.post(f"/api/v1/batches/{taken}/ack",
                                 headers=ombudsman.auth()).status_code == 200
    moment[0] += dt.timedelta(days=29)
    assert retention.purge(node(pemkot)).sent == []  # not yet
    moment[0] += dt.timedelta(days=2)
    assert sorted(retention.purge(node(pemkot)).sent) == sorted([taken, untaken])
    assert retention.purge(node(ombudsman)).received == [taken]  # the other was never taken
    assert retention.purge(node(pemkot)).sent == []  # once

    with node(pemkot).store.read() as conn:
        rows = conn.execute(select(outbox_record_bodies.c.record, outbox_records.c.record_sha256)
                            .join_from(outbox_records, outbox_record_bodies)).all()
        batches = conn.execute(select(outbound_batches.c.envelope, outbound_batches.c.purged_at,
                                      outbound_batches.c.receipt)).all()
    assert all(r.record == "" and len(r.record_sha256) == 64 for r in rows)
    assert all(b.envelope == "" and b.purged_at and b.receipt for b in batches)
    answer = ombudsman.client.get(f"/api/v1/batches/{taken}", headers=ombudsman.auth())
    assert answer.status_code == 410 and answer.get_json()["error"]["code"] == "purged"
    assert ombudsman.client.get(f"/api/v1/batches/{untaken}",
                                headers=ombudsman.auth()).get_json()["records"]
    with node(ombudsman).store.read() as conn:
        kept = conn.execute(select(inbound_batches.c.records_sha256, inbound_batches.c.receipt)
                            .where(inbound_batches.c.batch_id == taken)).one()
    assert len(kept.records_sha256) == 64 and kept.receipt
    [purged] = [e for e in events(ombudsman) if e["event"] == "batch_purged"]
    assert (purged["batch_id"], purged["records_sha256"]) == (taken, kept.records_sha256)
    assert len([e for e in events(pemkot) if e["event"] == "batch_purged"]) == 2


def test_a_flow_without_retention_keeps_everything(kept_30_days):
    apps, moment = kept_30_days
    from gateway.exchange import sending

    ombudsman = apps["ombudsman-ri"]
    # kegiatan_pengembangan carries no personal data, and its flows keep no retention.
    records = sample_records("kegiatan_pengembangan", 2, seed=3, version="1.0")
    assert submit(ombudsman, records, dataset="kegiatan_pengembangan").status_code == 202
    assert sending.run(node(ombudsman), post=bridge(apps)).delivered
    moment[0] += dt.timedelta(days=3650)
    assert retention.purge(node(ombudsman)).sent == []
    assert retention.purge(node(apps["pemkot-bekasi"])).received == []


def test_the_schedule_purges_only_where_the_agreement_keeps_payloads_for_a_time(
        kept_30_days, deployment_factory, make_apps):
    from gateway.exchange.schedule import build_scheduler

    apps, _ = kept_30_days
    deployment = deployment_factory()
    # Without personal data crossing, no flow of this agreement keeps payloads for a time.
    agreement = deployment.root / "agreement.toml"
    lines = agreement.read_text().splitlines(keepends=True)
    agreement.write_text("".join(
        line for line in lines if not line.startswith(("retention_days", "personal_data"))))
    plain = make_apps(deployment)
    for nodes, expected in ((apps, True), (plain, False)):
        for app in nodes.values():
            jobs = {job.id for job in build_scheduler(node(app)).get_jobs()}
            assert ("retention:purge" in jobs) is expected
