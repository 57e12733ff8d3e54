"""The gateway client library against two nodes' apps, in process.

The client's requests go to the apps through a transport adapter
(tests/flask_adapter.py): the same code as over HTTP, without servers.
"""

import pytest
import requests

from gateway.client import (
    AuthenticationFailed,
    GatewayClient,
    IdempotencyKeyReused,
    NotFound,
    PermissionDenied,
    RetryPolicy,
    ValidationFailed,
)
from gateway.exchange import sending
from gateway.store.tables import outbox_records, submissions
from schemas.samples import sample_records
from tests.conftest import TOKENS
from tests.flask_adapter import session_for
from tests.integration.test_api import bridge, count, node

TANGGAPAN = "tanggapan_klarifikasi"
URL = "http://node.test"


def client_of(app, client_id=None, **kwargs):
    session, adapter = session_for(app.app, fail=kwargs.pop("fail", None),
                                   after=kwargs.pop("after", None))
    token = TOKENS[app.party][client_id or next(iter(TOKENS[app.party]))]
    return GatewayClient(URL, token, session=session, sleep=lambda _: None, **kwargs), adapter


def test_submit_follow_and_refusals(pemkot):
    client, _ = client_of(pemkot)
    info = client.client_info()
    assert info.client_id == "sistem-pengaduan"
    assert info.submit_right(TANGGAPAN).newest_version == "2.0"
    records = sample_records(TANGGAPAN, 3, seed=1)
    stored = client.submit(TANGGAPAN, records)  # a key of its own; the newest version
    assert (stored.schema_version, stored.record_count, stored.replayed) == ("2.0", 3, False)
    again = client.submit(TANGGAPAN, records, "kunci-1")
    repeat = client.submit(TANGGAPAN, records, "kunci-1")
    assert repeat.replayed and repeat.submission_id == again.submission_id
    assert count(pemkot, submissions) == 2

    where = client.submission_status(stored.submission_id)
    assert (where.state, where.records["pending"], where.batches) == ("pending", 3, ())

    with pytest.raises(IdempotencyKeyReused) as reused:
        client.submit(TANGGAPAN, records[:1], "kunci-1")
    assert (reused.value.status, reused.value.path) == (422, "Idempotency-Key")
    broken = [records[0], dict(records[1], status="sudah")]
    with pytest.raises(ValidationFailed) as invalid:
        client.submit(TANGGAPAN, broken)
    assert [(e.record_index, e.field_path) for e in invalid.value.errors] == [(1, "/status")]
    with pytest.raises(PermissionDenied, match="may not submit 'permintaan_klarifikasi'"):
        client.submit("permintaan_klarifikasi", records)
    with pytest.raises(PermissionDenied) as forbidden:  # the node says so, too
        client.submit("permintaan_klarifikasi", records, schema_version="1.0")
    assert forbidden.value.code == "forbidden"
    with pytest.raises(NotFound) as absent:
        client.submission_status("00000000-0000-7000-8000-000000000000")
    assert (absent.value.code, absent.value.path) == ("not_found", "submission_id")
    stranger = GatewayClient(URL, "bukan-token", session=client.session)
    with pytest.raises(AuthenticationFailed):
        stranger.client_info()
    assert count(pemkot, outbox_records) == 6


def test_a_submission_whose_answer_was_lost_is_stored_once(pemkot):
    lost = []

    def lose_first_answer(request, response):
        if request.method == "POST" and not lost:
            lost.append(response.status_code)
            raise requests.ConnectionError("connection reset by peer")

    client, adapter = client_of(pemkot, after=lose_first_answer)
    stored = client.submit(TANGGAPAN, sample_records(TANGGAPAN, 4, seed=2))
    assert lost == [202]  # the node had stored it when the answer was lost
    assert stored.replayed
    assert len({r.headers["Idempotency-Key"] for r in adapter.requests if r.method == "POST"}) == 1
    assert count(pemkot, submissions) == 1 and count(pemkot, outbox_records) == 4


def test_a_busy_node_is_waited_for(pemkot):
    answers = [(503, {"Retry-After": "1"}), (429, {"Retry-After": "2"})]
    waits = []

    def busy(request):
        return answers.pop(0) if answers else None

    session, _ = session_for(pemkot.app, fail=busy)
    client = GatewayClient(URL, TOKENS["pemkot-bekasi"]["sistem-pengaduan"], session=session,
                           sleep=waits.append, retry=RetryPolicy(attempts=3))
    assert client.submit(TANGGAPAN, sample_records(TANGGAPAN, 1)).record_count == 1
    assert waits == [1, 2]


def test_pull_assembles_chunked_batches_checks_digests_and_acknowledges(
        deployment_factory, make_apps):
    apps = make_apps(deployment_factory(max_chunk_bytes=4096))
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    sender, _ = client_of(pemkot)
    records = sample_records(TANGGAPAN, 30, seed=3)
    stored = sender.submit(TANGGAPAN, records, schema_version="1.0")
    [batch_id] = sending.run(node(pemkot), post=bridge(apps)).delivered
    assert sender.submission_status(stored.submission_id).state == "delivered"

    receiver, _ = client_of(ombudsman)
    [summary] = receiver.iter_batches(TANGGAPAN)
    assert summary.batch_id == batch_id and summary.chunk_count > 1
    batch = receiver.get_batch(batch_id)
    assert batch.records == records
    assert [c["index"] for c in batch.chunks] == list(range(summary.chunk_count))
    assert all(c["provenance"]["signed_chunk"] for c in batch.chunks)
    assert batch.metadata()["provenance"]["signed_manifest"]
    ack = receiver.ack(batch_id)
    assert ack.acknowledged_by == "simpel"
    assert receiver.ack(batch_id) == ack  # idempotent
    page = receiver.list_batches(TANGGAPAN, after=summary.cursor)
    assert page.batches == () and page.next_cursor == summary.cursor
    [listed] = receiver.list_batches(TANGGAPAN).batches
    assert listed.acknowledged_at == ack.acknowledged_at


def test_a_batch_over_128_kb_is_served_whole(apps, pemkot, ombudsman):
    """joserfc caps a JWS at 128 kB unless told otherwise; a batch is bigger by design."""
    sender, _ = client_of(pemkot)
    records = sample_records(TANGGAPAN, 300, seed=4)
    sender.submit(TANGGAPAN, records, schema_version="1.0")
    [batch_id] = sending.run(node(pemkot), post=bridge(apps)).delivered
    receiver, _ = client_of(ombudsman)
    batch = receiver.get_batch(batch_id)
    assert batch.summary.chunk_count == 1
    assert len(batch.provenance["signed_batch"]) > 129536
    assert batch.records == records
