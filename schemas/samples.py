"""Realistic, valid sample records for demos, tests and benchmarks.

Names and addresses come from Faker's ``id_ID`` locale; NIKs agree with the
reporter's birth date, sex and Kota Bekasi region; units and kelurahan are
real ones. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from typing import Any

from faker import Faker

from schemas import vocab
from schemas._base import region_codes

__all__ = ["sample_records"]

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


def _nik(rng: random.Random, region: str, birth: dt.date, female: bool) -> str:
    district = region.replace(".", "")[:6]  # province, city, kecamatan
    day = birth.day + (40 if female else 0)
    return f"{district}{day:02d}{birth.month:02d}{birth.year % 100:02d}{rng.randint(1, 9999):04d}"


def _permintaan(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    kelurahan = sorted(k for k, level in region_codes().items() if level == "kelurahan")
    region = rng.choice(kelurahan)
    letter = today - dt.timedelta(days=rng.randint(0, 60))
    incident = letter - dt.timedelta(days=rng.randint(1, 600))
    confidential = rng.random() < 0.3
    record: dict[str, Any] = {
        "nomor_laporan": f"0{rng.randint(100, 999)}/LM/{ROMAN[letter.month]}/{letter.year}/JKT",
        "nomor_surat": (
            f"B/{rng.randint(100, 2999)}/LM.01-15/{rng.randint(1000, 9999)}.{i}/{letter.year}"
        ),
        "tanggal_surat": letter.isoformat(),
        "jenis_penerimaan": rng.choice(
            ("laporan_masyarakat", "laporan_masyarakat", "respons_cepat_ombudsman", "tembusan")
        ),
        "tahap": "pemeriksaan",
        "substansi": rng.choice(
            ("administrasi_kependudukan", "kesehatan", "pendidikan", "perizinan", "jaminan_sosial")
        ),
        "jenis_maladministrasi": rng.sample(vocab.MALADMINISTRASI, k=rng.randint(1, 2)),
        "unit_terlapor": rng.choice(UNITS),
        "tanggal_kejadian": incident.isoformat(),
        "kode_wilayah": region,
        "batas_waktu_tanggapan": (letter + dt.timedelta(days=14)).isoformat(),
        "ringkasan": f"Pelapor mengeluhkan {rng.choice(COMPLAINTS)}.",
        "pelapor_dirahasiakan": confidential,
    }
    if not confidential:
        female = rng.random() < 0.5
        birth = fake.date_of_birth(minimum_age=18, maximum_age=80)
        record["pelapor"] = {
            "nama": fake.name_female() if female else fake.name_male(),
            "nik": _nik(rng, region, birth, female),
            "telepon": f"+628{rng.randint(100000000, 9999999999)}",
            "email": fake.free_email(),
        }
    return record


def _tanggapan(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    status = rng.choice(("selesai", "selesai", "dalam_proses", "bukan_kewenangan"))
    evidence = [
        {
            "nama_berkas": f"bukti-{i}-{n}.pdf",
            "sha256": hashlib.sha256(f"{i}-{n}-{rng.random()}".encode()).hexdigest(),
        }
        for n in range(rng.randint(1, 3) if status == "selesai" else 0)
    ]
    return {
        "nomor_laporan": f"0{rng.randint(100, 999)}/LM/XI/{today.year}/JKT",
        "nomor_surat_tanggapan": f"800/{rng.randint(100, 9999)}/Inspektorat",
        "tanggal_tanggapan": (today - dt.timedelta(days=rng.randint(0, 20))).isoformat(),
        "status": status,
        "penjelasan": " ".join(rng.sample(ANSWERS, k=2)),
        "unit_penanggung_jawab": rng.choice(UNITS),
        "pejabat_penanggung_jawab": {"nama": fake.name(), "jabatan": fake.job()},
        "bukti": evidence,
    }


_MAKERS: dict[str, Callable[[Faker, random.Random, int, dt.date], dict[str, Any]]] = {
    "permintaan_klarifikasi": _permintaan,
    "tanggapan_klarifikasi": _tanggapan,
}


def sample_records(
    dataset: str, count: int, *, seed: int = 0, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """``count`` valid records of ``dataset`` (latest schema version)."""
    if dataset not in _MAKERS:
        raise KeyError(f"no sample generator for dataset {dataset!r}")
    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
    day = today or dt.date.today()
    return [_MAKERS[dataset](fake, rng, i, day) for i in range(count)]
