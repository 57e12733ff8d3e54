"""Sample ``hasil_penilaian_kepatuhan`` records.

Totals and grades follow the score bands and dimension weights configured in
``schemas/data`` (both *unconfirmed*), so that 58.99 is a C and 83.18 a B as in
2022. Version 1.0 does not check them; version 2.0 does.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas.hasil_penilaian_kepatuhan import (
    DIMENSIONS,
    ENTITY,
    FIRST_YEAR,
    GRADED_METHOD,
    OPINION_METHOD,
    OPINION_OF_GRADE,
    SUGGESTIONS_COUNTED_FROM,
    UNIT,
    ZONE_OF_GRADE,
    band_of,
    bands,
    method_years,
    weights,
)
from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker

__all__ = ["KOTA_BEKASI_2022_TOTAL", "KOTA_BEKASI_2022_UNITS", "make", "make_v2"]

# Every ten records carry each grade at least once; B is the most common.
PLAN = ("B", "A", "C", "B", "D", "B", "C", "E", "A", "B")

# Where to aim a score for each grade when no band is configured.
_FALLBACK_BANDS = {
    "A": (88.0, 100.0),
    "B": (78.0, 87.99),
    "C": (57.0, 77.99),
    "D": (40.0, 56.99),
    "E": (0.0, 39.99),
}

NOTES = (
    "Lengkapi maklumat pelayanan dan pasang di ruang tunggu.",
    "Sediakan sarana dan prasarana bagi pengguna layanan berkebutuhan khusus.",
    "Publikasikan standar pelayanan secara daring dan di lokasi layanan.",
    "Tetapkan petugas pengelola pengaduan beserta prosedur penanganannya.",
    "Lakukan survei kepuasan masyarakat secara berkala dan umumkan hasilnya.",
    "Tingkatkan kompetensi petugas layanan melalui pelatihan pelayanan prima.",
    "Tindak lanjuti pengaduan dalam jangka waktu yang ditetapkan dan catat hasilnya.",
)

# Kota Bekasi's result in 2022: the seven units assessed, total 83.18, grade B.
KOTA_BEKASI_2022_UNITS = (
    "3275.DINKES",
    "3275.DISDUKCAPIL",
    "3275.PKM.KARANGKITRI",
    "3275.DISDIK",
    "3275.PKM.JATIBENING",
    "3275.DINSOS",
    "3275.DPMPTSP",
)
KOTA_BEKASI_2022_TOTAL = 83.18

# Units an assessment may take in later years (codes of the units register).
_UNIT_POOL = (
    *KOTA_BEKASI_2022_UNITS,
    "3275.DISHUB",
    "3275.BAPENDA",
    "3275.RSUD",
    "3275.DISNAKER",
    "3275.KEC.01",
    "3275.KEC.09",
)

# (dimension, indicator, suggestion) as an assessment's report card words them.
SUGGESTIONS = (
    ("input", "IN.1 Kompetensi pelaksana",
     "Tingkatkan pemahaman pelaksana atas komponen standar pelayanan melalui pelatihan."),
    ("input", "IN.2 Sarana dan prasarana",
     "Sediakan sarana bagi pengguna layanan berkebutuhan khusus dan kelompok rentan."),
    ("input", "IN.3 Pengawasan internal",
     "Tetapkan jadwal pengawasan oleh atasan langsung dan dokumentasikan hasilnya."),
    ("proses", "PR.1 Standar pelayanan",
     "Publikasikan standar pelayanan secara daring dan di lokasi layanan."),
    ("proses", "PR.2 Maklumat pelayanan",
     "Pasang maklumat pelayanan yang ditandatangani pimpinan di ruang tunggu."),
    ("output", "OU.1 Persepsi maladministrasi",
     "Tindak lanjuti keluhan pengguna tentang penundaan berlarut dan permintaan imbalan."),
    ("pengaduan", "PG.1 Pengelolaan pengaduan",
     "Tetapkan pengelola pengaduan dan prosedur penanganannya sesuai Perpres 76/2013."),
    ("pengaduan", "PG.2 Tindak lanjut pengaduan",
     "Catat setiap pengaduan beserta tindak lanjutnya dalam jangka waktu yang ditetapkan."),
)  # fmt: skip


def _grade_band(year: int, grade: str) -> tuple[float, float]:
    for band in bands(GRADED_METHOD, year):
        if band.grade == grade:
            return band.low, band.high
    return _FALLBACK_BANDS[grade]


def _total(method: str, scores: dict[str, float]) -> float:
    """The weighted total of ``scores`` (by the configured weights, else their mean)."""
    configured = weights(method) or dict.fromkeys(DIMENSIONS, 1.0)
    return round(sum(configured[d] * scores[d] for d in configured) / sum(configured.values()), 2)


def _scores(rng: random.Random, year: int, grade: str) -> dict[str, float]:
    low, high = _grade_band(year, grade)
    target = rng.uniform(low + (high - low) * 0.2, high - (high - low) * 0.2)
    return {d: round(min(100.0, max(0.0, target + rng.uniform(-6, 6))), 2) for d in DIMENSIONS}


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    """A record of version 1.0: a unit by its name, grade, zone and opinion."""
    grade = PLAN[i % len(PLAN)]
    scores = _scores(rng, FIRST_YEAR, grade)
    total = round(sum(scores.values()) / len(scores), 2)
    band = band_of(GRADED_METHOD, FIRST_YEAR, total)
    grade = band.grade if band is not None and band.grade is not None else grade
    year = rng.randint(FIRST_YEAR, max(FIRST_YEAR, today.year - 1))
    notes = rng.sample(NOTES, k=rng.randint(0, 2) if grade == "A" else rng.randint(1, 4))
    return {
        "tahun": year,
        "versi_metode": "2022.1" if year == FIRST_YEAR else "2023.1",
        "unit": rng.choice(UNITS),
        "nilai_dimensi": scores,
        "nilai_total": total,
        "predikat": grade,
        "zona": ZONE_OF_GRADE[grade],
        "opini": OPINION_OF_GRADE[grade],
        "catatan_perbaikan": notes,
    }


def _method_of(year: int) -> str:
    for method, (first, last) in method_years().items():
        if (first is None or year >= first) and (last is None or year <= last):
            return method
    return GRADED_METHOD


def _suggestions(rng: random.Random, year: int, grade: str) -> dict[str, Any]:
    k = rng.randint(0, 2) if grade == "A" else rng.randint(1, 5)
    items = [
        {"dimensi": d, "indikator": indicator, "nilai": round(rng.uniform(20, 75), 2),
         "catatan": text}
        for d, indicator, text in rng.sample(SUGGESTIONS, k=k)
    ]  # fmt: skip
    out: dict[str, Any] = {"saran_perbaikan": items}
    if year >= SUGGESTIONS_COUNTED_FROM:
        out["jumlah_saran_perbaikan"] = len(items)
    return out


def _scope(rng: random.Random, i: int) -> dict[str, Any]:
    if i % 4 == 1:
        return {"lingkup": ENTITY, "unit_dinilai": rng.sample(_UNIT_POOL, k=7)}
    return {"lingkup": UNIT, "kode_unit": rng.choice(_UNIT_POOL)}


def _result(rng: random.Random, method: str, year: int, grade: str) -> dict[str, Any]:
    """Scores, grade, zone, opinion and (from 2025) the qualifier, as ``method`` has them."""
    scores = _scores(rng, year, grade)
    total = _total(method, scores)
    # No bands are configured for the 2025 opinion: the published 2025 results fit 2022's.
    band = band_of(method, year, total) or band_of(GRADED_METHOD, FIRST_YEAR, total)
    if band is not None and band.grade is not None:
        grade = band.grade
    out: dict[str, Any] = {"nilai_dimensi": scores, "nilai_total": total}
    if method == GRADED_METHOD:
        out |= {"predikat": grade, "zona": ZONE_OF_GRADE[grade]}
    out["opini"] = band.opinion if band is not None and band.opinion else OPINION_OF_GRADE[grade]
    if method == OPINION_METHOD:
        findings = rng.randint(0, 12)
        done = findings if rng.random() < 0.5 else rng.randint(0, max(0, findings - 1))
        out["tanpa_maladministrasi"] = done == findings
        out["tindak_lanjut_produk"] = {"jumlah_produk": findings, "jumlah_ditindaklanjuti": done}
    return out


def _kota_bekasi_2022(rng: random.Random) -> dict[str, Any]:
    """Kota Bekasi's 2022 entity result: 83.18, B, kualitas tinggi, seven units."""
    scores = {"input": 80.55, "proses": 84.4, "output": 85.1}
    configured = weights(GRADED_METHOD) or dict.fromkeys(DIMENSIONS, 1.0)
    rest = sum(configured[d] * s for d, s in scores.items())
    target = KOTA_BEKASI_2022_TOTAL * sum(configured.values())
    scores["pengaduan"] = round((target - rest) / configured["pengaduan"], 2)
    return {
        "tahun": 2022,
        "versi_metode": GRADED_METHOD,
        "lingkup": ENTITY,
        "unit_dinilai": list(KOTA_BEKASI_2022_UNITS),
        "nilai_dimensi": scores,
        "nilai_total": KOTA_BEKASI_2022_TOTAL,
        "predikat": "B",
        "zona": "hijau",
        "opini": "kualitas_tinggi",
        "saran_perbaikan": [
            {"dimensi": d, "indikator": indicator, "nilai": round(rng.uniform(40, 75), 2),
             "catatan": text}
            for d, indicator, text in (SUGGESTIONS[1], SUGGESTIONS[6])
        ],
    }


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    """A record of version 2.0; the first is Kota Bekasi's 2022 result."""
    if i == 0:
        return _kota_bekasi_2022(rng)
    year = rng.randint(FIRST_YEAR, max(FIRST_YEAR, today.year - 1))
    method = _method_of(year)
    grade = PLAN[i % len(PLAN)]
    return {
        "tahun": year,
        "versi_metode": method,
        **_scope(rng, i),
        **_result(rng, method, year, grade),
        **_suggestions(rng, year, grade),
    }
