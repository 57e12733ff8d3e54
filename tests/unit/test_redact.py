from schemas.redact import REDACTED, redact_record
from schemas.samples import sample_records


def test_personal_values_are_replaced_and_the_rest_kept():
    record = next(r for r in sample_records("permintaan_klarifikasi", 20, seed=4, version="1.0")
                  if not r["pelapor_dirahasiakan"])
    out = redact_record("permintaan_klarifikasi", "1.0", record)
    assert out["pelapor"] == {"nama": REDACTED, "nik": REDACTED, "telepon": REDACTED,
                              "email": REDACTED}
    assert out["ringkasan"] == REDACTED
    for key in ("nomor_laporan", "tanggal_surat", "jenis_maladministrasi", "kode_wilayah"):
        assert out[key] == record[key]
    assert record["pelapor"]["nama"] != REDACTED  # the input is left alone


def test_nested_lists_unknown_members_and_odd_shapes():
    record = sample_records("tanggapan_klarifikasi", 1, seed=2, version="1.0")[0]
    record = dict(record, catatan_lain="Budi, 0812-3456-7890",
                  bukti=[{"nama_berkas": "a.pdf", "sha256": "0" * 64, "nik": "3275..."}])
    out = redact_record("tanggapan_klarifikasi", "1.0", record)
    official = record["pejabat_penanggung_jawab"]
    assert out["pejabat_penanggung_jawab"] == {"nama": REDACTED, "jabatan": official["jabatan"]}
    assert out["catatan_lain"] == REDACTED  # not in the agreed schema
    assert out["bukti"] == [{"nama_berkas": "a.pdf", "sha256": "0" * 64, "nik": REDACTED}]
    assert redact_record("tanggapan_klarifikasi", "1.0", ["not", "a", "record"]) == REDACTED
    odd = redact_record("tanggapan_klarifikasi", "1.0", dict(record, bukti="x"))
    assert odd["bukti"] == REDACTED
