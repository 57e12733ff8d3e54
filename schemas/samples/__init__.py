"""Realistic, valid sample records for demos, tests and benchmarks.

Names and addresses come from Faker's ``id_ID`` locale; NIKs agree with the
reporter's birth date, sex and Kota Bekasi region; units and kelurahan are
real ones. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from typing import TYPE_CHECKING, Any

from schemas import vocab
from schemas._base import region_codes
from schemas.samples import (
    hasil_penilaian_kepatuhan,
    kegiatan_pengembangan,
    lahp,
    monitoring_tindak_lanjut,
    penilaian_tindak_lanjut,
    permintaan_klarifikasi,
    rekap_pengaduan,
    standar_pelayanan,
    tanggapan_klarifikasi,
)
from schemas.samples._common import ANSWERS, COMPLAINTS, ROMAN, UNITS, Maker, nik

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["sample_records", "sample_versions"]

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
            "nik": nik(rng, region, birth, female),
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
        "pejabat_penanggung_jawab": {
            "nama": fake.name(),
            "jabatan": rng.choice(tanggapan_klarifikasi.JABATAN["dinas"]),
        },
        "bukti": evidence,
    }


# The makers of each dataset, by the schema version their records are valid under.
_MAKERS: dict[str, dict[str, Maker]] = {
    "permintaan_klarifikasi": {"1.0": _permintaan, "2.0": permintaan_klarifikasi.make},
    "tanggapan_klarifikasi": {
        "1.0": _tanggapan,
        "2.0": _tanggapan,
        "3.0": tanggapan_klarifikasi.make,
    },
    "lahp": {"1.0": lahp.make, "2.0": lahp.make_v2},
    "hasil_penilaian_kepatuhan": {
        "1.0": hasil_penilaian_kepatuhan.make,
        "2.0": hasil_penilaian_kepatuhan.make_v2,
    },
    "standar_pelayanan": {"1.0": standar_pelayanan.make, "2.0": standar_pelayanan.make_v2},
    "rekap_pengaduan": {"1.0": rekap_pengaduan.make, "2.0": rekap_pengaduan.make_v2},
    "monitoring_tindak_lanjut": {
        "1.0": monitoring_tindak_lanjut.make,
        "2.0": monitoring_tindak_lanjut.make_v2,
    },
    "penilaian_tindak_lanjut": {"1.0": penilaian_tindak_lanjut.make},
    "kegiatan_pengembangan": {
        "1.0": kegiatan_pengembangan.make,
        "2.0": kegiatan_pengembangan.make_v2,
    },
}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def sample_versions(dataset: str) -> list[str]:
    """The schema versions of ``dataset`` that samples can be made for, oldest first."""
    return sorted(_MAKERS.get(dataset, {}), key=_version_key)


def sample_records(
    dataset: str,
    count: int,
    *,
    seed: int = 0,
    today: dt.date | None = None,
    version: str | None = None,
) -> list[dict[str, Any]]:
    """``count`` valid records of ``dataset`` under schema ``version`` (default: its newest)."""
    makers = _MAKERS.get(dataset)
    if not makers:
        raise KeyError(f"no sample generator for dataset {dataset!r}")
    chosen = version or sample_versions(dataset)[-1]
    if chosen not in makers:
        raise KeyError(f"no sample generator for {dataset!r} version {chosen!r}")
    # Imported here, not above: every process that imports the schemas (each
    # gateway command) would otherwise load Faker and its locales.
    from faker import Faker

    fake = Faker("id_ID")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 (sample data, not secrets)
    day = today or dt.date.today()
    return [makers[chosen](fake, rng, i, day) for i in range(count)]
