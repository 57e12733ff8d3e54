"""permintaan_klarifikasi 2.0: one test per rule, on sample records changed in one place."""

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from gateway.exchange.validation import validator_for
from gateway.messages import LANGUAGES, field_message
from schemas import vocab
from schemas._redacted_text import identifiers_in
from schemas.diff import diff
from schemas.export import NOT_EXPRESSED, json_schema
from schemas.permintaan_klarifikasi import OWN_MOTION
from schemas.redact import REDACTED, redact_record
from schemas.registers import substance_areas, unit_codes
from schemas.samples import sample_records

DATASET, VERSION = "permintaan_klarifikasi", "2.0"
TODAY = dt.date(2026, 11, 28)
NEW_CODES = (
    "text_contains_nik", "text_contains_phone", "text_contains_email", "intake_not_a_report",
    "registration_after_letter", "incident_after_registration",
    "incident_too_old_at_registration", "own_motion_with_reporter", "own_motion_confidential",
    "confidentiality_flag_required",
    "disclosure_consent_required", "consent_after_letter", "identity_consent_required",
)  # fmt: skip


def records(seed: int = 7, count: int = 60) -> list[dict[str, Any]]:
    return sample_records(DATASET, count, seed=seed, today=TODAY, version=VERSION)


def codes(*batch: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in validator_for(DATASET, VERSION).errors(list(batch))]


def sample(test: Callable[[dict[str, Any]], bool] = lambda r: True) -> dict[str, Any]:
    """A deep copy of the first valid sample that passes ``test``."""
    return copy.deepcopy(next(r for r in records(count=200) if test(r)))


def named(r: dict[str, Any]) -> bool:
    return "pelapor" in r


def confidential(r: dict[str, Any]) -> bool:
    return r.get("pelapor_dirahasiakan") is True


def own_motion(r: dict[str, Any]) -> bool:
    return r["jenis_penerimaan"] == OWN_MOTION


def with_number(r: dict[str, Any]) -> bool:
    return "nomor_identitas" in r


def day(record: dict[str, Any], name: str) -> dt.date:
    return dt.date.fromisoformat(record[name])


def shifted(record: dict[str, Any], name: str, days: int) -> str:
    return (day(record, name) + dt.timedelta(days=days)).isoformat()


# -- samples ------------------------------------------------------------------------------


def test_samples_from_several_seeds_are_valid_and_deterministic():
    for seed in (1, 2, 3, 4):
        assert codes(*records(seed, 50)) == []
    assert records(5, 10) == records(5, 10)
    assert sample_records(DATASET, 3, seed=1) == sample_records(DATASET, 3, seed=1,
                                                                version=VERSION)  # newest


def test_samples_cover_every_case_the_rules_tell_apart():
    found = records(11, 100)
    assert {r["jenis_penerimaan"] for r in found} == {
        "laporan_masyarakat", "respons_cepat_ombudsman", OWN_MOTION}
    assert found[0]["jenis_penerimaan"] == "laporan_masyarakat"
    assert any(confidential(r) for r in found)
    assert any(named(r) for r in found)
    assert any(r.get("pelapor_dirahasiakan") is False and not named(r) for r in found)
    assert any(with_number(r) for r in found)
    assert {r["putaran_klarifikasi"] for r in found} >= {1, 2}
    assert {r["bentuk_klarifikasi"] for r in found} == set(vocab.BENTUK_KLARIFIKASI)
    # A case registered in time whose letter came more than two years after the incident.
    assert any((day(r, "tanggal_surat") - day(r, "tanggal_kejadian")).days > 731 for r in found)


def test_samples_hold_no_identifier_or_reporter_name_in_free_text():
    for r in records(13, 100):
        assert r["unit_terlapor"] in unit_codes() and r["substansi"] in substance_areas()
        for text in (r["ringkasan"], *r["dokumen_diminta"]):
            assert identifiers_in(text) == [], text
            if named(r):
                assert r["pelapor"]["nama"] not in text
        assert set(r.get("pelapor", {})) <= {"nama"}


