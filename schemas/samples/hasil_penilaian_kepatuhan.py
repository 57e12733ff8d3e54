"""Sample ``hasil_penilaian_kepatuhan`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from faker import Faker

from schemas.hasil_penilaian_kepatuhan import OPINION_OF_GRADE, ZONE_OF_GRADE
from schemas.samples._common import UNITS

NOTES = (
    "Lengkapi maklumat pelayanan di ruang tunggu.",
    "Sediakan sarana bagi pengguna layanan berkebutuhan khusus.",
    "Publikasikan standar pelayanan secara daring dan di lokasi.",
    "Tetapkan petugas pengelola pengaduan beserta prosedurnya.",
    "Lakukan survei kepuasan masyarakat secara berkala.",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    dims = {k: round(rng.uniform(55, 99), 2) for k in ("input", "proses", "output", "pengaduan")}
    total = round(sum(dims.values()) / 4, 2)
    grade = "A" if total >= 88 else "B" if total >= 78 else "C" if total >= 66 else "D"
    return {
        "tahun": rng.randint(2022, max(2022, today.year - 1)),
        "versi_metode": "2022.1",
        "unit": rng.choice(UNITS),
        "nilai_dimensi": dims,
        "nilai_total": total,
        "predikat": grade,
        "zona": ZONE_OF_GRADE[grade],
        "opini": OPINION_OF_GRADE[grade],
        "catatan_perbaikan": rng.sample(NOTES, k=rng.randint(0, 3)),
    }
