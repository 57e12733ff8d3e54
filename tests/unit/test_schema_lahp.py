import datetime as dt

import pytest

from gateway.validation import validator_for
from schemas.samples import sample_records

TODAY = dt.date(2026, 11, 28)


def codes(records):
    return [(e.path, e.code) for e in validator_for("lahp", "1.0").errors(records)]


def sample(found: bool):
    records = sample_records("lahp", 40, seed=3, today=TODAY)
    return next(r for r in records if (r["kesimpulan"] == "ditemukan_maladministrasi") == found)


def test_a_finding_needs_corrective_actions_and_types():
    record = dict(sample(True), tindakan_korektif=[])
    assert codes([record]) == [("/records/0/tindakan_korektif", "corrective_actions_required")]
    record = dict(sample(True), jenis_maladministrasi=[])
    assert codes([record]) == [
        ("/records/0/jenis_maladministrasi", "maladministration_types_required")
    ]


def test_no_finding_carries_no_actions():
    found = sample(True)
    record = dict(sample(False), tindakan_korektif=found["tindakan_korektif"])
    assert codes([record]) == [
        ("/records/0/tindakan_korektif", "corrective_actions_without_finding")
    ]


def test_each_deadline_falls_after_the_lahp_date():
    record = sample(True)
    actions = [dict(a) for a in record["tindakan_korektif"]] * 2
    actions[1] = dict(actions[1], batas_waktu=record["tanggal_lahp"])
    assert codes([dict(record, tindakan_korektif=actions)]) == [
        ("/records/0/tindakan_korektif/1/batas_waktu", "deadline_not_after_lahp")
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kesimpulan": "terbukti"}, ("/records/0/kesimpulan", "one_of")),
        ({"tanggal_lahp": "28-11-2026"}, ("/records/0/tanggal_lahp", "invalid")),
        ({"nomor_lahp": " LAHP/1 "}, ("/records/0/nomor_lahp", "untrimmed")),
        ({"catatan": "x"}, ("/records/0/catatan", "unknown_field")),
    ],
)
def test_field_rules(change, expected):
    assert codes([dict(sample(True), **change)]) == [expected]


def test_nested_action_fields_are_checked_with_their_index():
    record = sample(True)
    actions = [dict(a) for a in record["tindakan_korektif"]]
    del actions[0]["pihak"]
    assert codes([dict(record, tindakan_korektif=actions)]) == [
        ("/records/0/tindakan_korektif/0/pihak", "required")
    ]