# -- fields -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "nomor_laporan", "nomor_surat", "tanggal_surat", "tanggal_registrasi", "jenis_penerimaan",
    "tahap", "substansi", "jenis_maladministrasi", "unit_terlapor", "tanggal_kejadian",
    "kode_wilayah", "batas_waktu_tanggapan", "putaran_klarifikasi", "bentuk_klarifikasi",
    "ringkasan",
])  # fmt: skip
def test_a_required_field_is_missing(name):
    record = sample()
    del record[name]
    assert codes(record) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(("change", "expected"), [
    ({"substansi": "pertanahan"}, ("/records/0/substansi", "one_of")),  # 1.0's vocabulary
    ({"unit_terlapor": "Dinas Kesehatan"}, ("/records/0/unit_terlapor", "unit_unknown")),
    ({"unit_terlapor": "3275.dinkes"}, ("/records/0/unit_terlapor", "unit_unknown")),
    ({"kode_wilayah": "31.71"}, ("/records/0/kode_wilayah", "region_unknown")),
    ({"putaran_klarifikasi": 0}, ("/records/0/putaran_klarifikasi", "range")),
    ({"putaran_klarifikasi": 11}, ("/records/0/putaran_klarifikasi", "range")),
    ({"putaran_klarifikasi": "1"}, ("/records/0/putaran_klarifikasi", "invalid")),
    ({"putaran_klarifikasi": True}, ("/records/0/putaran_klarifikasi", "invalid")),
    ({"bentuk_klarifikasi": "telepon"}, ("/records/0/bentuk_klarifikasi", "one_of")),
    ({"jenis_maladministrasi": []}, ("/records/0/jenis_maladministrasi", "length")),
    ({"jenis_maladministrasi": ["tidak_patut", "tidak_patut"]},
     ("/records/0/jenis_maladministrasi", "duplicate_value")),
    ({"dokumen_diminta": ["SOP"] * 2}, ("/records/0/dokumen_diminta", "duplicate_value")),
    ({"dokumen_diminta": [f"Dokumen ke-{n}" for n in range(21)]},
     ("/records/0/dokumen_diminta", "length")),
    ({"dokumen_diminta": ["x" * 301]}, ("/records/0/dokumen_diminta/0", "length")),
    ({"dokumen_diminta": [" SOP"]}, ("/records/0/dokumen_diminta/0", "untrimmed")),
    ({"ringkasan": "x" * 4001}, ("/records/0/ringkasan", "length")),
    ({"tanggal_registrasi": "28-11-2026"}, ("/records/0/tanggal_registrasi", "invalid")),
    ({"pelapor_dirahasiakan": "ya"}, ("/records/0/pelapor_dirahasiakan", "invalid")),
])  # fmt: skip
def test_field_rules(change, expected):
    assert codes({**sample(), **change}) == [expected]


def test_the_round_and_the_documents_take_their_whole_range():
    record = sample()
    for rounds in (1, 2, 10):
        for form in vocab.BENTUK_KLARIFIKASI:
            assert codes(dict(record, putaran_klarifikasi=rounds, bentuk_klarifikasi=form)) == []
    assert codes(dict(record, dokumen_diminta=[])) == []
    del record["dokumen_diminta"]
    assert codes(record) == []


# -- intake -------------------------------------------------------------------------------


@pytest.mark.parametrize("intake", vocab.BUKAN_LAPORAN)
def test_a_consultation_or_a_copy_is_not_a_report(intake):
    assert codes(dict(sample(), jenis_penerimaan=intake)) == [
        ("/records/0/jenis_penerimaan", "intake_not_a_report")]


def test_every_report_intake_and_own_motion_is_accepted():
    record = sample(lambda r: r.get("pelapor_dirahasiakan") is False and not with_number(r)
                    and "persetujuan_pengungkapan" not in r)  # fmt: skip
    for intake in ("laporan_masyarakat", "respons_cepat_ombudsman", OWN_MOTION):
        changed = dict(record, jenis_penerimaan=intake)
        assert codes(changed) == [], intake
    assert codes(dict(record, jenis_penerimaan="pengaduan")) == [
        ("/records/0/jenis_penerimaan", "one_of")]


# -- the reporter -------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["nik", "telepon", "email"])
def test_the_reporter_has_no_nik_phone_or_email(member):
    record = sample(named)
    record["pelapor"][member] = {"nik": "3275015202900001", "telepon": "+6281234567890",
                                 "email": "pelapor@example.id"}[member]
    assert codes(record) == [(f"/records/0/pelapor/{member}", "unknown_field")]


@pytest.mark.parametrize("member", ["nik_pelapor", "telepon_pelapor", "email_pelapor"])
def test_no_contact_of_the_reporter_beside_it_either(member):
    assert codes(dict(sample(named), **{member: "x"})) == [(f"/records/0/{member}",
                                                            "unknown_field")]


def test_a_name_needs_the_reporters_consent():
    record = sample(named)
    assert codes(record) == []
    without = {k: v for k, v in record.items() if k != "persetujuan_pengungkapan"}
    assert codes(without) == [("/records/0/pelapor", "disclosure_consent_required")]
    refused = copy.deepcopy(record)
    refused["persetujuan_pengungkapan"]["disetujui"] = False
    assert codes(refused) == [("/records/0/pelapor", "disclosure_consent_required")]


