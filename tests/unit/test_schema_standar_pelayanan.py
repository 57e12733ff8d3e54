import copy
import datetime as dt

import pytest

from gateway.exchange.validation import validator_for
from schemas.diff import diff
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("standar_pelayanan", "1.0").errors(records)]


def sample(paid: bool):
    return next(r for r in sample_records("standar_pelayanan", 40, seed=6, version="1.0")
                if (r["biaya_tarif"]["jumlah_rupiah"] > 0) == paid)


def test_a_fee_above_zero_needs_its_legal_basis():
    record = sample(True)
    record["biaya_tarif"] = {"jumlah_rupiah": 50_000, "dasar_hukum": None}
    assert codes([record]) == [("/records/0/biaya_tarif/dasar_hukum", "fee_legal_basis_required")]
    free = sample(False)
    assert free["biaya_tarif"]["dasar_hukum"] is None and codes([free]) == []


@pytest.mark.parametrize(
    ("field", "value", "path", "code"),
    [
        ("persyaratan", [], "persyaratan", "length"),
        ("jumlah_pelaksana", 0, "jumlah_pelaksana", "range"),
        ("jangka_waktu", {"nilai": 3, "satuan": "minggu"}, "jangka_waktu/satuan", "one_of"),
        ("biaya_tarif", {"jumlah_rupiah": -1}, "biaya_tarif/jumlah_rupiah", "range"),
        ("tanggal_sk", "2026/11/28", "tanggal_sk", "invalid"),
    ],
)
def test_field_rules(field, value, path, code):
    assert codes([dict(sample(False), **{field: value})]) == [(f"/records/0/{path}", code)]


def test_all_fourteen_components_are_required():
    record = sample(False)
    components = ["persyaratan", "sistem_mekanisme_prosedur", "jangka_waktu", "biaya_tarif",
                  "produk", "penanganan_pengaduan", "dasar_hukum", "sarana_prasarana",
                  "kompetensi_pelaksana", "pengawasan_internal", "jumlah_pelaksana",
                  "jaminan_pelayanan", "jaminan_keamanan_keselamatan", "evaluasi_kinerja"]
    stripped = {k: v for k, v in record.items() if k not in components}
    assert sorted(codes([stripped])) == sorted((f"/records/0/{c}", "required") for c in components)


# -- 2.0 ----------------------------------------------------------------------------------------


def codes_v2(records):
    return [(e.path, e.code) for e in validator_for("standar_pelayanan", "2.0").errors(records)]


def samples_v2():
    return sample_records("standar_pelayanan", 60, seed=6, version="2.0",
                          today=dt.date(2026, 11, 28))


def sample_v2(**conditions):
    """A 2.0 sample with field == value for each condition, deep-copied."""
    return copy.deepcopy(next(r for r in samples_v2()
                              if all(r.get(k) == v for k, v in conditions.items())))


def days_after(date: str, days: int) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=days)).isoformat()


def test_v2_samples_are_valid_and_cover_every_status():
    records = samples_v2()
    assert codes_v2(records) == []
    assert {r["status"] for r in records} == {"berlaku", "dalam_peninjauan", "dicabut"}
    assert sample_records("standar_pelayanan", 1)[0]["kode_layanan"]  # 2.0 is the default


def test_v2_unit_is_a_code_of_the_register():
    record = sample_v2()
    record["unit"] = "Dinas Kependudukan dan Pencatatan Sipil"
    assert codes_v2([record]) == [("/records/0/unit", "unit_unknown")]


