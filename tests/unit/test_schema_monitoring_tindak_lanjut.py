import copy
import datetime as dt
import random
import re

import pytest
from faker import Faker

from gateway.exchange.validation import RecordValidator
from schemas.diff import diff
from schemas.monitoring_tindak_lanjut import (
    STATUS_TINDAK_LANJUT,
    MonitoringTindakLanjutV1,
    MonitoringTindakLanjutV2,
)
from schemas.registers import unit_codes
from schemas.samples._common import UNITS
from schemas.samples.monitoring_tindak_lanjut import make, make_v2

TODAY = dt.date(2026, 11, 28)
SHA = "0123456789abcdef" * 4


def samples(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make(fake, rng, i, TODAY) for i in range(count)]


def codes(records):
    validator = RecordValidator("monitoring_tindak_lanjut", "1.0", MonitoringTindakLanjutV1())
    return [(e.path, e.code) for e in validator.errors(records)]


def sample(status="dilaksanakan", kind="tindakan_korektif", min_evidence=0):
    """A deep copy of a valid sample with ``status`` and ``kind``."""
    record = next(
        r for r in samples(13, 60)
        if r["status"] == status and r["jenis_rujukan"] == kind
        and len(r.get("bukti", [])) >= min_evidence
    )  # fmt: skip
    return copy.deepcopy(record)


def test_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples(seed, 20)]
    assert len(records) == 60
    assert codes(records) == []


def test_samples_are_deterministic_realistic_and_cover_every_status():
    assert samples(5, 10) == samples(5, 10)
    records = samples(11, 50)
    assert {r["status"] for r in records} == set(STATUS_TINDAK_LANJUT)
    assert {r["jenis_rujukan"] for r in records} == {"tindakan_korektif", "rekomendasi"}
    assert {r["unit_penanggung_jawab"] for r in records} <= set(UNITS)


@pytest.mark.parametrize(
    "name", ["jenis_rujukan", "nomor_rujukan", "tanggal_laporan", "status", "uraian",
             "unit_penanggung_jawab"],
)  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes([record]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"status": "selesai"}, ("status", "one_of")),
        ({"jenis_rujukan": "lahp"}, ("jenis_rujukan", "one_of")),
        ({"urutan_tindakan": -1}, ("urutan_tindakan", "range")),
        ({"urutan_tindakan": 100}, ("urutan_tindakan", "range")),
        ({"urutan_tindakan": "1"}, ("urutan_tindakan", "invalid")),
        ({"urutan_tindakan": 1.0}, ("urutan_tindakan", "invalid")),
        ({"nomor_rujukan": ""}, ("nomor_rujukan", "length")),
        ({"nomor_rujukan": "9" * 101}, ("nomor_rujukan", "length")),
        ({"nomor_laporan": " 0123/LM/XI/2026/JKT"}, ("nomor_laporan", "untrimmed")),
        ({"tanggal_laporan": "2026/11/28"}, ("tanggal_laporan", "invalid")),
        ({"bukti": {"nama_berkas": "a.pdf"}}, ("bukti", "invalid")),
        ({"keterangan": "x"}, ("keterangan", "unknown_field")),
    ],
)
def test_field_rules(change, expected):
    name, code = expected
    assert codes([{**sample(), **change}]) == [(f"/records/0/{name}", code)]


@pytest.mark.parametrize("status", ["dilaksanakan_sebagian", "tidak_dilaksanakan"])
def test_a_reason_is_required_unless_carried_out(status):
    record = sample(status)
    del record["alasan"]
    assert codes([record]) == [("/records/0/alasan", "reason_required")]
    assert codes([{**record, "alasan": None}]) == [("/records/0/alasan", "reason_required")]


def test_a_carried_out_action_needs_no_reason():
    record = sample("dilaksanakan")
    assert "alasan" not in record
    assert codes([record]) == []


@pytest.mark.parametrize("status", ["dilaksanakan", "dilaksanakan_sebagian"])
def test_evidence_is_required_when_carried_out_at_least_partly(status):
    record = sample(status)
    assert codes([{**record, "bukti": []}]) == [("/records/0/bukti", "evidence_required")]
    del record["bukti"]
    assert codes([record]) == [("/records/0/bukti", "evidence_required")]