def test_a_confidential_report_carries_no_name_even_with_consent():
    record = sample(named)
    record["pelapor_dirahasiakan"] = True
    assert codes(record) == [("/records/0/pelapor", "confidential_with_identity")]
    del record["persetujuan_pengungkapan"]
    assert codes(record) == [("/records/0/pelapor", "confidential_with_identity")]
    # The consent alone may stay: the Ombudsman keeps the identity secret regardless.
    consented = sample(named)
    del consented["pelapor"]
    consented["pelapor_dirahasiakan"] = True
    assert codes(consented) == []


def test_without_consent_or_when_confidential_there_is_no_reporter_object_and_that_is_valid():
    for test in (confidential, lambda r: r.get("pelapor_dirahasiakan") is False):
        record = sample(test)
        record.pop("pelapor", None)
        record.pop("persetujuan_pengungkapan", None)
        record.pop("nomor_identitas", None)
        assert codes(record) == []


@pytest.mark.parametrize("value", [None, "absent"])
def test_a_report_says_whether_its_reporter_is_confidential(value):
    record = sample(confidential)
    if value == "absent":
        del record["pelapor_dirahasiakan"]
    else:
        record["pelapor_dirahasiakan"] = value
    assert codes(record) == [("/records/0/pelapor_dirahasiakan",
                              "confidentiality_flag_required")]


def test_a_consent_is_dated_on_or_before_the_letter():
    record = sample(named)
    record["persetujuan_pengungkapan"]["tanggal"] = record["tanggal_surat"]
    assert codes(record) == []
    record["persetujuan_pengungkapan"]["tanggal"] = shifted(record, "tanggal_surat", 1)
    assert codes(record) == [("/records/0/persetujuan_pengungkapan/tanggal",
                              "consent_after_letter")]


@pytest.mark.parametrize("member", ["disetujui", "tanggal"])
def test_a_consent_has_its_answer_and_its_date(member):
    record = sample(named)
    del record["persetujuan_pengungkapan"][member]
    assert codes(record) == [(f"/records/0/persetujuan_pengungkapan/{member}", "required")]


# -- an identity number where the matter needs one ----------------------------------------


def test_an_identity_number_comes_with_its_purpose_and_consent():
    record = sample(with_number)
    assert codes(record) == []
    for purpose in vocab.TUJUAN_NOMOR_IDENTITAS:
        record["nomor_identitas"]["tujuan"] = purpose
        assert codes(record) == []
    record["nomor_identitas"]["tujuan"] = "pengaduan_lainnya"
    assert codes(record) == [("/records/0/nomor_identitas/tujuan", "one_of")]
    for member in ("nik", "tujuan", "persetujuan"):
        missing = sample(with_number)
        del missing["nomor_identitas"][member]
        assert codes(missing) == [(f"/records/0/nomor_identitas/{member}", "required")]


def test_an_identity_number_is_a_real_nik():
    record = sample(with_number)
    record["nomor_identitas"]["nik"] = "3275013202900001"  # 32 February
    assert codes(record) == [("/records/0/nomor_identitas/nik", "nik_birth_date")]


def test_an_identity_number_needs_the_reporters_consent():
    record = sample(with_number)
    record["nomor_identitas"]["persetujuan"]["disetujui"] = False
    assert codes(record) == [("/records/0/nomor_identitas/persetujuan",
                              "identity_consent_required")]
    record = sample(with_number)
    record["nomor_identitas"]["persetujuan"]["tanggal"] = shifted(record, "tanggal_surat", 1)
    assert codes(record) == [("/records/0/nomor_identitas/persetujuan/tanggal",
                              "consent_after_letter")]


def test_a_confidential_report_carries_no_identity_number():
    record = sample(with_number)
    record.pop("pelapor", None)
    record.pop("persetujuan_pengungkapan", None)
    record["pelapor_dirahasiakan"] = True
    assert codes(record) == [("/records/0/nomor_identitas", "confidential_with_identity")]


def test_an_identity_number_does_not_need_the_name():
    record = sample(with_number)
    record.pop("pelapor", None)
    record.pop("persetujuan_pengungkapan", None)
    assert codes(record) == []


# -- own-motion investigations ------------------------------------------------------------


