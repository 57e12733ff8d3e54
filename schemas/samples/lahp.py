"""Sample ``lahp`` records."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.lahp import FOUND
from schemas.registers import register
from schemas.samples._common import ROMAN

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["FOLLOW_UP", "FOUND", "make", "make_v2", "report_v2", "unit_code"]

# Every five records carry each conclusion at least once; a finding is the most common.
PLAN = (
    "ditemukan_maladministrasi",
    "tidak_ditemukan_maladministrasi",
    "ditemukan_maladministrasi",
    "pemeriksaan_dihentikan",
    "ditemukan_maladministrasi",
)

# (reported units, what was reported, maladministration types, corrective actions)
CASES: tuple[tuple[tuple[str, ...], str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("Dinas Kependudukan dan Pencatatan Sipil",),
        "penerbitan KTP elektronik yang tertunda lebih dari tiga bulan",
        ("penundaan_berlarut",),
        (
            "Menerbitkan KTP elektronik pelapor tanpa memungut biaya",
            "Menyusun dan mempublikasikan jangka waktu penerbitan KTP elektronik",
        ),
    ),
    (
        ("Dinas Kependudukan dan Pencatatan Sipil",),
        "permintaan biaya tambahan untuk pengurusan akta kelahiran",
        ("permintaan_imbalan", "penyimpangan_prosedur"),
        (
            "Mengembalikan biaya yang dipungut tanpa dasar hukum kepada pelapor",
            "Menjatuhkan sanksi disiplin kepada petugas yang memungut biaya",
            "Memasang maklumat layanan tanpa biaya di ruang pelayanan",
        ),
    ),
    (
        ("Dinas Kesehatan", "Puskesmas Karang Kitri", "Puskesmas Jatibening"),
        "penolakan layanan rawat jalan tanpa penjelasan",
        ("tidak_memberikan_pelayanan", "tidak_patut"),
        (
            "Memberikan pelayanan rawat jalan kepada pelapor sesuai standar pelayanan",
            "Memberikan pembinaan kepada petugas pendaftaran yang bersangkutan",
            "Menetapkan prosedur penjelasan kepada pasien yang tidak dapat dilayani",
        ),
    ),
    (
        ("Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",),
        "proses izin usaha yang melebihi jangka waktu standar pelayanan",
        ("penundaan_berlarut", "penyimpangan_prosedur"),
        (
            "Menyelesaikan permohonan izin pelapor",
            "Mengevaluasi pemenuhan jangka waktu dalam standar pelayanan perizinan",
        ),
    ),
    (
        ("Dinas Sosial",),
        "bantuan sosial yang tidak disalurkan sesuai data penerima",
        ("penyimpangan_prosedur", "diskriminasi"),
        (
            "Memverifikasi ulang data penerima bantuan sosial di kelurahan pelapor",
            "Menyalurkan bantuan sosial kepada pelapor yang memenuhi syarat",
        ),
    ),
    (
        ("Dinas Pendidikan",),
        "penerimaan peserta didik baru yang dinilai tidak transparan",
        ("penyimpangan_prosedur", "tidak_patut"),
        (
            "Mengumumkan hasil seleksi beserta nilai dan kuota setiap jalur secara terbuka",
            "Menyediakan kanal pengaduan selama masa penerimaan peserta didik baru",
        ),
    ),
    (
        ("Badan Pendapatan Daerah",),
        "kenaikan tagihan PBB tanpa pemberitahuan dan penjelasan",
        ("tidak_patut",),
        ("Memberikan penjelasan tertulis kepada pelapor atas dasar penetapan PBB",),
    ),
    (
        ("Dinas Perhubungan",),
        "pungutan uji KIR di luar tarif retribusi yang ditetapkan",
        ("permintaan_imbalan",),
        (
            "Mengembalikan kelebihan pungutan kepada pelapor",
            "Menerapkan pembayaran retribusi uji KIR secara nontunai",
        ),
    ),
)

OVERSEERS = ("Inspektur Kota Bekasi", "Sekretaris Daerah Kota Bekasi")

NOT_FOUND = (
    "Berdasarkan klarifikasi dan pemeriksaan dokumen, layanan telah diberikan sesuai "
    "standar pelayanan sehingga tidak ditemukan maladministrasi.",
    "Terlapor dapat menunjukkan bahwa keterlambatan disebabkan persyaratan yang belum "
    "dilengkapi pelapor; tidak ditemukan maladministrasi.",
)

STOPPED = (
    "Pemeriksaan dihentikan karena pelapor mencabut laporannya setelah layanan diselesaikan.",
    "Pemeriksaan dihentikan karena pelapor tidak lagi dapat dihubungi.",
    "Pemeriksaan dihentikan karena substansi laporan sedang dalam proses peradilan.",
)


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    conclusion = PLAN[i % len(PLAN)]
    found = conclusion == "ditemukan_maladministrasi"
    issued = today - dt.timedelta(days=rng.randint(0, 120))
    registered = issued - dt.timedelta(days=rng.randint(45, 200))
    units, complaint, case_types, case_actions = CASES[rng.randrange(len(CASES))]
    unit = rng.choice(units)
    types: list[str] = []
    actions: list[dict[str, str]] = []
    if found:
        types = rng.sample(case_types, k=rng.randint(1, len(case_types)))
        for what in case_actions[: rng.randint(1, len(case_actions))]:
            who = f"Kepala {unit}" if rng.random() < 0.8 else rng.choice(OVERSEERS)
            days = rng.choice((14, 30, 30, 60))
            deadline = issued + dt.timedelta(days=days)
            actions.append({"pihak": who, "tindakan": what, "batas_waktu": deadline.isoformat()})
        named = " dan ".join(t.replace("_", " ") for t in types)
        outcome = f"Ombudsman menyimpulkan telah terjadi maladministrasi berupa {named}."
    elif conclusion == "tidak_ditemukan_maladministrasi":
        outcome = rng.choice(NOT_FOUND)
    else:
        outcome = rng.choice(STOPPED)
    return {
        "nomor_laporan": (
            f"{rng.randint(100, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_lahp": f"LAHP/{rng.randint(1, 999):04d}.{i}/LM.01-15/{issued.year}",
        "tanggal_lahp": issued.isoformat(),
        "unit_terlapor": unit,
        "kesimpulan": conclusion,
        "jenis_maladministrasi": types,
        "tindakan_korektif": actions,
        "ringkasan": (
            f"Pelapor melaporkan {complaint} pada {unit}. "
            "Ombudsman RI Perwakilan Jakarta Raya telah meminta klarifikasi kepada terlapor "
            f"dan memeriksa dokumen pendukung. {outcome}"
        ),
    }


# -- version 2.0 ------------------------------------------------------------------------------

# Each corrective action of CASES: what a follow-up report says was done, and its evidence.
FOLLOW_UP: dict[str, tuple[str, tuple[str, ...]]] = {
    "Menerbitkan KTP elektronik pelapor tanpa memungut biaya": (
        "KTP elektronik pelapor telah dicetak dan diserahkan tanpa biaya.",
        ("berita-acara-serah-terima-ktp-el.pdf", "tanda-terima.pdf"),
    ),
    "Menyusun dan mempublikasikan jangka waktu penerbitan KTP elektronik": (
        "Jangka waktu penerbitan KTP elektronik telah ditetapkan dan diumumkan di ruang "
        "pelayanan dan laman resmi dinas.",
        ("sk-jangka-waktu-layanan.pdf", "tangkapan-layar-laman-resmi.png"),
    ),
    "Mengembalikan biaya yang dipungut tanpa dasar hukum kepada pelapor": (
        "Biaya yang dipungut telah dikembalikan kepada pelapor disertai kuitansi.",
        ("kuitansi-pengembalian.pdf",),
    ),
    "Menjatuhkan sanksi disiplin kepada petugas yang memungut biaya": (
        "Petugas yang bersangkutan telah diperiksa dan dijatuhi hukuman disiplin oleh "
        "pejabat yang berwenang.",
        ("keputusan-hukuman-disiplin.pdf",),
    ),
    "Memasang maklumat layanan tanpa biaya di ruang pelayanan": (
        "Maklumat layanan tanpa biaya telah dipasang di seluruh loket pelayanan.",
        ("foto-maklumat-pelayanan.jpg",),
    ),
    "Memberikan pelayanan rawat jalan kepada pelapor sesuai standar pelayanan": (
        "Pelapor telah menerima pelayanan rawat jalan sesuai standar pelayanan.",
        ("surat-keterangan-pelayanan.pdf",),
    ),
    "Memberikan pembinaan kepada petugas pendaftaran yang bersangkutan": (
        "Atasan langsung telah memberikan pembinaan kepada petugas pendaftaran yang bersangkutan.",
        ("berita-acara-pembinaan.pdf",),
    ),
    "Menetapkan prosedur penjelasan kepada pasien yang tidak dapat dilayani": (
        "Prosedur penjelasan kepada pasien yang tidak dapat dilayani telah ditetapkan dan "
        "disosialisasikan kepada petugas.",
        ("sop-penjelasan-pasien.pdf", "daftar-hadir-sosialisasi.pdf"),
    ),
    "Menyelesaikan permohonan izin pelapor": (
        "Izin usaha pelapor telah diterbitkan melalui sistem perizinan berusaha.",
        ("tanda-terima-izin.pdf",),
    ),
    "Mengevaluasi pemenuhan jangka waktu dalam standar pelayanan perizinan": (
        "Evaluasi pemenuhan jangka waktu layanan perizinan telah dilakukan dan hasilnya "
        "dilaporkan kepada kepala dinas.",
        ("laporan-evaluasi-standar-pelayanan.pdf",),
    ),
    "Memverifikasi ulang data penerima bantuan sosial di kelurahan pelapor": (
        "Verifikasi ulang data penerima bantuan sosial telah dilakukan bersama kelurahan.",
        ("berita-acara-verifikasi.pdf", "daftar-hadir-musyawarah-kelurahan.pdf"),
    ),
    "Menyalurkan bantuan sosial kepada pelapor yang memenuhi syarat": (
        "Bantuan sosial telah disalurkan kepada pelapor.",
        ("bukti-penyaluran-bantuan.pdf",),
    ),
    "Mengumumkan hasil seleksi beserta nilai dan kuota setiap jalur secara terbuka": (
        "Hasil seleksi beserta nilai dan kuota setiap jalur telah diumumkan di laman "
        "penerimaan peserta didik baru.",
        ("tangkapan-layar-pengumuman.png",),
    ),
    "Menyediakan kanal pengaduan selama masa penerimaan peserta didik baru": (
        "Posko dan kanal pengaduan penerimaan peserta didik baru telah dibuka.",
        ("sk-posko-pengaduan.pdf",),
    ),
    "Memberikan penjelasan tertulis kepada pelapor atas dasar penetapan PBB": (
        "Penjelasan tertulis atas dasar penetapan PBB telah disampaikan kepada pelapor.",
        ("surat-penjelasan-pbb.pdf",),
    ),
    "Mengembalikan kelebihan pungutan kepada pelapor": (
        "Kelebihan pungutan telah dikembalikan kepada pelapor.",
        ("kuitansi-pengembalian.pdf",),
    ),
    "Menerapkan pembayaran retribusi uji KIR secara nontunai": (
        "Pembayaran retribusi uji KIR telah dilayani secara nontunai melalui bank daerah.",
        ("sk-pembayaran-nontunai.pdf",),
    ),
}

# The officials a corrective action may name, by unit code: the unit's head, and one
# official below the head who would carry the action out.
OFFICIALS: dict[str, tuple[str, ...]] = {
    "3275.DISDUKCAPIL": (
        "Kepala Dinas Kependudukan dan Pencatatan Sipil",
        "Kepala Bidang Pelayanan Pendaftaran Penduduk",
    ),
    "3275.DINKES": ("Kepala Dinas Kesehatan", "Kepala Bidang Pelayanan Kesehatan"),
    "3275.PKM.KARANGKITRI": ("Kepala Puskesmas Karang Kitri",),
    "3275.PKM.JATIBENING": ("Kepala Puskesmas Jatibening",),
    "3275.DPMPTSP": (
        "Kepala Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
        "Kepala Bidang Pelayanan Perizinan",
    ),
    "3275.DINSOS": ("Kepala Dinas Sosial", "Kepala Bidang Perlindungan dan Jaminan Sosial"),
    "3275.DISDIK": ("Kepala Dinas Pendidikan", "Sekretaris Dinas Pendidikan"),
    "3275.BAPENDA": ("Kepala Badan Pendapatan Daerah", "Kepala Bidang Pajak Bumi dan Bangunan"),
    "3275.DISHUB": ("Kepala Dinas Perhubungan", "Kepala UPTD Pengujian Kendaraan Bermotor"),
    "3275.INSPEKTORAT": ("Inspektur Daerah Kota Bekasi", "Inspektur Pembantu Wilayah I"),
    "3275.SETDA": (
        "Sekretaris Daerah Kota Bekasi",
        "Asisten Pemerintahan dan Kesejahteraan Rakyat",
    ),
}
OVERSEER_CODES = ("3275.INSPEKTORAT", "3275.SETDA")

STOP_REASONS = (
    (
        "pelapor_mencabut_laporan",
        "Pemeriksaan dihentikan karena pelapor mencabut laporannya setelah layanan diselesaikan.",
    ),
    (
        "pelapor_tidak_menanggapi",
        "Pemeriksaan dihentikan karena pelapor tidak menanggapi permintaan keterangan Ombudsman.",
    ),
    (
        "objek_pemeriksaan_pengadilan",
        "Pemeriksaan dihentikan karena substansi laporan sedang diperiksa pengadilan.",
    ),
    (
        "telah_diselesaikan_terlapor",
        "Pemeriksaan dihentikan karena terlapor telah menyelesaikan layanan yang dilaporkan.",
    ),
)


def unit_code(name: str) -> str:
    """The register code of the unit named ``name``."""
    return next(code for code, row in _units().items() if row["nama"] == name)


def unit_name(code: str) -> str:
    return _units()[code]["nama"]


def _units() -> dict[str, dict[str, str]]:
    return register("perangkat_daerah").rows


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    """A report of version 2.0, issued in the 120 days up to ``today``."""
    issued = today - dt.timedelta(days=rng.randint(0, 120))
    return report_v2(fake, rng, i, issued, PLAN[i % len(PLAN)])


def _actions_v2(
    fake: Faker, rng: random.Random, unit: str, issued: dt.date, wording: tuple[str, ...]
) -> list[dict[str, Any]]:
    actions = []
    for n, what in enumerate(wording[: rng.randint(1, len(wording))], start=1):
        who = unit if rng.random() < 0.85 else rng.choice(OVERSEER_CODES)
        action: dict[str, Any] = {"id_tindakan": f"TK-{n:02d}", "unit_penanggung_jawab": who}
        if rng.random() < 0.7:
            action["pejabat"] = {"jabatan": rng.choice(OFFICIALS[who])}
            if rng.random() < 0.15:  # named only where the action is addressed to a person
                action["pejabat"]["nama"] = fake.name()
        deadline = issued + dt.timedelta(days=rng.choice((14, 30, 30, 60)))
        action.update(tindakan=what, batas_waktu=deadline.isoformat())
        actions.append(action)
    return actions


def report_v2(
    fake: Faker, rng: random.Random, i: int, issued: dt.date, conclusion: str
) -> dict[str, Any]:
    """A report of version 2.0 issued on ``issued`` with ``conclusion``."""
    registered = issued - dt.timedelta(days=rng.randint(45, 200))
    units, complaint, case_types, case_actions = CASES[rng.randrange(len(CASES))]
    unit = unit_code(rng.choice(units))
    confidential = rng.random() < 0.3
    record: dict[str, Any] = {
        "nomor_laporan": (
            f"{rng.randint(100, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_lahp": f"LHP/{rng.randint(1, 999):04d}.{i}/LM.01-15/{issued.year}",
        "tanggal_lahp": issued.isoformat(),
        "unit_terlapor": unit,
        "kesimpulan": conclusion,
        "pelapor_dirahasiakan": confidential,
    }
    if conclusion == FOUND:
        types = rng.sample(case_types, k=rng.randint(1, len(case_types)))
        record["jenis_maladministrasi"] = types
        record["tindakan_korektif"] = _actions_v2(fake, rng, unit, issued, case_actions)
        named = " dan ".join(t.replace("_", " ") for t in types)
        outcome = f"Ombudsman menyimpulkan telah terjadi maladministrasi berupa {named}."
    elif conclusion == "tidak_ditemukan_maladministrasi":
        outcome = rng.choice(NOT_FOUND)
    else:
        record["alasan_penghentian"], outcome = rng.choice(STOP_REASONS)
    reporter = "Pelapor, yang identitasnya dirahasiakan," if confidential else "Pelapor"
    record["ringkasan"] = (
        f"{reporter} melaporkan {complaint} pada {unit_name(unit)}. "
        "Ombudsman RI Perwakilan Jakarta Raya telah meminta klarifikasi kepada terlapor "
        f"dan memeriksa dokumen pendukung. {outcome}"
    )
    return record
