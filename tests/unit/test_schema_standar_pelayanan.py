import pytest

from gateway.exchange.validation import validator_for
from schemas.samples import sample_records


def codes(records):
    return [(e.path, e.code) for e in validator_for("standar_pelayanan", "1.0").errors(records)]


def sample(paid: bool):
    return next(r for r in sample_records("standar_pelayanan", 40, seed=6)
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