def test_an_action_not_carried_out_needs_no_evidence():
    record = sample("tidak_dilaksanakan")
    assert "bukti" not in record
    assert codes([record]) == []
    assert codes([{**record, "bukti": [{"nama_berkas": "surat.pdf", "sha256": SHA}]}]) == []


def test_one_record_may_break_several_rules():
    record = sample("dilaksanakan_sebagian")
    del record["alasan"]
    record["bukti"] = []
    assert sorted(codes([record])) == [
        ("/records/0/alasan", "reason_required"),
        ("/records/0/bukti", "evidence_required"),
    ]


def test_a_corrective_action_names_its_index():
    record = sample(kind="tindakan_korektif")
    del record["urutan_tindakan"]
    assert codes([record]) == [("/records/0/urutan_tindakan", "action_index_required")]


def test_a_recommendation_action_is_named_by_index_or_text():
    record = sample(kind="rekomendasi")
    record.pop("urutan_tindakan", None)
    assert codes([record]) == []  # by its text
    assert codes([{**record, "urutan_tindakan": 0, "tindakan": None}]) == []  # by its index
    del record["tindakan"]
    assert codes([record]) == [("/records/0/urutan_tindakan", "action_reference_required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sha256": SHA.upper()}, ("sha256", "sha256_format")),
        ({"sha256": SHA[:-1]}, ("sha256", "sha256_format")),
        ({"sha256": SHA + "\n"}, ("sha256", "sha256_format")),
        ({"nama_berkas": " bukti.pdf"}, ("nama_berkas", "untrimmed")),
        ({"ukuran": 1024}, ("ukuran", "unknown_field")),
    ],
)
def test_evidence_fields_are_checked_with_their_index(change, expected):
    record = sample(min_evidence=2)
    record["bukti"][1].update(change)
    name, code = expected
    assert codes([record]) == [(f"/records/0/bukti/1/{name}", code)]


def test_a_missing_evidence_field_is_reported_in_place():
    record = sample(min_evidence=2)
    del record["bukti"][1]["sha256"]
    assert codes([record]) == [("/records/0/bukti/1/sha256", "required")]


def test_personal_data_is_marked():
    fields = MonitoringTindakLanjutV1().fields
    for name in ("tindakan", "uraian", "alasan"):
        assert fields[name].metadata["personal"] is True
    for name in ("nomor_rujukan", "status", "unit_penanggung_jawab"):
        assert not fields[name].metadata.get("personal")


# -- version 2.0 ------------------------------------------------------------------------------

def samples_v2(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make_v2(fake, rng, i, TODAY) for i in range(count)]


def codes_v2(records):
    validator = RecordValidator("monitoring_tindak_lanjut", "2.0", MonitoringTindakLanjutV2())
    return [(e.path, e.code) for e in validator.errors(records)]


def sample_v2(status="dilaksanakan", kind="tindakan_korektif", min_evidence=0):
    """A deep copy of a valid 2.0 sample with ``status`` and ``kind``."""
    record = next(
        r for r in samples_v2(13, 80)
        if r["status"] == status and r["jenis_rujukan"] == kind
        and len(r.get("bukti", [])) >= min_evidence
    )  # fmt: skip
    return copy.deepcopy(record)


def day(text, days=0):
    return (dt.date.fromisoformat(text) + dt.timedelta(days)).isoformat()


def test_v2_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples_v2(seed, 20)]
    assert codes_v2(records) == []


