import pytest
from marshmallow import ValidationError

from gateway.errors import SchemaViolation, UnknownDataset, UnknownSchemaVersion
from gateway.exchange.validation import validator_for
from schemas._base import check_nik
from schemas.samples import sample_records


def codes(dataset, records):
    return [(e.path, e.code) for e in validator_for(dataset, "1.0").errors(records)]


@pytest.mark.parametrize("dataset", ["permintaan_klarifikasi", "tanggapan_klarifikasi"])
def test_samples_are_valid(dataset):
    assert codes(dataset, sample_records(dataset, 200, seed=5, version="1.0")) == []


def test_every_error_has_path_and_code():
    good = sample_records("permintaan_klarifikasi", 1, seed=1, version="1.0")[0]
    bad = dict(good, jenis_maladministrasi=["pungli"], kode_wilayah="31.71", extra=1)
    bad.pop("nomor_surat")
    assert sorted(codes("permintaan_klarifikasi", [good, bad, "text"])) == [
        ("/records/1/extra", "unknown_field"),
        ("/records/1/jenis_maladministrasi/0", "one_of"),
        ("/records/1/kode_wilayah", "region_unknown"),
        ("/records/1/nomor_surat", "required"),
        ("/records/2", "invalid_type"),
    ]


def test_confidential_report_carries_no_identity():
    record = next(r for r in sample_records("permintaan_klarifikasi", 50, seed=2, version="1.0")
                  if not r["pelapor_dirahasiakan"])
    record = dict(record, pelapor_dirahasiakan=True)
    assert codes("permintaan_klarifikasi", [record]) == [
        ("/records/0/pelapor", "confidential_with_identity")]


def test_deadline_after_letter():
    record = dict(sample_records("permintaan_klarifikasi", 1, seed=3, version="1.0")[0])
    record["batas_waktu_tanggapan"] = record["tanggal_surat"]
    assert codes("permintaan_klarifikasi", [record]) == [
        ("/records/0/batas_waktu_tanggapan", "deadline_not_after_letter")]


@pytest.mark.parametrize(("nik", "code"), [
    ("327501120590000", "nik_format"),
    ("32750112059000a1", "nik_format"),
    ("3275013202900001", "nik_birth_date"),  # 32 February
    ("3275017202900001", "nik_birth_date"),  # 72 - 40 = 32
    ("3275015202900000", "nik_sequence"),
])
def test_nik_rules(nik, code):
    from marshmallow import ValidationError

    with pytest.raises(ValidationError, match=code):
        check_nik(nik)


def test_nik_accepts_women_day_plus_40():
    check_nik("3275015202900001")  # 12 February, female


def test_check_raises_with_all_errors():
    with pytest.raises(SchemaViolation, match="2 of 3 records") as info:
        validator_for("tanggapan_klarifikasi", "1.0").check(
            [sample_records("tanggapan_klarifikasi", 1, version="1.0")[0], {}, {"status": "x"}])
    assert {e.path.split("/")[2] for e in info.value.errors} == {"1", "2"}


def test_unknown_dataset_and_version():
    with pytest.raises(UnknownDataset):
        validator_for("nope", "1.0")
    with pytest.raises(UnknownSchemaVersion, match=r"known: \['1.0', '2.0', '3.0'\]"):
        validator_for("tanggapan_klarifikasi", "9.9")


def test_an_evidence_digest_is_exactly_64_hex_digits():
    record = dict(sample_records("tanggapan_klarifikasi", 1, seed=3, version="1.0")[0],
                  status="selesai")
    for digest, ok in (("a" * 64, True), ("a" * 64 + "\n", False), ("A" * 64, False)):
        record["bukti"] = [{"nama_berkas": "b.pdf", "sha256": digest}]
        errors = validator_for("tanggapan_klarifikasi", "1.0").errors([record])
        assert (errors == []) is ok, digest


@pytest.mark.parametrize(
    ("nik", "code"),
    [
        ("3275015202900001", None),  # Kota Bekasi, kecamatan 01
        ("3171015202900001", None),  # another region: only the province is checked
        ("9975015202900001", "nik_region"),  # no province 99
        ("3200015202900001", "nik_region"),  # city 00
        ("3275995202900001", "nik_region"),  # Kota Bekasi has no kecamatan 99
        ("3275015202900001\n", "nik_format"),
        ("٣٢٧٥٠١٥٢٠٢٩٠٠٠٠١", "nik_format"),  # Arabic-Indic digits
    ],
)
def test_nik_region_prefix(nik, code):
    if code is None:
        check_nik(nik)
    else:
        with pytest.raises(ValidationError) as info:
            check_nik(nik)
        assert info.value.messages == [code]