def test_an_own_motion_investigation_has_no_reporter_and_no_flag():
    record = sample(own_motion)
    assert not {"pelapor", "persetujuan_pengungkapan", "nomor_identitas",
                "pelapor_dirahasiakan"} & set(record)  # fmt: skip
    assert codes(record) == []
    assert codes(dict(record, pelapor_dirahasiakan=False)) == []
    assert codes(dict(record, pelapor_dirahasiakan=None)) == []


def test_an_own_motion_investigation_is_not_flagged_confidential():
    assert codes(dict(sample(own_motion), pelapor_dirahasiakan=True)) == [
        ("/records/0/pelapor_dirahasiakan", "own_motion_confidential")]


def test_an_own_motion_investigation_carries_nothing_of_a_reporter():
    donor = sample(lambda r: named(r) and with_number(r))
    for member in ("pelapor", "persetujuan_pengungkapan", "nomor_identitas"):
        record = dict(sample(own_motion), **{member: donor[member]})
        assert codes(record) == [(f"/records/0/{member}", "own_motion_with_reporter")]
    record = sample(own_motion)
    record.update({m: donor[m] for m in ("pelapor", "persetujuan_pengungkapan")},
                  pelapor_dirahasiakan=False)
    assert sorted(codes(record)) == [
        ("/records/0/pelapor", "own_motion_with_reporter"),
        ("/records/0/persetujuan_pengungkapan", "own_motion_with_reporter")]


# -- free text ----------------------------------------------------------------------------


NIKS = ("3275015202900001", "3275 0152 0290 0001", "3275-0152-0290-0001",
        "32.75.01.520290.0001", "3275010101200012")  # fmt: skip
PHONES = ("081234567890", "0812-3456-7890", "0812 3456 7890", "0812.3456.7890",
          "+62 812 3456 7890", "+6281234567890", "6281234567890", "+62-21-8888-1234",
          "(021) 8888 1234", "021-88881234", "0812345678")  # fmt: skip
EMAILS = ("pelapor@example.id", "Budi.Santoso+lapor@mail.co.id")


@pytest.mark.parametrize(("value", "code"), [
    *((v, "text_contains_nik") for v in NIKS),
    *((v, "text_contains_phone") for v in PHONES),
    *((v, "text_contains_email") for v in EMAILS),
])  # fmt: skip
def test_free_text_holds_no_nik_phone_or_email(value, code):
    text = f"Pelapor dapat dihubungi melalui {value} untuk keterangan lebih lanjut."
    assert codes(dict(sample(), ringkasan=text)) == [("/records/0/ringkasan", code)]
    assert codes(dict(sample(), dokumen_diminta=["Daftar hadir petugas", text])) == [
        ("/records/0/dokumen_diminta/1", code)]
    record = sample(named)
    record["pelapor"]["nama"] = f"Budi {value}"
    assert codes(record) == [("/records/0/pelapor/nama", code)]


def test_each_kind_found_in_one_text_is_named():
    text = "NIK 3275015202900001, HP 081234567890, surel budi@example.id"
    assert codes(dict(sample(), ringkasan=text)) == [
        ("/records/0/ringkasan", "text_contains_nik"),
        ("/records/0/ringkasan", "text_contains_phone"),
        ("/records/0/ringkasan", "text_contains_email")]


@pytest.mark.parametrize("text", [
    "Kejadian pada 01-02-2026 pukul 10.30 WIB di loket 2.",
    "Layanan buka 08.00 - 16.00, antrean 25 orang, diminta Rp 150.000.",
    "Anggaran Rp 62.500.000.000 untuk tahun 2024 2025 2026 2027.",
    "Surat nomor B/1234/LM.01-15/0123.4/2026 dan laporan 0123/LM/XI/2026/JKT.",
    "Alamat RT 003/RW 012, kode pos 17112, nilai 1.062.812.345 rupiah.",
])  # fmt: skip
def test_dates_amounts_and_reference_numbers_are_not_identifiers(text):
    assert codes(dict(sample(), ringkasan=text)) == []


# -- dates --------------------------------------------------------------------------------


def test_the_deadline_falls_after_the_letter():
    record = sample()
    record["batas_waktu_tanggapan"] = record["tanggal_surat"]
    assert codes(record) == [("/records/0/batas_waktu_tanggapan", "deadline_not_after_letter")]


def test_registration_is_on_or_before_the_letter():
    record = sample()
    record["tanggal_registrasi"] = record["tanggal_surat"]
    assert codes(record) == []
    record["tanggal_registrasi"] = shifted(record, "tanggal_surat", 1)
    assert codes(record) == [("/records/0/tanggal_registrasi", "registration_after_letter")]


