"""tanggapan_klarifikasi 3.0: one test per rule, on sample records changed in one place."""

import copy
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from faker.providers.job import Provider as Jobs

from gateway.exchange.validation import validator_for
from gateway.messages import LANGUAGES, field_message
from schemas import vocab
from schemas.diff import diff
from schemas.export import NOT_EXPRESSED, json_schema
from schemas.registers import unit_codes
from schemas.samples import sample_records
from schemas.samples.tanggapan_klarifikasi import JABATAN

DATASET, VERSION = "tanggapan_klarifikasi", "3.0"
TODAY = dt.date(2026, 11, 28)


def records(seed: int = 7, count: int = 60) -> list[dict[str, Any]]:
    return sample_records(DATASET, count, seed=seed, today=TODAY, version=VERSION)


def codes(*batch: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in validator_for(DATASET, VERSION).errors(list(batch))]


def sample(test: Callable[[dict[str, Any]], bool] = lambda r: True) -> dict[str, Any]:
    return copy.deepcopy(next(r for r in records() if test(r)))


def finished(r: dict[str, Any]) -> bool:
    return r["status"] == "selesai"


def test_samples_from_several_seeds_are_valid_and_deterministic():
    for seed in (1, 2, 3, 4):
        assert codes(*records(seed, 50)) == []
    assert records(5, 10) == records(5, 10)
    assert sample_records(DATASET, 3, seed=1) == sample_records(DATASET, 3, seed=1,
                                                                version=VERSION)  # newest


def test_samples_name_registered_units_and_indonesian_job_titles():
    titles = {t for group in JABATAN.values() for t in group}
    found = records(11, 100)
    for r in found:
        assert r["unit_penanggung_jawab"] in unit_codes()
        title = r["pejabat_penanggung_jawab"]["jabatan"]
        assert title.removeprefix("Plt. ") in titles
        assert title not in Jobs.jobs
    assert any(r["pejabat_penanggung_jawab"]["jabatan"].startswith("Plt. ") for r in found)
    assert {r["status"] for r in found} >= {"selesai", "dalam_proses"}


def test_samples_are_valid_under_the_older_versions_too():
    found = records(12, 50)
    for version in ("1.0", "2.0"):
        assert validator_for(DATASET, version).errors(found) == []


@pytest.mark.parametrize("name", [
    "nomor_laporan", "nomor_surat_tanggapan", "tanggal_tanggapan", "status", "penjelasan",
    "unit_penanggung_jawab", "pejabat_penanggung_jawab",
])  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes(record) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize("unit", ["Dinas Kesehatan", "Inspektorat", "3275.dinkes", "3171.DINKES"])
def test_the_responsible_unit_is_a_code_of_the_register(unit):
    assert codes(dict(sample(), unit_penanggung_jawab=unit)) == [
        ("/records/0/unit_penanggung_jawab", "unit_unknown")]


def test_every_unit_of_the_register_is_accepted():
    record = sample()
    for unit in sorted(unit_codes()):
        assert codes(dict(record, unit_penanggung_jawab=unit)) == [], unit


@pytest.mark.parametrize("title", [
    "Kepala Dinas", "Sekretaris Dinas", "Kepala Bidang Pelayanan", "Kepala Seksi Pengaduan",
    "Kepala Sub Bagian Umum dan Kepegawaian", "Kepala UPTD Puskesmas Karang Kitri", "Camat",
    "Lurah Jatibening", "Inspektur Pembantu Wilayah II", "Direktur RSUD", "Sekretaris Daerah",
    "Plt. Kepala Dinas", "Plh Sekretaris Dinas", "Pj. Wali Kota Bekasi", "KEPALA BADAN",
    "Analis Kebijakan Ahli Madya", "Pranata Komputer Ahli Muda", "Kabid Pelayanan",
])  # fmt: skip
def test_an_indonesian_job_title_is_accepted(title):
    record = sample()
    record["pejabat_penanggung_jawab"]["jabatan"] = title
    assert codes(record) == []


@pytest.mark.parametrize("title", [
    "Head of Department", "Secretary", "Chief Executive Officer", "Civil Service administrator",
    "Administrator, local government", "Engineer, civil (contracting)", "Public affairs consultant",
    "Plt. Director", "123", "-",
    *Jobs.jobs[::40],
])  # fmt: skip
def test_an_english_job_title_is_refused(title):
    record = sample()
    record["pejabat_penanggung_jawab"]["jabatan"] = title
    assert codes(record) == [("/records/0/pejabat_penanggung_jawab/jabatan",
                              "job_title_not_indonesian")]


def test_the_job_title_keeps_the_rules_of_a_text():
    record = sample()
    record["pejabat_penanggung_jawab"]["jabatan"] = " Kepala Dinas"
    assert codes(record) == [("/records/0/pejabat_penanggung_jawab/jabatan", "untrimmed")]
    record["pejabat_penanggung_jawab"]["jabatan"] = "Kepala " + "x" * 200
    assert codes(record) == [("/records/0/pejabat_penanggung_jawab/jabatan", "length")]


def test_a_finished_answer_lists_its_evidence():  # kept from 1.0
    record = sample(finished)
    record["bukti"] = []
    assert codes(record) == [("/records/0/bukti", "evidence_required")]


def test_an_evidence_digest_is_64_lower_case_hex_digits():  # kept from 1.0
    record = sample(finished)
    record["bukti"][0]["sha256"] = "A" * 64
    assert codes(record) == [("/records/0/bukti/0/sha256", "sha256_format")]


def test_a_completion_date_only_when_finished():  # kept from 2.0
    record = sample(lambda r: r["status"] == "dalam_proses")
    record["tanggal_selesai"] = record["tanggal_tanggapan"]
    assert codes(record) == [("/records/0/tanggal_selesai",
                              "completion_date_without_completion")]


def test_the_completion_date_is_on_or_before_the_answer():
    record = sample(finished)
    record["tanggal_selesai"] = record["tanggal_tanggapan"]
    assert codes(record) == []
    answered = dt.date.fromisoformat(record["tanggal_tanggapan"])
    record["tanggal_selesai"] = (answered + dt.timedelta(days=1)).isoformat()
    assert codes(record) == [("/records/0/tanggal_selesai", "completion_after_answer")]
    del record["tanggal_selesai"]
    assert codes(record) == []


def test_new_codes_have_messages_and_are_named_where_json_schema_cannot_state_them():
    for code in ("job_title_not_indonesian", "completion_after_answer"):
        for language in LANGUAGES:
            assert field_message(code, language) != code
        assert code in NOT_EXPRESSED
    document = json_schema(DATASET, VERSION)["properties"]
    assert sorted(document["unit_penanggung_jawab"]["enum"]) == sorted(unit_codes())
    assert document["pejabat_penanggung_jawab"]["properties"]["nama"]["x-personal"] is True


def test_the_diff_from_2_0_is_breaking_for_the_unit():
    changes = diff(DATASET, "2.0", VERSION)
    assert [(c.path, c.description) for c in changes if c.breaking] == [
        ("/unit_penanggung_jawab", "now limited to a closed vocabulary")]


def test_every_title_word_is_one_lower_case_word():
    assert all(re.fullmatch(r"[a-z]+", word) for word in vocab.AWALAN_JABATAN)
    assert len(set(vocab.AWALAN_JABATAN)) == len(vocab.AWALAN_JABATAN)
