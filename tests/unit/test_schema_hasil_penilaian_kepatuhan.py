import copy
import datetime as dt
import itertools
import random

import pytest
from faker import Faker

import schemas.hasil_penilaian_kepatuhan as hpk
from gateway.exchange.validation import RecordValidator
from gateway.messages import LANGUAGES, field_message
from schemas.diff import diff
from schemas.export import NOT_EXPRESSED, json_schema
from schemas.hasil_penilaian_kepatuhan import (
    DIMENSIONS,
    GRADED_METHOD,
    GRADES,
    OPINION_METHOD,
    OPINION_OF_GRADE,
    OPINIONS,
    ZONE_OF_GRADE,
    Band,
    HasilPenilaianKepatuhanV1,
    HasilPenilaianKepatuhanV2,
)
from schemas.registers import register, unit_codes
from schemas.samples import sample_records
from schemas.samples._common import UNITS
from schemas.samples.hasil_penilaian_kepatuhan import KOTA_BEKASI_2022_UNITS, make

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


# -- version 2.0 ------------------------------------------------------------------------------

V2_CODES = (
    "method_year_mismatch", "required_by_method", "not_in_method", "required_by_scope",
    "not_in_scope", "grade_score_mismatch", "opinion_score_mismatch", "weighted_total_mismatch",
    "qualifier_follow_up_mismatch", "follow_up_exceeds_products", "suggestion_count_required",
    "suggestion_count_mismatch",
)  # fmt: skip


def samples_v2(seed, count):
    return sample_records("hasil_penilaian_kepatuhan", count, seed=seed, today=TODAY,
                          version="2.0")  # fmt: skip


def codes_v2(records):
    validator = RecordValidator("hasil_penilaian_kepatuhan", "2.0", HasilPenilaianKepatuhanV2())
    return [(e.path, e.code) for e in validator.errors(records)]


def graded(total=83.18, grade="B", year=2022, **changes):
    """A valid unit result of the 2022-2024 method with ``total`` (every dimension scored
    ``total``, so that any weights give it) and ``grade``."""
    record = {
        "tahun": year,
        "versi_metode": GRADED_METHOD,
        "lingkup": "unit",
        "kode_unit": "3275.DISDUKCAPIL",
        "nilai_dimensi": dict.fromkeys(DIMENSIONS, total),
        "nilai_total": total,
        "predikat": grade,
        "zona": ZONE_OF_GRADE[grade],
        "opini": OPINION_OF_GRADE[grade],
        "saran_perbaikan": [
            {"dimensi": "pengaduan", "indikator": "PG.1", "nilai": 55.5,
             "catatan": "Tetapkan pengelola pengaduan."},
        ],
    }  # fmt: skip
    if year >= 2023:
        record["jumlah_saran_perbaikan"] = 1
    return {**record, **changes}


def opinion_2025(findings=3, done=3, qualifier=True, **changes):
    """A valid entity result of the 2025 Opini Ombudsman RI."""
    record = {
        "tahun": 2025,
        "versi_metode": OPINION_METHOD,
        "lingkup": "entitas",
        "unit_dinilai": ["3275.DISDUKCAPIL", "3275.DPMPTSP", "3275.DINKES"],
        "nilai_total": 65.98,
        "opini": "kualitas_sedang",
        "tanpa_maladministrasi": qualifier,
        "tindak_lanjut_produk": {"jumlah_produk": findings, "jumlah_ditindaklanjuti": done},
        "saran_perbaikan": [],
        "jumlah_saran_perbaikan": 0,
    }
    return {**record, **changes}


def without(record, *names):
    return {k: v for k, v in record.items() if k not in names}


def test_v2_samples_are_valid_deterministic_and_varied():
    records = [r for seed in (1, 2, 3) for r in samples_v2(seed, 30)]
    assert codes_v2(records) == []
    assert samples_v2(5, 10) == samples_v2(5, 10)
    assert {r["versi_metode"] for r in records} == {GRADED_METHOD, OPINION_METHOD}
    assert {r["lingkup"] for r in records} == {"entitas", "unit"}
    assert {r["predikat"] for r in records if "predikat" in r} == set(GRADES)
    assert {r["tanpa_maladministrasi"] for r in records if "tanpa_maladministrasi" in r} == {
        True, False}
    for r in records:
        assert set(r.get("unit_dinilai", [])) | {r.get("kode_unit", "3275.DINKES")} <= unit_codes()
    assert sample_records("hasil_penilaian_kepatuhan", 1) == samples_v2(0, 1)  # newest default


