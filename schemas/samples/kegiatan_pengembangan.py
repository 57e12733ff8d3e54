"""Sample ``kegiatan_pengembangan`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas import vocab
from schemas.registers import unit_codes
from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

TITLES = {
    "pelatihan": ("Pelatihan Pengelolaan Pengaduan Pelayanan Publik",
                  "Pelatihan Penyusunan Standar Pelayanan"),
    "pendampingan": ("Pendampingan Penilaian Kepatuhan Standar Pelayanan",
                     "Pendampingan Tindak Lanjut Rekomendasi"),
    "sosialisasi": ("Sosialisasi Pencegahan Maladministrasi",),
}  # fmt: skip
PLANS = (
    "Menyusun prosedur penanganan pengaduan di setiap unit layanan",
    "Memperbarui maklumat pelayanan dan mempublikasikannya",
    "Melaporkan kemajuan perbaikan kepada Inspektorat",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    kind = rng.choice(tuple(TITLES))
    start = today - dt.timedelta(days=rng.randint(1, 120))
    end = start + dt.timedelta(days=rng.randint(0, 3))
    total = rng.randint(15, 120)
    men = rng.randint(0, total) if rng.random() < 0.7 else None
    return {
        "id_kegiatan": f"KGT-{start.year}-{rng.randint(1000, 9999)}-{i}",
        "jenis": kind,
        "judul": rng.choice(TITLES[kind]),
        "tanggal_mulai": start.isoformat(),
        "tanggal_selesai": end.isoformat(),
        "penyelenggara": rng.choice(("Ombudsman RI Perwakilan Jakarta Raya",
                                     "Bagian Organisasi Setda Kota Bekasi")),
        "unit_sasaran": rng.sample(UNITS, k=rng.randint(1, 4)),
        "jumlah_peserta": total,
        "peserta_laki_laki": men,
        "peserta_perempuan": None if men is None else total - men,
        "rencana_tindak_lanjut": [
            {"kegiatan": rng.choice(PLANS), "unit_penanggung_jawab": rng.choice(UNITS),
             "target_tanggal": (end + dt.timedelta(days=rng.randint(14, 90))).isoformat()}
            for _ in range(rng.randint(0, 2))
        ],
    }


# -- 2.0 --------------------------------------------------------------------------------------

TITLES_V2 = {
    "pelatihan": ("Pelatihan Pengelolaan Pengaduan Pelayanan Publik",
                  "Pelatihan Pelayanan Prima bagi Petugas Loket"),
    "bimbingan_teknis": ("Bimbingan Teknis Penyusunan Standar Pelayanan",
                         "Bimbingan Teknis Pengelolaan Pengaduan melalui SP4N-LAPOR!"),
    "pendampingan": ("Pendampingan Penilaian Kepatuhan Standar Pelayanan Publik",
                     "Pendampingan Tindak Lanjut Saran Perbaikan Ombudsman"),
    "monitoring_evaluasi": ("Monitoring dan Evaluasi Pemenuhan Standar Pelayanan",
                            "Monitoring dan Evaluasi Pengelolaan Pengaduan di Unit Layanan"),
    "sosialisasi": ("Sosialisasi Pencegahan Maladministrasi",
                    "Sosialisasi Undang-Undang Pelayanan Publik"),
    "focus_group_discussion": ("Diskusi Kelompok Terpumpun Percepatan Penyelesaian Laporan "
                               "Masyarakat",
                               "Diskusi Kelompok Terpumpun Perbaikan Layanan Administrasi "
                               "Kependudukan"),
    "forum_konsultasi_publik": ("Forum Konsultasi Publik Rancangan Standar Pelayanan",
                                "Forum Konsultasi Publik Evaluasi Standar Pelayanan"),
}  # fmt: skip
ORGANISERS = (
    "Ombudsman RI Perwakilan Jakarta Raya",
    "Bagian Organisasi Sekretariat Daerah Kota Bekasi",
    "Badan Kepegawaian dan Pengembangan Sumber Daya Manusia Kota Bekasi",
    "Inspektorat Daerah Kota Bekasi",
)
CANCELLED = (
    "Bertepatan dengan penanganan darurat banjir di Kota Bekasi",
    "Narasumber berhalangan hadir; kegiatan akan diajukan kembali sebagai kegiatan baru",
    "Anggaran kegiatan dialihkan dalam perubahan APBD",
)


def _realised(rng: random.Random, start: dt.date, days: int, planned: int) -> dict[str, Any]:
    shifted = start + dt.timedelta(days=rng.choice((0, 0, 0, 1, 7)))
    total = max(1, planned + rng.randint(-10, 5))
    men = rng.randint(0, total) if rng.random() < 0.7 else None
    out: dict[str, Any] = {
        "tanggal_mulai": shifted.isoformat(),
        "tanggal_selesai": (shifted + dt.timedelta(days=days)).isoformat(),
        "jumlah_peserta": total,
    }
    if men is not None:
        out.update(peserta_laki_laki=men, peserta_perempuan=total - men)
    return out


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    kind = rng.choice(tuple(TITLES_V2))
    status = rng.choices(("terlaksana", "direncanakan", "dibatalkan"), weights=(65, 25, 10))[0]
    if status == "direncanakan":
        start = today + dt.timedelta(days=rng.randint(7, 120))
    else:
        start = today - dt.timedelta(days=rng.randint(10, 180))
    days = rng.randint(0, 2)
    planned = rng.randint(15, 120)
    targets = rng.sample(sorted(unit_codes()), k=rng.randint(1, 5))
    record: dict[str, Any] = {
        "id_kegiatan": f"KGT-{start.year}-{rng.randint(1000, 9999)}-{i}",
        "jenis": kind,
        "klausul_mou": vocab.KLAUSUL_KEGIATAN[kind],
        "judul": rng.choice(TITLES_V2[kind]),
        "penyelenggara": rng.choice(ORGANISERS),
        "unit_sasaran": targets,
        "status": status,
        "rencana": {
            "tanggal_mulai": start.isoformat(),
            "tanggal_selesai": (start + dt.timedelta(days=days)).isoformat(),
            "jumlah_peserta": planned,
        },
    }
    if status == "dibatalkan":
        record["alasan_pembatalan"] = rng.choice(CANCELLED)
    if status == "terlaksana":
        realised = _realised(rng, start, days, planned)
        end = dt.date.fromisoformat(realised["tanggal_selesai"])
        record["realisasi"] = realised
        record["rencana_tindak_lanjut"] = [
            {"kegiatan": plan, "unit_penanggung_jawab": rng.choice(targets),
             "target_tanggal": (end + dt.timedelta(days=rng.randint(14, 90))).isoformat()}
            for plan in rng.sample(PLANS, k=rng.randint(0, 2))
        ]
    return record
