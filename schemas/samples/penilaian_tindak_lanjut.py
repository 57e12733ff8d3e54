"""Sample ``penilaian_tindak_lanjut`` records: each assesses a sample follow-up report."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.samples import monitoring_tindak_lanjut

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["make"]

# The usual verdict on each reported status; perlu_klarifikasi may come instead.
VERDICT = {
    "dilaksanakan": ("diterima", 0.15),
    "dilaksanakan_sebagian": ("diterima_sebagian", 0.3),
    "tidak_dilaksanakan": ("ditolak", 0.35),
}

REASONS = {
    "diterima": (
        "Bukti pelaksanaan telah diverifikasi dan sesuai dengan tindakan yang diminta.",
        "Tindak lanjut telah dikonfirmasi kepada pelapor dan layanan telah diterima.",
    ),
    "diterima_sebagian": (
        "Sebagian tindakan telah dilaksanakan; sisa tindakan wajib diselesaikan dan "
        "dilaporkan kembali.",
        "Langkah yang telah dilakukan dapat diterima, namun perbaikan prosedur belum "
        "ditetapkan secara tertulis.",
    ),
    "ditolak": (
        "Alasan yang disampaikan tidak dapat diterima karena tindakan dapat dilaksanakan "
        "dengan sumber daya yang tersedia.",
        "Tindak lanjut tidak didukung rencana dan jadwal pelaksanaan yang jelas.",
    ),
    "perlu_klarifikasi": (
        "Bukti yang dilampirkan belum menunjukkan pelaksanaan tindakan; mohon disampaikan "
        "dokumen pendukung.",
        "Uraian tindak lanjut belum menjelaskan waktu pelaksanaan dan pihak yang melaksanakan.",
    ),
}


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    # The follow-up report came at least 30 days ago, so that the verdict is not in the future.
    report = monitoring_tindak_lanjut.report_v2(fake, rng, i, today - dt.timedelta(days=30))
    reported = dt.date.fromisoformat(report["tanggal_laporan"])
    assessed = reported + dt.timedelta(days=rng.randint(3, 30))
    usual, clarify = VERDICT[report["status"]]
    verdict = "perlu_klarifikasi" if rng.random() < clarify else usual
    record: dict[str, Any] = {
        "nomor_laporan": report["nomor_laporan"],
        "jenis_rujukan": report["jenis_rujukan"],
        "nomor_rujukan": report["nomor_rujukan"],
        "id_tindakan": report["id_tindakan"],
        "tanggal_laporan_tindak_lanjut": report["tanggal_laporan"],
        "unit_penanggung_jawab": report["unit_penanggung_jawab"],
        "tanggal_penilaian": assessed.isoformat(),
        "penilaian": verdict,
    }
    if verdict != "diterima" or rng.random() < 0.5:
        record["alasan"] = rng.choice(REASONS[verdict])
    if verdict == "perlu_klarifikasi":
        record["batas_waktu_tanggapan"] = (assessed + dt.timedelta(days=14)).isoformat()
    elif verdict != "diterima" and rng.random() < 0.5:
        record["batas_waktu_tanggapan"] = (assessed + dt.timedelta(days=30)).isoformat()
    return record