def test_the_incident_is_not_after_the_letter_nor_the_registration():
    record = sample()
    record["tanggal_kejadian"] = shifted(record, "tanggal_surat", 1)
    assert codes(record) == [("/records/0/tanggal_kejadian", "incident_after_letter")]
    record = sample()
    record["tanggal_kejadian"] = record["tanggal_registrasi"]
    assert codes(record) == []
    record["tanggal_kejadian"] = shifted(record, "tanggal_registrasi", 1)
    assert codes(record) == [("/records/0/tanggal_kejadian", "incident_after_registration")]


def _at(record: dict[str, Any], registered: dt.date, incident: dt.date,
        letter: dt.date) -> dict[str, Any]:
    changed = dict(record, tanggal_registrasi=registered.isoformat(),
                   tanggal_kejadian=incident.isoformat(), tanggal_surat=letter.isoformat(),
                   batas_waktu_tanggapan=(letter + dt.timedelta(days=14)).isoformat())
    if "persetujuan_pengungkapan" in changed:  # keep the consent before the letter
        changed["persetujuan_pengungkapan"] = dict(changed["persetujuan_pengungkapan"],
                                                   tanggal=registered.isoformat())
    changed.pop("nomor_identitas", None)
    return changed


def test_two_years_count_from_the_incident_to_the_registration():
    record = sample(lambda r: not own_motion(r))
    registered = dt.date(2026, 5, 20)
    letter = dt.date(2026, 11, 2)  # more than two years after the incident: no matter
    assert codes(_at(record, registered, dt.date(2024, 5, 20), letter)) == []
    assert codes(_at(record, registered, dt.date(2024, 5, 19), letter)) == [
        ("/records/0/tanggal_kejadian", "incident_too_old_at_registration")]
    # 29 February: two years later there is none; the 28th is still in time.
    assert codes(_at(record, dt.date(2026, 2, 28), dt.date(2024, 2, 29), letter)) == []


def test_the_two_year_limit_binds_reports_not_own_motion_investigations():
    record = sample(own_motion)
    assert codes(_at(record, dt.date(2026, 5, 20), dt.date(2023, 1, 5),
                     dt.date(2026, 6, 1))) == []  # fmt: skip
    rco = dict(sample(lambda r: not own_motion(r)), jenis_penerimaan="respons_cepat_ombudsman")
    assert codes(_at(rco, dt.date(2026, 5, 20), dt.date(2023, 1, 5), dt.date(2026, 6, 1))) == [
        ("/records/0/tanggal_kejadian", "incident_too_old_at_registration")]


# -- metadata, messages, export, diff -----------------------------------------------------


def test_free_text_is_specific_personal_data_and_the_name_confidential():
    document = json_schema(DATASET, VERSION)["properties"]
    assert document["ringkasan"]["x-specific-personal"] is True
    assert document["dokumen_diminta"]["x-specific-personal"] is True
    assert document["pelapor"]["properties"]["nama"]["x-confidential"] is True
    assert document["nomor_identitas"]["properties"]["nik"]["x-confidential"] is True
    record = sample(lambda r: named(r) and with_number(r))
    out = redact_record(DATASET, VERSION, record)
    assert out["ringkasan"] == out["dokumen_diminta"] == REDACTED
    assert out["pelapor"] == {"nama": REDACTED}
    assert out["nomor_identitas"]["nik"] == REDACTED
    assert out["unit_terlapor"] == record["unit_terlapor"]


def test_every_new_code_has_messages_and_is_named_where_json_schema_cannot_state_it():
    for code in NEW_CODES:
        for language in LANGUAGES:
            assert field_message(code, language) != code, (code, language)
        assert code in NOT_EXPRESSED or code == "intake_not_a_report", code
    document = json_schema(DATASET, VERSION)["properties"]
    assert "tembusan" not in document["jenis_penerimaan"]["enum"]
    assert sorted(document["unit_terlapor"]["enum"]) == sorted(unit_codes())


def test_the_diff_from_1_0_is_breaking_where_it_should_be():
    changes = {(c.path, c.description): c.breaking for c in diff(DATASET, "1.0", VERSION)}
    for path in ("/tanggal_registrasi", "/putaran_klarifikasi", "/bentuk_klarifikasi"):
        assert changes[(path, "new required field")] is True
    for member in ("nik", "telepon", "email"):
        assert changes[(f"/pelapor/{member}", "field removed")] is True
    assert changes[("/unit_terlapor", "now limited to a closed vocabulary")] is True
    assert changes[("/jenis_penerimaan",
                    "values removed: ['konsultasi_non_laporan', 'tembusan']")] is True
    assert changes[("/persetujuan_pengungkapan", "new optional field")] is False
