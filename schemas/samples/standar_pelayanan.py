"""Sample ``standar_pelayanan`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

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
