import copy
import datetime as dt
import random

import pytest
from faker import Faker

from gateway.exchange.validation import RecordValidator
from schemas.monitoring_tindak_lanjut import STATUS_TINDAK_LANJUT, MonitoringTindakLanjutV1
from schemas.samples._common import UNITS
from schemas.samples.monitoring_tindak_lanjut import make

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
