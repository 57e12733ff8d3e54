"""The HTTP API of two nodes, in process, on real SQLite databases."""

import datetime as dt
import hashlib
import json
import logging
from collections import Counter

import pytest
from sqlalchemy import func, select

from gateway.exchange import sending
from gateway.node import refusals
from gateway.store.tables import (
    audit_events,
    inbound_batches,
    outbound_batches,
    outbox_record_bodies,
    outbox_records,
)
from schemas.samples import sample_records

PERMINTAAN = "permintaan_klarifikasi"
TANGGAPAN = "tanggapan_klarifikasi"


def node(app):
    return app.app.extensions["gateway.node"]


def count(app, table):
    with node(app).store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def events(app):
    with node(app).store.read() as conn:
        return [
            json.loads(r)
            for r in conn.execute(
                select(audit_events.c.entry).order_by(audit_events.c.idx)
            ).scalars()
        ]


def counted(app):
    """The refusals counted so far, by (kind, peer or client), once written to the log.

    Rolls up every interval as if it had closed (gateway.node.refusals), then sums the
    ``requests_refused`` entries of the whole log.
    """
    gateway = node(app)
    real = gateway.clock
    later = dt.timedelta(
        seconds=gateway.config.refusal_interval_seconds + refusals.ROLL_UP_GRACE_SECONDS)
    gateway.clock = lambda: real() + later
    try:
        refusals.roll_up(gateway)
    finally:
        gateway.clock = real
    found = Counter()
    for e in events(app):
        if e["event"] == "requests_refused":
            found[(e["reason"], e.get("peer") or e.get("client"))] += e["count"]
    return found


def submit(app, records, *, dataset=TANGGAPAN, version="1.0", headers=None):
    return app.client.post(
        f"/api/v1/datasets/{dataset}/records",
        json={"schema_version": version, "records": records},
        headers=app.auth() if headers is None else headers,
    )


def bridge(apps):
    """A Poster that hands envelopes to the in-process peer app."""
    by_base = {node(a).config.party.base_url: a for a in apps.values()}

    def post(url, body, timeout, headers):
        base, _, path = url.partition("/exchange")
        answer = by_base[base].client.post(
            "/exchange" + path, data=body, content_type="application/jose", headers=headers
        )
        return answer.status_code, answer.get_json()

    return post




# --- submission -------------------------------------------------------------------------


def test_valid_submission_is_stored_before_202(pemkot):
    records = sample_records(TANGGAPAN, 3, seed=1)
    answer = submit(pemkot, records)
    assert answer.status_code == 202
    body = answer.get_json()
    assert body["record_count"] == 3
    assert body["submission_id"]
    assert count(pemkot, outbox_records) == 3
    (event,) = events(pemkot)
    assert event["event"] == "submission_accepted"
    assert event["submission_id"] == body["submission_id"]
    assert event["actor"] == "sistem-pengaduan"


def test_one_invalid_record_stores_nothing_and_lists_every_error(pemkot):
    records = sample_records(TANGGAPAN, 3, seed=1)
    records[1] = dict(records[1], status="sudah")
    records[2] = {k: v for k, v in records[2].items() if k != "penjelasan"}
    answer = submit(pemkot, records)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert [(e["path"], e["code"]) for e in error["errors"]] == [
        ("/records/1/status", "one_of"),
        ("/records/2/penjelasan", "required"),
    ]
    assert all(e["message"] for e in error["errors"])
    assert count(pemkot, outbox_records) == 0
    assert [e["event"] for e in events(pemkot)] == ["submission_rejected"]
    assert events(pemkot)[0]["reason"] == "validation_failed"


