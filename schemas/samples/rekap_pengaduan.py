"""Sample ``rekap_pengaduan`` records, with small counts suppressed."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas import vocab
from schemas.rekap_pengaduan import KLASIFIKASI, SMALLEST_COUNT
from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker


def _row(dimension: str, value: str, count: int) -> dict[str, Any]:
    if 0 < count < SMALLEST_COUNT:
        return {"dimensi": dimension, "nilai": value, "jumlah": None, "disamarkan": True}
    return {"dimensi": dimension, "nilai": value, "jumlah": count, "disamarkan": False}


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    month = (today.replace(day=1) - dt.timedelta(days=1 + 31 * rng.randint(0, 11))).replace(day=1)
    rows = [_row("saluran", v, rng.choice((0, 2, 7, 15, 40))) for v in vocab.SALURAN]
    rows += [_row("klasifikasi", v, rng.choice((0, 3, 9, 25))) for v in KLASIFIKASI]
    rows += [_row("substansi", v, rng.choice((0, 1, 6, 12)))
             for v in rng.sample(vocab.SUBSTANSI, k=5)]
    return {"periode": f"{month.year}-{month.month:02d}", "unit": rng.choice(UNITS),
            "baris": rows}
