"""One dataset to many partners: transfer jobs per schedule, sealing per channel, the
JWKS refresh in slices (gateway.exchange.schedule, gateway.exchange.sending,
gateway.peers.jwks)."""

import logging
import threading

import pytest
from sqlalchemy import text

from gateway.exchange import schedule, sending
from gateway.exchange.intake import submit
from gateway.node.node import Node
from gateway.peers import jwks
from schemas.samples import sample_records
from tests.partners_deployment import (
    HUB,
    agreement_text,
    make_partners_deployment,
    sign_agreement,
)

ASKED = "permintaan_klarifikasi"


def _transfer_jobs(deployment):
    node = Node.from_config(deployment.as_deployment().config(HUB))
    try:
        return {job.id: job for job in schedule.build_scheduler(node).get_jobs()
                if job.id.startswith("transfer:")}
    finally:
        node.store.dispose()


@pytest.mark.parametrize("partners", [2, 20])
def test_transfer_jobs_do_not_grow_with_the_partners(tmp_path, monkeypassphrase, partners):
    names = [f"pemkot-{i:02d}" for i in range(partners)]
    deployment = make_partners_deployment(tmp_path, names, databases=False)
    jobs = _transfer_jobs(deployment)
    assert sorted(jobs) == ["transfer:kegiatan_pengembangan", f"transfer:{ASKED}"]
    job = jobs[f"transfer:{ASKED}"]
    assert job.func_ref == schedule.TRANSFER_GROUP_JOB
    assert job.args[1] == ASKED


def test_flows_on_another_schedule_are_a_job_of_their_own(tmp_path, monkeypassphrase):
    deployment = make_partners_deployment(tmp_path, ["pemkot-a", "pemkot-b", "pemkot-c"],
                                          databases=False)
    file = deployment.agreement_file("pemkot-c")
    file.write_text(agreement_text(HUB, "pemkot-c", interval=60))
    sign_agreement(file, tmp_path / "parties", tmp_path / "keys")
    jobs = _transfer_jobs(deployment)
    assert len([j for j in jobs if j.startswith(f"transfer:{ASKED}:")]) == 2
    assert f"transfer:{ASKED}" not in jobs
    intervals = sorted(j.trigger.interval.total_seconds() for j in jobs.values()
                       if j.args[1] == ASKED)
    assert intervals == [60, 3600]