@pytest.mark.parametrize(
    ("accept", "language", "summary", "message"),
    [
        (None, "en", "1 of 2 records do not match", "value is not one of the agreed values"),
        ("id-ID,id;q=0.9,en;q=0.5", "id", "1 dari 2 rekaman tidak sesuai",
         "nilai tidak termasuk nilai yang disepakati"),
        ("en-GB,en;q=0.8", "en", "1 of 2 records", "value is not one of the agreed values"),
        ("fr", "en", "1 of 2 records", "value is not one of the agreed values"),
    ],
)
def test_field_errors_speak_the_requested_language(pemkot, accept, language, summary, message):
    records = sample_records(TANGGAPAN, 2, seed=3)
    records[0] = dict(records[0], status="sudah")
    headers = pemkot.auth() | ({"Accept-Language": accept} if accept else {})
    answer = submit(pemkot, records, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["Content-Language"] == language
    assert "Accept-Language" in answer.headers["Vary"]
    error = answer.get_json()["error"]
    assert error["message"].startswith(summary)
    # Codes and paths do not change with the language; only the words do.
    assert error["errors"] == [{"path": "/records/0/status", "code": "one_of", "message": message}]


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": b"\xff\xfe", "content_type": "application/json"}, 400, "invalid_json"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "bad_request"),
        (
            {
                "data": '{"schema_version": "1.0", "records": [{}], "x": 1}',
                "content_type": "application/json",
            },
            400,
            "bad_request",
        ),
        (
            {
                "data": '{"schema_version": "1.0", "records": []}',
                "content_type": "application/json",
            },
            400,
            "bad_request",
        ),
        (
            {
                "data": '{"schema_version": "1.0", "records": [NaN]}',
                "content_type": "application/json",
            },
            400,
            "invalid_json",
        ),
        (
            {"data": "schema_version=1.0", "content_type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        ({"json": {"schema_version": "9.9", "records": [{}]}}, 422, "unknown_schema_version"),
        # A member name given twice is ambiguous (which "nik"?): refused, at any depth.
        (
            {
                "data": '{"schema_version": "1.0", "records": [{"nik": "3275011202900001", '
                '"nik": "3275011202900002"}]}',
                "content_type": "application/json",
            },
            400,
            "invalid_json",
        ),
        (
            {
                "data": '{"schema_version": "1.0", "records": [], "\\u0072ecords": [{}]}',
                "content_type": "application/json",
            },
            400,
            "invalid_json",
        ),
        ({"json": {"schema_version": 1, "records": [{}]}}, 400, "bad_request"),
    ],
)
def test_bad_bodies(pemkot, kwargs, status, code):
    answer = pemkot.client.post(
        f"/api/v1/datasets/{TANGGAPAN}/records", headers=pemkot.auth(), **kwargs
    )
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == code
    assert answer.get_json()["error"]["message"]
    assert count(pemkot, outbox_records) == 0
    assert [e["reason"] for e in events(pemkot)] == [code]


def test_body_over_the_limit_is_413(pemkot):
    big = sample_records(TANGGAPAN, 1)[0]
    big["penjelasan"] = "x" * 1_100_000
    answer = submit(pemkot, [big])
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"
    assert count(pemkot, outbox_records) == 0


def test_too_many_records_is_413(pemkot):
    answer = submit(pemkot, sample_records(TANGGAPAN, 501))
    assert answer.status_code == 413
    assert answer.get_json()["error"]["path"] == "/records"


@pytest.mark.parametrize(
    ("headers", "status", "code", "kind"),
    [
        ({}, 401, "unauthorized", "missing_token"),
        ({"Authorization": "Bearer wrong"}, 401, "unauthorized", "unknown_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "unauthorized", "missing_token"),
        # may pull, may not submit
        ({"Authorization": "Bearer token-insp"}, 403, "forbidden", None),
    ],
)
def test_authentication_and_authorization(pemkot, headers, status, code, kind):
    answer = submit(pemkot, sample_records(TANGGAPAN, 1), headers=headers)
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == code
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(pemkot, outbox_records) == 0
    if kind is None:
        # An authenticated client's refusal is audited on its own, as it happens.
        last = events(pemkot)[-1]
        assert (last["event"], last["actor"], last["reason"]) == (
            "submission_rejected", "inspektorat", "forbidden")
        assert counted(pemkot) == {}
    else:
        # A caller that did not authenticate is only counted (gateway.node.refusals).
        assert events(pemkot) == []
        assert counted(pemkot) == {(kind, None): 1}


def test_direction_is_enforced_and_unknown_dataset_is_404(pemkot):
    # Pemkot does not send permintaan_klarifikasi; its client is not allowed to.
    answer = submit(pemkot, sample_records(PERMINTAAN, 1), dataset=PERMINTAAN)
    assert answer.status_code == 403
    answer = submit(pemkot, [{}], dataset="data_lain")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "unknown_dataset"
    assert "dataset" not in events(pemkot)[-1]  # unknown names are not echoed into the log


def test_unknown_endpoint_and_method_are_json(pemkot):
    assert pemkot.client.get("/api/v1/nope").get_json()["error"]["code"] == "not_found"
    answer = pemkot.client.get(f"/api/v1/datasets/{TANGGAPAN}/records")
    assert answer.status_code == 405
    assert answer.get_json()["error"]["code"] == "method_not_allowed"


# --- exchange -----------------------------------------------------------------------------


def deliver(apps, sender):
    return sending.run(node(sender), post=bridge(apps))


def test_batch_travels_with_signed_receipt_and_audit_trail(apps, pemkot, ombudsman):
    records = sample_records(TANGGAPAN, 5, seed=9)
    assert submit(pemkot, records).status_code == 202
    report = deliver(apps, pemkot)
    assert len(report.sealed) == 1 and report.delivered == report.sealed and not report.failed
    with node(pemkot).store.read() as conn:
        row = conn.execute(select(outbound_batches)).mappings().one()
    assert row["status"] == "delivered" and row["receipt"]
    assert [e["event"] for e in events(pemkot)] == [
        "submission_accepted",
        "batch_sealed",
        "batch_sent",
        "receipt_verified",
    ]
    assert [e["event"] for e in events(ombudsman)] == ["batch_received"]
    # Nothing more to send: a second run is a no-op.
    again = deliver(apps, pemkot)
    assert not (again.sealed or again.delivered or again.failed)

    # The Ombudsman's system pulls it.
    auth = ombudsman.auth()
    listing = ombudsman.client.get(f"/api/v1/datasets/{TANGGAPAN}/batches", headers=auth)
    (item,) = listing.get_json()["batches"]
    assert item["record_count"] == 5 and item["sender"] == "pemkot-bekasi"
    batch = ombudsman.client.get(f"/api/v1/batches/{item['batch_id']}", headers=auth).get_json()
    assert batch["records"] == records
    assert batch["provenance"]["signer_kid"] == node(pemkot).keys.signing_kid
    assert batch["provenance"]["receipt"] == row["receipt"]
    ack = ombudsman.client.post(f"/api/v1/batches/{item['batch_id']}/ack", headers=auth)
    assert ack.status_code == 200 and ack.get_json()["acknowledged_by"] == "simpel"
    again = ombudsman.client.post(f"/api/v1/batches/{item['batch_id']}/ack", headers=auth)
    assert again.get_json()["acknowledged_at"] == ack.get_json()["acknowledged_at"]
    later = ombudsman.client.get(
        f"/api/v1/datasets/{TANGGAPAN}/batches?after={item['cursor']}", headers=auth
    )
    assert later.get_json()["batches"] == []
    assert [e["event"] for e in events(ombudsman)] == [
        "batch_received",
        "batch_pulled",
        "batch_acknowledged",
    ]


def test_batches_respect_the_agreed_record_limit(deployment_factory, make_apps):
    apps = make_apps(deployment_factory(max_records=2))
    pemkot = apps["pemkot-bekasi"]
    assert submit(pemkot, sample_records(TANGGAPAN, 3)).status_code == 202
    assert submit(pemkot, sample_records(TANGGAPAN, 2, seed=4)).status_code == 202
    report = deliver(apps, pemkot)
    assert len(report.sealed) == 3 and report.delivered == report.sealed
    with node(apps["ombudsman-ri"]).store.read() as conn:
        sizes = (
            conn.execute(select(inbound_batches.c.record_count).order_by(inbound_batches.c.seq))
            .scalars()
            .all()
        )
    assert sizes == [2, 2, 1]


def sealed_envelope(apps, pemkot):
    assert submit(pemkot, sample_records(TANGGAPAN, 2)).status_code == 202
    (_batch_id,) = sending.seal_pending(
        node(pemkot), node(pemkot).config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    )
    with node(pemkot).store.read() as conn:
        return conn.execute(select(outbound_batches.c.envelope)).scalar_one()


def post_envelope(app, body, content_type="application/jose"):
    """Deliver an envelope as the other node does: in a request signed by it."""
    return app.peer_post("/exchange/v1/batches", body, content_type=content_type)


def test_replayed_envelope_is_stored_once_with_the_same_receipt(apps, pemkot, ombudsman):
    envelope = sealed_envelope(apps, pemkot)
    first = post_envelope(ombudsman, envelope)
    second = post_envelope(ombudsman, envelope)
    assert first.status_code == second.status_code == 200
    assert first.get_json()["receipt"] == second.get_json()["receipt"]
    assert second.get_json()["duplicate"] is True
    assert count(ombudsman, inbound_batches) == 1
    assert [e["event"] for e in events(ombudsman)] == ["batch_received", "batch_received_duplicate"]


@pytest.mark.parametrize("tamper", ["ciphertext", "header", "truncate", "garbage", "empty"])
def test_tampered_envelopes_get_one_generic_answer(apps, pemkot, ombudsman, tamper, caplog):
    envelope = sealed_envelope(apps, pemkot)
    parts = envelope.split(".")
    if tamper == "ciphertext":
        parts[3] = ("B" if parts[3][0] == "A" else "A") + parts[3][1:]
    elif tamper == "header":
        parts[0] = parts[0][:-2] + ("AA" if parts[0][-2:] != "AA" else "BB")
    body = {
        "truncate": envelope[: len(envelope) // 3],
        "garbage": "not-an-envelope",
        "empty": "",
    }.get(tamper, ".".join(parts))
    with caplog.at_level(logging.WARNING, logger="gateway"):
        answer = post_envelope(ombudsman, body)
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": {"code": "envelope_rejected", "message": "envelope rejected"}
    }
    assert "rejected" in caplog.text  # the detail is in the operator log
    assert count(ombudsman, inbound_batches) == 0
    (event,) = events(ombudsman)
    assert event["event"] == "envelope_rejected"
    assert event["envelope_sha256"] == hashlib.sha256(body.encode()).hexdigest()


def test_envelope_for_another_node_is_rejected(apps, pemkot):
    # Pemkot's own envelope, addressed to the Ombudsman, posted back to Pemkot.
    envelope = sealed_envelope(apps, pemkot)
    answer = post_envelope(pemkot, envelope)
    assert answer.status_code == 400
    assert events(pemkot)[-1]["reason"] == "recipient_key"


def test_envelope_needs_jose_media_type(apps, pemkot, ombudsman):
    answer = post_envelope(ombudsman, sealed_envelope(apps, pemkot), "application/json")
    assert answer.status_code == 415


def test_dead_peer_leaves_batch_sealed_for_a_later_run_with_backoff(apps, pemkot):
    import datetime as dt

    import requests

    assert submit(pemkot, sample_records(TANGGAPAN, 2)).status_code == 202
    start = dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)
    moment = [start]
    sender = node(pemkot)
    # Both nodes on one clock: a signed request is refused more than 300 s off.
    sender.clock = node(apps["ombudsman-ri"]).clock = lambda: moment[0]

    def dead(url, body, timeout, headers):
        raise requests.ConnectionError("connection refused")

    report = sending.run(sender, post=dead)
    assert report.failed == report.sealed
    with sender.store.read() as conn:
        row = conn.execute(select(outbound_batches)).mappings().one()
    assert (row["status"], row["attempts"], row["last_error"]) == ("sealed", 1, "peer_unreachable")
    # The first retry waits between half and all of initial_seconds (30 s by default).
    wait = dt.datetime.fromisoformat(row["next_attempt_at"].replace("Z", "+00:00")) - start
    assert dt.timedelta(seconds=15) <= wait <= dt.timedelta(seconds=30)
    assert sending.run(sender, post=bridge(apps)).delivered == []  # not yet due
    moment[0] = start + dt.timedelta(seconds=31)
    report = sending.run(sender, post=bridge(apps))
    assert report.delivered == [row["batch_id"]]


def test_a_batch_is_dead_after_its_last_attempt_and_operators_retry_or_cancel_it(apps, pemkot):
    import datetime as dt

    import requests

    from gateway.exchange import batch_admin

    assert submit(pemkot, sample_records(TANGGAPAN, 2)).status_code == 202
    sender = node(pemkot)
    moment = [dt.datetime(2026, 11, 29, 1, 0, tzinfo=dt.UTC)]
    sender.clock = node(apps["ombudsman-ri"]).clock = lambda: moment[0]

    def dead(url, body, timeout, headers):
        raise requests.ConnectionError("connection refused")

    flow = sender.config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    for _ in range(flow.retry.max_attempts):
        sending.run(sender, post=dead)
        moment[0] += dt.timedelta(seconds=flow.retry.max_seconds + 1)
    with sender.store.read() as conn:
        row = conn.execute(select(outbound_batches)).mappings().one()
    assert (row["status"], row["attempts"]) == ("dead", flow.retry.max_attempts)
    assert events(pemkot)[-1]["event"] == "batch_dead_lettered"
    [status] = [r for r in batch_admin.status(sender) if r["dataset"] == TANGGAPAN]
    assert status["dead"]["batches"] == 1 and status["dead"]["records"] == 2
    assert sending.run(sender, post=bridge(apps)).delivered == []  # dead: not sent

    batch_admin.retry(sender, row["batch_id"], operator="budi")
    assert events(pemkot)[-1]["event"] == "batch_retry_requested"
    assert events(pemkot)[-1]["actor"] == "budi"
    assert sending.run(sender, post=bridge(apps)).delivered == [row["batch_id"]]
    with pytest.raises(Exception, match="already delivered"):
        batch_admin.cancel(sender, row["batch_id"], operator="budi", release=True)


def test_cancel_with_release_reseals_the_records(apps, pemkot):
    import requests

    from gateway.exchange import batch_admin

    assert submit(pemkot, sample_records(TANGGAPAN, 3)).status_code == 202
    sender = node(pemkot)

    def dead(url, body, timeout, headers):
        raise requests.ConnectionError("connection refused")

    [batch_id] = sending.run(sender, post=dead).sealed
    result = batch_admin.cancel(sender, batch_id, operator="budi", release=True)
    assert result == {"batch_id": batch_id, "status": "cancelled", "records_released": 3}
    report = sending.run(sender, post=bridge(apps))
    assert len(report.delivered) == 1 and report.delivered != [batch_id]
    [status] = [r for r in batch_admin.status(sender) if r["dataset"] == TANGGAPAN]
    assert (status["cancelled"]["batches"], status["delivered"]["records"]) == (1, 3)
    assert status["pending"]["records"] == 0


def test_forged_receipt_is_not_accepted(apps, pemkot):
    assert submit(pemkot, sample_records(TANGGAPAN, 1)).status_code == 202
    real = bridge(apps)

    def forging(url, body, timeout, headers):
        status, answer = real(url, body, timeout, headers)
        token = answer["receipt"]
        head, payload, sig = token.split(".")
        return status, dict(answer, receipt=f"{head}.{payload}.{sig[::-1]}")

    report = sending.run(node(pemkot), post=forging)
    assert report.failed and not report.delivered
    assert events(pemkot)[-1]["reason"] == "bad_receipt"


def test_pull_is_limited_to_the_clients_datasets(apps, pemkot, ombudsman):
    assert submit(pemkot, sample_records(TANGGAPAN, 1)).status_code == 202
    deliver(apps, pemkot)
    (item,) = ombudsman.client.get(
        f"/api/v1/datasets/{TANGGAPAN}/batches", headers=ombudsman.auth()
    ).get_json()["batches"]
    # Pemkot's clients cannot pull tanggapan (Pemkot sends it).
    answer = pemkot.client.get(f"/api/v1/datasets/{TANGGAPAN}/batches", headers=pemkot.auth())
    assert answer.status_code == 403
    assert (
        pemkot.client.get(f"/api/v1/batches/{item['batch_id']}", headers=pemkot.auth()).status_code
        == 404
    )
    assert ombudsman.client.get(f"/api/v1/batches/{item['batch_id']}").status_code == 401
    bad = ombudsman.client.get(
        f"/api/v1/datasets/{TANGGAPAN}/batches?after=x", headers=ombudsman.auth()
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["path"] == "after"


def test_jwks_is_public_and_has_no_private_parts(pemkot):
    jwks = pemkot.client.get("/exchange/v1/jwks").get_json()
    assert {k["use"] for k in jwks["keys"]} == {"sig", "enc"}
    assert not any("d" in k for k in jwks["keys"])


def forged_envelope(
    apps,
    *,
    signer=None,
    sender="pemkot-bekasi",
    receiver="ombudsman-ri",
    dataset=TANGGAPAN,
    records=None,
    version="1.0",
):
    import datetime as dt
    import uuid

    from gateway.crypto.envelope import BatchHeader, seal_batch

    pemkot, ombudsman = node(apps["pemkot-bekasi"]), node(apps["ombudsman-ri"])
    header = BatchHeader(
        sender=sender,
        receiver=receiver,
        dataset=dataset,
        schema_version=version,
        batch_id=str(uuid.uuid4()),
        created_at=dt.datetime.now(dt.UTC),
    )
    return seal_batch(
        header,
        records or sample_records(TANGGAPAN, 2),
        signing_key=signer or pemkot.keys.signing,
        recipient_key=ombudsman.keys.encryption,
        max_bytes=1_000_000,
    )


def _stranger():
    from joserfc.jwk import OKPKey

    return OKPKey.generate_key("Ed25519")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"signer": "stranger"}, "unknown_key"),
        ({"receiver": "kota-depok"}, "wrong_receiver"),
        ({"sender": "ombudsman-ri"}, "sender_mismatch"),
        ({"dataset": PERMINTAAN}, "policy"),  # Pemkot may not send this dataset
        ({"version": "0.9"}, "schema_version"),
        ({"records": [{"status": "selesai"}]}, "schema"),
    ],
)
def test_authenticated_but_unacceptable_batches_are_refused_and_audited(
    apps, ombudsman, kwargs, reason, caplog
):
    if kwargs.get("signer") == "stranger":
        kwargs = dict(kwargs, signer=_stranger())
    envelope = forged_envelope(apps, **kwargs)
    with caplog.at_level(logging.WARNING, logger="gateway"):
        answer = post_envelope(ombudsman, envelope)
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": {"code": "envelope_rejected", "message": "envelope rejected"}
    }
    assert f"({reason})" in caplog.text
    assert count(ombudsman, inbound_batches) == 0
    assert events(ombudsman)[-1]["reason"] == reason
    # Audit entries never carry record contents.
    assert "selesai" not in json.dumps(events(ombudsman))


