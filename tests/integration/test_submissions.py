"""Idempotency keys on submissions, the submission status endpoint and the client endpoint.

In process, on real databases of the backend under test (SQLite or PostgreSQL).
"""

import hashlib
import json
import threading

import requests
import rfc8785
from sqlalchemy import select

from gateway.crypto import strict_json
from gateway.exchange import intake, sending
from gateway.http.request_helpers import parse_json
from gateway.node import credentials
from gateway.store.tables import audit_events, outbox_records, submissions
from schemas.samples import sample_records
from tests.integration.test_api import bridge, count, node

TANGGAPAN = "tanggapan_klarifikasi"
KEGIATAN = "kegiatan_pengembangan"
URL = f"/api/v1/datasets/{TANGGAPAN}/records"


def entries(app):
    with node(app).store.read() as conn:
        return list(conn.execute(select(audit_events.c.entry).order_by(audit_events.c.idx))
                    .scalars())


def body(records, version="1.0"):
    return json.dumps({"schema_version": version, "records": records}).encode()


def post(app, data, key=None, *, url=URL, auth=None):
    headers = dict(app.auth() if auth is None else auth)
    if key is not None:
        headers["Idempotency-Key"] = key
    return app.client.post(url, data=data, content_type="application/json", headers=headers)


# --- Idempotency-Key --------------------------------------------------------------------------


def test_the_same_key_and_body_again_is_answered_with_the_first_submission(pemkot):
    data = body(sample_records(TANGGAPAN, 3, seed=1))
    first = post(pemkot, data, '"resume-0001"')
    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    again = post(pemkot, data, '"resume-0001"')
    assert again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # The bare form of the same key (as many clients send it) is the same key.
    bare = post(pemkot, data, "resume-0001")
    assert bare.get_json() == first.get_json()
    assert count(pemkot, submissions) == 1
    assert count(pemkot, outbox_records) == 3
    events = [json.loads(e)["event"] for e in entries(pemkot)]
    assert events == ["submission_accepted"]


def test_the_same_key_with_another_body_is_refused_and_stores_nothing(pemkot):
    records = sample_records(TANGGAPAN, 3, seed=1)
    key = '"kunci-NIK-3275014101900001"'  # a careless client's key: it must go nowhere
    assert post(pemkot, body(records), key).status_code == 202
    for other in (body(records[:2]), body(records, version="2.0"),
                  body(records).replace(b'"records"', b' "records"')):
        answer = post(pemkot, other, key)
        assert answer.status_code == 422
        error = answer.get_json()["error"]
        assert error["code"] == "idempotency_key_reused"
        assert error["path"] == "Idempotency-Key"
        assert "3275014101900001" not in answer.get_data(as_text=True)
    # Another dataset under the same key is another request too.
    kegiatan = body(sample_records(KEGIATAN, 1, seed=2, version="1.0"))
    answer = post(pemkot, kegiatan, key, url=f"/api/v1/datasets/{KEGIATAN}/records")
    assert answer.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(pemkot, submissions) == 1
    assert count(pemkot, outbox_records) == 3
    logged = entries(pemkot)
    assert [json.loads(e)["reason"] for e in logged[1:]] == ["idempotency_key_reused"] * 4
    assert not any("3275014101900001" in e for e in logged)


def test_keys_are_per_client(pemkot):
    token = credentials.add(node(pemkot), "sistem-lain", submit=[TANGGAPAN], operator="budi")
    data = body(sample_records(TANGGAPAN, 2, seed=3))
    mine = post(pemkot, data, '"k-1"')
    theirs = post(pemkot, data, '"k-1"', auth={"Authorization": f"Bearer {token}"})
    assert mine.status_code == theirs.status_code == 202
    assert mine.get_json()["submission_id"] != theirs.get_json()["submission_id"]
    assert count(pemkot, submissions) == 2


def test_a_key_whose_request_was_refused_is_free_for_the_corrected_one(pemkot):
    records = sample_records(TANGGAPAN, 2, seed=4)
    broken = [dict(records[0], status="sudah"), records[1]]
    assert post(pemkot, body(broken), '"chunk-7"').status_code == 422
    answer = post(pemkot, body(records), '"chunk-7"')
    assert answer.status_code == 202
    assert "Idempotent-Replayed" not in answer.headers


