"""Sample ``hasil_penilaian_kepatuhan`` records.

The score bands below only make the samples look plausible; the real cut-offs
of the grades are not confirmed and the schema does not check them.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.hasil_penilaian_kepatuhan import FIRST_YEAR, OPINION_OF_GRADE, ZONE_OF_GRADE
from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["make"]

# Every ten records carry each grade at least once; B is the most common.
PLAN = ("B", "A", "C", "B", "D", "B", "C", "E", "A", "B")

BANDS = {
    "A": (88.0, 97.0),
    "B": (78.0, 87.9),
    "C": (66.0, 77.9),
    "D": (51.0, 65.9),
    "E": (30.0, 50.9),
}

NOTES = (
    "Lengkapi maklumat pelayanan dan pasang di ruang tunggu.",
    "Sediakan sarana dan prasarana bagi pengguna layanan berkebutuhan khusus.",
    "Publikasikan standar pelayanan secara daring dan di lokasi layanan.",
    "Tetapkan petugas pengelola pengaduan beserta prosedur penanganannya.",
    "Lakukan survei kepuasan masyarakat secara berkala dan umumkan hasilnya.",
    "Tingkatkan kompetensi petugas layanan melalui pelatihan pelayanan prima.",
    "Tindak lanjuti pengaduan dalam jangka waktu yang ditetapkan dan catat hasilnya.",
)

DIMENSIONS = ("input", "proses", "output", "pengaduan")


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    grade = PLAN[i % len(PLAN)]
    low, high = BANDS[grade]
    target = rng.uniform(low, high)
    scores = {d: round(min(100.0, max(0.0, target + rng.uniform(-7, 7))), 2) for d in DIMENSIONS}
    total = round(sum(scores.values()) / len(scores), 2)
    year = rng.randint(FIRST_YEAR, max(FIRST_YEAR, today.year - 1))
    notes = rng.sample(NOTES, k=rng.randint(0, 2) if grade == "A" else rng.randint(1, 4))
    return {
        "tahun": year,
        "versi_metode": "2022.1" if year == FIRST_YEAR else "2023.1",
        "unit": rng.choice(UNITS),
        "nilai_dimensi": scores,
        "nilai_total": total,
        "predikat": grade,
        "zona": ZONE_OF_GRADE[grade],
        "opini": OPINION_OF_GRADE[grade],
        "catatan_perbaikan": notes,
    }