@pytest.mark.parametrize(
    "member",
    [
        b'"records":[{"nomor_laporan":"forged"}]',  # a first "records", never validated
        b'"\\u0072ecords":[]',  # the same name, escaped
        b'"sender":"pemkot-bekasi"',
    ],
)
def test_a_signed_batch_with_a_member_given_twice_is_refused(
    apps, ombudsman, member, monkeypatch, caplog
):
    from gateway.crypto import envelope

    real = envelope._seal
    # Correctly signed and encrypted by the sender's keys, over these very bytes.
    monkeypatch.setattr(
        envelope, "_seal", lambda payload, *args: real(b"{" + member + b"," + payload[1:], *args)
    )
    token = forged_envelope(apps)
    monkeypatch.undo()
    with caplog.at_level(logging.WARNING, logger="gateway"):
        answer = post_envelope(ombudsman, token)
    assert answer.status_code == 400
    assert answer.get_json() == {
        "error": {"code": "envelope_rejected", "message": "envelope rejected"}
    }
    assert "(malformed)" in caplog.text and "duplicate member name" in caplog.text
    assert count(ombudsman, inbound_batches) == 0
    assert events(ombudsman)[-1]["reason"] == "malformed"


def test_same_batch_id_with_other_content_is_refused(apps, pemkot, ombudsman):
    envelope = sealed_envelope(apps, pemkot)
    assert post_envelope(ombudsman, envelope).status_code == 200
    with node(pemkot).store.read() as conn:
        batch_id = conn.execute(select(outbound_batches.c.batch_id)).scalar_one()
    import datetime as dt

    from gateway.crypto.envelope import BatchHeader, seal_batch

    header = BatchHeader(
        sender="pemkot-bekasi",
        receiver="ombudsman-ri",
        dataset=TANGGAPAN,
        schema_version="1.0",
        batch_id=batch_id,
        created_at=dt.datetime.now(dt.UTC),
    )
    other = seal_batch(
        header,
        sample_records(TANGGAPAN, 1, seed=99),
        signing_key=node(pemkot).keys.signing,
        recipient_key=node(ombudsman).keys.encryption,
        max_bytes=1_000_000,
    )
    answer = post_envelope(ombudsman, other)
    assert answer.status_code == 400
    assert events(ombudsman)[-1]["reason"] == "batch_id_conflict"
    assert count(ombudsman, inbound_batches) == 1


