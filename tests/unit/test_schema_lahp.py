import copy
import datetime as dt
import random

import pytest
from faker import Faker
from marshmallow import ValidationError

from gateway.exchange.validation import RecordValidator
from schemas import vocab
from schemas._redacted_text import check_no_identifiers
from schemas.diff import diff
from schemas.lahp import KESIMPULAN, LahpV1, LahpV2
from schemas.registers import unit_codes
from schemas.samples._common import UNITS
from schemas.samples.lahp import OFFICIALS, make, make_v2

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


# -- version 2.0 ------------------------------------------------------------------------------

def samples_v2(seed, count):
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [make_v2(fake, rng, i, TODAY) for i in range(count)]


def codes_v2(records):
    return [(e.path, e.code) for e in RecordValidator("lahp", "2.0", LahpV2()).errors(records)]


def sample_v2(conclusion=FOUND, min_actions=0):
    """A deep copy of a valid 2.0 sample with ``conclusion`` (and at least ``min_actions``)."""
    record = next(
        r for r in samples_v2(7, 60)
        if r["kesimpulan"] == conclusion and len(r.get("tindakan_korektif", [])) >= min_actions
    )  # fmt: skip
    return copy.deepcopy(record)


def test_v2_samples_from_several_seeds_are_valid():
    records = [r for seed in (1, 2, 3) for r in samples_v2(seed, 20)]
    assert codes_v2(records) == []


def test_v2_samples_are_deterministic_realistic_and_cover_every_conclusion():
    assert samples_v2(5, 10) == samples_v2(5, 10)
    records = samples_v2(11, 60)
    assert {r["kesimpulan"] for r in records} == set(KESIMPULAN)
    assert {r["pelapor_dirahasiakan"] for r in records} == {True, False}
    titles = {title for titles in OFFICIALS.values() for title in titles}
    named = 0
    for r in records:
        assert r["unit_terlapor"] in unit_codes()
        assert ("alasan_penghentian" in r) == (r["kesimpulan"] == "pemeriksaan_dihentikan")
        # The reporter is "pelapor", never named: no Faker name in the summary.
        assert r["ringkasan"].startswith("Pelapor")
        ids = [a["id_tindakan"] for a in r.get("tindakan_korektif", [])]
        assert ids == [f"TK-{n:02d}" for n in range(1, len(ids) + 1)]
        for action in r.get("tindakan_korektif", []):
            assert action["unit_penanggung_jawab"] in unit_codes()
            assert "pihak" not in action
            if "pejabat" in action:
                assert action["pejabat"]["jabatan"] in titles  # Indonesian titles only
                named += "nama" in action["pejabat"]
    assert named >= 1


@pytest.mark.parametrize(
    "name", ["nomor_laporan", "nomor_lahp", "tanggal_lahp", "unit_terlapor", "kesimpulan",
             "pelapor_dirahasiakan", "ringkasan"],
)  # fmt: skip
def test_v2_a_required_field_is_missing(name):
    record = sample_v2()
    del record[name]
    assert codes_v2([record]) == [(f"/records/0/{name}", "required")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unit_terlapor": "Dinas Kesehatan"}, ("/records/0/unit_terlapor", "unit_unknown")),
        ({"unit_terlapor": "3275.dinkes"}, ("/records/0/unit_terlapor", "unit_unknown")),
        ({"pelapor_dirahasiakan": "true"}, ("/records/0/pelapor_dirahasiakan", "invalid")),
        ({"pelapor_dirahasiakan": 1}, ("/records/0/pelapor_dirahasiakan", "invalid")),
        ({"pelapor_dirahasiakan": 0}, ("/records/0/pelapor_dirahasiakan", "invalid")),
        ({"pelapor_dirahasiakan": None}, ("/records/0/pelapor_dirahasiakan", "null")),
        ({"kesimpulan": "terbukti"}, ("/records/0/kesimpulan", "one_of")),
        ({"pelapor": {"nama": "x"}}, ("/records/0/pelapor", "unknown_field")),
    ],
)
def test_v2_field_rules(change, expected):
    assert codes_v2([{**sample_v2(), **change}]) == [expected]