def test_v2_samples_are_deterministic_realistic_and_cover_every_case():
    assert samples_v2(5, 10) == samples_v2(5, 10)
    records = samples_v2(11, 60)
    assert {r["status"] for r in records} == set(STATUS_TINDAK_LANJUT)
    assert {r["jenis_rujukan"] for r in records} == {"tindakan_korektif", "rekomendasi"}
    assert {r["terlambat"] for r in records} == {True, False}
    for r in records:
        assert r["unit_penanggung_jawab"] in unit_codes()
        assert "urutan_tindakan" not in r
        if r["jenis_rujukan"] == "tindakan_korektif":
            # Each refers to an action of a sample LHP 2.0, by its identifier.
            assert re.fullmatch(r"TK-[0-9]{2}", r["id_tindakan"])
            assert r["nomor_rujukan"].startswith("LHP/")
        else:
            assert r["disampaikan_oleh"] == "wali_kota"
            assert "batas_waktu" not in r


@pytest.mark.parametrize(
    "name", ["jenis_rujukan", "nomor_laporan", "nomor_rujukan", "id_tindakan",
             "unit_penanggung_jawab", "tanggal_diterima", "tanggal_laporan", "terlambat",
             "disampaikan_oleh", "status", "uraian"],
)  # fmt: skip
def test_v2_a_required_field_is_missing(name):
    record = sample_v2()
    del record[name]
    assert codes_v2([record]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"urutan_tindakan": 0}, ("urutan_tindakan", "unknown_field")),
        ({"unit_penanggung_jawab": "Dinas Sosial"}, ("unit_penanggung_jawab", "unit_unknown")),
        ({"id_tindakan": "TK 01"}, ("id_tindakan", "action_id_format")),
        ({"id_tindakan": 1}, ("id_tindakan", "invalid")),
        ({"terlambat": "tidak"}, ("terlambat", "invalid")),
        ({"terlambat": 0}, ("terlambat", "invalid")),
        ({"disampaikan_oleh": "sekretaris_daerah"}, ("disampaikan_oleh", "one_of")),
        ({"tanggal_diterima": "2026-13-01"}, ("tanggal_diterima", "invalid")),
        ({"nomor_laporan": None}, ("nomor_laporan", "null")),
        ({"status": "selesai"}, ("status", "one_of")),
    ],
)
def test_v2_field_rules(change, expected):
    name, code = expected
    assert codes_v2([{**sample_v2(), **change}]) == [(f"/records/0/{name}", code)]


@pytest.mark.parametrize("status", ["dilaksanakan_sebagian", "tidak_dilaksanakan"])
def test_v2_a_reason_is_required_unless_carried_out(status):
    record = sample_v2(status)
    del record["alasan"]
    assert codes_v2([record]) == [("/records/0/alasan", "reason_required")]
    assert codes_v2([{**record, "alasan": None}]) == [("/records/0/alasan", "reason_required")]


@pytest.mark.parametrize("status", ["dilaksanakan", "dilaksanakan_sebagian"])
def test_v2_evidence_is_required_when_carried_out_at_least_partly(status):
    record = sample_v2(status)
    assert codes_v2([{**record, "bukti": []}]) == [("/records/0/bukti", "evidence_required")]
    record = sample_v2("tidak_dilaksanakan")
    assert "bukti" not in record and codes_v2([record]) == []


def test_v2_evidence_is_checked_with_its_index():
    record = sample_v2(min_evidence=2)
    record["bukti"][1]["sha256"] = SHA.upper()
    assert codes_v2([record]) == [("/records/0/bukti/1/sha256", "sha256_format")]


def test_v2_a_corrective_action_carries_its_deadline():
    record = sample_v2(kind="tindakan_korektif")
    del record["batas_waktu"]
    assert codes_v2([record]) == [("/records/0/batas_waktu", "deadline_required")]
    assert codes_v2([{**record, "batas_waktu": None}]) == [
        ("/records/0/batas_waktu", "deadline_required")]


def test_v2_a_recommendation_carries_no_deadline_of_its_own():
    record = sample_v2(kind="rekomendasi")
    record["batas_waktu"] = day(record["tanggal_diterima"], 30)
    assert codes_v2([record]) == [
        ("/records/0/batas_waktu", "deadline_without_corrective_action")]


def test_v2_a_recommendation_is_reported_by_the_wali_kota():
    record = sample_v2(kind="rekomendasi")
    record["disampaikan_oleh"] = "kepala_perangkat_daerah"
    assert codes_v2([record]) == [("/records/0/disampaikan_oleh", "superior_report_required")]


