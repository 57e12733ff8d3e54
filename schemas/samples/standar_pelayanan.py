"""Sample ``standar_pelayanan`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.registers import register

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker


SERVICES = (
    ("Penerbitan Kartu Tanda Penduduk Elektronik", "Dinas Kependudukan dan Pencatatan Sipil",
     0, None),
    ("Penerbitan Akta Kelahiran", "Dinas Kependudukan dan Pencatatan Sipil", 0, None),
    ("Persetujuan Bangunan Gedung", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
     1_500_000, "Peraturan Daerah Kota Bekasi tentang Pajak Daerah dan Retribusi Daerah"),
    ("Pelayanan Rawat Jalan", "Puskesmas Karang Kitri", 0, None),
    ("Uji Kendaraan Bermotor", "Dinas Perhubungan", 87_000,
     "Peraturan Daerah Kota Bekasi tentang Retribusi Jasa Umum"),
)  # fmt: skip


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    name, unit, fee, basis = rng.choice(SERVICES)
    decided = today - dt.timedelta(days=rng.randint(30, 900))
    return {
        "nama_layanan": name,
        "unit": unit,
        "nomor_sk": f"{rng.randint(100, 999)}/Kep.{rng.randint(10, 500)}-{unit.split()[0]}/"
        f"{decided.year}",
        "tanggal_sk": decided.isoformat(),
        "persyaratan": ["Fotokopi Kartu Keluarga", "Formulir permohonan yang telah diisi"],
        "sistem_mekanisme_prosedur": ["Pemohon mengambil nomor antrean",
                                      "Petugas memverifikasi berkas",
                                      "Produk layanan diserahkan kepada pemohon"],
        "jangka_waktu": {"nilai": rng.choice((1, 3, 5, 14)), "satuan": "hari_kerja"},
        "biaya_tarif": {"jumlah_rupiah": fee, "dasar_hukum": basis},
        "produk": [name.replace("Penerbitan ", "").replace("Pelayanan ", "Layanan ")],
        "penanganan_pengaduan": ["Kotak pengaduan di loket", "SP4N-LAPOR!", "Call centre 112"],
        "dasar_hukum": ["Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik"],
        "sarana_prasarana": ["Ruang tunggu", "Loket pelayanan", "Komputer dan printer"],
        "kompetensi_pelaksana": ["Memahami peraturan di bidang layanan"],
        "pengawasan_internal": ["Pengawasan oleh atasan langsung"],
        "jumlah_pelaksana": rng.randint(3, 25),
        "jaminan_pelayanan": ["Maklumat pelayanan"],
        "jaminan_keamanan_keselamatan": ["Data pemohon dijaga kerahasiaannya"],
        "evaluasi_kinerja": ["Evaluasi kinerja pelaksana setiap enam bulan"],
    }


# -- 2.0 --------------------------------------------------------------------------------------

# (unit code, slug, service, fee, legal basis of the fee, product)
SERVICES_V2 = (
    ("3275.DISDUKCAPIL", "penerbitan-ktp-el", "Penerbitan Kartu Tanda Penduduk Elektronik", 0,
     None, "Kartu Tanda Penduduk Elektronik"),
    ("3275.DISDUKCAPIL", "penerbitan-akta-kelahiran", "Penerbitan Akta Kelahiran", 0, None,
     "Kutipan Akta Kelahiran"),
    ("3275.DISDUKCAPIL", "penerbitan-kartu-keluarga", "Penerbitan Kartu Keluarga", 0, None,
     "Kartu Keluarga"),
    ("3275.DPMPTSP", "persetujuan-bangunan-gedung", "Persetujuan Bangunan Gedung", 1_500_000,
     "Peraturan Daerah Kota Bekasi tentang Pajak Daerah dan Retribusi Daerah",
     "Persetujuan Bangunan Gedung"),
    ("3275.PKM.KARANGKITRI", "rawat-jalan", "Pelayanan Rawat Jalan", 0, None,
     "Layanan pemeriksaan dan pengobatan rawat jalan"),
    ("3275.PKM.JATIBENING", "rawat-jalan", "Pelayanan Rawat Jalan", 0, None,
     "Layanan pemeriksaan dan pengobatan rawat jalan"),
    ("3275.DISHUB", "uji-kendaraan-bermotor", "Uji Kendaraan Bermotor", 87_000,
     "Peraturan Daerah Kota Bekasi tentang Retribusi Jasa Umum", "Kartu dan tanda uji berkala"),
    ("3275.DISNAKER", "kartu-pencari-kerja", "Penerbitan Kartu Tanda Bukti Pendaftaran Pencari "
     "Kerja", 0, None, "Kartu Tanda Bukti Pendaftaran Pencari Kerja (AK/I)"),
    ("3275.DINSOS", "rekomendasi-pbi-jk", "Penerbitan Rekomendasi Penerima Bantuan Iuran "
     "Jaminan Kesehatan", 0, None, "Surat rekomendasi"),
)  # fmt: skip

# The facilities of the samples, with the vulnerable groups each serves.
FACILITIES = (
    ("loket_prioritas", ["penyandang_disabilitas", "lansia", "ibu_hamil"]),
    ("kursi_tunggu_prioritas", ["lansia", "ibu_hamil", "penyandang_disabilitas"]),
    ("bidang_miring", ["penyandang_disabilitas", "lansia"]),
    ("kursi_roda", ["penyandang_disabilitas", "lansia"]),
    ("toilet_khusus", ["penyandang_disabilitas"]),
    ("jalur_pemandu", ["penyandang_disabilitas"]),
    ("ruang_laktasi", ["ibu_menyusui"]),
    ("ruang_bermain_anak", ["anak"]),
    ("parkir_khusus", ["penyandang_disabilitas"]),
)

MAKLUMAT = (
    "Dengan ini kami menyatakan sanggup menyelenggarakan pelayanan sesuai dengan standar "
    "pelayanan yang telah ditetapkan, dan apabila tidak menepati janji ini kami siap menerima "
    "sanksi sesuai dengan ketentuan peraturan perundang-undangan yang berlaku."
)


def _between(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def _facilities(rng: random.Random) -> list[dict[str, Any]]:
    if rng.random() < 0.05:
        return []  # none: the record says so
    return [{"jenis": kind, "kelompok": groups}
            for kind, groups in rng.sample(FACILITIES, k=rng.randint(2, 6))]


def _publication(rng: random.Random, unit: str, slug: str) -> list[dict[str, Any]]:
    host = unit.split(".")[-1].lower()
    channels: list[dict[str, Any]] = [
        {"saluran": "website",
         "url": f"https://{host}.bekasikota.go.id/standar-pelayanan/{slug}"},
        {"saluran": "papan_informasi",
         "keterangan": "Papan informasi di ruang tunggu loket pelayanan"},
    ]
    if rng.random() < 0.5:
        channels.append({"saluran": "sippn", "url": "https://sippn.menpan.go.id/"})
    if rng.random() < 0.3:
        channels.append({"saluran": "brosur"})
    return channels


def _status(rng: random.Random, decided: dt.date, today: dt.date) -> dict[str, Any]:
    status = rng.choices(("berlaku", "dalam_peninjauan", "dicabut"), weights=(75, 15, 10))[0]
    out: dict[str, Any] = {"status": status}
    day_after = decided + dt.timedelta(days=1)
    if status == "dalam_peninjauan" or rng.random() < 0.5:
        out["tanggal_peninjauan"] = _between(rng, day_after, today).isoformat()
    if status == "dicabut":
        revoked = _between(rng, day_after, today)
        out["pencabutan"] = {
            "nomor_sk": f"{rng.randint(100, 999)}/Kep.{rng.randint(10, 500)}/{revoked.year}",
            "tanggal_sk": revoked.isoformat(),
        }
    return out


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    unit, slug, name, fee, basis, product = rng.choice(SERVICES_V2)
    decided = today - dt.timedelta(days=rng.randint(60, 1500))
    short = register("perangkat_daerah").rows[unit]["singkatan"].replace(" ", "")
    published = rng.random() < 0.9
    maklumat: dict[str, Any] = {"dipublikasikan": published}
    if published:
        maklumat.update(tanggal=_between(rng, decided, today).isoformat(), teks=MAKLUMAT)
        if rng.random() < 0.7:
            maklumat["nomor"] = f"800/{rng.randint(100, 999)}/{short}/{decided.year}"
    return {
        "kode_layanan": f"{unit}:{slug}",
        "nama_layanan": name,
        "unit": unit,
        "nomor_sk": f"{rng.randint(100, 999)}/Kep.{rng.randint(10, 500)}-{short}/{decided.year}",
        "tanggal_sk": decided.isoformat(),
        **_status(rng, decided, today),
        "maklumat_pelayanan": maklumat,
        "publikasi": _publication(rng, unit, slug),
        "persyaratan": ["Fotokopi Kartu Keluarga", "Formulir permohonan yang telah diisi"],
        "sistem_mekanisme_prosedur": ["Pemohon mengambil nomor antrean",
                                      "Petugas memverifikasi berkas",
                                      "Produk layanan diserahkan kepada pemohon"],
        "jangka_waktu": {"nilai": rng.choice((1, 3, 5, 14)), "satuan": "hari_kerja"},
        "biaya_tarif": {"jumlah_rupiah": fee, "dasar_hukum": basis},
        "produk": [product],
        "penanganan_pengaduan": ["Kotak pengaduan di loket", "SP4N-LAPOR!", "Call centre 112"],
        "dasar_hukum": ["Undang-Undang Nomor 25 Tahun 2009 tentang Pelayanan Publik",
                        "Peraturan Menteri Pendayagunaan Aparatur Negara dan Reformasi "
                        "Birokrasi Nomor 15 Tahun 2014 tentang Pedoman Standar Pelayanan"],
        "sarana_prasarana": ["Ruang tunggu", "Loket pelayanan", "Komputer dan printer"],
        "fasilitas_kelompok_rentan": _facilities(rng),
        "kompetensi_pelaksana": ["Memahami peraturan di bidang layanan"],
        "pengawasan_internal": ["Pengawasan oleh atasan langsung"],
        "jumlah_pelaksana": rng.randint(3, 25),
        "jaminan_pelayanan": ["Maklumat pelayanan"],
        "jaminan_keamanan_keselamatan": ["Data pemohon dijaga kerahasiaannya"],
        "evaluasi_kinerja": ["Evaluasi kinerja pelaksana setiap enam bulan"],
    }
