"""Sample ``lahp`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from faker import Faker

from schemas import vocab
from schemas.samples._common import ROMAN, UNITS

ACTIONS = (
    "Menerbitkan dokumen kependudukan pelapor tanpa pungutan",
    "Mengembalikan biaya yang dipungut tanpa dasar hukum kepada pelapor",
    "Menyusun dan mempublikasikan standar pelayanan yang memuat jangka waktu",
    "Memberikan pembinaan kepada petugas pelayanan yang bersangkutan",
    "Memperbaiki mekanisme penanganan pengaduan di unit layanan",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    issued = today - dt.timedelta(days=rng.randint(0, 90))
    conclusion = rng.choice(
        ("ditemukan_maladministrasi", "ditemukan_maladministrasi",
         "tidak_ditemukan_maladministrasi", "pemeriksaan_dihentikan")
    )  # fmt: skip
    found = conclusion == "ditemukan_maladministrasi"
    unit = rng.choice(UNITS)
    return {
        "nomor_laporan": f"0{rng.randint(100, 999)}/LM/{ROMAN[issued.month]}/{issued.year}/JKT",
        "nomor_lahp": f"LAHP/{rng.randint(100, 999)}.{i}/LM.01-15/{issued.year}",
        "tanggal_lahp": issued.isoformat(),
        "unit_terlapor": unit,
        "kesimpulan": conclusion,
        "jenis_maladministrasi": rng.sample(vocab.MALADMINISTRASI, k=rng.randint(1, 2))
        if found else [],
        "tindakan_korektif": [
            {
                "pihak": f"Kepala {unit}",
                "tindakan": rng.choice(ACTIONS),
                "batas_waktu": (issued + dt.timedelta(days=rng.choice((14, 30, 60)))).isoformat(),
            }
            for _ in range(rng.randint(1, 3) if found else 0)
        ],
        "ringkasan": f"Pemeriksaan atas laporan terhadap {unit} telah selesai dilakukan.",
    }