def test_chunked_body_over_the_limit_is_413(pemkot):
    import io

    body = b'{"schema_version": "1.0", "records": [' + b" " * 1_200_000 + b"]}"
    answer = pemkot.client.post(
        f"/api/v1/datasets/{TANGGAPAN}/records",
        input_stream=io.BytesIO(body),
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn does for chunked
        headers={
            **pemkot.auth(),
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
    )
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"


def test_record_larger_than_any_batch_is_refused_at_submission(deployment_factory, make_apps):
    pemkot = make_apps(deployment_factory(max_batch_bytes=3072))["pemkot-bekasi"]
    small, big = sample_records(TANGGAPAN, 2)
    big["penjelasan"] = "x" * 2500
    answer = submit(pemkot, [small, big])
    assert answer.status_code == 413
    assert answer.get_json()["error"]["path"] == "/records/1"
    assert count(pemkot, outbox_records) == 0


def test_resent_batch_is_acknowledged_after_the_agreement_changes(apps, pemkot, ombudsman):
    envelope = sealed_envelope(apps, pemkot)
    first = post_envelope(ombudsman, envelope).get_json()
    # The Ombudsman stops accepting version 1.0; a resend of the stored batch still gets
    # its receipt, so the sender can stop retrying.
    agreed = node(ombudsman).config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    object.__setattr__(agreed, "schema_versions", ("2.0",))
    again = post_envelope(ombudsman, envelope)
    assert again.status_code == 200 and again.get_json()["receipt"] == first["receipt"]


def test_concurrent_submissions_are_all_stored_with_a_gapless_audit_log(pemkot):
    import threading

    records = sample_records(TANGGAPAN, 40, seed=21)
    answers = []

    def post(chunk):
        client = pemkot.app.test_client()
        for record in chunk:
            answers.append(
                client.post(
                    f"/api/v1/datasets/{TANGGAPAN}/records",
                    json={"schema_version": "1.0", "records": [record]},
                    headers=pemkot.auth(),
                ).status_code
            )

    threads = [threading.Thread(target=post, args=(records[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert answers == [202] * 40
    assert count(pemkot, outbox_records) == 40
    assert [e["index"] for e in events(pemkot)] == list(range(40))
    with node(pemkot).store.read() as conn:
        stored = {
            json.loads(r)["nomor_surat_tanggapan"]
            for r in conn.execute(select(outbox_record_bodies.c.record)).scalars()
        }
    assert stored == {r["nomor_surat_tanggapan"] for r in records}


def test_agreed_schemas_are_published_to_the_nodes_clients(pemkot):
    assert pemkot.client.get("/api/v1/schemas").status_code == 401
    listing = pemkot.client.get("/api/v1/schemas", headers=pemkot.auth()).get_json()["schemas"]
    entry = next(s for s in listing if s["dataset"] == TANGGAPAN and s["version"] == "1.0")
    assert entry["accepted_by"] == [{"sender": "pemkot-bekasi", "receiver": "ombudsman-ri"}]
    answer = pemkot.client.get(entry["url"], headers=pemkot.auth())
    assert answer.status_code == 200
    assert answer.mimetype == "application/schema+json"
    document = answer.get_json()
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "status" in document["required"]
    missing = pemkot.client.get("/api/v1/schemas/no_such/1.0", headers=pemkot.auth())
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_dataset"
    version = pemkot.client.get(f"/api/v1/schemas/{TANGGAPAN}/9.9", headers=pemkot.auth())
    assert version.get_json()["error"]["code"] == "unknown_schema_version"


def _v2_records():
    records = sample_records(TANGGAPAN, 3, seed=8)
    for r in records:
        r["status"] = "selesai"
        r["bukti"] = r["bukti"] or [{"nama_berkas": "bukti.pdf", "sha256": "a" * 64}]
        r["tanggal_selesai"] = r["tanggal_tanggapan"]
    return records


def test_a_new_schema_version_flows_when_the_agreement_admits_it(apps, pemkot, ombudsman):
    records = _v2_records()
    # 2.0 fields are refused under 1.0, accepted under 2.0.
    old = submit(pemkot, records, version="1.0")
    assert old.status_code == 422
    assert {e["code"] for e in old.get_json()["error"]["errors"]} == {"unknown_field"}
    assert submit(pemkot, records, version="2.0").status_code == 202
    assert submit(pemkot, sample_records(TANGGAPAN, 2, seed=9), version="1.0").status_code == 202
    report = deliver(apps, pemkot)
    assert len(report.sealed) == 2 and report.delivered == report.sealed  # a batch per version
    listing = ombudsman.client.get(f"/api/v1/datasets/{TANGGAPAN}/batches",
                                   headers=ombudsman.auth()).get_json()["batches"]
    versions = {}
    for item in listing:
        batch = ombudsman.client.get(f"/api/v1/batches/{item['batch_id']}",
                                     headers=ombudsman.auth()).get_json()
        versions[batch["schema_version"]] = batch["records"]
    assert versions["2.0"] == records
    assert all("tanggal_selesai" not in r for r in versions["1.0"])


def test_a_version_one_side_no_longer_accepts_is_refused_on_that_side(apps, pemkot, ombudsman):
    # The sender's side: its clients may submit only what the agreement lists.
    pemkot_flow = node(pemkot).config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    object.__setattr__(pemkot_flow, "schema_versions", ("1.0",))
    refused = submit(pemkot, _v2_records(), version="2.0")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "unknown_schema_version"
    # The receiver's side: a 2.0 batch is refused when it accepts only 1.0.
    object.__setattr__(pemkot_flow, "schema_versions", ("1.0", "2.0"))
    assert submit(pemkot, _v2_records(), version="2.0").status_code == 202
    ombudsman_flow = node(ombudsman).config.agreement.flow(TANGGAPAN, sender="pemkot-bekasi")
    object.__setattr__(ombudsman_flow, "schema_versions", ("1.0",))
    report = deliver(apps, pemkot)
    assert report.failed and not report.delivered
    assert count(ombudsman, inbound_batches) == 0
    (event,) = [e for e in events(ombudsman) if e["event"] == "envelope_rejected"]
    assert event["reason"] == "schema_version"


def test_a_dataset_agreed_both_ways_flows_both_ways(apps, pemkot, ombudsman):
    dataset = "kegiatan_pengembangan"
    sent = {
        "pemkot-bekasi": sample_records(dataset, 2, seed=31, version="1.0"),
        "ombudsman-ri": sample_records(dataset, 3, seed=32, version="1.0"),
    }
    for app, peer in ((pemkot, ombudsman), (ombudsman, pemkot)):
        assert submit(app, sent[node(app).party_id], dataset=dataset).status_code == 202
        report = deliver(apps, app)
        assert len(report.sealed) == 1 and report.delivered == report.sealed
        (item,) = peer.client.get(f"/api/v1/datasets/{dataset}/batches",
                                  headers=peer.auth()).get_json()["batches"]
        assert item["sender"] == node(app).party_id
        batch = peer.client.get(f"/api/v1/batches/{item['batch_id']}",
                                headers=peer.auth()).get_json()
        assert batch["records"] == sent[node(app).party_id]


def test_metrics_for_operators_only_from_the_database(apps, pemkot):
    import datetime as dt

    import requests
    from prometheus_client.parser import text_string_to_metric_families

    assert pemkot.client.get("/metrics").status_code == 401
    assert pemkot.client.get("/metrics", headers=pemkot.auth("auditor")).status_code == 403

    def scrape():
        answer = pemkot.client.get("/metrics", headers=pemkot.auth("operator"))
        assert answer.status_code == 200 and answer.mimetype == "text/plain"
        return {
            (sample.name, sample.labels.get("dataset"), sample.labels.get("state")): sample.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True))
            for sample in family.samples
        }

    assert submit(pemkot, sample_records(TANGGAPAN, 3)).status_code == 202
    before = scrape()
    assert before[("gateway_outbox_pending_records", TANGGAPAN, None)] == 3
    assert before[("gateway_outbox_oldest_pending_age_seconds", TANGGAPAN, None)] >= 0

    def dead(url, body, timeout, headers):
        raise requests.ConnectionError("connection refused")

    sending.run(node(pemkot), post=dead)
    failed = scrape()
    assert failed[("gateway_outbox_pending_records", TANGGAPAN, None)] == 0
    assert failed[("gateway_outbound_batches", TANGGAPAN, "sealed")] == 1
    assert failed[("gateway_send_failures_total", TANGGAPAN, None)] == 1
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # past the retry's wait
    node(pemkot).clock = node(apps["ombudsman-ri"]).clock = lambda: later
    sending.run(node(pemkot), post=bridge(apps))
    done = scrape()
    assert done[("gateway_sent_records_total", TANGGAPAN, None)] == 3
    assert done[("gateway_sent_bytes_total", TANGGAPAN, None)] > 1000
    assert done[("gateway_outbound_batches", TANGGAPAN, "delivered")] == 1
    assert done[("gateway_audit_entries", None, None)] >= 5


def test_transfer_reports_progress_per_batch(apps, pemkot):
    assert submit(pemkot, sample_records(TANGGAPAN, 2)).status_code == 202
    calls = []
    report = sending.run(node(pemkot), post=bridge(apps),
                          progress=lambda *args: calls.append(args))
    assert len(report.delivered) == 1
    # A flow with nothing to do is not run (sending.flows_with_work): no progress for it.
    assert calls == [(TANGGAPAN, 0, 1), (TANGGAPAN, 1, 1)]


def test_channel_sequence_numbers_reveal_gaps_and_refuse_replays(apps, pemkot, ombudsman):
    import datetime as dt
    import uuid

    import requests

    from gateway.crypto.envelope import BatchHeader, seal_batch
    from gateway.exchange import batch_admin

    sender = node(pemkot)

    def dead(url, body, timeout, headers):
        raise requests.ConnectionError("connection refused")

    assert submit(pemkot, sample_records(TANGGAPAN, 1, seed=1)).status_code == 202
    [first] = sending.run(sender, post=dead).sealed
    batch_admin.cancel(sender, first, operator="budi", release=False)  # number 1 never arrives
    assert submit(pemkot, sample_records(TANGGAPAN, 1, seed=2)).status_code == 202
    [second] = sending.run(sender, post=bridge(apps)).delivered
    assert submit(pemkot, sample_records(TANGGAPAN, 1, seed=3)).status_code == 202
    [third] = sending.run(sender, post=bridge(apps)).delivered
    with node(ombudsman).store.read() as conn:
        rows = conn.execute(select(inbound_batches.c.batch_id, inbound_batches.c.sequence))
        numbers = {batch_id: number for batch_id, number in rows}
    assert numbers == {second: 2, third: 3}
    gaps = [e for e in events(ombudsman) if e["event"] == "batch_sequence_gap"]
    assert [(g["batch_id"], g["sequence"], g["expected_sequence"]) for g in gaps] == [
        (second, 2, 1)]

    # A validly signed batch that reuses number 3 under a new id is a replay.
    records = sample_records(TANGGAPAN, 1, seed=4)
    header = BatchHeader(sender="pemkot-bekasi", receiver="ombudsman-ri", dataset=TANGGAPAN,
                         schema_version="1.0", batch_id=str(uuid.uuid4()),
                         created_at=dt.datetime.now(dt.UTC), sequence=3)
    envelope = seal_batch(header, records, signing_key=sender.keys.signing,
                          recipient_key=sender.peers.encryption_key_of("ombudsman-ri"),
                          max_bytes=262144)
    answer = post_envelope(ombudsman, envelope)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "envelope_rejected"
    assert events(ombudsman)[-1]["reason"] == "sequence_reused"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nope", "/exchange/v1/jwks"])
def test_every_answer_carries_the_security_headers(pemkot, path):
    answer = pemkot.client.get(path)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in answer.headers  # plain HTTP here
    secure = pemkot.client.get(path, base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_client_over_its_rate_limit_gets_429_and_others_are_not_held_back(
        deployment_factory, make_apps):
    deployment = deployment_factory()
    config = deployment.config_path("pemkot-bekasi")
    text = config.read_text()
    config.write_text(text.replace('id = "sistem-pengaduan"\n',
                                   'id = "sistem-pengaduan"\nrate_limit = "3/minute"\n', 1))
    pemkot = make_apps(deployment)["pemkot-bekasi"]
    path = f"/api/v1/datasets/{PERMINTAAN}/batches"
    answers = [pemkot.client.get(path, headers=pemkot.auth()) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    other = pemkot.client.get(f"/api/v1/datasets/{PERMINTAAN}/batches",
                              headers=pemkot.auth("inspektorat"))
    assert other.status_code == 200  # its own limit: the node's default


def test_a_rate_limit_that_is_not_a_rate_is_refused_at_start(deployment):
    from gateway.errors import ConfigError
    from gateway.node.config import load_node_config

    config = deployment.config_path("pemkot-bekasi")
    config.write_text(config.read_text().replace(
        'id = "sistem-pengaduan"\n', 'id = "sistem-pengaduan"\nrate_limit = "fast"\n', 1))
    with pytest.raises(ConfigError, match="rate_limit: must be a rate"):
        load_node_config(config, environ={})


@pytest.mark.parametrize("batch_id", ["%00", "A" * 37, "not-a-uuid"])
def test_a_batch_id_that_is_no_uuid_is_simply_not_found(ombudsman, batch_id):
    # PostgreSQL refuses a NUL in text: such an id must not reach a query.
    for method, path in (("get", f"/api/v1/batches/{batch_id}"),
                         ("get", f"/api/v1/batches/{batch_id}/chunks/0"),
                         ("post", f"/api/v1/batches/{batch_id}/ack")):
        answer = getattr(ombudsman.client, method)(path, headers=ombudsman.auth())
        assert answer.status_code == 404, (path, answer.get_json())
        assert answer.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("depth, refused", [(32, False), (33, True), (100_000, True)])
def test_json_nested_past_the_limit_is_refused_as_malformed(pemkot, depth, refused):
    body = '{"schema_version": "1.0", "records": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    answer = pemkot.client.post(f"/api/v1/datasets/{TANGGAPAN}/records", data=body,
                                content_type="application/json", headers=pemkot.auth())
    assert (answer.get_json()["error"]["code"] == "invalid_json") is refused
    assert answer.status_code in (400, 422)


def test_a_submission_is_answered_with_jsonify_bytes_and_the_headers_in_order(pemkot):
    from flask import jsonify

    answer = submit(pemkot, sample_records(TANGGAPAN, 1, seed=11),
                    headers={**pemkot.auth(), "X-Request-Id": "order-1"})
    assert answer.status_code == 202
    with pemkot.app.test_request_context():
        expected = jsonify(answer.get_json()).get_data()
    assert answer.get_data() == expected
    assert list(answer.headers.items()) == [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(expected))),
        ("X-Request-Id", "order-1"),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]