@pytest.mark.parametrize("code", [
    "3275.DISDUKCAPIL",  # no slug
    "3275.DISDUKCAPIL:",  # empty slug
    "3275.DISDUKCAPIL:Akta-Kelahiran",  # upper case
    "3275.DISDUKCAPIL:akta_kelahiran",  # underscore
    "3275.DISDUKCAPIL:akta--kelahiran",
    "3275.DISDUKCAPIL:akta-kelahiran-",
    "3275.DISDUKCAPIL/akta-kelahiran",
    "disdukcapil:akta-kelahiran",
    "3275.DISDUKCAPIL:akta-kelahiran\n",
])
def test_v2_service_code_has_its_pattern(code):
    record = sample_v2(unit="3275.DISDUKCAPIL")
    assert codes_v2([dict(record, kode_layanan=code)]) == [
        ("/records/0/kode_layanan", "service_code_format")]


def test_v2_service_code_begins_with_the_unit_code():
    record = sample_v2(unit="3275.DISDUKCAPIL")
    slug = record["kode_layanan"].split(":")[1]
    assert codes_v2([dict(record, kode_layanan=f"3275.DISDUK:{slug}")]) == [
        ("/records/0/kode_layanan", "service_code_unit_mismatch")]
    assert codes_v2([dict(record, kode_layanan=f"3275.DINKES:{slug}")]) == [
        ("/records/0/kode_layanan", "service_code_unit_mismatch")]
    assert codes_v2([dict(record, kode_layanan=f"3275.DISDUKCAPIL:{slug}-baru")]) == []


def test_v2_a_published_maklumat_has_its_date():
    record = sample_v2()
    record["maklumat_pelayanan"] = {"dipublikasikan": True, "nomor": "800/12/Disdukcapil/2024"}
    assert codes_v2([record]) == [("/records/0/maklumat_pelayanan/tanggal",
                                   "maklumat_date_required")]


def test_v2_a_published_maklumat_has_its_number_or_text():
    record = sample_v2()
    record["maklumat_pelayanan"] = {"dipublikasikan": True, "tanggal": record["tanggal_sk"]}
    assert codes_v2([record]) == [("/records/0/maklumat_pelayanan",
                                   "maklumat_reference_required")]
    for reference in ({"nomor": "800/12/Disdukcapil/2024"}, {"teks": "Kami sanggup."}):
        record["maklumat_pelayanan"] = {"dipublikasikan": True,
                                        "tanggal": record["tanggal_sk"], **reference}
        assert codes_v2([record]) == []
    record["maklumat_pelayanan"] = {"dipublikasikan": False}
    assert codes_v2([record]) == []
    record["maklumat_pelayanan"] = {"dipublikasikan": "ya"}
    assert codes_v2([record]) == [("/records/0/maklumat_pelayanan/dipublikasikan", "invalid")]
    del record["maklumat_pelayanan"]
    assert codes_v2([record]) == [("/records/0/maklumat_pelayanan", "required")]


def test_v2_the_standard_is_published_somewhere():
    record = sample_v2()
    assert codes_v2([dict(record, publikasi=[])]) == [("/records/0/publikasi", "length")]
    record.pop("publikasi")
    assert codes_v2([record]) == [("/records/0/publikasi", "required")]
    record["publikasi"] = [{"saluran": "surat_kabar"}]
    assert codes_v2([record]) == [("/records/0/publikasi/0/saluran", "one_of")]


@pytest.mark.parametrize("channel", ["website", "sippn", "aplikasi", "media_sosial"])
def test_v2_an_online_channel_names_its_address(channel):
    record = sample_v2()
    record["publikasi"] = [{"saluran": "papan_informasi"}, {"saluran": channel}]
    assert codes_v2([record]) == [("/records/0/publikasi/1/url", "url_required")]
    record["publikasi"][1]["url"] = "https://disdukcapil.bekasikota.go.id/standar-pelayanan"
    assert codes_v2([record]) == []


@pytest.mark.parametrize("url", ["disdukcapil.bekasikota.go.id", "ftp://bekasikota.go.id/x",
                                 "https://localhost/x", "https://bekasi kota.go.id",
                                 "https://bekasikota.go.id/\n"])
