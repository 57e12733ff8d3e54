import datetime as dt

import pytest

from gateway.validation import validator_for
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in
            validator_for("hasil_penilaian_kepatuhan", "1.0").errors(records)]


def sample():
    return sample_records("hasil_penilaian_kepatuhan", 1, seed=4, today=dt.date(2026, 11, 28))[0]


@pytest.mark.parametrize(
    ("grade", "zone", "opinion"),
    [("A", "hijau", "kualitas_tertinggi"), ("B", "hijau", "kualitas_tinggi"),
     ("C", "kuning", "kualitas_sedang"), ("D", "merah", "kualitas_rendah"),
     ("E", "merah", "kualitas_terendah")],
)
def test_grade_zone_and_opinion_agree(grade, zone, opinion):
    record = dict(sample(), predikat=grade, zona=zone, opini=opinion)
    assert codes([record]) == []
    wrong_zone = "kuning" if zone != "kuning" else "hijau"
    assert codes([dict(record, zona=wrong_zone)]) == [("/records/0/zona", "grade_zone_mismatch")]
    wrong = "kualitas_sedang" if opinion != "kualitas_sedang" else "kualitas_tinggi"
    assert codes([dict(record, opini=wrong)]) == [("/records/0/opini", "grade_opinion_mismatch")]


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        ("nilai_total", 100.5, "range"),
        ("nilai_total", -1, "range"),
        ("nilai_total", 83.183, "too_many_decimals"),
        ("nilai_total", "83.18", "invalid"),
        ("nilai_total", True, "invalid"),
        ("tahun", 2021, "range"),
        ("tahun", "2024", "invalid"),
        ("predikat", "F", "one_of"),
    ],
)
def test_field_rules(path, value, code):
    assert codes([dict(sample(), **{path: value})]) == [(f"/records/0/{path}", code)]


def test_dimension_scores_are_checked_in_place():
    record = sample()
    record["nilai_dimensi"] = dict(record["nilai_dimensi"], proses=101)
    del record["nilai_dimensi"]["output"]
    assert sorted(codes([record])) == [
        ("/records/0/nilai_dimensi/output", "required"),
        ("/records/0/nilai_dimensi/proses", "range"),
    ]
