"""Sample ``tanggapan_klarifikasi`` records of version 3.0.

The answering unit by its code in the register of Kota Bekasi's perangkat daerah, the
answer letter numbered with the unit's abbreviation, and the responsible official with
an Indonesian job title that fits the kind of unit (Faker's jobs are English). They
carry no completion date (optional since 2.0), so the same records are valid under 1.0
and 2.0 as well.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import TYPE_CHECKING, Any

from schemas.registers import register
from schemas.samples._common import ANSWERS, ROMAN

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["JABATAN", "UNITS", "make"]

# Units that answer clarification requests most often.
UNITS = (
    "3275.DISDUKCAPIL",
    "3275.DINKES",
    "3275.DISDIK",
    "3275.DINSOS",
    "3275.DPMPTSP",
    "3275.DISHUB",
    "3275.BAPENDA",
    "3275.DLH",
    "3275.RSUD",
    "3275.PKM.KARANGKITRI",
    "3275.PKM.JATIBENING",
    "3275.KEC.01",
    "3275.KEC.08",
    "3275.INSPEKTORAT",
)

# Job titles by the kind of unit (the register's "jenis").
JABATAN = {
    "dinas": (
        "Kepala Dinas",
        "Sekretaris Dinas",
        "Kepala Bidang Pelayanan",
        "Kepala Bidang Pengendalian dan Evaluasi",
        "Kepala Seksi Pengaduan dan Informasi",
    ),
    "badan": ("Kepala Badan", "Sekretaris Badan", "Kepala Bidang Pelayanan dan Penetapan"),
    "rumah_sakit": ("Direktur", "Wakil Direktur Pelayanan", "Kepala Bagian Umum"),
    "puskesmas": ("Kepala Puskesmas", "Kepala Subbagian Tata Usaha"),
    "kecamatan": ("Camat", "Sekretaris Kecamatan", "Kepala Seksi Pelayanan Umum"),
    "inspektorat": ("Inspektur", "Sekretaris Inspektorat", "Inspektur Pembantu Wilayah I"),
}


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    unit = rng.choice(UNITS)
    row = register("perangkat_daerah").rows[unit]
    status = rng.choice(("selesai", "selesai", "dalam_proses", "bukan_kewenangan"))
    answered = today - dt.timedelta(days=rng.randint(0, 20))
    registered = answered - dt.timedelta(days=rng.randint(20, 200))
    evidence = [
        {
            "nama_berkas": f"bukti-{i}-{n}.pdf",
            "sha256": hashlib.sha256(f"{i}-{n}-{rng.random()}".encode()).hexdigest(),
        }
        for n in range(rng.randint(1, 3) if status == "selesai" else 0)
    ]
    title = rng.choice(JABATAN[row["jenis"]])
    if rng.random() < 0.1:
        title = f"Plt. {title}"
    return {
        "nomor_laporan": (
            f"{rng.randint(1, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_surat_tanggapan": f"800/{rng.randint(100, 9999)}/{row['singkatan']}",
        "tanggal_tanggapan": answered.isoformat(),
        "status": status,
        "penjelasan": " ".join(rng.sample(ANSWERS, k=2)),
        "unit_penanggung_jawab": unit,
        "pejabat_penanggung_jawab": {"nama": fake.name(), "jabatan": title},
        "bukti": evidence,
    }
