import copy
import datetime as dt
import random

import pytest
from faker import Faker

from gateway.exchange.validation import RecordValidator
from schemas import registry, vocab
from schemas.penilaian_tindak_lanjut import PenilaianTindakLanjutV1
from schemas.registers import unit_codes
from schemas.samples.penilaian_tindak_lanjut import make

TODAY = dt.date(2026, 11, 28)


def samples(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make(fake, rng, i, TODAY) for i in range(count)]


def codes(records):
    validator = RecordValidator("penilaian_tindak_lanjut", "1.0", PenilaianTindakLanjutV1())
    return [(e.path, e.code) for e in validator.errors(records)]


def sample(verdict="diterima", **having):
    """A deep copy of a valid sample with ``verdict`` (and the members in ``having``)."""
    record = next(
        r for r in samples(17, 80)
        if r["penilaian"] == verdict and all(k in r for k in having)
    )  # fmt: skip
    return copy.deepcopy(record)


def day(text, days=0):
    return (dt.date.fromisoformat(text) + dt.timedelta(days)).isoformat()


def test_the_dataset_is_registered():
    assert registry.versions("penilaian_tindak_lanjut") == ["1.0"]
    assert registry.schema_class("penilaian_tindak_lanjut", "1.0") is PenilaianTindakLanjutV1


def test_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples(seed, 20)]
    assert codes(records) == []


def test_samples_are_deterministic_realistic_and_cover_every_verdict():
    assert samples(5, 10) == samples(5, 10)
    records = samples(11, 80)
    assert {r["penilaian"] for r in records} == set(vocab.PENILAIAN_TINDAK_LANJUT)
    assert {r["jenis_rujukan"] for r in records} == {"tindakan_korektif", "rekomendasi"}
    for r in records:
        assert r["unit_penanggung_jawab"] in unit_codes()
        assert r["tanggal_penilaian"] <= TODAY.isoformat()
        assert r["tanggal_laporan_tindak_lanjut"] <= r["tanggal_penilaian"]


@pytest.mark.parametrize(
    "name", ["nomor_laporan", "jenis_rujukan", "nomor_rujukan", "id_tindakan",
             "tanggal_laporan_tindak_lanjut", "unit_penanggung_jawab", "tanggal_penilaian",
             "penilaian"],
)  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes([record]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"penilaian": "setuju"}, ("penilaian", "one_of")),
        ({"jenis_rujukan": "lahp"}, ("jenis_rujukan", "one_of")),
        ({"id_tindakan": "TK 01"}, ("id_tindakan", "action_id_format")),
        ({"unit_penanggung_jawab": "Dinas Sosial"}, ("unit_penanggung_jawab", "unit_unknown")),
        ({"tanggal_penilaian": "28/11/2026"}, ("tanggal_penilaian", "invalid")),
        ({"nomor_rujukan": " LHP/1"}, ("nomor_rujukan", "untrimmed")),
        ({"urutan_tindakan": 0}, ("urutan_tindakan", "unknown_field")),
    ],
)
def test_field_rules(change, expected):
    name, code = expected
    assert codes([{**sample(), **change}]) == [(f"/records/0/{name}", code)]


def test_a_verdict_is_not_dated_before_the_report_it_assesses():
    record = sample()
    record["tanggal_penilaian"] = record["tanggal_laporan_tindak_lanjut"]
    assert codes([record]) == []  # the same day
    record["tanggal_penilaian"] = day(record["tanggal_laporan_tindak_lanjut"], -1)
    assert codes([record]) == [("/records/0/tanggal_penilaian", "assessment_before_report")]


@pytest.mark.parametrize("verdict", ["diterima_sebagian", "ditolak", "perlu_klarifikasi"])
def test_a_verdict_other_than_accepted_gives_its_reasons(verdict):
    record = sample(verdict)
    del record["alasan"]
    assert codes([record]) == [("/records/0/alasan", "assessment_reason_required")]
    assert codes([{**record, "alasan": None}]) == [
        ("/records/0/alasan", "assessment_reason_required")]


def test_an_accepted_follow_up_needs_no_reason():
    record = sample("diterima")
    record.pop("alasan", None)
    assert codes([record]) == []


def test_a_request_for_clarification_gives_a_deadline():
    record = sample("perlu_klarifikasi")
    del record["batas_waktu_tanggapan"]
    assert codes([record]) == [
        ("/records/0/batas_waktu_tanggapan", "response_deadline_required")]


@pytest.mark.parametrize("verdict", ["diterima_sebagian", "ditolak", "perlu_klarifikasi"])
@pytest.mark.parametrize(("days", "valid"), [(-1, False), (0, False), (1, True)])
def test_the_deadline_falls_after_the_verdict(verdict, days, valid):
    record = sample(verdict)
    record["batas_waktu_tanggapan"] = day(record["tanggal_penilaian"], days)
    expected = [] if valid else [
        ("/records/0/batas_waktu_tanggapan", "deadline_not_after_assessment")]
    assert codes([record]) == expected


@pytest.mark.parametrize("verdict", ["diterima_sebagian", "ditolak"])
def test_a_deadline_is_optional_unless_clarification_is_asked(verdict):
    record = sample(verdict)
    record.pop("batas_waktu_tanggapan", None)
    assert codes([record]) == []


@pytest.mark.parametrize(("text", "code"), [
    ("Pelapor dengan NIK 3275014507900001 belum dilayani.", "text_contains_nik"),
    ("Konfirmasi kepada pelapor di 0812-3456-7890.", "text_contains_phone"),
    ("Konfirmasi kepada pelapor di budi@example.com.", "text_contains_email"),
])  # fmt: skip
def test_the_reasons_hold_no_nik_phone_or_email(text, code):
    record = sample("ditolak")
    record["alasan"] = text
    assert codes([record]) == [("/records/0/alasan", code)]


def test_one_record_may_break_several_rules():
    record = sample("perlu_klarifikasi")
    del record["alasan"]
    del record["batas_waktu_tanggapan"]
    record["tanggal_penilaian"] = day(record["tanggal_laporan_tindak_lanjut"], -3)
    assert sorted(codes([record])) == [
        ("/records/0/alasan", "assessment_reason_required"),
        ("/records/0/batas_waktu_tanggapan", "response_deadline_required"),
        ("/records/0/tanggal_penilaian", "assessment_before_report"),
    ]


def test_personal_data_is_marked():
    fields = PenilaianTindakLanjutV1().fields
    assert fields["alasan"].metadata["personal"] is True
    for name in ("nomor_rujukan", "id_tindakan", "penilaian", "unit_penanggung_jawab"):
        assert not fields[name].metadata.get("personal"), name
