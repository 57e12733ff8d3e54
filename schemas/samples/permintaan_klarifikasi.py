"""Sample ``permintaan_klarifikasi`` records of version 2.0.

Cases a Kota Bekasi unit is asked to clarify, with the unit's code from the register;
summaries that name no reporter and hold no NIK, phone number or e-mail; the reporter's
name only where the report is not confidential and the reporter consented; a NIK only
where the matter needs one (``nomor_identitas``), with the reporter's consent. Every
tenth record from the fourth is a quick response (respons cepat Ombudsman), every tenth
from the eighth an own-motion investigation, the others reports from the public.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas._base import region_codes
from schemas.registers import register
from schemas.samples._common import ROMAN, nik

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["make"]

# By index modulo 10: the intake type (the others are laporan_masyarakat).
INTAKE = {3: "respons_cepat_ombudsman", 7: "investigasi_prakarsa_sendiri"}

MONTHS = ("", "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")  # fmt: skip

AMOUNTS = ("Rp 50.000", "Rp 150.000", "Rp 250.000", "Rp 500.000", "Rp 1.500.000")

# (unit codes, substance area, what happened ({amount}: a sum asked), maladministration
# types, documents the Ombudsman may ask for, the purpose a NIK may serve or None)
CASES: tuple[tuple[tuple[str, ...], str, str, tuple[str, ...], tuple[str, ...], str | None],
             ...] = (
    (
        ("3275.DISDUKCAPIL",),
        "administrasi_kependudukan",
        "penerbitan KTP elektronik yang tertunda lebih dari tiga bulan",
        ("penundaan_berlarut",),
        (
            "Standar pelayanan penerbitan KTP elektronik",
            "Riwayat pemrosesan permohonan KTP elektronik pelapor",
            "Data ketersediaan blangko KTP elektronik",
        ),
        "penerbitan_dokumen_kependudukan",
    ),
    (
        ("3275.DISDUKCAPIL",),
        "administrasi_kependudukan",
        "permintaan biaya {amount} untuk pengurusan akta kelahiran anak",
        ("permintaan_imbalan", "penyimpangan_prosedur"),
        (
            "Standar pelayanan penerbitan akta kelahiran",
            "Daftar petugas loket pada hari kejadian",
            "Hasil pemeriksaan internal atas dugaan pungutan",
        ),
        "penerbitan_dokumen_kependudukan",
    ),
    (
        ("3275.DISDUKCAPIL",),
        "administrasi_kependudukan",
        "kesalahan data kartu keluarga yang belum diperbaiki",
        ("penundaan_berlarut", "tidak_kompeten"),
        ("Prosedur perbaikan data kependudukan", "Catatan permohonan perbaikan data"),
        "perbaikan_data_kependudukan",
    ),
    (
        ("3275.PKM.KARANGKITRI", "3275.PKM.JATIBENING", "3275.RSUD"),
        "kesehatan",
        "penolakan layanan rawat jalan bagi peserta jaminan kesehatan tanpa penjelasan",
        ("tidak_memberikan_pelayanan", "tidak_patut"),
        (
            "Standar operasional prosedur pendaftaran pasien",
            "Jadwal petugas pendaftaran pada hari kejadian",
            "Daftar kunjungan pasien rawat jalan pada hari kejadian",
        ),
        "verifikasi_kepesertaan_jaminan_kesehatan",
    ),
    (
        ("3275.DPMPTSP",),
        "perizinan",
        "proses izin usaha yang melebihi jangka waktu standar pelayanan",
        ("penundaan_berlarut", "penyimpangan_prosedur"),
        ("Standar pelayanan perizinan berusaha", "Log pemrosesan permohonan izin"),
        "penelusuran_permohonan_perizinan",
    ),
    (
        ("3275.DINSOS",),
        "kesejahteraan_sosial",
        "bantuan sosial yang tidak disalurkan sesuai data penerima",
        ("penyimpangan_prosedur", "diskriminasi"),
        (
            "Data penerima bantuan sosial di kelurahan tempat kejadian",
            "Berita acara penyaluran bantuan sosial",
        ),
        "verifikasi_penerima_bantuan_sosial",
    ),
    (
        ("3275.DISDIK",),
        "pendidikan",
        "penerimaan peserta didik baru yang dinilai tidak transparan",
        ("penyimpangan_prosedur", "tidak_patut"),
        (
            "Petunjuk teknis penerimaan peserta didik baru",
            "Pengumuman hasil seleksi jalur zonasi",
            "Rekapitulasi kuota setiap jalur penerimaan",
        ),
        None,
    ),
    (
        ("3275.BAPENDA",),
        "perpajakan",
        "kenaikan tagihan PBB tanpa pemberitahuan dan penjelasan",
        ("tidak_patut",),
        ("Dasar penetapan nilai jual objek pajak", "Salinan surat pemberitahuan pajak terutang"),
        None,
    ),
    (
        ("3275.DISHUB",),
        "perhubungan",
        "pungutan uji KIR sebesar {amount} di luar tarif retribusi",
        ("permintaan_imbalan",),
        (
            "Peraturan daerah tentang retribusi pengujian kendaraan bermotor",
            "Rekapitulasi penerimaan retribusi uji KIR",
        ),
        None,
    ),
    (
        ("3275.DLH",),
        "lingkungan_hidup_kehutanan",
        "sampah permukiman yang tidak diangkut selama dua minggu",
        ("penundaan_berlarut", "tidak_memberikan_pelayanan"),
        ("Jadwal dan rute pengangkutan sampah", "Laporan operasional armada pengangkut"),
        None,
    ),
    (
        ("3275.DBMSDA",),
        "pekerjaan_umum_infrastruktur",
        "perbaikan jalan lingkungan yang tidak kunjung dilaksanakan",
        ("penundaan_berlarut",),
        ("Rencana kerja pemeliharaan jalan", "Dokumen kontrak pekerjaan perbaikan jalan"),
        None,
    ),
    (
        ("3275.KEC.01", "3275.KEC.05", "3275.KEC.09"),
        "administrasi_kependudukan",
        "surat pengantar yang tidak dilayani pada jam layanan",
        ("tidak_memberikan_pelayanan",),
        ("Jadwal pelayanan kantor kecamatan", "Daftar hadir petugas pada hari kejadian"),
        None,
    ),
)  # fmt: skip

OWN_MOTION_SOURCES = (
    "pemantauan langsung Ombudsman di lokasi layanan",
    "pemberitaan media massa",
    "informasi yang berkembang di media sosial",
)


def _day(day: dt.date) -> str:
    return f"{day.day} {MONTHS[day.month]} {day.year}"


def _summary(intake: str, complaint: str, unit: str, incident: dt.date,
             rng: random.Random) -> str:
    if intake == "investigasi_prakarsa_sendiri":
        return (f"Ombudsman melakukan investigasi atas prakarsa sendiri atas dugaan {complaint} "
                f"di {unit} sejak {_day(incident)}, berdasarkan "
                f"{rng.choice(OWN_MOTION_SOURCES)}.")
    opening = ("Melalui respons cepat Ombudsman, pelapor" if intake == "respons_cepat_ombudsman"
               else "Pelapor")
    return (f"{opening} menyampaikan {complaint} di {unit} pada {_day(incident)}. Pelapor telah "
            "menyampaikan keberatan kepada unit tersebut namun belum memperoleh penyelesaian, "
            "dan meminta agar layanan diberikan sesuai standar pelayanan.")


def _request(rng: random.Random, documents: tuple[str, ...]) -> dict[str, Any]:
    """The round, its form and the documents asked for."""
    rounds = rng.choices((1, 2, 3), weights=(15, 4, 1))[0]
    form = "surat" if rounds == 1 else rng.choice(("surat", "pertemuan", "kunjungan_lapangan"))
    asked = rng.sample(documents, k=rng.randint(1, len(documents)))
    if form != "surat" and rng.random() < 0.4:
        asked = []
    return {"putaran_klarifikasi": rounds, "bentuk_klarifikasi": form, "dokumen_diminta": asked}


def _reporter(fake: Faker, rng: random.Random, region: str, registered: dt.date,
              purpose: str | None) -> dict[str, Any]:
    """The reporter's members of a report: the flag, and what the reporter consented to."""
    if rng.random() < 0.3:
        return {"pelapor_dirahasiakan": True}
    out: dict[str, Any] = {"pelapor_dirahasiakan": False}
    consented = registered - dt.timedelta(days=rng.randint(0, 5))
    female = rng.random() < 0.5
    choice = rng.random()
    if choice < 0.6:
        out["persetujuan_pengungkapan"] = {"disetujui": True, "tanggal": consented.isoformat()}
        out["pelapor"] = {"nama": fake.name_female() if female else fake.name_male()}
    elif choice < 0.8:
        out["persetujuan_pengungkapan"] = {"disetujui": False, "tanggal": consented.isoformat()}
    if purpose is not None and rng.random() < 0.5:
        birth = fake.date_of_birth(minimum_age=18, maximum_age=80)
        out["nomor_identitas"] = {
            "nik": nik(rng, region, birth, female),
            "tujuan": purpose,
            "persetujuan": {"disetujui": True, "tanggal": consented.isoformat()},
        }
    return out


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    intake = INTAKE.get(i % 10, "laporan_masyarakat")
    units, area, complaint, types, documents, purpose = CASES[rng.randrange(len(CASES))]
    unit = rng.choice(units)
    unit_name = register("perangkat_daerah").rows[unit]["nama"]
    region = rng.choice(sorted(k for k, level in region_codes().items() if level == "kelurahan"))
    letter = today - dt.timedelta(days=rng.randint(0, 60))
    registered = letter - dt.timedelta(days=rng.randint(3, 120))
    # Up to two years before the registration: the letter may be later than that.
    incident = registered - dt.timedelta(days=rng.randint(1, 700))
    text = complaint.format(amount=rng.choice(AMOUNTS))
    record: dict[str, Any] = {
        "nomor_laporan": (
            f"{rng.randint(1, 999):04d}/LM/{ROMAN[registered.month]}/{registered.year}/JKT"
        ),
        "nomor_surat": (
            f"B/{rng.randint(100, 2999)}/LM.01-15/{rng.randint(1000, 9999)}.{i}/{letter.year}"
        ),
        "tanggal_surat": letter.isoformat(),
        "tanggal_registrasi": registered.isoformat(),
        "jenis_penerimaan": intake,
        "tahap": "pemeriksaan",
        "substansi": area,
        "jenis_maladministrasi": rng.sample(types, k=rng.randint(1, len(types))),
        "unit_terlapor": unit,
        "tanggal_kejadian": incident.isoformat(),
        "kode_wilayah": region,
        "batas_waktu_tanggapan": (letter + dt.timedelta(days=14)).isoformat(),
        **_request(rng, documents),
        "ringkasan": _summary(intake, text, unit_name, incident, rng),
    }
    if intake != "investigasi_prakarsa_sendiri":
        record.update(_reporter(fake, rng, region, registered, purpose))
    return record