@pytest.mark.parametrize("reason", vocab.ALASAN_PENGHENTIAN)
def test_v2_a_stopped_examination_takes_any_reason_of_the_list(reason):
    record = sample_v2("pemeriksaan_dihentikan")
    assert codes_v2([{**record, "alasan_penghentian": reason}]) == []


@pytest.mark.parametrize("reason", ["lainnya", "Pelapor mencabut laporan", ""])
def test_v2_a_stop_reason_outside_the_list_is_refused(reason):
    record = sample_v2("pemeriksaan_dihentikan")
    assert codes_v2([{**record, "alasan_penghentian": reason}]) == [
        ("/records/0/alasan_penghentian", "one_of")]


@pytest.mark.parametrize("missing", ["absent", None])
def test_v2_a_stopped_examination_needs_its_reason(missing):
    record = sample_v2("pemeriksaan_dihentikan")
    if missing is None:
        record["alasan_penghentian"] = None
    else:
        del record["alasan_penghentian"]
    assert codes_v2([record]) == [("/records/0/alasan_penghentian", "stop_reason_required")]


@pytest.mark.parametrize("conclusion", [FOUND, "tidak_ditemukan_maladministrasi"])
def test_v2_a_reason_for_stopping_only_when_stopped(conclusion):
    record = sample_v2(conclusion)
    record["alasan_penghentian"] = "pelapor_mencabut_laporan"
    assert codes_v2([record]) == [("/records/0/alasan_penghentian", "stop_reason_without_stop")]
    assert codes_v2([{**record, "alasan_penghentian": None}]) == []


@pytest.mark.parametrize("value", ["1", "TK-01", "R.2_a", "x" * 32])
def test_v2_an_action_id_is_a_short_stable_string(value):
    record = sample_v2()
    record["tindakan_korektif"][0]["id_tindakan"] = value
    assert codes_v2([record]) == []


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "action_id_format"), (" TK-01", "action_id_format"), ("TK 01", "action_id_format"),
     ("-TK", "action_id_format"), ("x" * 33, "action_id_format"),
     ("TK-01\n", "action_id_format"), ("TK/01", "action_id_format"), (1, "invalid"),
     (None, "null")],
)  # fmt: skip
def test_v2_a_malformed_action_id_is_refused_in_place(value, code):
    record = sample_v2(min_actions=2)
    record["tindakan_korektif"][1]["id_tindakan"] = value
    assert codes_v2([record]) == [("/records/0/tindakan_korektif/1/id_tindakan", code)]


def test_v2_each_action_has_an_id():
    record = sample_v2(min_actions=2)
    del record["tindakan_korektif"][1]["id_tindakan"]
    assert codes_v2([record]) == [("/records/0/tindakan_korektif/1/id_tindakan", "required")]


