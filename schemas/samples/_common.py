"""Shared material for sample records: real Kota Bekasi units, NIKs, text."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker


__all__ = ["ANSWERS", "COMPLAINTS", "ROMAN", "UNITS", "Maker", "nik"]

UNITS = (
    "Dinas Kependudukan dan Pencatatan Sipil",
    "Dinas Kesehatan",
    "Dinas Pendidikan",
    "Dinas Sosial",
    "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
    "Puskesmas Karang Kitri",
    "Puskesmas Jatibening",
    "Dinas Perhubungan",
    "Badan Pendapatan Daerah",
)


COMPLAINTS = (
    "penerbitan KTP elektronik yang tertunda lebih dari tiga bulan",
    "permintaan biaya tambahan untuk pengurusan akta kelahiran",
    "penolakan layanan rawat jalan tanpa penjelasan",
    "proses izin usaha yang melebihi jangka waktu standar pelayanan",
    "bantuan sosial yang tidak disalurkan sesuai data penerima",
    "penerimaan peserta didik baru yang dinilai tidak transparan",
    "petugas yang tidak hadir pada jam layanan",
)

ANSWERS = (
    "Unit terkait telah melakukan verifikasi dan menyelesaikan layanan kepada pelapor.",
    "Permohonan pelapor sedang diproses dan ditargetkan selesai dalam 14 hari kerja.",
    "Petugas yang bersangkutan telah diberi pembinaan oleh atasan langsung.",
    "Pungutan tersebut tidak memiliki dasar hukum dan telah dikembalikan kepada pelapor.",
    "Substansi laporan merupakan kewenangan instansi vertikal dan telah diteruskan.",
)


ROMAN = ("", "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


def nik(rng: random.Random, region: str, birth: dt.date, female: bool) -> str:
    district = region.replace(".", "")[:6]  # province, city, kecamatan
    day = birth.day + (40 if female else 0)
    return f"{district}{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randint(1, 9999):04d}"



# A sample maker: (fake, rng, index, today) -> one valid record.
Maker = Callable[["Faker", random.Random, int, dt.date], dict[str, Any]]