@pytest.mark.parametrize("who", ["wali_kota", "kepala_perangkat_daerah"])
def test_v2_a_corrective_action_is_reported_by_the_unit_or_the_wali_kota(who):
    assert codes_v2([{**sample_v2(kind="tindakan_korektif"), "disampaikan_oleh": who}]) == []


@pytest.mark.parametrize("kind", ["tindakan_korektif", "rekomendasi"])
def test_v2_a_report_is_not_dated_before_receipt(kind):
    record = sample_v2(kind=kind)
    record.update(tanggal_diterima=record["tanggal_laporan"], terlambat=False)
    if kind == "tindakan_korektif":
        record["batas_waktu"] = day(record["tanggal_laporan"], 10)
    assert codes_v2([record]) == []  # the same day
    record["tanggal_diterima"] = day(record["tanggal_laporan"], 1)
    assert codes_v2([record]) == [("/records/0/tanggal_laporan", "report_before_receipt")]


@pytest.mark.parametrize(("days", "late"), [(0, False), (59, False), (60, False), (61, True),
                                            (200, True)])  # fmt: skip
def test_v2_a_recommendation_report_is_late_after_60_calendar_days(days, late):
    record = sample_v2(kind="rekomendasi")
    record["tanggal_laporan"] = day(record["tanggal_diterima"], days)
    assert codes_v2([{**record, "terlambat": late}]) == []
    assert codes_v2([{**record, "terlambat": not late}]) == [
        ("/records/0/terlambat", "late_flag_mismatch")]


@pytest.mark.parametrize(("days", "late"), [(-5, False), (0, False), (1, True)])
def test_v2_a_corrective_action_report_is_late_after_its_deadline(days, late):
    record = sample_v2(kind="tindakan_korektif")
    record["tanggal_diterima"] = day(record["batas_waktu"], -20)
    record["tanggal_laporan"] = day(record["batas_waktu"], days)
    assert codes_v2([{**record, "terlambat": late}]) == []
    assert codes_v2([{**record, "terlambat": not late}]) == [
        ("/records/0/terlambat", "late_flag_mismatch")]


@pytest.mark.parametrize("name", ["uraian", "alasan", "tindakan"])
@pytest.mark.parametrize(("text", "code"), [
    ("Pelapor (NIK 3275014507900001) telah dilayani.", "text_contains_nik"),
    ("Pelapor dihubungi melalui 0812-3456-7890.", "text_contains_phone"),
    ("Pelapor dihubungi melalui +62 812 3456 7890.", "text_contains_phone"),
    ("Jawaban dikirim ke pelapor@gmail.com.", "text_contains_email"),
])  # fmt: skip
def test_v2_free_text_holds_no_nik_phone_or_email(name, text, code):
    record = sample_v2("dilaksanakan_sebagian")
    record[name] = text
    assert codes_v2([record]) == [(f"/records/0/{name}", code)]


def test_v2_personal_data_is_marked():
    fields = MonitoringTindakLanjutV2().fields
    for name in ("tindakan", "uraian", "alasan"):
        assert fields[name].metadata["personal"] is True
    for name in ("nomor_rujukan", "id_tindakan", "status", "unit_penanggung_jawab",
                 "terlambat", "disampaikan_oleh"):  # fmt: skip
        assert not fields[name].metadata.get("personal"), name


def test_v2_is_a_breaking_change_and_says_why():
    changes = {(c.path, c.description): c.breaking
               for c in diff("monitoring_tindak_lanjut", "1.0", "2.0")}  # fmt: skip
    assert changes[("/urutan_tindakan", "field removed")] is True
    assert changes[("/id_tindakan", "new required field")] is True
    assert changes[("/nomor_laporan", "now required")] is True
    assert changes[("/tanggal_diterima", "new required field")] is True
    assert changes[("/terlambat", "new required field")] is True
    assert changes[("/unit_penanggung_jawab", "now limited to a closed vocabulary")] is True
