"""A refusal is bounded: an object with a flood of unknown members gets one error, a
submission's refusal lists the first MAX_ERRORS errors with the exact count of all, and
a peer's batch refused again is logged in a bounded line."""

from __future__ import annotations

import pytest

from gateway.errors import EnvelopeRejected, SchemaViolation
from gateway.exchange.receiving import check_records
from gateway.exchange.validation import MAX_ERRORS, validator_for
from gateway.messages import LANGUAGES, field_message
from schemas._base import MAX_UNKNOWN_FIELDS
from tests.unit.test_bounds import samples


def test_a_flood_of_unknown_members_is_one_error_per_object():
    record = samples("standar_pelayanan", "1.0", 1)[0]
    validator = validator_for("standar_pelayanan", "1.0")
    few = {**record, **{f"x{i}": 1 for i in range(MAX_UNKNOWN_FIELDS)}}
    assert [e.code for e in validator.errors([few])] == ["unknown_field"] * MAX_UNKNOWN_FIELDS
    many = {**record, **{f"x{i}": 1 for i in range(MAX_UNKNOWN_FIELDS + 1)}}
    assert [(e.path, e.code) for e in validator.errors([many])] == [
        ("/records/0", "too_many_unknown_fields")
    ]
    nested = dict(record, biaya_tarif={**record["biaya_tarif"], **{f"x{i}": 1 for i in range(150)}})
    assert [(e.path, e.code) for e in validator.errors([nested])] == [
        ("/records/0/biaya_tarif", "too_many_unknown_fields")
    ]
    for language in LANGUAGES:
        assert field_message("too_many_unknown_fields", language) != "too_many_unknown_fields"


def test_a_refusal_lists_the_first_errors_and_counts_all():
    good = samples("tanggapan_klarifikasi", "1.0", 1)[0]
    records = [good] + [{**good, **{f"x{i}": 1 for i in range(150)}} for _ in range(3000)]
    records.append({**good, "status": "sudah", "penjelasan": " x"})
    validator = validator_for("tanggapan_klarifikasi", "1.0")
    report = validator.report(records)
    assert len(report.errors) == MAX_ERRORS
    assert report.errors[0].path == "/records/1"
    assert report.total == 3002 and report.invalid_records == 3001 and report.truncated
    with pytest.raises(SchemaViolation) as info:
        validator.check(records)
    for language, words in (("en", "the first 100 of 3002 errors"),
                            ("id", "100 kesalahan pertama dari 3002")):  # fmt: skip
        body = info.value.to_dict(language)
        assert len(body["errors"]) == MAX_ERRORS
        assert body["error_count"] == 3002 and body["truncated"] is True
        assert body["message"].startswith(
            {"en": "3001 of 3002 records", "id": "3001 dari 3002 rekaman"}[language]
        )
        assert words in body["message"]
    # Under the cap nothing is cut, and the two new members say so.
    with pytest.raises(SchemaViolation) as info:
        validator.check([good, {**good, "status": "sudah"}])
    body = info.value.to_dict()
    assert (body["error_count"], body["truncated"], len(body["errors"])) == (1, False, 1)


def test_a_peer_batch_refused_again_is_logged_in_a_bounded_line():
    good = samples("tanggapan_klarifikasi", "1.0", 1)[0]
    long_name = "k" * 50_000  # an unknown member's name is the peer's text
    records = [{**good, long_name: 1, "status": "sudah"} for _ in range(2000)]
    with pytest.raises(EnvelopeRejected) as info:
        check_records("tanggapan_klarifikasi", "1.0", records)
    detail = info.value.detail
    assert detail.startswith("4000 schema errors in 2000 records")
    assert len(detail) < 1000


def test_error_paths_are_json_pointers_whatever_a_member_is_called():
    # RFC 6901 section 3: "~" is written "~0" and "/" is written "~1" in a reference token,
    # so a member "a/b" is not read as a member "b" inside a member "a".
    record = samples("standar_pelayanan", "1.0", 1)[0]
    validator = validator_for("standar_pelayanan", "1.0")
    odd = {**record, "a/b": 1, "x~1": 2}
    assert sorted((e.path, e.code) for e in validator.errors([odd])) == [
        ("/records/0/a~1b", "unknown_field"),
        ("/records/0/x~01", "unknown_field"),
    ]
    nested = dict(record, biaya_tarif={**record["biaya_tarif"], "/": 1})
    assert [e.path for e in validator.errors([nested])] == ["/records/0/biaya_tarif/~1"]
