"""Whatever limits the agreement sets, nothing the sender seals is refused by them.

The sender cuts batches to the agreed limits (docs/ENVELOPE.md section 10), and the
receiver checks them again. This property test drives the real sealing
(``sending.seal_pending``, through ``sending.run``) and the real receiver
(``POST /exchange/v1/batches`` and the chunked exchange, in process) across the
whole range of valid limits and of record sizes and counts: every batch sealed must
be received, none refused.
"""

import dataclasses
import datetime as dt

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.crypto import canonical
from gateway.crypto.envelope import envelope_limit, records_budget
from gateway.exchange import sending
from gateway.node.config import DEFAULT_MAX_CHUNK_BYTES
from gateway.store.tables import inbound_batches, outbound_batches
from schemas.samples import sample_records
from tests.integration.test_api import TANGGAPAN, bridge, events, node, submit

# Slow, and what it checks is the sizes of what is sealed, not the database.
pytestmark = pytest.mark.sqlite_pass

MIN_CHUNK = 2048  # the least max_chunk_bytes the agreement takes
MAX_BODY = 8_000_000  # the receiver's max_body_bytes in this deployment
# The largest max_chunk_bytes whose envelopes that body limit takes (a node refuses to
# start otherwise); the default, 4 MiB, is within it.
MAX_CHUNK = (MAX_BODY - 4096) * 9 // 16
assert DEFAULT_MAX_CHUNK_BYTES <= MAX_CHUNK and envelope_limit(MAX_CHUNK) <= MAX_BODY


def set_limits(apps, **limits):
    """Both nodes under an agreement whose tanggapan_klarifikasi flow has ``limits``."""
    for app in apps.values():
        n = node(app)
        agreement = n.config.agreement
        flows = tuple(
            dataclasses.replace(f, **limits) if f.name == TANGGAPAN else f
            for f in agreement.flows
        )
        n.config = dataclasses.replace(
            n.config, agreement=dataclasses.replace(agreement, flows=flows)
        )


@st.composite
def limits(draw):
    chunk = draw(st.one_of(
        st.sampled_from([MIN_CHUNK, MIN_CHUNK + 1, 4096, 8192, DEFAULT_MAX_CHUNK_BYTES]),
        st.integers(MIN_CHUNK, 65536),
        st.integers(MIN_CHUNK, MAX_CHUNK),
    ))
    batch = draw(st.one_of(st.just(chunk), st.integers(chunk, 64 * chunk)))
    records = draw(st.one_of(st.sampled_from([1, 2, 1000]), st.integers(1, 1000)))
    return {"max_chunk_bytes": chunk, "max_batch_bytes": batch, "max_records_per_batch": records}


@st.composite
def lengths(draw):
    """Per record, the length of its free text: from a few characters to the schema's 8000,
    around a typical length for the example (a batch of like records) or scattered."""
    count = draw(st.one_of(st.integers(1, 40), st.integers(1, 300)))
    typical = draw(st.one_of(st.integers(1, 100), st.integers(1, 8000)))
    spread = draw(st.sampled_from([0, 50, 8000]))
    return [max(1, min(8000, typical + draw(st.integers(-spread, spread)) if spread else typical))
            for _ in range(count)]


@settings(derandomize=True, database=None, deadline=None, max_examples=30,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(agreed=limits(), lengths=lengths(), seed=st.integers(0, 1000))
# Found by the chaos run: 1,000 records a batch and chunks of 4096 or 8192 bytes made a
# manifest of some 23 kB, which the receiver refused (batch_limit) at every retry.
@example(agreed={"max_chunk_bytes": 4096, "max_batch_bytes": 262144,
                 "max_records_per_batch": 1000}, lengths=[20] * 300, seed=1)
@example(agreed={"max_chunk_bytes": 8192, "max_batch_bytes": 8 * 1024 * 1024,
                 "max_records_per_batch": 1000}, lengths=[20] * 300, seed=2)
# Many small chunks: their documents' own fields add up beyond max_batch_bytes.
@example(agreed={"max_chunk_bytes": 2048, "max_batch_bytes": 8192,
                 "max_records_per_batch": 1000}, lengths=[20] * 60, seed=3)
def test_nothing_the_sender_seals_is_refused_by_the_agreed_limits(
    deployment_factory, make_apps, agreed, lengths, seed
):
    apps = test_nothing_the_sender_seals_is_refused_by_the_agreed_limits.apps
    if apps is None:  # one deployment for every example; each example's batches all go
        apps = make_apps(deployment_factory(max_body=MAX_BODY))
        moment = dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)
        for app in apps.values():
            node(app).clock = lambda: moment
        test_nothing_the_sender_seals_is_refused_by_the_agreed_limits.apps = apps
    pemkot, ombudsman = apps["pemkot-bekasi"], apps["ombudsman-ri"]
    set_limits(apps, **agreed)
    budget = records_budget(agreed["max_chunk_bytes"])
    records = []
    for i, (record, length) in enumerate(zip(sample_records(TANGGAPAN, len(lengths), seed=seed),
                                             lengths, strict=True)):
        record = {**record, "penjelasan": (f"{i} " + "p" * length)[:8000]}
        if len(canonical.dumps(record)) + 1 <= budget:  # a larger one is refused (413)
            records.append(record)
    if not records:
        return
    for start in range(0, len(records), 500):
        assert submit(pemkot, records[start:start + 500]).status_code == 202
    with node(ombudsman).store.read() as conn:
        before = conn.execute(select(func.count()).select_from(inbound_batches)).scalar_one()
    report = sending.run(node(pemkot), dataset=TANGGAPAN, post=bridge(apps))
    refused = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert refused == [], (agreed, refused)
    assert report.failed == [] and report.errors == [], agreed
    assert sorted(report.delivered) == sorted(report.sealed) and report.sealed
    with node(pemkot).store.read() as conn:
        sealed = conn.execute(
            select(outbound_batches.c.record_count, outbound_batches.c.chunk_count)
            .where(outbound_batches.c.batch_id.in_(report.sealed))
        ).all()
    assert sum(r.record_count for r in sealed) == len(records)
    assert all(r.record_count <= agreed["max_records_per_batch"] for r in sealed)
    with node(ombudsman).store.read() as conn:
        after = conn.execute(select(func.count()).select_from(inbound_batches)).scalar_one()
    assert after - before == len(report.sealed)


test_nothing_the_sender_seals_is_refused_by_the_agreed_limits.apps = None
