"""A refused submission gets a bounded answer, and no record the schemas accept (or one
that slips past them) ends in a 500: every refusal is a 422 with a code, and audited."""

import json

from gateway.exchange import validation
from gateway.exchange.validation import MAX_ERRORS
from gateway.store.tables import outbox_records
from schemas.samples import sample_records
from tests.integration.test_api import TANGGAPAN, count, events, submit

KEGIATAN = "kegiatan_pengembangan"


def test_a_flood_of_errors_is_answered_with_the_first_and_their_count(pemkot):
    good = sample_records(TANGGAPAN, 1, seed=1)[0]
    # 500 records (the test node's limit) of 100 unknown members each (under 1 MB).
    records = [{**good, **{f"x{k}": 1 for k in range(100)}} for _ in range(500)]
    answer = submit(pemkot, records)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert len(error["errors"]) == MAX_ERRORS
    assert error["errors"][0] == {
        "path": "/records/0",
        "code": "too_many_unknown_fields",
        "message": "this object has too many fields that are not part of the agreed schema",
    }
    assert error["error_count"] == 500 and error["truncated"] is True
    assert error["message"] == (
        "500 of 500 records do not match the agreed schema; nothing was stored "
        "(the first 100 of 500 errors are listed)"
    )
    assert len(answer.data) < 20_000
    assert count(pemkot, outbox_records) == 0
    assert [(e["event"], e["reason"]) for e in events(pemkot)] == [
        ("submission_rejected", "validation_failed")
    ]


def test_a_few_errors_are_all_listed(pemkot):
    records = sample_records(TANGGAPAN, 2, seed=3)
    records[1] = dict(records[1], status="sudah")
    error = submit(pemkot, records).get_json()["error"]
    assert (len(error["errors"]), error["error_count"], error["truncated"]) == (1, 1, False)


def test_a_lone_surrogate_is_refused_with_its_path_and_audited(pemkot):
    record = sample_records(TANGGAPAN, 1, seed=1)[0]
    body = json.dumps({"schema_version": "1.0", "records": [record]})
    # JSON's \u escapes can carry a lone surrogate, which no UTF-8 text holds.
    body = body.replace(json.dumps(record["penjelasan"]), '"Sudah \\ud800 selesai"', 1)
    answer = pemkot.client.post(
        f"/api/v1/datasets/{TANGGAPAN}/records",
        data=body,
        content_type="application/json",
        headers=pemkot.auth() | {"Accept-Language": "id"},
    )
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert [(e["path"], e["code"]) for e in error["errors"]] == [
        ("/records/0/penjelasan", "invalid_text")
    ]
    assert error["errors"][0]["message"].startswith("teks harus Unicode")
    assert "Sudah" not in answer.get_data(as_text=True)  # the value is not echoed
    assert count(pemkot, outbox_records) == 0
    assert [(e["event"], e["reason"]) for e in events(pemkot)] == [
        ("submission_rejected", "validation_failed")
    ]


def test_a_record_without_a_canonical_form_is_a_clear_audited_422(pemkot, monkeypatch):
    # Defence in depth: were a schema to let a number beyond 2**53 - 1 through.
    monkeypatch.setattr(validation.RecordValidator, "check", lambda self, records, **_: None)
    records = sample_records(KEGIATAN, 2, seed=1, version="1.0")
    secret = 2**60 + 12345
    records[1] = dict(records[1], jumlah_peserta=secret)
    answer = submit(pemkot, records, dataset=KEGIATAN)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "not_canonicalisable"
    assert error["path"] == "/records/1"
    assert str(secret) not in answer.get_data(as_text=True)
    assert count(pemkot, outbox_records) == 0
    assert [(e["event"], e["reason"]) for e in events(pemkot)] == [
        ("submission_rejected", "not_canonicalisable")
    ]
