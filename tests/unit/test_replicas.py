"""Several processes or replicas on one database: locks that keep them from colliding."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, insert, select, text

from gateway.errors import GatewayError
from gateway.exchange import intake, sending
from gateway.node.config import load_node_config
from gateway.node.node import Node
from gateway.store.database import Store, new_keys
from gateway.store.tables import outbox_record_bodies, outbox_records
from schemas.samples import sample_records


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node.db'}"
    return request.getfixturevalue("postgres_url")


def test_try_lock_lets_one_holder_in_at_a_time(url):
    first, second = Store(url), Store(url)
    try:
        with first.try_lock("transfer:x") as got:
            assert got
            with second.try_lock("transfer:x") as other:
                assert not other
            with second.try_lock("transfer:y") as unrelated:
                assert unrelated
        with second.try_lock("transfer:x") as after:
            assert after
    finally:
        first.dispose()
        second.dispose()


def test_new_keys_follow_every_key_given_and_never_repeat(url):
    """gateway.store.database.new_keys: the seqs an intake gives its outbox records and
    their bodies, in its write transaction, drawn by two stores (replicas) at once."""
    stores = [Store(url), Store(url)]
    stores[0].create_schema()
    row = {"submission_id": "s", "dataset": "d", "schema_version": "1.0",
           "record_sha256": "h", "created_at": "t"}
    try:
        with stores[0].write() as conn:
            conn.execute(insert(outbox_records), [row, row])  # keys given by the database
            largest = conn.execute(select(func.max(outbox_records.c.seq))).scalar_one()
        drawn: list[list[int]] = [[], []]
        barrier = threading.Barrier(2)

        def draw(i: int) -> None:
            barrier.wait()
            for _ in range(20):
                with stores[i].write() as conn:
                    keys = new_keys(conn, outbox_records, 3)
                    conn.execute(insert(outbox_records), [{**row, "seq": k} for k in keys])
                    conn.execute(insert(outbox_record_bodies),
                                 [{"seq": k, "record": ""} for k in keys])
                drawn[i] += keys

        threads = [threading.Thread(target=draw, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        keys = drawn[0] + drawn[1]
        assert len(keys) == len(set(keys)) == 120 and min(keys) > largest
        assert all(part == sorted(part) for part in drawn)
        with stores[0].write() as conn:
            assert new_keys(conn, outbox_records, 0) == []
            conn.execute(insert(outbox_records), [row])  # and the database's own go on after
            assert conn.execute(select(func.max(outbox_records.c.seq))).scalar_one() > max(keys)
    finally:
        for store in stores:
            store.dispose()


def test_two_replicas_sealing_at_once_claim_every_record_once(postgres_url, deployment_factory,
                                                               monkeypassphrase):
    deployment = deployment_factory(max_records=3)
    config = load_node_config(deployment.config_path("ombudsman-ri"),
                              overrides={"database_url": postgres_url})
    replicas = [Node.from_config(config) for _ in range(2)]
    try:
        client = next(c for c in config.clients if c.id == "simpel")
        records = sample_records("permintaan_klarifikasi", 40, seed=5, version="1.0")
        for start in range(0, 40, 10):
            intake.submit(replicas[0], client, "permintaan_klarifikasi",
                          {"schema_version": "1.0", "records": records[start:start + 10]})
        flow = config.agreement.flow("permintaan_klarifikasi", sender="ombudsman-ri")
        assert flow is not None
        barrier = threading.Barrier(2)
        sealed: list[list[str]] = [[], []]

        def seal(i: int) -> None:
            barrier.wait()
            sealed[i] = sending.seal_pending(replicas[i], flow)

        threads = [threading.Thread(target=seal, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        with replicas[0].store.read() as conn:
            total = conn.execute(text("SELECT sum(record_count) FROM outbound_batches")).scalar()
            unclaimed = conn.execute(
                text("SELECT count(*) FROM outbox_records WHERE batch_id IS NULL")).scalar()
        assert (total, unclaimed) == (40, 0)
        assert len(sealed[0]) + len(sealed[1]) == 14  # ceil(40 / 3), none twice
    finally:
        for node in replicas:
            node.store.dispose()


def test_a_record_without_its_content_stops_the_sealing_and_claims_nothing(deployment,
                                                                           monkeypassphrase):
    """Intake writes a record and its content in one transaction; should a content row
    still go missing, sealing fails loudly instead of passing the record over (each run
    would find it pending and claim nothing)."""
    config = deployment.config("ombudsman-ri")
    node = Node.from_config(config)
    try:
        client = next(c for c in config.clients if c.id == "simpel")
        records = sample_records("permintaan_klarifikasi", 5, seed=3, version="1.0")
        intake.submit(node, client, "permintaan_klarifikasi",
                      {"schema_version": "1.0", "records": records})
        with node.store.write() as conn:
            conn.execute(text("DELETE FROM outbox_record_bodies WHERE seq = "
                              "(SELECT max(seq) FROM outbox_records)"))
        flow = config.agreement.flow("permintaan_klarifikasi", sender="ombudsman-ri")
        assert flow is not None
        with pytest.raises(GatewayError, match="has no stored content"):
            sending.seal_pending(node, flow)
        with node.store.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM outbound_batches")).scalar() == 0
            assert conn.execute(text(
                "SELECT count(*) FROM outbox_records WHERE batch_id IS NULL")).scalar() == 5
    finally:
        node.store.dispose()


def test_a_scheduled_transfer_runs_on_one_replica_at_a_time(deployment, monkeypassphrase,
                                                            monkeypatch):
    from gateway.exchange import schedule

    config = deployment.config("ombudsman-ri")
    node = Node.from_config(config)
    other = Store(config.database_url)
    ran: list[str] = []
    monkeypatch.setattr(sending, "_run_flow", lambda n, flow, **kw: ran.append(flow.name) or
                        sending.TransferReport())
    flow = config.agreement.flow("permintaan_klarifikasi", sender="ombudsman-ri")
    try:
        with other.try_lock("transfer:permintaan_klarifikasi:pemkot-bekasi") as leader:
            assert leader
            schedule._run(node, flow.name, [flow])  # another replica is the leader: skipped
        assert ran == []
        schedule._run(node, flow.name, [flow])  # the leader is gone: this replica takes over
        assert ran == ["permintaan_klarifikasi"]
    finally:
        other.dispose()
        node.store.dispose()
