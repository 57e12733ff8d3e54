"""Sample ``monitoring_tindak_lanjut`` records."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import Any

from faker import Faker

from schemas.samples._common import ROMAN, UNITS

DONE = (
    "Dokumen kependudukan pelapor telah diterbitkan dan diserahkan.",
    "Biaya yang dipungut telah dikembalikan kepada pelapor disertai tanda terima.",
    "Standar pelayanan telah ditetapkan dan dipublikasikan di laman resmi.",
)
REASONS = (
    "Penyusunan standar pelayanan menunggu penetapan peraturan wali kota.",
    "Anggaran perbaikan sarana baru tersedia pada tahun anggaran berikutnya.",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    status = rng.choice(("dilaksanakan", "dilaksanakan", "dilaksanakan_sebagian",
                         "tidak_dilaksanakan"))  # fmt: skip
    kind = rng.choice(("tindakan_korektif", "rekomendasi"))
    day = today - dt.timedelta(days=rng.randint(0, 60))
    number = (f"LAHP/{rng.randint(100, 999)}/LM.01-15/{day.year}" if kind == "tindakan_korektif"
              else f"{rng.randint(1, 99):03d}/RM.03.01/{ROMAN[day.month]}/{day.year}")
    record: dict[str, Any] = {
        "jenis_rujukan": kind,
        "nomor_rujukan": number,
        "urutan_tindakan": rng.randint(0, 2) if kind == "tindakan_korektif" else None,
        "tanggal_laporan": day.isoformat(),
        "status": status,
        "uraian": rng.choice(DONE),
        "alasan": None if status == "dilaksanakan" else rng.choice(REASONS),
        "bukti": [
            {"nama_berkas": f"tindak-lanjut-{i}-{n}.pdf",
             "sha256": hashlib.sha256(f"{i}-{n}-{rng.random()}".encode()).hexdigest()}
            for n in range(0 if status == "tidak_dilaksanakan" else rng.randint(1, 2))
        ],
        "unit_penanggung_jawab": rng.choice(UNITS),
    }
    return record
