import copy
import datetime as dt
import random

import pytest
from faker import Faker

from gateway.exchange.validation import RecordValidator
from schemas.hasil_penilaian_kepatuhan import (
    GRADES,
    OPINION_OF_GRADE,
    ZONE_OF_GRADE,
    HasilPenilaianKepatuhanV1,
)
from schemas.samples._common import UNITS
from schemas.samples.hasil_penilaian_kepatuhan import make

TODAY = dt.date(2026, 11, 28)
GRADE_ZONE_OPINION = [
    ("A", "hijau", "kualitas_tertinggi"),
    ("B", "hijau", "kualitas_tinggi"),
    ("C", "kuning", "kualitas_sedang"),
    ("D", "merah", "kualitas_rendah"),
    ("E", "merah", "kualitas_terendah"),
]


def samples(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make(fake, rng, i, TODAY) for i in range(count)]


def codes(records):
    validator = RecordValidator("hasil_penilaian_kepatuhan", "1.0", HasilPenilaianKepatuhanV1())
    return [(e.path, e.code) for e in validator.errors(records)]


def sample(grade="B"):
    """A deep copy of a valid sample with ``grade``."""
    return copy.deepcopy(next(r for r in samples(4, 20) if r["predikat"] == grade))


def test_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples(seed, 20)]
    assert len(records) == 60
    assert codes(records) == []


def test_samples_are_deterministic_realistic_and_cover_every_grade():
    assert samples(5, 10) == samples(5, 10)
    records = samples(11, 50)
    assert {r["predikat"] for r in records} == set(GRADES)
    assert {r["unit"] for r in records} <= set(UNITS)
    for r in records:
        assert r["zona"] == ZONE_OF_GRADE[r["predikat"]]
        assert r["opini"] == OPINION_OF_GRADE[r["predikat"]]
        assert r["tahun"] >= 2022


@pytest.mark.parametrize(
    "name", ["tahun", "versi_metode", "unit", "nilai_dimensi", "nilai_total", "predikat",
             "zona", "opini"],
)  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes([record]) == [(f"/records/0/{name}", "required")]


def test_improvement_notes_may_be_left_out():
    record = sample()
    del record["catatan_perbaikan"]
    assert codes([record]) == []


@pytest.mark.parametrize(("grade", "zone", "opinion"), GRADE_ZONE_OPINION)
def test_grade_zone_and_opinion_agree(grade, zone, opinion):
    record = {**sample(), "predikat": grade, "zona": zone, "opini": opinion}
    assert codes([record]) == []


@pytest.mark.parametrize(("grade", "zone", "opinion"), GRADE_ZONE_OPINION)
def test_a_zone_that_disagrees_with_the_grade(grade, zone, opinion):
    for wrong in sorted({"hijau", "kuning", "merah"} - {zone}):
        record = {**sample(), "predikat": grade, "zona": wrong, "opini": opinion}
        assert codes([record]) == [("/records/0/zona", "grade_zone_mismatch")]


@pytest.mark.parametrize(("grade", "zone", "opinion"), GRADE_ZONE_OPINION)
def test_an_opinion_that_disagrees_with_the_grade(grade, zone, opinion):
    for _, _, wrong in GRADE_ZONE_OPINION:
        if wrong != opinion:
            record = {**sample(), "predikat": grade, "zona": zone, "opini": wrong}
            assert codes([record]) == [("/records/0/opini", "grade_opinion_mismatch")]


def test_both_mismatches_are_reported():
    record = {**sample("A"), "zona": "merah", "opini": "kualitas_rendah"}
    assert sorted(codes([record])) == [
        ("/records/0/opini", "grade_opinion_mismatch"),
        ("/records/0/zona", "grade_zone_mismatch"),
    ]


def test_scores_are_not_checked_against_the_grade():
    # The numeric cut-offs of the grades are not confirmed.
    record = {**sample("A"), "nilai_total": 12.5}
    record["nilai_dimensi"] = dict.fromkeys(record["nilai_dimensi"], 10)
    assert codes([record]) == []


@pytest.mark.parametrize("value", [0, 100, 83, 83.1, 83.18, 0.01, 99.99])
def test_valid_scores(value):
    assert codes([{**sample(), "nilai_total": value}]) == []


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("nilai_total", 100.01, "range"),
        ("nilai_total", 101, "range"),
        ("nilai_total", -0.01, "range"),
        ("nilai_total", 83.183, "too_many_decimals"),
        ("nilai_total", 0.001, "too_many_decimals"),
        ("nilai_total", "83.18", "invalid"),
        ("nilai_total", True, "invalid"),
        ("nilai_total", None, "null"),
        ("tahun", 2021, "range"),
        ("tahun", "2024", "invalid"),
        ("tahun", 2024.0, "invalid"),
        ("predikat", "F", "one_of"),
        ("predikat", "b", "one_of"),
        ("zona", "biru", "one_of"),
        ("opini", "kualitas tinggi", "one_of"),
        ("versi_metode", "", "length"),
        ("unit", "Dinas Kesehatan ", "untrimmed"),
        ("catatan_perbaikan", "Perbaiki maklumat.", "invalid"),
        ("nilai_dimensi", [80, 80, 80, 80], "invalid_type"),
        ("peringkat", 1, "unknown_field"),
    ],
)
def test_field_rules(path, value, code):
    assert codes([{**sample(), path: value}]) == [(f"/records/0/{path}", code)]


@pytest.mark.parametrize(
    ("value", "code"),
    [(100.5, "range"), (-1, "range"), (70.125, "too_many_decimals"), ("80", "invalid")],
)
def test_dimension_scores_are_checked_in_place(value, code):
    record = sample()
    record["nilai_dimensi"]["proses"] = value
    assert codes([record]) == [("/records/0/nilai_dimensi/proses", code)]


def test_dimension_members_are_required_and_closed():
    record = sample()
    del record["nilai_dimensi"]["pengaduan"]
    record["nilai_dimensi"]["integritas"] = 80
    assert sorted(codes([record])) == [
        ("/records/0/nilai_dimensi/integritas", "unknown_field"),
        ("/records/0/nilai_dimensi/pengaduan", "required"),
    ]


def test_improvement_notes_are_checked_with_their_index():
    record = {**sample(), "catatan_perbaikan": ["Perbaiki maklumat.", " Lengkapi sarana.", ""]}
    assert codes([record]) == [
        ("/records/0/catatan_perbaikan/1", "untrimmed"),
        ("/records/0/catatan_perbaikan/2", "length"),
    ]


def test_no_personal_data():
    schema = HasilPenilaianKepatuhanV1()
    assert not any(f.metadata.get("personal") for f in schema.fields.values())
