"""Sample ``monitoring_tindak_lanjut`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.monitoring_tindak_lanjut import REPORT_DAYS
from schemas.samples import lahp
from schemas.samples._common import ROMAN

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["make", "make_v2", "report_v2"]

# Every four records carry each status at least once; most actions are carried out.
PLAN = ("dilaksanakan", "dilaksanakan_sebagian", "dilaksanakan", "tidak_dilaksanakan")

# (responsible units, the action as worded, what was done, evidence file names)
ACTIONS: tuple[tuple[tuple[str, ...], str, str, tuple[str, ...]], ...] = (
    (
        ("Dinas Kependudukan dan Pencatatan Sipil",),
        "Menerbitkan KTP elektronik pelapor tanpa memungut biaya",
        "KTP elektronik pelapor telah dicetak dan diserahkan tanpa biaya.",
        ("berita-acara-serah-terima-ktp-el.pdf", "tanda-terima.pdf"),
    ),
    (
        ("Dinas Kependudukan dan Pencatatan Sipil", "Dinas Perhubungan"),
        "Mengembalikan biaya yang dipungut tanpa dasar hukum kepada pelapor",
        "Biaya yang dipungut telah dikembalikan kepada pelapor disertai kuitansi.",
        ("kuitansi-pengembalian.pdf",),
    ),
    (
        ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu", "Dinas Pendidikan"),
        "Menyusun, menetapkan dan mempublikasikan standar pelayanan",
        "Standar pelayanan telah dibahas bersama perwakilan masyarakat dan ditetapkan.",
        ("sk-standar-pelayanan.pdf", "tangkapan-layar-laman-resmi.png"),
    ),
    (
        ("Dinas Kesehatan", "Puskesmas Karang Kitri", "Puskesmas Jatibening"),
        "Memberikan pembinaan kepada petugas pelayanan yang bersangkutan",
        "Atasan langsung telah memberikan pembinaan kepada petugas yang bersangkutan.",
        ("berita-acara-pembinaan.pdf",),
    ),
    (
        ("Dinas Sosial", "Badan Pendapatan Daerah"),
        "Memperbaiki mekanisme penanganan pengaduan di unit layanan",
        "Petugas pengelola pengaduan telah ditunjuk dengan surat keputusan kepala unit.",
        ("sk-pengelola-pengaduan.pdf", "alur-penanganan-pengaduan.pdf"),
    ),
)

PARTLY = (
    "Sebagian kegiatan menunggu penetapan peraturan wali kota.",
    "Anggaran perbaikan sarana baru tersedia pada perubahan APBD tahun berjalan.",
    "Pelapor belum melengkapi dokumen yang diperlukan untuk penyelesaian layanan.",
)

NOT_DONE = (
    "Pejabat yang berwenang menandatangani sedang dimutasi dan belum ada penggantinya.",
    "Terlapor mengajukan keberatan atas tindakan korektif dan menunggu tanggapan Ombudsman.",
    "Anggaran tidak tersedia pada tahun anggaran berjalan.",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    status = PLAN[i % len(PLAN)]
    corrective = rng.random() < 0.6
    reported = today - dt.timedelta(days=rng.randint(0, 60))
    issued = reported - dt.timedelta(days=rng.randint(20, 90))
    registered = issued - dt.timedelta(days=rng.randint(45, 200))
    units, action, done, files = ACTIONS[rng.randrange(len(ACTIONS))]
    index = rng.randint(0, 2)
    record: dict[str, Any] = {"jenis_rujukan": "tindakan_korektif" if corrective else "rekomendasi"}
    if corrective or rng.random() < 0.5:
        record["nomor_laporan"] = (
            f"{rng.randint(100, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        )
    if corrective:
        record["nomor_rujukan"] = f"LAHP/{rng.randint(1, 999):04d}.{i}/LM.01-15/{issued.year}"
        record["urutan_tindakan"] = index
    else:
        number = f"{rng.randint(1, 60):03d}/RM.03.01/{ROMAN[issued.month]}/{issued.year}"
        record["nomor_rujukan"] = number
        if rng.random() < 0.5:
            record["urutan_tindakan"] = index
    record["tindakan"] = action
    record["tanggal_laporan"] = reported.isoformat()
    record["status"] = status
    if status == "tidak_dilaksanakan":
        record["uraian"] = "Tindakan belum dapat dilaksanakan pada periode pemantauan ini."
        record["alasan"] = rng.choice(NOT_DONE)
    else:
        record["uraian"] = done
        if status == "dilaksanakan_sebagian":
            record["alasan"] = rng.choice(PARTLY)
        record["bukti"] = [
            {"nama_berkas": f"{i:03d}-{name}", "sha256": f"{rng.getrandbits(256):064x}"}
            for name in files[: rng.randint(1, len(files))]
        ]
    record["unit_penanggung_jawab"] = rng.choice(units)
    return record


# -- version 2.0 ------------------------------------------------------------------------------


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    """A follow-up report of version 2.0, made in the 60 days up to ``today``."""
    return report_v2(fake, rng, i, today)


def report_v2(fake: Faker, rng: random.Random, i: int, latest: dt.date) -> dict[str, Any]:
    """A follow-up report of version 2.0, made in the 60 days up to ``latest``: on a
    corrective action of a sample LHP (``lahp`` 2.0), or on an action of a recommendation."""
    status = PLAN[i % len(PLAN)]
    reported = latest - dt.timedelta(days=rng.randint(0, 60))
    received = reported - dt.timedelta(days=rng.randint(5, 80))
    if rng.random() < 0.6:
        record, (done, files) = _corrective(fake, rng, i, received)
        record["terlambat"] = reported > dt.date.fromisoformat(record["batas_waktu"])
    else:
        record, (done, files) = _recommendation(rng, received)
        record["terlambat"] = reported > received + dt.timedelta(days=REPORT_DAYS)
    record["tanggal_laporan"] = reported.isoformat()
    record["status"] = status
    if status == "tidak_dilaksanakan":
        record["uraian"] = "Tindakan belum dapat dilaksanakan pada periode pemantauan ini."
        record["alasan"] = rng.choice(NOT_DONE)
    else:
        record["uraian"] = done
        if status == "dilaksanakan_sebagian":
            record["alasan"] = rng.choice(PARTLY)
        record["bukti"] = [
            {"nama_berkas": f"{i:03d}-{name}", "sha256": f"{rng.getrandbits(256):064x}"}
            for name in files[: rng.randint(1, len(files))]
        ]
    return record


# What a follow-up report says was done, and the evidence files it may list.
FollowUp = tuple[str, tuple[str, ...]]


def _corrective(
    fake: Faker, rng: random.Random, i: int, received: dt.date
) -> tuple[dict[str, Any], FollowUp]:
    issued = received - dt.timedelta(days=rng.randint(1, 7))
    report = lahp.report_v2(fake, rng, i, issued, lahp.FOUND)
    action = rng.choice(report["tindakan_korektif"])
    record = {
        "jenis_rujukan": "tindakan_korektif",
        "nomor_laporan": report["nomor_laporan"],
        "nomor_rujukan": report["nomor_lahp"],
        "id_tindakan": action["id_tindakan"],
        "tindakan": action["tindakan"],
        "unit_penanggung_jawab": action["unit_penanggung_jawab"],
        "tanggal_diterima": received.isoformat(),
        "batas_waktu": action["batas_waktu"],
        "disampaikan_oleh": rng.choice(("kepala_perangkat_daerah",) * 3 + ("wali_kota",)),
    }
    return record, lahp.FOLLOW_UP[action["tindakan"]]


def _recommendation(rng: random.Random, received: dt.date) -> tuple[dict[str, Any], FollowUp]:
    issued = received - dt.timedelta(days=rng.randint(3, 14))
    registered = issued - dt.timedelta(days=rng.randint(120, 300))
    units, action, done, files = ACTIONS[rng.randrange(len(ACTIONS))]
    record: dict[str, Any] = {
        "jenis_rujukan": "rekomendasi",
        "nomor_laporan": (
            f"{rng.randint(100, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_rujukan": f"{rng.randint(1, 60):03d}/RM.03.01/{ROMAN[issued.month]}/{issued.year}",
        "id_tindakan": str(rng.randint(1, 4)),
    }
    if rng.random() < 0.7:
        record["tindakan"] = action
    record.update(
        unit_penanggung_jawab=lahp.unit_code(rng.choice(units)),
        tanggal_diterima=received.isoformat(),
        disampaikan_oleh="wali_kota",
    )
    return record, (done, files)