def test_a_malformed_key_is_refused(pemkot):
    data = body(sample_records(TANGGAPAN, 1))
    for value in ('""', '"' + "k" * 256 + '"', "k" * 256, '"kunci"; a=1', '"kunci', '"ku\\nci"',
                  "kunci\u00e9", '"kunci\u00e9"'):
        answer = post(pemkot, data, value.encode("utf-8").decode("latin-1"))
        assert answer.status_code == 400, value
        error = answer.get_json()["error"]
        assert (error["code"], error["path"]) == ("invalid_idempotency_key", "Idempotency-Key")
    # A header sent twice arrives as one value, joined by commas; so does a bare key
    # with a comma in it, which is refused too.
    for first, second in (('"a"', '"b"'), ("a", "b"), ("a", '"b"')):
        twice = [*pemkot.auth().items(), ("Idempotency-Key", first), ("Idempotency-Key", second)]
        answer = pemkot.client.post(URL, data=data, content_type="application/json",
                                    headers=twice)
        assert answer.status_code == 400, (first, second)
        assert answer.get_json()["error"]["code"] == "invalid_idempotency_key"
    for joined in ("a,b", "a, b", '"a","b"'):
        assert post(pemkot, data, joined).status_code == 400, joined
    assert post(pemkot, data, '"a,b"').status_code == 202  # a comma inside a string is text
    assert count(pemkot, submissions) == 1
    # The longest key there may be, with the escapes of a structured-field string.
    longest = "k" * 253 + '"\\'
    first = post(pemkot, data, '"' + "k" * 253 + '\\"\\\\"')
    assert first.status_code == 202
    assert post(pemkot, data, longest).get_json() == first.get_json()
    assert count(pemkot, submissions) == 2


def test_a_concurrent_request_with_the_key_is_answered_as_a_repeat(pemkot):
    """The unique constraint decides a race that the look-up before the insert cannot see."""
    who = node(pemkot).authenticate(pemkot.auth()["Authorization"])
    records = sample_records(TANGGAPAN, 2, seed=6)
    keyed = intake.Idempotency("race-1", "ab" * 32)
    first, replayed = intake.submit_once(node(pemkot), who, TANGGAPAN,
                                         {"schema_version": "1.0", "records": records},
                                         idempotency=keyed)
    assert not replayed
    # A second request that passed its look-up before the first was committed:
    again, replayed = intake.submit_once(node(pemkot), who, TANGGAPAN,
                                         {"schema_version": "1.0", "records": records},
                                         idempotency=keyed)
    assert (again, replayed) == (first, True)
    assert count(pemkot, submissions) == 1
    assert count(pemkot, outbox_records) == 2