def test_the_first_v2_sample_is_kota_bekasi_2022():
    first = samples_v2(9, 1)[0]
    assert {k: first[k] for k in ("tahun", "versi_metode", "lingkup", "nilai_total",
                                  "predikat", "zona", "opini")} == {
        "tahun": 2022, "versi_metode": GRADED_METHOD, "lingkup": "entitas",
        "nilai_total": 83.18, "predikat": "B", "zona": "hijau", "opini": "kualitas_tinggi"}
    assert first["unit_dinilai"] == list(KOTA_BEKASI_2022_UNITS)
    names = {register("perangkat_daerah").rows[c]["singkatan"] for c in KOTA_BEKASI_2022_UNITS}
    assert names == {"Dinkes", "Disdukcapil", "Puskesmas Karang Kitri", "Disdik",
                     "Puskesmas Jatibening", "Dinsos", "DPMPTSP"}  # fmt: skip


def test_the_helpers_records_are_valid():
    assert codes_v2([graded(), graded(year=2024), opinion_2025()]) == []


@pytest.mark.parametrize("name", ["tahun", "versi_metode", "lingkup", "nilai_total", "opini"])
def test_v2_a_required_field_is_missing(name):
    assert codes_v2([without(graded(), name)]) == [(f"/records/0/{name}", "required")]
    assert codes_v2([without(opinion_2025(), name)]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize("value", ["2022.1", "penilaian_kepatuhan", "Opini 2025", ""])
def test_the_method_is_one_of_the_agreed(value):
    assert codes_v2([graded(versi_metode=value)]) == [("/records/0/versi_metode", "one_of")]


def test_the_methods_and_their_years_are_configured():
    assert set(register("metode_penilaian_kepatuhan").codes) == set(hpk.METHODS)
    assert hpk.method_years() == {GRADED_METHOD: (2022, 2024), OPINION_METHOD: (2025, None)}


@pytest.mark.parametrize(("method", "year", "ok"), [
    (GRADED_METHOD, 2022, True), (GRADED_METHOD, 2024, True), (GRADED_METHOD, 2025, False),
    (OPINION_METHOD, 2025, True), (OPINION_METHOD, 2030, True), (OPINION_METHOD, 2024, False),
    (OPINION_METHOD, 2022, False),
])  # fmt: skip
def test_the_method_applies_to_the_assessment_year(method, year, ok):
    base = graded(year=max(year, 2023)) if method == GRADED_METHOD else opinion_2025()
    record = {**base, "tahun": year}
    if year < 2023:
        record.pop("jumlah_saran_perbaikan", None)
    expected = [] if ok else [("/records/0/versi_metode", "method_year_mismatch")]
    assert codes_v2([record]) == expected


@pytest.mark.parametrize("name", ["nilai_dimensi", "predikat", "zona"])
def test_the_2022_method_requires_dimensions_grade_and_zone(name):
    assert codes_v2([without(graded(), name)]) == [(f"/records/0/{name}", "required_by_method")]


@pytest.mark.parametrize("name", ["tanpa_maladministrasi", "tindak_lanjut_produk"])
def test_the_2025_opinion_requires_the_qualifier_and_the_follow_up(name):
    assert codes_v2([without(opinion_2025(), name)]) == [
        (f"/records/0/{name}", "required_by_method")]


def test_members_a_method_does_not_have_are_refused():
    assert codes_v2([graded(tanpa_maladministrasi=True)]) == [
        ("/records/0/tanpa_maladministrasi", "not_in_method")]
    assert sorted(codes_v2([opinion_2025(predikat="C", zona="kuning")])) == [
        ("/records/0/predikat", "not_in_method"), ("/records/0/zona", "not_in_method")]
    # Optional in either method: dimension scores in 2025, the follow-up in 2022-2024.
    dims = dict.fromkeys(DIMENSIONS, 65.98)
    follow_up = {"jumlah_produk": 2, "jumlah_ditindaklanjuti": 1}
    records = [opinion_2025(nilai_dimensi=dims), graded(tindak_lanjut_produk=follow_up)]
    assert codes_v2(records) == []


def test_a_unit_result_names_its_unit_and_no_units_assessed():
    unit = graded()
    assert codes_v2([without(unit, "kode_unit")]) == [("/records/0/kode_unit", "required_by_scope")]
    assert codes_v2([{**unit, "unit_dinilai": ["3275.DINKES"]}]) == [
        ("/records/0/unit_dinilai", "not_in_scope")]


def test_an_entity_result_names_the_units_assessed_and_no_unit():
    entity = opinion_2025()
    assert codes_v2([without(entity, "unit_dinilai")]) == [
        ("/records/0/unit_dinilai", "required_by_scope")]
    assert codes_v2([{**entity, "kode_unit": "3275.DINKES"}]) == [
        ("/records/0/kode_unit", "not_in_scope")]
    assert codes_v2([{**entity, "lingkup": "kota"}]) == [("/records/0/lingkup", "one_of")]


@pytest.mark.parametrize("value", ["Dinas Kesehatan", "3275.dinkes", "3275", "3275.DINKES "])
def test_a_unit_is_a_code_of_the_units_register(value):
    assert codes_v2([graded(kode_unit=value)]) == [("/records/0/kode_unit", "unit_unknown")]


def test_the_units_assessed_are_known_codes_each_once():
    entity = opinion_2025()
    assert codes_v2([{**entity, "unit_dinilai": ["3275.DINKES", "Puskesmas"]}]) == [
        ("/records/0/unit_dinilai/1", "unit_unknown")]
    assert codes_v2([{**entity, "unit_dinilai": ["3275.DINKES", "3275.DINKES"]}]) == [
        ("/records/0/unit_dinilai", "duplicate_value")]
    assert codes_v2([{**entity, "unit_dinilai": []}]) == [("/records/0/unit_dinilai", "length")]
    schema = json_schema("hasil_penilaian_kepatuhan", "2.0")["properties"]
    assert schema["kode_unit"]["enum"] == sorted(unit_codes())
    assert schema["unit_dinilai"]["items"]["enum"] == sorted(unit_codes())


def test_the_score_bands_are_configured_contiguous_and_agree_with_the_grades():
    found = hpk.bands(GRADED_METHOD, 2022)
    assert [b.grade for b in reversed(found)] == list(GRADES)
    assert found[0].low == 0 and found[-1].high == 100
    for lower, upper in itertools.pairwise(found):
        assert round(upper.low - lower.high, 2) == 0.01  # two-decimal scores: no gap
    for band in found:
        assert band.opinion == OPINION_OF_GRADE[band.grade]
    assert hpk.bands(GRADED_METHOD, 2023) == hpk.bands(GRADED_METHOD, 2024) == found
    assert hpk.bands(OPINION_METHOD, 2025) == ()  # not known: not checked
    assert register("predikat_penilaian_kepatuhan").status == "unconfirmed"


@pytest.mark.parametrize(("total", "grade"), [
    (100, "A"), (88.0, "A"), (87.99, "B"), (83.18, "B"), (78.0, "B"), (77.99, "C"),
    (58.99, "C"), (57.0, "C"), (56.99, "D"), (40.0, "D"), (39.99, "E"), (0, "E"),
])  # fmt: skip
def test_the_grade_is_the_band_of_the_total(total, grade):
    assert codes_v2([graded(total, grade)]) == []
    for wrong in sorted(set(GRADES) - {grade}):
        record = graded(total, wrong)
        assert codes_v2([record]) == [("/records/0/predikat", "grade_score_mismatch")]


def test_58_99_was_a_c_in_2022_not_a_d():
    assert codes_v2([graded(58.99, "D")]) == [("/records/0/predikat", "grade_score_mismatch")]
    assert codes_v2([graded(58.99, "C")]) == []


def test_v2_zone_and_opinion_agree_with_the_grade():
    record = graded(83.18, "B")
    assert codes_v2([{**record, "zona": "kuning"}]) == [("/records/0/zona", "grade_zone_mismatch")]
    assert codes_v2([{**record, "opini": "kualitas_tertinggi"}]) == [
        ("/records/0/opini", "grade_opinion_mismatch")]


def test_an_opinion_without_grade_agrees_with_configured_bands(monkeypatch):
    assert codes_v2([opinion_2025(nilai_total=12.5, opini="kualitas_tertinggi")]) == []
    configured = (Band(0, 56.99, None, "kualitas_rendah"), Band(57, 100, None, "kualitas_sedang"))
    monkeypatch.setattr(hpk, "bands", lambda method, year: configured)
    assert codes_v2([opinion_2025(nilai_total=65.98, opini="kualitas_sedang")]) == []
    assert codes_v2([opinion_2025(nilai_total=53.38, opini="kualitas_sedang")]) == [
        ("/records/0/opini", "opinion_score_mismatch")]


def test_the_dimension_weights_are_configured():
    configured = hpk.weights(GRADED_METHOD)
    assert set(configured) == set(DIMENSIONS)
    assert configured["input"] == 21.85
    assert round(sum(configured.values()), 2) == 100
    assert hpk.weights(OPINION_METHOD) == {}
    assert register("bobot_dimensi_kepatuhan").status == "unconfirmed"


def test_the_total_agrees_with_the_weighted_dimension_scores():
    scores = {"input": 70.0, "proses": 90.0, "output": 80.0, "pengaduan": 85.0}
    weighted = round(hpk.weighted_total(GRADED_METHOD, scores), 2)
    mean = round(sum(scores.values()) / 4, 2)
    assert weighted != mean
    record = graded(weighted, "B", nilai_dimensi=scores)
    assert codes_v2([record]) == []
    exact = hpk.weighted_total(GRADED_METHOD, scores)  # the tolerance is 0.05 either side
    for near in (round(exact - 0.04, 2), round(exact + 0.04, 2)):
        assert codes_v2([{**record, "nilai_total": near}]) == []
    for far in (mean, round(exact + 0.07, 2), round(exact - 0.07, 2), round(exact - 1, 2)):
        assert codes_v2([{**record, "nilai_total": far}]) == [
            ("/records/0/nilai_total", "weighted_total_mismatch")]


def test_the_total_is_not_checked_where_no_weights_are_configured():
    dims = {"input": 10.0, "proses": 90.0, "output": 20.0, "pengaduan": 30.0}
    assert codes_v2([opinion_2025(nilai_dimensi=dims)]) == []


@pytest.mark.parametrize(("findings", "done", "qualifier", "ok"), [
    (3, 3, True, True), (0, 0, True, True), (3, 2, False, True), (5, 0, False, True),
    (3, 2, True, False), (5, 0, True, False), (3, 3, False, False), (0, 0, False, False),
])  # fmt: skip
def test_tanpa_maladministrasi_exactly_when_every_finding_was_followed_up(
    findings, done, qualifier, ok
):
    expected = [] if ok else [("/records/0/tanpa_maladministrasi",
                               "qualifier_follow_up_mismatch")]  # fmt: skip
    assert codes_v2([opinion_2025(findings, done, qualifier)]) == expected


def test_no_more_findings_followed_up_than_there_are():
    assert codes_v2([opinion_2025(2, 3, True)]) == [
        ("/records/0/tindak_lanjut_produk/jumlah_ditindaklanjuti", "follow_up_exceeds_products")]


@pytest.mark.parametrize(("value", "code"), [
    (1, "invalid"), ("true", "invalid"), (None, "null"), ("ya", "invalid")])
def test_the_qualifier_is_a_json_boolean(value, code):
    assert codes_v2([opinion_2025(tanpa_maladministrasi=value)]) == [
        ("/records/0/tanpa_maladministrasi", code)]


@pytest.mark.parametrize(("change", "path", "code"), [
    ({"dimensi": "integritas"}, "dimensi", "one_of"),
    ({"indikator": ""}, "indikator", "length"),
    ({"indikator": "x" * 201}, "indikator", "length"),
    ({"nilai": 100.5}, "nilai", "range"),
    ({"nilai": -1}, "nilai", "range"),
    ({"nilai": 2.125}, "nilai", "too_many_decimals"),
    ({"nilai": "2"}, "nilai", "invalid"),
    ({"catatan": " Perbaiki."}, "catatan", "untrimmed"),
    ({"catatan": None}, "catatan", "null"),
    ({"peringkat": 1}, "peringkat", "unknown_field"),
])  # fmt: skip
def test_an_improvement_suggestion_is_structured_and_bounded(change, path, code):
    record = graded()
    record["saran_perbaikan"] = [{**record["saran_perbaikan"][0], **change}]
    assert codes_v2([record]) == [(f"/records/0/saran_perbaikan/0/{path}", code)]


@pytest.mark.parametrize("name", ["dimensi", "indikator", "nilai", "catatan"])
def test_each_member_of_a_suggestion_is_required(name):
    record = graded()
    record["saran_perbaikan"] = [without(record["saran_perbaikan"][0], name)]
    assert codes_v2([record]) == [(f"/records/0/saran_perbaikan/0/{name}", "required")]


@pytest.mark.parametrize("year", [2023, 2024])
def test_suggestions_are_counted_from_2023(year):
    assert codes_v2([without(graded(year=year), "jumlah_saran_perbaikan")]) == [
        ("/records/0/jumlah_saran_perbaikan", "suggestion_count_required")]
    assert codes_v2([without(opinion_2025(), "jumlah_saran_perbaikan")]) == [
        ("/records/0/jumlah_saran_perbaikan", "suggestion_count_required")]
    assert codes_v2([graded(year=2022)]) == []  # not counted in 2022
    assert codes_v2([graded(year=2022, jumlah_saran_perbaikan=1)]) == []


@pytest.mark.parametrize("count", [0, 2, 200])
def test_the_count_is_the_number_of_suggestions_listed(count):
    assert codes_v2([graded(year=2023, jumlah_saran_perbaikan=count)]) == [
        ("/records/0/jumlah_saran_perbaikan", "suggestion_count_mismatch")]
    assert codes_v2([graded(year=2023, jumlah_saran_perbaikan=-1)]) == [
        ("/records/0/jumlah_saran_perbaikan", "range")]


def test_several_rules_are_reported_together():
    record = graded(58.99, "D", year=2024, zona="kuning", opini="kualitas_tinggi",
                    tanpa_maladministrasi=False, jumlah_saran_perbaikan=3)  # fmt: skip
    assert sorted(codes_v2([record])) == [
        ("/records/0/jumlah_saran_perbaikan", "suggestion_count_mismatch"),
        ("/records/0/opini", "grade_opinion_mismatch"),
        ("/records/0/predikat", "grade_score_mismatch"),
        ("/records/0/tanpa_maladministrasi", "not_in_method"),
        ("/records/0/zona", "grade_zone_mismatch"),
    ]
    assert ("/records/0/versi_metode", "method_year_mismatch") in codes_v2(
        [{**record, "tahun": 2025}])


def test_every_new_code_has_messages_and_is_named_where_json_schema_is_silent():
    for code in V2_CODES:
        assert code in NOT_EXPRESSED, code
        for language in LANGUAGES:
            assert field_message(code, language) != code, (code, language)
    assert tuple(OPINION_OF_GRADE.values()) == OPINIONS


def test_1_0_to_2_0_is_breaking_and_says_why():
    changes = {(c.path, c.description): c.breaking for c in
               diff("hasil_penilaian_kepatuhan", "1.0", "2.0")}  # fmt: skip
    assert changes[("/unit", "field removed")] is True
    assert changes[("/lingkup", "new required field")] is True
    assert changes[("/versi_metode", "now limited to a closed vocabulary")] is True
    assert changes[("/kode_unit", "new optional field")] is False


def test_v2_has_no_personal_data():
    schema = HasilPenilaianKepatuhanV2()
    assert not any(f.metadata.get("personal") for f in schema.fields.values())
