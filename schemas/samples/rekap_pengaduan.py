"""Sample ``rekap_pengaduan`` records, with small counts suppressed.

Version 2.0: a month of Kota Bekasi's complaints, drawn report by report (channel,
classification, substance area and the unit that handles it), so that every
dimension splits the same total; then small counts are withheld and more counts
are withheld beside them until none can be worked out (complementary suppression).
The shares below only make the samples look plausible.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Any

from schemas import suppression, vocab
from schemas.rekap_pengaduan import (
    CHAIN,
    DIMENSIONS,
    KLASIFIKASI,
    LAPOR,
    SALURAN_PEMKOT,
    SMALLEST_COUNT,
    table,
)
from schemas.samples._common import UNITS

if TYPE_CHECKING:  # imported when samples are made: see sample_records
    from faker import Faker


def _row(dimension: str, value: str, count: int) -> dict[str, Any]:
    if 0 < count < SMALLEST_COUNT:
        return {"dimensi": dimension, "nilai": value, "jumlah": None, "disamarkan": True}
    return {"dimensi": dimension, "nilai": value, "jumlah": count, "disamarkan": False}


def make(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    month = (today.replace(day=1) - dt.timedelta(days=1 + 31 * rng.randint(0, 11))).replace(day=1)
    rows = [_row("saluran", v, rng.choice((0, 2, 7, 15, 40))) for v in vocab.SALURAN]
    rows += [_row("klasifikasi", v, rng.choice((0, 3, 9, 25))) for v in KLASIFIKASI]
    rows += [_row("substansi", v, rng.choice((0, 1, 6, 12)))
             for v in rng.sample(vocab.SUBSTANSI, k=5)]
    return {"periode": f"{month.year}-{month.month:02d}", "unit": rng.choice(UNITS),
            "baris": rows}


# -- version 2.0 ------------------------------------------------------------------------------

_CHANNEL_SHARE = {LAPOR: 38, "telepon": 14, "sms_whatsapp": 12, "media_sosial": 16,
                  "aplikasi_daerah": 8, "datang_langsung": 7, "surat": 2, "email": 2,
                  "kotak_pengaduan": 1}  # fmt: skip
_CLASS_SHARE = {"pengaduan": 72, "aspirasi": 18, "permintaan_informasi": 10}
# Substance area: its share, and the units that handle such reports.
_AREAS = {
    "pekerjaan_umum_infrastruktur": (20, ("3275.DBMSDA", "3275.DISPERKIMTAN", "3275.KEC.03",
                                          "3275.KEC.07", "3275.KEC.11")),
    "administrasi_kependudukan": (16, ("3275.DISDUKCAPIL", "3275.KEC.01", "3275.KEC.02")),
    "lingkungan_hidup_kehutanan": (12, ("3275.DLH",)),
    "kesehatan": (10, ("3275.DINKES", "3275.RSUD", "3275.PKM.KARANGKITRI",
                       "3275.PKM.JATIBENING")),
    "pendidikan": (10, ("3275.DISDIK",)),
    "kesejahteraan_sosial": (8, ("3275.DINSOS",)),
    "perhubungan": (6, ("3275.DISHUB",)),
    "perizinan": (5, ("3275.DPMPTSP", "3275.DISTARU")),
    "perumahan": (3, ("3275.DISPERKIMTAN",)),
    "agraria_pertanahan": (3, ("3275.DISPERKIMTAN", "3275.KEC.09")),
    "kepegawaian": (3, ("3275.BKPSDM",)),
    "ketenagakerjaan": (2, ("3275.DISNAKER",)),
    "komunikasi_informatika": (1, ("3275.DISKOMINFOSTANDI",)),
    "energi_kelistrikan": (1, ("3275.DISPERKIMTAN",)),
}  # fmt: skip
_COMPILER = "3275.DISKOMINFOSTANDI"  # the city's complaint manager (SP4N-LAPOR! admin)


def _cell(count: int) -> dict[str, Any]:
    if 0 < count < SMALLEST_COUNT:
        return {"jumlah": None, "disamarkan": True}
    return {"jumlah": count, "disamarkan": False}


def _tally(values: list[str], order: tuple[str, ...], member: str,
           keep_zero: bool) -> list[dict[str, Any]]:  # fmt: skip
    counts = {value: 0 for value in order}
    for value in values:
        counts[value] += 1
    return [{member: value, **_cell(n)} for value, n in counts.items() if n or keep_zero]


def _draw(rng: random.Random, month: dt.date, today: dt.date) -> dict[str, Any]:
    """A month's counts, small ones withheld (not yet complementary)."""
    total = rng.randint(60, 420)
    channels = rng.choices(list(_CHANNEL_SHARE), weights=list(_CHANNEL_SHARE.values()), k=total)
    classes = rng.choices(list(_CLASS_SHARE), weights=list(_CLASS_SHARE.values()), k=total)
    areas = rng.choices(list(_AREAS), weights=[share for share, _ in _AREAS.values()], k=total)
    units = [rng.choice(_AREAS[area][1]) for area in areas]
    received = channels.count(LAPOR)
    timely = round(received * rng.uniform(0.7, 0.95))
    overdue = received - timely - min(received - timely, rng.randint(0, 3))
    closed = rng.randint((timely + overdue) // 2, timely + overdue)
    after = (month + dt.timedelta(days=32)).replace(day=1)
    taken = max(after, min(today, after + dt.timedelta(days=rng.randint(3, 20))))
    return {
        "periode": f"{month.year}-{month.month:02d}",
        "tanggal_data": taken.isoformat(),
        "unit_penyusun": _COMPILER,
        "jumlah_laporan": _cell(total),
        "menurut_saluran": _tally(channels, SALURAN_PEMKOT, "saluran", True),
        "menurut_klasifikasi": _tally(classes, KLASIFIKASI, "klasifikasi", True),
        "menurut_substansi": _tally(areas, tuple(_AREAS), "substansi", False),
        "menurut_unit": _tally(units, tuple(sorted(set(units))), "unit", False),
        "sp4n_lapor": {"diterima": _cell(received), CHAIN[0]: _cell(timely),
                       CHAIN[1]: _cell(overdue), CHAIN[2]: _cell(closed)},
    }  # fmt: skip


def _withhold(cells: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Withhold the smallest count of ``cells`` that is shown and not 0 (the SP4N-LAPOR!
    received count goes with its channel); False if there is none."""
    shown = [c for c in cells if not c["disamarkan"] and c["jumlah"]]
    if not shown:
        return False
    cell = min(shown, key=lambda c: c["jumlah"])
    cell.update(jumlah=None, disamarkan=True)
    if cell.get("saluran") == LAPOR:
        record["sp4n_lapor"]["diterima"].update(jumlah=None, disamarkan=True)
    return True


def _complement(record: dict[str, Any], derived: frozenset[Any]) -> bool:
    """Withhold one more count beside each derivable one; False if none is left to."""
    lapor = record["sp4n_lapor"]
    done = False
    for index, (field, _) in enumerate(DIMENSIONS):
        pinned = index in derived or (index == 0 and suppression.RECEIVED in derived)
        # A withheld total is given away by a dimension that withholds nothing.
        gives_total = suppression.TOTAL in derived and not any(
            c["disamarkan"] for c in record[field])
        if pinned or gives_total:
            done = _withhold(record[field], record) or done
    if any(key in derived for key in suppression.CHAIN):
        done = _withhold([lapor[member] for member in CHAIN], record) or done
    return done


def make_v2(fake: Faker, rng: random.Random, i: int, today: dt.date) -> dict[str, Any]:
    month = (today.replace(day=1) - dt.timedelta(days=1 + 31 * rng.randint(0, 11))).replace(day=1)
    while True:  # nearly always once: a month that cannot be protected is drawn again
        record = _draw(rng, month, today)
        for _ in range(40):
            derived = suppression.derivable(table(record))
            if not derived:
                return record
            if not _complement(record, derived):
                break