def test_v2_an_address_is_http_or_https(url):
    record = sample_v2()
    record["publikasi"] = [{"saluran": "website", "url": url}]
    assert codes_v2([record]) == [("/records/0/publikasi/0/url", "url_format")]


def test_v2_another_channel_or_facility_is_described():
    record = sample_v2()
    record["publikasi"] = [{"saluran": "lainnya"}]
    assert codes_v2([record]) == [("/records/0/publikasi/0/keterangan", "description_required")]
    record["publikasi"] = [{"saluran": "lainnya", "keterangan": "Videotron di alun-alun"}]
    assert codes_v2([record]) == []
    record["fasilitas_kelompok_rentan"] = [{"jenis": "lainnya", "kelompok": ["lansia"]}]
    assert codes_v2([record]) == [
        ("/records/0/fasilitas_kelompok_rentan/0/keterangan", "description_required")]


def test_v2_facilities_for_vulnerable_groups_are_a_closed_vocabulary():
    record = sample_v2()
    for facilities, path, code in [
        ([{"jenis": "lift", "kelompok": ["lansia"]}], "0/jenis", "one_of"),
        ([{"jenis": "kursi_roda", "kelompok": ["difabel"]}], "0/kelompok/0", "one_of"),
        ([{"jenis": "kursi_roda", "kelompok": []}], "0/kelompok", "length"),
        ([{"jenis": "kursi_roda"}], "0/kelompok", "required"),
    ]:
        assert codes_v2([dict(record, fasilitas_kelompok_rentan=facilities)]) == [
            (f"/records/0/fasilitas_kelompok_rentan/{path}", code)]
    record.pop("fasilitas_kelompok_rentan")
    assert codes_v2([record]) == [("/records/0/fasilitas_kelompok_rentan", "required")]
    # Every group of UU 25/2009 Pasal 29 can be named; none at all is said with [].
    every = ["penyandang_disabilitas", "lansia", "ibu_hamil", "ibu_menyusui", "anak",
             "korban_bencana"]
    for facilities in ([{"jenis": "loket_prioritas", "kelompok": every}], []):
        assert codes_v2([dict(record, fasilitas_kelompok_rentan=facilities)]) == []


def test_v2_each_facility_and_group_is_listed_once():
    record = sample_v2()
    twice = [{"jenis": "kursi_roda", "kelompok": ["lansia", "lansia"]}]
    assert codes_v2([dict(record, fasilitas_kelompok_rentan=twice)]) == [
        ("/records/0/fasilitas_kelompok_rentan/0/kelompok", "duplicate_value")]
    twice = [{"jenis": "kursi_roda", "kelompok": ["lansia"]},
             {"jenis": "ruang_laktasi", "kelompok": ["ibu_menyusui"]},
             {"jenis": "kursi_roda", "kelompok": ["penyandang_disabilitas"]}]
    assert codes_v2([dict(record, fasilitas_kelompok_rentan=twice)]) == [
        ("/records/0/fasilitas_kelompok_rentan/2/jenis", "duplicate_value")]
    others = [{"jenis": "lainnya", "kelompok": ["anak"], "keterangan": "Pojok baca anak"},
              {"jenis": "lainnya", "kelompok": ["lansia"], "keterangan": "Kaca pembesar"}]
    assert codes_v2([dict(record, fasilitas_kelompok_rentan=others)]) == []


def test_v2_status_is_a_closed_vocabulary():
    record = sample_v2(status="berlaku")
    assert codes_v2([dict(record, status="kedaluwarsa")]) == [("/records/0/status", "one_of")]
    record.pop("status")
    assert codes_v2([record]) == [("/records/0/status", "required")]


def test_v2_a_standard_under_review_has_its_review_date():
    record = sample_v2(status="dalam_peninjauan")
    record.pop("tanggal_peninjauan")
    assert codes_v2([record]) == [("/records/0/tanggal_peninjauan", "review_date_required")]
    assert codes_v2([dict(record, tanggal_peninjauan=None)]) == [
        ("/records/0/tanggal_peninjauan", "review_date_required")]
    # In force, a standard may not have been reviewed yet.
    record = sample_v2(status="berlaku")
    record.pop("tanggal_peninjauan", None)
    assert codes_v2([record]) == []


