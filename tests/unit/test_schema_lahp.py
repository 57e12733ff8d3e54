import copy
import datetime as dt
import random

import pytest
from faker import Faker

from gateway.exchange.validation import RecordValidator
from schemas.lahp import KESIMPULAN, LahpV1
from schemas.samples._common import UNITS
from schemas.samples.lahp import make

TODAY = dt.date(2026, 11, 28)
FOUND = "ditemukan_maladministrasi"
NOT_FOUND = ("tidak_ditemukan_maladministrasi", "pemeriksaan_dihentikan")


def samples(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make(fake, rng, i, TODAY) for i in range(count)]


def codes(records):
    return [(e.path, e.code) for e in RecordValidator("lahp", "1.0", LahpV1()).errors(records)]


def sample(conclusion=FOUND, min_actions=0):
    """A deep copy of a valid sample with ``conclusion`` (and at least ``min_actions``)."""
    records = samples(7, 50)
    record = next(
        r for r in records
        if r["kesimpulan"] == conclusion and len(r["tindakan_korektif"]) >= min_actions
    )  # fmt: skip
    return copy.deepcopy(record)


def test_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples(seed, 20)]
    assert len(records) == 60
    assert codes(records) == []


def test_samples_are_deterministic_realistic_and_cover_every_conclusion():
    assert samples(5, 10) == samples(5, 10)
    records = samples(11, 50)
    assert {r["kesimpulan"] for r in records} == set(KESIMPULAN)
    assert {r["unit_terlapor"] for r in records} <= set(UNITS)
    for r in records:
        found = r["kesimpulan"] == FOUND
        assert bool(r["tindakan_korektif"]) == found
        assert bool(r["jenis_maladministrasi"]) == found


@pytest.mark.parametrize(
    "name", ["nomor_laporan", "nomor_lahp", "tanggal_lahp", "unit_terlapor", "kesimpulan",
             "ringkasan"],
)  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes([record]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kesimpulan": "terbukti"}, ("/records/0/kesimpulan", "one_of")),
        ({"jenis_maladministrasi": ["pungli"]}, ("/records/0/jenis_maladministrasi/0", "one_of")),
        ({"tanggal_lahp": "28-11-2026"}, ("/records/0/tanggal_lahp", "invalid")),
        ({"nomor_lahp": " LAHP/1 "}, ("/records/0/nomor_lahp", "untrimmed")),
        ({"nomor_laporan": "1" * 65}, ("/records/0/nomor_laporan", "length")),
        ({"ringkasan": None}, ("/records/0/ringkasan", "null")),
        ({"tindakan_korektif": "segera"}, ("/records/0/tindakan_korektif", "invalid")),
        ({"catatan": "x"}, ("/records/0/catatan", "unknown_field")),
    ],
)
def test_field_rules(change, expected):
    assert codes([{**sample(), **change}]) == [expected]


def test_a_maladministration_type_is_named_once():
    record = sample()
    record["jenis_maladministrasi"] = ["penundaan_berlarut", "tidak_patut", "penundaan_berlarut"]
    assert codes([record]) == [("/records/0/jenis_maladministrasi", "duplicate_value")]


@pytest.mark.parametrize("empty", [[], None])
def test_a_finding_needs_corrective_actions(empty):
    record = sample()
    if empty is None:
        del record["tindakan_korektif"]
    else:
        record["tindakan_korektif"] = empty
    assert codes([record]) == [("/records/0/tindakan_korektif", "corrective_actions_required")]


def test_a_finding_needs_maladministration_types():
    record = sample()
    record["jenis_maladministrasi"] = []
    assert codes([record]) == [
        ("/records/0/jenis_maladministrasi", "maladministration_types_required")
    ]


def test_a_bare_finding_reports_both_rules():
    record = sample()
    del record["jenis_maladministrasi"]
    del record["tindakan_korektif"]
    assert sorted(codes([record])) == [
        ("/records/0/jenis_maladministrasi", "maladministration_types_required"),
        ("/records/0/tindakan_korektif", "corrective_actions_required"),
    ]


@pytest.mark.parametrize("conclusion", NOT_FOUND)
def test_no_finding_carries_no_corrective_actions(conclusion):
    record = sample(conclusion)
    record["tindakan_korektif"] = sample()["tindakan_korektif"]
    assert codes([record]) == [
        ("/records/0/tindakan_korektif", "corrective_actions_without_finding")
    ]


@pytest.mark.parametrize("conclusion", NOT_FOUND)
def test_no_finding_carries_no_maladministration_types(conclusion):
    record = sample(conclusion)
    record["jenis_maladministrasi"] = ["penundaan_berlarut"]
    assert codes([record]) == [
        ("/records/0/jenis_maladministrasi", "maladministration_types_without_finding")
    ]


@pytest.mark.parametrize("conclusion", NOT_FOUND)
def test_no_finding_may_leave_the_lists_out(conclusion):
    record = sample(conclusion)
    del record["jenis_maladministrasi"]
    del record["tindakan_korektif"]
    assert codes([record]) == []


@pytest.mark.parametrize("days", [0, -1])
def test_each_deadline_falls_after_the_lahp_date(days):
    record = sample(min_actions=2)
    issued = dt.date.fromisoformat(record["tanggal_lahp"])
    record["tindakan_korektif"][1]["batas_waktu"] = (issued + dt.timedelta(days)).isoformat()
    assert codes([record]) == [
        ("/records/0/tindakan_korektif/1/batas_waktu", "deadline_not_after_lahp")
    ]


def test_the_day_after_the_lahp_is_a_valid_deadline():
    record = sample()
    issued = dt.date.fromisoformat(record["tanggal_lahp"])
    record["tindakan_korektif"][0]["batas_waktu"] = (issued + dt.timedelta(1)).isoformat()
    assert codes([record]) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pihak": None}, ("pihak", "null")),
        ({"tindakan": ""}, ("tindakan", "length")),
        ({"batas_waktu": "2026-02-30"}, ("batas_waktu", "invalid")),
        ({"pelapor": "x"}, ("pelapor", "unknown_field")),
    ],
)
def test_corrective_action_fields_are_checked_with_their_index(change, expected):
    record = sample(min_actions=2)
    record["tindakan_korektif"][1].update(change)
    name, code = expected
    assert codes([record]) == [(f"/records/0/tindakan_korektif/1/{name}", code)]


def test_a_missing_action_field_is_reported_in_place():
    record = sample(min_actions=2)
    del record["tindakan_korektif"][1]["pihak"]
    assert codes([record]) == [("/records/0/tindakan_korektif/1/pihak", "required")]


def test_errors_of_several_records_keep_their_index():
    good, bad = sample(), sample(NOT_FOUND[0])
    bad["jenis_maladministrasi"] = ["berpihak"]
    assert codes([good, good, bad]) == [
        ("/records/2/jenis_maladministrasi", "maladministration_types_without_finding")
    ]


def test_personal_data_is_marked():
    schema = LahpV1()
    assert schema.fields["ringkasan"].metadata["personal"] is True
    action = schema.fields["tindakan_korektif"].inner.schema
    assert action.fields["pihak"].metadata["personal"] is True
    assert action.fields["tindakan"].metadata["personal"] is True
    assert not schema.fields["unit_terlapor"].metadata.get("personal")