def test_simultaneous_requests_with_one_key_store_one_submission(pemkot):
    data = body(sample_records(TANGGAPAN, 5, seed=7))
    app = pemkot.app
    answers = []
    start = threading.Barrier(8)

    def send():
        with app.test_client() as client:
            start.wait()
            answers.append(client.post(URL, data=data, content_type="application/json",
                                       headers={**pemkot.auth(), "Idempotency-Key": '"same"'}))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {a.status_code for a in answers} == {202}
    assert len({a.get_json()["submission_id"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" not in a.headers for a in answers) == 1
    assert count(pemkot, submissions) == 1
    assert count(pemkot, outbox_records) == 5


# --- GET /api/v1/submissions/<id> -------------------------------------------------------------


def status_of(app, submission_id, auth=None):
    headers = app.auth() if auth is None else auth
    return app.client.get(f"/api/v1/submissions/{submission_id}", headers=headers)


def test_submission_status_follows_the_records_into_batches(apps, pemkot):
    records = sample_records(TANGGAPAN, 3, seed=8)
    submitted = post(pemkot, body(records)).get_json()
    answer = status_of(pemkot, submitted["submission_id"])
    assert answer.status_code == 200
    found = answer.get_json()
    assert {k: found[k] for k in submitted} == submitted
    assert found["state"] == "pending"
    assert found["records"] == {"pending": 3, "sealed": 0, "delivered": 0, "dead": 0,
                                "cancelled": 0}
    assert found["batches"] == []

    def down(url, data, timeout, headers):
        raise requests.ConnectionError("connection refused")

    [sealed] = sending.run(node(pemkot), post=down).sealed
    found = status_of(pemkot, submitted["submission_id"]).get_json()
    assert found["state"] == "in_progress"
    assert found["records"]["sealed"] == 3
    [batch] = found["batches"]
    assert (batch["batch_id"], batch["status"], batch["record_count"]) == (sealed, "sealed", 3)
    assert batch["receiver"] == "ombudsman-ri"
    assert batch["delivered_at"] is None

    with node(pemkot).store.write() as conn:  # due again now
        conn.exec_driver_sql("UPDATE outbound_batches SET next_attempt_at = NULL")
    assert sending.run(node(pemkot), post=bridge(apps)).delivered == [sealed]
    found = status_of(pemkot, submitted["submission_id"]).get_json()
    assert found["state"] == "delivered"
    assert found["records"]["delivered"] == 3
    assert found["batches"][0]["delivered_at"]


def test_a_submission_in_several_batches(deployment_factory, make_apps):
    apps = make_apps(deployment_factory(max_records=4))
    pemkot = apps["pemkot-bekasi"]
    submitted = post(pemkot, body(sample_records(TANGGAPAN, 10, seed=9))).get_json()
    delivered = sending.run(node(pemkot), post=bridge(apps)).delivered
    assert len(delivered) == 3
    found = status_of(pemkot, submitted["submission_id"]).get_json()
    assert found["state"] == "delivered"
    assert [b["batch_id"] for b in found["batches"]] == delivered
    assert [b["record_count"] for b in found["batches"]] == [4, 4, 2]
    assert [b["sequence"] for b in found["batches"]] == [1, 2, 3]


def test_only_the_submitting_client_sees_its_submission(pemkot):
    submitted = post(pemkot, body(sample_records(TANGGAPAN, 1))).get_json()
    token = credentials.add(node(pemkot), "sistem-lain", submit=[TANGGAPAN], operator="budi")
    for submission_id, auth in (
        (submitted["submission_id"], {"Authorization": f"Bearer {token}"}),
        (submitted["submission_id"], pemkot.auth("inspektorat")),
        ("00000000-0000-7000-8000-000000000000", None),
        ("not-an-id", None),
        (submitted["submission_id"].upper(), None),
    ):
        answer = status_of(pemkot, submission_id, auth)
        assert answer.status_code == 404
        assert answer.get_json()["error"] == {
            "code": "not_found", "path": "submission_id",
            "message": f"no submission {submission_id!r} for this client"}
    assert status_of(pemkot, submitted["submission_id"], {}).status_code == 401


# --- GET /api/v1/client -----------------------------------------------------------------------


def test_the_client_endpoint_says_what_the_client_may_do(pemkot, ombudsman):
    found = pemkot.client.get("/api/v1/client", headers=pemkot.auth()).get_json()
    assert found == {
        "client_id": "sistem-pengaduan",
        "party": "pemkot-bekasi",
        "submit": [
            {"dataset": KEGIATAN, "receiver": "ombudsman-ri", "receivers": ["ombudsman-ri"],
             "schema_versions": ["1.0"]},
            {"dataset": TANGGAPAN, "receiver": "ombudsman-ri", "receivers": ["ombudsman-ri"],
             "schema_versions": ["1.0", "2.0"]},
        ],
        "pull": [
            {"dataset": KEGIATAN, "senders": ["ombudsman-ri"]},
            {"dataset": "permintaan_klarifikasi", "senders": ["ombudsman-ri"]},
        ],
        "roles": [],
        "limits": {"max_records_per_submission": 500, "max_body_bytes": 1_000_000},
    }
    auditor = pemkot.client.get("/api/v1/client", headers=pemkot.auth("auditor")).get_json()
    assert (auditor["submit"], auditor["pull"], auditor["roles"]) == ([], [], ["auditor"])
    assert pemkot.client.get("/api/v1/client").status_code == 401


# --- canonical forms at intake ----------------------------------------------------------------

def test_stored_digests_are_the_reference_canonical_forms_whether_or_not_the_body_is_plain(
        pemkot):
    records = sample_records(TANGGAPAN, 6, seed=11, version="1.0")
    records[1] = dict(records[1], penjelasan=records[1]["penjelasan"] + " \u00e9\u20ac\n\"\\")
    records[2] = dict(records[2], penjelasan=records[2]["penjelasan"] + " \U0001f600")  # astral
    bodies = [
        json.dumps({"schema_version": "1.0", "records": records[:3]}, ensure_ascii=False),
        json.dumps({"schema_version": "1.0", "records": records[3:]}),  # plain, ASCII only
        json.dumps({"schema_version": "1.0", "records": records[1:2]}),  # \u escapes
        json.dumps({"schema_version": "1.0", "records": records[2:3]}),  # a surrogate pair
    ]
    plain = [isinstance(parse_json(b.encode()), strict_json.PlainObject) for b in bodies]
    assert plain == [False, True, True, False]
    for i, text in enumerate(bodies):
        assert post(pemkot, text.encode(), key=f"canonical-{i}").status_code == 202, text
    with node(pemkot).store.read() as conn:
        stored = sorted(conn.execute(select(outbox_records.c.record_sha256)).scalars())
    expected = sorted(hashlib.sha256(rfc8785.dumps(r)).hexdigest()
                      for r in records[:3] + records[3:] + records[1:3])
    assert stored == expected