def test_jwks_refresh_plan_fetches_every_peer_each_period():
    assert jwks.plan(1, 300) == (300, 1)
    assert jwks.plan(200, 300) == (30, 20)  # 10 runs of 20
    interval, limit = jwks.plan(10_000, 300)  # runs would come too often: larger slices
    assert interval == jwks.MIN_INTERVAL_SECONDS
    assert limit * (300 // interval) >= 10_000


def _records(deployment, party, sql):
    return deployment.as_deployment().query(party, sql)


def test_each_partner_has_its_channel_and_old_records_go_to_the_one_receiver(
    deployment_factory, tmp_path, monkeypassphrase, caplog
):
    deployment = make_partners_deployment(tmp_path, ["pemkot-a", "pemkot-b"])
    view = deployment.as_deployment()
    hub = Node.from_config(view.config(HUB))
    partner = Node.from_config(view.config("pemkot-a"))
    try:
        client = hub.config.clients[0]
        for receiver, count in (("pemkot-a", 2), ("pemkot-b", 3), ("pemkot-a", 1)):
            submit(hub, client, ASKED, {"schema_version": "1.0", "receiver": receiver,
                                        "records": sample_records(ASKED, count, version="1.0")})
        posted = []
        def refuse(url, body, timeout, headers):
            posted.append(url)
            return 503, None

        report = sending.run(hub, dataset=ASKED, post=refuse)
        assert len(report.sealed) == 2 and len(report.failed) == 2
        rows = view.query(HUB, "SELECT receiver, sequence, record_count FROM outbound_batches "
                               "ORDER BY receiver")
        assert [tuple(r) for r in rows] == [("pemkot-a", 1, 3), ("pemkot-b", 1, 3)]
        assert sorted(u.split("/exchange")[0] for u in posted) == sorted(
            hub.config.agreement.party(p).base_url for p in ("pemkot-a", "pemkot-b"))
        # A record from before revision 0015 names no receiver: with two, it waits.
        submit(hub, client, ASKED, {"schema_version": "1.0", "receiver": "pemkot-b",
                                    "records": sample_records(ASKED, 1, version="1.0")})
        view.query(HUB, "UPDATE outbox_records SET receiver = NULL WHERE batch_id IS NULL")
        with caplog.at_level(logging.WARNING, "gateway.exchange.sending"):
            # (and the sealed batches wait for their retry: nothing is due)
            assert sending.flows_with_work(hub, ASKED) == []
        assert "name no receiver" in caplog.text
        # At a partner, which sends to the hub alone, it is the hub's.
        answer = "tanggapan_klarifikasi"
        submit(partner, partner.config.clients[0], answer,
               {"schema_version": "1.0", "records": sample_records(answer, 2, version="1.0")})
        view.query("pemkot-a", "UPDATE outbox_records SET receiver = NULL")
        [flow] = sending.flows_with_work(partner, answer)
        assert flow.receiver == HUB
        assert len(sending.seal_pending(partner, flow)) == 1
        assert view.query("pemkot-a", "SELECT receiver FROM outbox_records") == [(HUB,), (HUB,)]
    finally:
        hub.store.dispose()
        partner.store.dispose()


def test_a_scheduled_run_sends_to_several_partners_at_once(
    deployment_factory, tmp_path, monkeypassphrase
):
    """A slow partner does not hold back the others: the flows of one run go out together."""
    partners = ["pemkot-a", "pemkot-b", "pemkot-c"]
    deployment = make_partners_deployment(tmp_path, partners)
    hub = Node.from_config(deployment.as_deployment().config(HUB))
    try:
        client = hub.config.clients[0]
        for receiver in partners:
            submit(hub, client, ASKED, {"schema_version": "1.0", "receiver": receiver,
                                        "records": sample_records(ASKED, 1, version="1.0")})
        together = threading.Barrier(len(partners), timeout=30)

        def slow(url, body, timeout, headers):
            together.wait()  # only passes once every partner's post is in flight
            return 503, None

        flows = sending.flows_with_work(hub, ASKED)
        assert sorted(f.receiver for f in flows) == partners
        report = sending.run_flows(hub, flows, post=slow, exclusive=True)
        assert len(report.failed) == len(partners) and not report.errors
    finally:
        hub.store.dispose()


# The query of sending._claim (and, without the version and seq, of _next_header).
PENDING = (
    "SELECT o.seq, b.record FROM outbox_records o "
    "LEFT JOIN outbox_record_bodies b ON b.seq = o.seq "
    "WHERE o.dataset = 'x' AND o.receiver = 'y' AND o.batch_id IS NULL "
    "AND o.schema_version = '1.0' AND o.seq > 0 ORDER BY o.seq LIMIT 1000"
)


def test_the_pending_records_of_a_channel_are_read_by_index(
    deployment_factory, tmp_path, monkeypassphrase
):
    deployment = make_partners_deployment(tmp_path, ["pemkot-a"])
    hub = Node.from_config(deployment.as_deployment().config(HUB))
    try:
        with hub.store.read() as conn:
            if conn.dialect.name == "sqlite":
                explain = "EXPLAIN QUERY PLAN"
            else:
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                explain = "EXPLAIN"
            plan = " ".join(str(row) for row in conn.execute(text(
                f"{explain} {PENDING}")))
        assert "ix_outbox_channel_pending" in plan, plan
    finally:
        hub.store.dispose()


def test_the_client_library_names_the_receiver():
    from gateway.client.api import submission_body
    from gateway.client.models import ClientInfo

    assert submission_body("1.0", [b"{}"], "pemkot-a") == (
        b'{"schema_version":"1.0","receiver":"pemkot-a","records":[{}]}')
    assert submission_body("1.0", [b"{}"]) == b'{"schema_version":"1.0","records":[{}]}'
    limits = {"max_records_per_submission": 1, "max_body_bytes": 1}
    info = ClientInfo.from_json({
        "client_id": "c", "party": HUB, "roles": [], "pull": [], "limits": limits,
        "submit": [
            {"dataset": ASKED, "receiver": None, "receivers": ["a", "b"],
             "schema_versions": ["1.0"]},
            # A node of an earlier release names the one receiver only.
            {"dataset": "x", "receiver": "a", "schema_versions": ["1.0"]},
        ]})
    assert [(s.receiver, s.receivers) for s in info.submit] == [(None, ("a", "b")),
                                                                 ("a", ("a",))]