def test_v2_action_ids_are_unique_within_the_report():
    record = sample_v2(min_actions=3)
    first = record["tindakan_korektif"][0]["id_tindakan"]
    record["tindakan_korektif"][2]["id_tindakan"] = first
    assert codes_v2([record]) == [
        ("/records/0/tindakan_korektif/2/id_tindakan", "duplicate_action_id")]
    record["tindakan_korektif"][1]["id_tindakan"] = first
    assert codes_v2([record]) == [
        ("/records/0/tindakan_korektif/1/id_tindakan", "duplicate_action_id"),
        ("/records/0/tindakan_korektif/2/id_tindakan", "duplicate_action_id"),
    ]
    # Identifiers differ by case: "tk-01" is not "TK-01".
    record["tindakan_korektif"][1]["id_tindakan"] = first.lower()
    record["tindakan_korektif"][2]["id_tindakan"] = first + "a"
    assert codes_v2([record]) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"unit_penanggung_jawab": "Dinas Sosial"}, ("unit_penanggung_jawab", "unit_unknown")),
        ({"unit_penanggung_jawab": None}, ("unit_penanggung_jawab", "null")),
        ({"pihak": "Kepala Dinas Sosial"}, ("pihak", "unknown_field")),
        ({"pejabat": {"nama": "Budi"}}, ("pejabat/jabatan", "required")),
        ({"pejabat": {"jabatan": "Kepala Dinas", "nip": "1"}}, ("pejabat/nip", "unknown_field")),
        ({"pejabat": "Kepala Dinas Sosial"}, ("pejabat", "invalid_type")),
        ({"tindakan": ""}, ("tindakan", "length")),
        ({"batas_waktu": "2026-02-30"}, ("batas_waktu", "invalid")),
    ],
)
def test_v2_corrective_action_fields_are_checked_with_their_index(change, expected):
    record = sample_v2(min_actions=2)
    record["tindakan_korektif"][1].update(change)
    name, code = expected
    assert codes_v2([record]) == [(f"/records/0/tindakan_korektif/1/{name}", code)]


def test_v2_an_official_is_named_by_position_and_only_optionally_by_name():
    record = sample_v2()
    action = record["tindakan_korektif"][0]
    action.pop("pejabat", None)
    assert codes_v2([record]) == []
    action["pejabat"] = {"jabatan": "Kepala Dinas Sosial"}
    assert codes_v2([record]) == []
    action["pejabat"]["nama"] = "Siti Rahmawati"
    assert codes_v2([record]) == []


@pytest.mark.parametrize("days", [0, -1])
def test_v2_each_deadline_falls_after_the_report_date(days):
    record = sample_v2(min_actions=2)
    issued = dt.date.fromisoformat(record["tanggal_lahp"])
    record["tindakan_korektif"][1]["batas_waktu"] = (issued + dt.timedelta(days)).isoformat()
    assert codes_v2([record]) == [
        ("/records/0/tindakan_korektif/1/batas_waktu", "deadline_not_after_lahp")]


def test_v2_the_rules_on_a_finding_still_hold():
    record = sample_v2()
    del record["tindakan_korektif"]
    record["jenis_maladministrasi"] = []
    assert sorted(codes_v2([record])) == [
        ("/records/0/jenis_maladministrasi", "maladministration_types_required"),
        ("/records/0/tindakan_korektif", "corrective_actions_required"),
    ]
    stopped = sample_v2("pemeriksaan_dihentikan")
    stopped["tindakan_korektif"] = sample_v2()["tindakan_korektif"]
    assert codes_v2([stopped]) == [
        ("/records/0/tindakan_korektif", "corrective_actions_without_finding")]


IDENTIFIERS = [
    ("NIK pelapor 3275014507900001", "text_contains_nik"),
    ("NIK 3275 0145 0790 0001", "text_contains_nik"),
    ("NIK 3275.0145.0790.0001", "text_contains_nik"),
    ("NIK 3275-0145-0790-0001", "text_contains_nik"),
    ("dapat dihubungi di 081234567890", "text_contains_phone"),
    ("dapat dihubungi di 0812-3456-7890", "text_contains_phone"),
    ("dapat dihubungi di 0812 3456 789", "text_contains_phone"),
    ("dapat dihubungi di +62 812 3456 7890", "text_contains_phone"),
    ("dapat dihubungi di +6281234567890", "text_contains_phone"),
    ("dapat dihubungi di 62.812.3456.7890", "text_contains_phone"),
    ("kantor (021) 8841234", "text_contains_phone"),
    ("surel pelapor: budi.santoso@gmail.com", "text_contains_email"),
    ("surel pelapor: Siti_R+ombudsman@mail.bekasikota.go.id.", "text_contains_email"),
]

