"""Sample ``lahp`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.samples._common import ROMAN

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["make"]

# Every five records carry each conclusion at least once; a finding is the most common.
PLAN = (
    "ditemukan_maladministrasi",
    "tidak_ditemukan_maladministrasi",
    "ditemukan_maladministrasi",
    "pemeriksaan_dihentikan",
    "ditemukan_maladministrasi",
)

# (reported units, what was reported, maladministration types, corrective actions)
CASES: tuple[tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("Dinas Kependudukan dan Pencatatan Sipil",),
        "penerbitan KTP elektronik yang tertunda lebih dari tiga bulan",
        ("penundaan_berlarut",),
        (
            "Menerbitkan KTP elektronik pelapor tanpa memungut biaya",
            "Menyusun dan mempublikasikan jangka waktu penerbitan KTP elektronik",
        ),
    ),
    (
        ("Dinas Kependudukan dan Pencatatan Sipil",),
        "permintaan biaya tambahan untuk pengurusan akta kelahiran",
        ("permintaan_imbalan", "penyimpangan_prosedur"),
        (
            "Mengembalikan biaya yang dipungut tanpa dasar hukum kepada pelapor",
            "Menjatuhkan sanksi disiplin kepada petugas yang memungut biaya",
            "Memasang maklumat layanan tanpa biaya di ruang pelayanan",
        ),
    ),
    (
        ("Dinas Kesehatan", "Puskesmas Karang Kitri", "Puskesmas Jatibening"),
        "penolakan layanan rawat jalan tanpa penjelasan",
        ("tidak_memberikan_pelayanan", "tidak_patut"),
        (
            "Memberikan pelayanan rawat jalan kepada pelapor sesuai standar pelayanan",
            "Memberikan pembinaan kepada petugas pendaftaran yang bersangkutan",
            "Menetapkan prosedur penjelasan kepada pasien yang tidak dapat dilayani",
        ),
    ),
    (
        ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",),
        "proses izin usaha yang melebihi jangka waktu standar pelayanan",
        ("penundaan_berlarut", "penyimpangan_prosedur"),
        (
            "Menyelesaikan permohonan izin pelapor",
            "Mengevaluasi pemenuhan jangka waktu dalam standar pelayanan perizinan",
        ),
    ),
    (
        ("Dinas Sosial",),
        "bantuan sosial yang tidak disalurkan sesuai data penerima",
        ("penyimpangan_prosedur", "diskriminasi"),
        (
            "Memverifikasi ulang data penerima bantuan sosial di kelurahan pelapor",
            "Menyalurkan bantuan sosial kepada pelapor yang memenuhi syarat",
        ),
    ),
    (
        ("Dinas Pendidikan",),
        "penerimaan peserta didik baru yang dinilai tidak transparan",
        ("penyimpangan_prosedur", "tidak_patut"),
        (
            "Mengumumkan hasil seleksi beserta nilai dan kuota setiap jalur secara terbuka",
            "Menyediakan kanal pengaduan selama masa penerimaan peserta didik baru",
        ),
    ),
    (
        ("Badan Pendapatan Daerah",),
        "kenaikan tagihan PBB tanpa pemberitahuan dan penjelasan",
        ("tidak_patut",),
        ("Memberikan penjelasan tertulis kepada pelapor atas dasar penetapan PBB",),
    ),
    (
        ("Dinas Perhubungan",),
        "pungutan uji KIR di luar tarif retribusi yang ditetapkan",
        ("permintaan_imbalan",),
        (
            "Mengembalikan kelebihan pungutan kepada pelapor",
            "Menerapkan pembayaran retribusi uji KIR secara nontunai",
        ),
    ),
)

OVERSEERS = ("Inspektur Kota Bekasi", "Sekretaris Daerah Kota Bekasi")

NOT_FOUND = (
    "Berdasarkan klarifikasi dan pemeriksaan dokumen, layanan telah diberikan sesuai "
    "standar pelayanan sehingga tidak ditemukan maladministrasi.",
    "Terlapor dapat menunjukkan bahwa keterlambatan disebabkan persyaratan yang belum "
    "dilengkapi pelapor; tidak ditemukan maladministrasi.",
)

STOPPED = (
    "Pemeriksaan dihentikan karena pelapor mencabut laporannya setelah layanan diselesaikan.",
    "Pemeriksaan dihentikan karena pelapor tidak lagi dapat dihubungi.",
    "Pemeriksaan dihentikan karena substansi laporan sedang dalam proses peradilan.",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    conclusion = PLAN[i % len(PLAN)]
    found = conclusion == "ditemukan_maladministrasi"
    issued = today - dt.timedelta(days=rng.randint(0, 120))
    registered = issued - dt.timedelta(days=rng.randint(45, 200))
    units, complaint, case_types, case_actions = CASES[rng.randrange(len(CASES))]
    unit = rng.choice(units)
    types: list[str] = []
    actions: list[dict[str, str]] = []
    if found:
        types = rng.sample(case_types, k=rng.randint(1, len(case_types)))
        for what in case_actions[: rng.randint(1, len(case_actions))]:
            who = f"Kepala {unit}" if rng.random() < 0.8 else rng.choice(OVERSEERS)
            days = rng.choice((14, 30, 30, 60))
            deadline = issued + dt.timedelta(days=days)
            actions.append({"pihak": who, "tindakan": what, "batas_waktu": deadline.isoformat()})
        named = " dan ".join(t.replace("_", " ") for t in types)
        outcome = f"Ombudsman menyimpulkan telah terjadi maladministrasi berupa {named}."
    elif conclusion == "tidak_ditemukan_maladministrasi":
        outcome = rng.choice(NOT_FOUND)
    else:
        outcome = rng.choice(STOPPED)
    return {
        "nomor_laporan": (
            f"{rng.randint(100, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_lahp": f"LAHP/{rng.randint(1, 999):04d}.{i}/LM.01-15/{issued.year}",
        "tanggal_lahp": issued.isoformat(),
        "unit_terlapor": unit,
        "kesimpulan": conclusion,
        "jenis_maladministrasi": types,
        "tindakan_korektif": actions,
        "ringkasan": (
            f"Sdr. {fake.name()} melaporkan {complaint} pada {unit}. "
            "Ombudsman RI Perwakilan Jakarta Raya telah meminta klarifikasi kepada terlapor "
            f"dan memeriksa dokumen pendukung. {outcome}"
        ),
    }
