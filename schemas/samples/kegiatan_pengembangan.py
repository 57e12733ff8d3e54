"""Sample ``kegiatan_pengembangan`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

TITLES = {
    "pelatihan": ("Pelatihan Pengelolaan Pengaduan Pelayanan Publik",
                  "Pelatihan Penyusunan Standar Pelayanan"),
    "pendampingan": ("Pendampingan Penilaian Kepatuhan Standar Pelayanan",
                     "Pendampingan Tindak Lanjut Rekomendasi"),
    "sosialisasi": ("Sosialisasi Pencegahan Maladministrasi",),
}  # fmt: skip
PLANS = (
    "Menyusun prosedur penanganan pengaduan di setiap unit layanan",
    "Memperbarui maklumat pelayanan dan mempublikasikannya",
    "Melaporkan kemajuan perbaikan kepada Inspektorat",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    kind = rng.choice(tuple(TITLES))
    start = today - dt.timedelta(days=rng.randint(1, 120))
    end = start + dt.timedelta(days=rng.randint(0, 3))
    total = rng.randint(15, 120)
    men = rng.randint(0, total) if rng.random() < 0.7 else None
    return {
        "id_kegiatan": f"KGT-{start.year}-{rng.randint(1000, 9999)}-{i}",
        "jenis": kind,
        "judul": rng.choice(TITLES[kind]),
        "tanggal_mulai": start.isoformat(),
        "tanggal_selesai": end.isoformat(),
        "penyelenggara": rng.choice(("Ombudsman RI Perwakilan Jakarta Raya",
                                     "Bagian Organisasi Setda Kota Bekasi")),
        "unit_sasaran": rng.sample(UNITS, k=rng.randint(1, 4)),
        "jumlah_peserta": total,
        "peserta_laki_laki": men,
        "peserta_perempuan": None if men is None else total - men,
        "rencana_tindak_lanjut": [
            {"kegiatan": rng.choice(PLANS), "unit_penanggung_jawab": rng.choice(UNITS),
             "target_tanggal": (end + dt.timedelta(days=rng.randint(14, 90))).isoformat()}
            for _ in range(rng.randint(0, 2))
        ],
    }