@pytest.mark.parametrize("status", ["berlaku", "dalam_peninjauan", "dicabut"])
def test_v2_a_review_falls_after_the_decree(status):
    record = sample_v2(status=status)
    for days in (0, -1, -400):
        reviewed = days_after(record["tanggal_sk"], days)
        assert codes_v2([dict(record, tanggal_peninjauan=reviewed)]) == [
            ("/records/0/tanggal_peninjauan", "review_not_after_decree")]
    assert codes_v2([dict(record, tanggal_peninjauan=days_after(record["tanggal_sk"], 1))]) == []


def test_v2_a_revoked_standard_names_the_revoking_decree():
    record = sample_v2(status="dicabut")
    assert codes_v2([dict(record, pencabutan=None)]) == [
        ("/records/0/pencabutan", "revocation_required")]
    record.pop("pencabutan")
    assert codes_v2([record]) == [("/records/0/pencabutan", "revocation_required")]
    record["pencabutan"] = {"nomor_sk": "100/Kep.12/2026"}
    assert codes_v2([record]) == [("/records/0/pencabutan/tanggal_sk", "required")]


@pytest.mark.parametrize("status", ["berlaku", "dalam_peninjauan"])
def test_v2_only_a_revoked_standard_names_a_revoking_decree(status):
    record = sample_v2(status=status)
    record["pencabutan"] = {"nomor_sk": "100/Kep.12/2026",
                            "tanggal_sk": days_after(record["tanggal_sk"], 30)}
    assert codes_v2([record]) == [("/records/0/pencabutan", "revocation_without_revoked_status")]


def test_v2_the_revoking_decree_comes_after_the_standard_s_decree():
    record = sample_v2(status="dicabut")
    for days in (0, -1):
        record["pencabutan"]["tanggal_sk"] = days_after(record["tanggal_sk"], days)
        assert codes_v2([record]) == [("/records/0/pencabutan/tanggal_sk",
                                       "revocation_not_after_decree")]


def test_v2_keeps_the_fee_rule_and_the_fourteen_components():
    paid = next(r for r in samples_v2() if r["biaya_tarif"]["jumlah_rupiah"] > 0)
    paid = dict(paid, biaya_tarif={"jumlah_rupiah": 50_000, "dasar_hukum": None})
    assert codes_v2([paid]) == [("/records/0/biaya_tarif/dasar_hukum",
                                 "fee_legal_basis_required")]
    record = sample_v2()
    components = ["persyaratan", "sistem_mekanisme_prosedur", "jangka_waktu", "biaya_tarif",
                  "produk", "penanganan_pengaduan", "dasar_hukum", "sarana_prasarana",
                  "kompetensi_pelaksana", "pengawasan_internal", "jumlah_pelaksana",
                  "jaminan_pelayanan", "jaminan_keamanan_keselamatan", "evaluasi_kinerja"]
    stripped = {k: v for k, v in record.items() if k not in components}
    assert sorted(codes_v2([stripped])) == sorted(
        (f"/records/0/{c}", "required") for c in components)


def test_v2_is_a_breaking_change_from_v1():
    changes = {(c.path, c.description): c.breaking
               for c in diff("standar_pelayanan", "1.0", "2.0")}
    assert changes[("/unit", "now limited to a closed vocabulary")] is True
    for name in ("kode_layanan", "maklumat_pelayanan", "publikasi",
                 "fasilitas_kelompok_rentan", "status"):
        assert changes[(f"/{name}", "new required field")] is True
    assert changes[("/tanggal_peninjauan", "new optional field")] is False
    assert changes[("/pencabutan", "new optional field")] is False