NOT_IDENTIFIERS = [
    "Pelapor melaporkan penundaan penerbitan KTP elektronik selama 4 bulan.",
    "Laporan 0123/LM/XI/2026/JKT dan LHP/0042.1/LM.01-15/2026 tanggal 2026-11-28.",
    "Rekomendasi 001/RM.03.01/VIII/2023 diterima 08-11-2026 pukul 09.30 WIB.",
    "Biaya Rp 62.000.000.000 dan Rp 1.500.000 dikembalikan.",
    "Tiket SP4N-LAPOR! 1916449; call centre 137; 14 hari kerja.",
    "Nomor 12345678901234567 (17 digit) dan 0812345 (terlalu pendek).",
    "Alamat surat: Jl. Ir. H. Juanda No. 100, Bekasi @ loket 3.",
]


@pytest.mark.parametrize(("text", "code"), IDENTIFIERS)
def test_v2_the_summary_holds_no_nik_phone_or_email(text, code):
    record = sample_v2()
    record["ringkasan"] = f"{record['ringkasan']} {text}"
    assert codes_v2([record]) == [("/records/0/ringkasan", code)]


@pytest.mark.parametrize(("text", "code"), IDENTIFIERS)
def test_v2_an_action_holds_no_nik_phone_or_email(text, code):
    record = sample_v2(min_actions=2)
    record["tindakan_korektif"][1]["tindakan"] = f"Menghubungi pelapor; {text}"
    assert codes_v2([record]) == [("/records/0/tindakan_korektif/1/tindakan", code)]


@pytest.mark.parametrize("text", NOT_IDENTIFIERS)
def test_v2_numbers_that_are_not_identifiers_pass(text):
    record = sample_v2()
    record["ringkasan"] = text
    record["tindakan_korektif"][0]["tindakan"] = text
    assert codes_v2([record]) == []


def test_the_identifier_check_reports_each_kind_once():
    check_no_identifiers("Tidak ada data pribadi di sini.")
    with pytest.raises(ValidationError) as refused:
        check_no_identifiers("a@b.id, 3275014507900001, 081234567890, 0812-1111-2222, c@d.id")
    assert sorted(refused.value.messages) == [
        "text_contains_email", "text_contains_nik", "text_contains_phone"]
    with pytest.raises(ValidationError) as refused:  # digits of an address are not a phone
        check_no_identifiers("budi.081234567890@gmail.com")
    assert refused.value.messages == ["text_contains_email"]


def test_v2_personal_data_is_marked():
    schema = LahpV2()
    assert schema.fields["ringkasan"].metadata["personal"] is True
    action = schema.fields["tindakan_korektif"].inner.schema
    assert action.fields["tindakan"].metadata["personal"] is True
    assert action.fields["pejabat"].schema.fields["nama"].metadata["personal"] is True
    assert not action.fields["pejabat"].schema.fields["jabatan"].metadata.get("personal")
    for name in ("id_tindakan", "unit_penanggung_jawab", "batas_waktu"):
        assert not action.fields[name].metadata.get("personal"), name
    for name in ("unit_terlapor", "alasan_penghentian", "pelapor_dirahasiakan"):
        assert not schema.fields[name].metadata.get("personal"), name


def test_v2_is_a_breaking_change_and_says_why():
    changes = {(c.path, c.description): c.breaking for c in diff("lahp", "1.0", "2.0")}
    assert changes[("/tindakan_korektif/*/pihak", "field removed")] is True
    assert changes[("/tindakan_korektif/*/id_tindakan", "new required field")] is True
    assert changes[("/tindakan_korektif/*/unit_penanggung_jawab", "new required field")] is True
    assert changes[("/pelapor_dirahasiakan", "new required field")] is True
    assert changes[("/unit_terlapor", "now limited to a closed vocabulary")] is True
    assert changes[("/alasan_penghentian", "new optional field")] is False
