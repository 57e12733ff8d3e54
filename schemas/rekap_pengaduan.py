"""``rekap_pengaduan``: monthly statistics of the complaints Pemkot Bekasi receives.

Direction: Pemkot -> Ombudsman. MoU clause 4 (exchange of information or data), in
aid of clauses 2 and 3: how the city handles the complaints made to it is part of
the public service the Ombudsman oversees. No personal data: counts only, and no
count small enough to point at a person (a count from 1 to 4 is suppressed).

Legal basis (details marked *unconfirmed* are from secondary sources; check them
against the texts):

* UU 25/2009 tentang Pelayanan Publik: a provider offers means to complain and
  manages complaints (Pasal 36 and 37, *unconfirmed* article numbers); the public
  may complain to the provider, the Ombudsman or the DPRD (Pasal 40, *unconfirmed*).
* Perpres 76/2013 tentang Pengelolaan Pengaduan Pelayanan Publik: the national
  complaint-handling system SP4N, whose application is SP4N-LAPOR!, run with
  KemenPANRB; every government agency, Pemkot Bekasi included, is connected to it.
* PermenPANRB 62/2018 on the technical handling of complaints in SP4N-LAPOR!: the
  administrator verifies a report within 3 working days and the agency follows it
  up within 5 working days (*unconfirmed*: that this edition is still in force, and
  the article). Version 2.0 counts the follow-ups made within that time.
* UU 37/2008 tentang Ombudsman: a reporter first complains to the agency concerned
  (Pasal 24(1), *unconfirmed* article); Peraturan Ombudsman 58/2023, which replaced
  PO 26/2017 as amended by PO 48/2020, governs the reports made to the Ombudsman.
  The complaints counted here are made to Pemkot: they are not Ombudsman reports,
  and PO 58/2023 does not define them.
* UU 27/2022 (Pelindungan Data Pribadi): only what the purpose needs; counts are
  aggregates, and suppression keeps any complainant from being singled out.

Version 1.0: one unit's counts by channel (the Ombudsman's own intake channels),
SP4N-LAPOR! classification and substance area; a count from 1 to 4 is withheld
(``jumlah: null`` with ``disamarkan: true``), one cell at a time. Version 2.0: the
city's counts by Pemkot's own channels (a register), classification, substance area
(the 27 areas) and unit (the units register), with the SP4N-LAPOR! follow-up counts,
and *complementary* suppression: no withheld count can be worked out from the
others (see :class:`RekapPengaduanV2`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import suppression, vocab
from schemas._base import END, AgreedSchema, Choice, Date, SubstanceArea, Text, UnitCode, describe
from schemas.registers import register, substance_areas, unit_codes

KLASIFIKASI = ("aspirasi", "pengaduan", "permintaan_informasi")
DIMENSI = ("saluran", "klasifikasi", "substansi")
SMALLEST_COUNT = 5  # counts from 1 to SMALLEST_COUNT - 1 are suppressed
MAX_COUNT = 10_000_000  # reports of one kind to one unit in a month: over 3 per resident

_PERIOD = rf"^20[0-9]{{2}}-(0[1-9]|1[0-2]){END}"
_VALUES = {"saluran": vocab.SALURAN, "klasifikasi": KLASIFIKASI, "substansi": vocab.SUBSTANSI}


class Baris(AgreedSchema):
    """One count: how many reports of one kind in the month."""

    dimensi = Choice(DIMENSI, required=True, metadata={"description": "what is counted by"})
    nilai = fields.String(
        required=True,
        metadata={"description": "a value of the dimension's vocabulary"},
    )
    jumlah = fields.Integer(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_COUNT, error="range"),
        metadata={"description": "0 or at least 5; null when suppressed"},
    )
    disamarkan = fields.Boolean(
        load_default=False, truthy={True}, falsy={False},
        metadata={"description": "true when a count from 1 to 4 was withheld"},
    )  # fmt: skip

    @validates_schema(skip_on_field_errors=True)
    def _row(self, data: dict[str, Any], **_: Any) -> None:
        if data["nilai"] not in _VALUES[data["dimensi"]]:
            raise ValidationError("value_not_in_dimension", "nilai")
        count, suppressed = data["jumlah"], data["disamarkan"]
        if suppressed and count is not None:
            raise ValidationError("suppressed_count_sent", "jumlah")
        if not suppressed and count is None:
            raise ValidationError("count_required", "jumlah")
        if count is not None and 0 < count < SMALLEST_COUNT:
            raise ValidationError("count_not_suppressed", "jumlah")


class RekapPengaduanV1(AgreedSchema):
    """Version 1.0."""

    periode = fields.String(
        required=True,
        validate=validate.Regexp(_PERIOD, error="format"),
        metadata={"description": "month, YYYY-MM"},
    )
    unit = Text(required=True, max_length=200, metadata={"description": "the reporting unit"})
    baris = fields.List(
        fields.Nested(Baris),
        required=True,
        validate=validate.Length(min=1, max=500, error="length"),
    )

    @validates_schema(skip_on_field_errors=True)
    def _rows(self, data: dict[str, Any], **_: Any) -> None:
        seen: set[tuple[str, str]] = set()
        for i, row in enumerate(data["baris"]):
            key = (row["dimensi"], row["nilai"])
            if key in seen:
                raise ValidationError({"baris": {str(i): {"nilai": ["duplicate_row"]}}})
            seen.add(key)


describe(
    RekapPengaduanV1,
    baris="the counts, one row per dimension and value",
)


# -- version 2.0 ------------------------------------------------------------------------------

# Pemkot's own intake channels: a register (schemas/data/saluran_pengaduan_kota_bekasi.csv),
# so that a new channel is data, not code. SP4N-LAPOR! is one of them, by this code.
SALURAN_PEMKOT = tuple(register("saluran_pengaduan").rows)
LAPOR = "sp4n_lapor"
UNITS = tuple(sorted(unit_codes()))

# The dimensions of version 2.0: the list that holds each, and the member naming a row's value.
DIMENSIONS = (
    ("menurut_saluran", "saluran"),
    ("menurut_klasifikasi", "klasifikasi"),
    ("menurut_substansi", "substansi"),
    ("menurut_unit", "unit"),
)
# The SP4N-LAPOR! follow-up counts, in the order of suppression.CHAIN.
CHAIN = ("ditindaklanjuti_tepat_waktu", "melewati_batas_waktu", "selesai")
_CHAIN_MEMBER = dict(zip(suppression.CHAIN, CHAIN, strict=True))
_CHAIN_CODES = {
    suppression.EXCEEDS_RECEIVED: "lapor_count_exceeds_received",
    suppression.SUM_EXCEEDS_RECEIVED: "lapor_timely_and_overdue_exceed_received",
    suppression.EXCEEDS_FOLLOWED_UP: "lapor_closed_exceeds_followed_up",
}


class Jumlah(AgreedSchema):
    """A count, shown or suppressed: ``{"jumlah": 12}`` or ``{"jumlah": null,
    "disamarkan": true}``."""

    jumlah = fields.Integer(
        required=True,
        strict=True,
        allow_none=True,
        validate=validate.Range(min=0, max=MAX_COUNT, error="range"),
        metadata={"description": "the count: 0 or at least 5 when shown; null when suppressed"},
    )
    disamarkan = fields.Boolean(
        load_default=False, truthy={True}, falsy={False},
        metadata={"description": "true when the count is withheld: always for 1 to 4; for a "
                                 "larger count when it protects a small one; never for 0"},
    )  # fmt: skip

    @validates_schema(skip_on_field_errors=True)
    def _count(self, data: dict[str, Any], **_: Any) -> None:
        count, suppressed = data["jumlah"], data["disamarkan"]
        if suppressed and count is not None:
            raise ValidationError("suppressed_count_sent", "jumlah")
        if not suppressed and count is None:
            raise ValidationError("count_required", "jumlah")
        if count is not None and 0 < count < SMALLEST_COUNT:
            raise ValidationError("count_not_suppressed", "jumlah")


class MenurutSaluran(Jumlah):
    saluran = Choice(SALURAN_PEMKOT, required=True,
                     metadata={"description": "Pemkot's intake channel (register "
                                              "saluran_pengaduan)"})  # fmt: skip


class MenurutKlasifikasi(Jumlah):
    klasifikasi = Choice(KLASIFIKASI, required=True,
                         metadata={"description": "the SP4N-LAPOR! classification"})


class MenurutSubstansi(Jumlah):
    substansi = SubstanceArea(required=True, metadata={"description": "the substance area"})


class MenurutUnit(Jumlah):
    unit = UnitCode(required=True,
                    metadata={"description": "the unit the report is about, which handles it",
                              "enum": list(UNITS)})  # fmt: skip


class Sp4nLapor(AgreedSchema):
    """The follow-up of the reports received through SP4N-LAPOR! in the month, as of
    ``tanggal_data``."""

    diterima = fields.Nested(Jumlah, required=True)
    ditindaklanjuti_tepat_waktu = fields.Nested(Jumlah, required=True)
    melewati_batas_waktu = fields.Nested(Jumlah, required=True)
    selesai = fields.Nested(Jumlah, required=True)


def _rows(row: type[Jumlah], values: int) -> fields.List[Any]:
    return fields.List(fields.Nested(row), required=True,
                       validate=validate.Length(max=values, error="length"))  # fmt: skip


class RekapPengaduanV2(AgreedSchema):
    """Version 2.0: the city's month, with complementary suppression (breaking: not
    compatible with 1.0).

    One record is one month of the complaints about city matters that Pemkot Bekasi
    received through its own channels, counted four ways: by channel, by SP4N-LAPOR!
    classification, by substance area and by the unit the report is about. A report
    outside the city's remit (passed on to another agency) is not counted, so every
    report counted belongs to one unit of the register. Each report is counted once
    in each dimension, so each dimension splits the same total, ``jumlah_laporan``. A
    value that a dimension does not list counts 0.

    Suppression. A count is ``{"jumlah": n}`` or, withheld, ``{"jumlah": null,
    "disamarkan": true}``. A count from 1 to 4 is always withheld; 0 is always shown;
    a larger count (the total included) may be withheld to protect a small one. A
    withheld count must not be derivable from the record, read as
    :mod:`schemas.suppression` describes (``suppressed_count_derivable``): in a
    dimension the withheld cells sum to the total minus the shown cells; one
    withheld cell is that sum; ``k`` withheld cells summing to ``k`` are all 1, and
    summing to ``4k`` are all 4 (if small, as withheld counts usually are). So a
    dimension with a withheld cell withholds at least two, or the total is withheld
    too; the SP4N-LAPOR! counts are read with the channel they belong to.

    SP4N-LAPOR! counts, of the reports received through SP4N-LAPOR! in the month, as
    of ``tanggal_data``: ``diterima`` (received) is the ``sp4n_lapor`` channel's
    count, withheld or not alike (``lapor_received_mismatch``);
    ``ditindaklanjuti_tepat_waktu`` were followed up within the time limit (5
    working days, *unconfirmed*), ``melewati_batas_waktu`` were not (followed up
    late, or not yet although the time is up); the rest are still within the time
    limit, so the two add up to at most ``diterima``
    (``lapor_timely_and_overdue_exceed_received``; each alone:
    ``lapor_count_exceeds_received``). ``selesai``: closed, which only a followed-up
    report can be, so at most the two together (``lapor_closed_exceeds_followed_up``).
    """

    periode = fields.String(
        required=True,
        validate=validate.Regexp(_PERIOD, error="format"),
        metadata={"description": "month, YYYY-MM"},
    )
    tanggal_data = Date(required=True)
    unit_penyusun = UnitCode(required=True, metadata={"enum": list(UNITS)})
    jumlah_laporan = fields.Nested(Jumlah, required=True)
    menurut_saluran = _rows(MenurutSaluran, len(SALURAN_PEMKOT))
    menurut_klasifikasi = _rows(MenurutKlasifikasi, len(KLASIFIKASI))
    menurut_substansi = _rows(MenurutSubstansi, len(substance_areas()))
    menurut_unit = _rows(MenurutUnit, len(UNITS))
    sp4n_lapor = fields.Nested(Sp4nLapor, required=True)

    @validates_schema(skip_on_field_errors=True)
    def _counts(self, data: dict[str, Any], **_: Any) -> None:
        errors = record_errors(data)
        if errors:
            raise ValidationError(errors)


Errors = dict[Any, Any]


def _add(errors: Errors, path: tuple[Any, ...], code: str) -> None:
    """File ``code`` under ``path`` in marshmallow's nested error messages."""
    node = errors
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node.setdefault(path[-1], []).append(code)


def _count(cell: dict[str, Any]) -> int | None:
    return None if cell["disamarkan"] else int(cell["jumlah"])


def _lapor_row(data: dict[str, Any]) -> int | None:
    """The index of the SP4N-LAPOR! row in ``menurut_saluran`` (None: not listed)."""
    for index, row in enumerate(data["menurut_saluran"]):
        if row["saluran"] == LAPOR:
            return index
    return None


def table(data: dict[str, Any]) -> suppression.Table:
    """The counts of a (loaded) record, as :mod:`schemas.suppression` reads them."""
    dims = []
    for field, member in DIMENSIONS:
        shown = hidden = 0
        holds = False
        for row in data[field]:
            if row["disamarkan"]:
                hidden += 1
                holds = holds or (member == "saluran" and row[member] == LAPOR)
            else:
                shown += row["jumlah"]
        dims.append(suppression.Dimension(shown, hidden, holds))
    lapor = _lapor_row(data)
    received = 0 if lapor is None else _count(data["menurut_saluran"][lapor])
    return suppression.Table(
        total=_count(data["jumlah_laporan"]),
        dimensions=tuple(dims),
        received=received,
        chain=(
            _count(data["sp4n_lapor"][CHAIN[0]]),
            _count(data["sp4n_lapor"][CHAIN[1]]),
            _count(data["sp4n_lapor"][CHAIN[2]]),
        ),
    )


def _date_errors(data: dict[str, Any], errors: Errors) -> None:
    year, month = int(data["periode"][:4]), int(data["periode"][5:7])
    after = dt.date(year + month // 12, month % 12 + 1, 1)
    if data["tanggal_data"] < after:
        _add(errors, ("tanggal_data",), "data_date_before_period_end")


def _duplicate_errors(data: dict[str, Any], errors: Errors) -> None:
    for field, member in DIMENSIONS:
        seen: set[str] = set()
        for index, row in enumerate(data[field]):
            if row[member] in seen:
                _add(errors, (field, index, member), "duplicate_row")
            seen.add(row[member])


def _received_matches(data: dict[str, Any]) -> bool:
    """Whether ``sp4n_lapor.diterima`` is the SP4N-LAPOR! channel's count, withheld alike."""
    lapor = _lapor_row(data)
    channel = (False, 0) if lapor is None else (
        data["menurut_saluran"][lapor]["disamarkan"], data["menurut_saluran"][lapor]["jumlah"])
    received = data["sp4n_lapor"]["diterima"]
    return channel == (received["disamarkan"], received["jumlah"])


def _derived_errors(data: dict[str, Any], derived: frozenset[Any], errors: Errors) -> None:
    """File ``suppressed_count_derivable`` under each withheld count that can be worked out."""
    code = "suppressed_count_derivable"
    lapor = _lapor_row(data)
    if suppression.TOTAL in derived:
        _add(errors, ("jumlah_laporan", "jumlah"), code)
    if suppression.RECEIVED in derived:
        _add(errors, ("menurut_saluran", lapor, "jumlah"), code)
        _add(errors, ("sp4n_lapor", "diterima", "jumlah"), code)
    for key, member in _CHAIN_MEMBER.items():
        if key in derived:
            _add(errors, ("sp4n_lapor", member, "jumlah"), code)
    for index, (field, _) in enumerate(DIMENSIONS):
        if index not in derived:
            continue
        for row_index, row in enumerate(data[field]):
            if row["disamarkan"] and not (index == 0 and row_index == lapor):
                _add(errors, (field, row_index, "jumlah"), code)


def record_errors(data: dict[str, Any]) -> Errors:
    """The errors of a version 2.0 record whose fields are valid, as marshmallow files
    them; empty if there are none. In order: the date; rows counted twice; the
    SP4N-LAPOR! received count against its channel; each dimension against the total;
    the follow-up counts; then whether a withheld count is derivable. Each step runs
    only when the counts before it agree."""
    errors: Errors = {}
    _date_errors(data, errors)
    _duplicate_errors(data, errors)
    if any(field in errors for field, _ in DIMENSIONS):
        return errors
    if not _received_matches(data):
        _add(errors, ("sp4n_lapor", "diterima", "jumlah"), "lapor_received_mismatch")
        return errors
    counts = table(data)
    conflict = suppression.total_conflict(counts)
    if conflict is not None:
        _add(errors, (DIMENSIONS[conflict][0],), "dimension_total_mismatch")
        return errors
    conflicts = suppression.chain_conflicts(counts)
    for key, kind in conflicts:
        where = ("sp4n_lapor",) if kind == suppression.SUM_EXCEEDS_RECEIVED else (
            "sp4n_lapor", _CHAIN_MEMBER[key], "jumlah")
        _add(errors, where, _CHAIN_CODES[kind])
    if not conflicts:
        _derived_errors(data, suppression.derivable(counts), errors)
    return errors


describe(
    RekapPengaduanV2,
    tanggal_data="the day the counts were taken (follow-up and closure as of this day); "
    "after the month",
    unit_penyusun="the unit that compiled the counts (the city's complaint manager)",
    jumlah_laporan="the month's total: reports about city matters received through any channel",
    menurut_saluran="the counts by Pemkot's intake channel",
    menurut_klasifikasi="the counts by SP4N-LAPOR! classification",
    menurut_substansi="the counts by substance area",
    menurut_unit="the counts by the unit the report is about",
    sp4n_lapor="the follow-up of the month's SP4N-LAPOR! reports",
)

describe(
    Sp4nLapor,
    diterima="received: the sp4n_lapor channel's count",
    ditindaklanjuti_tepat_waktu="followed up within the time limit (5 working days)",
    melewati_batas_waktu="not followed up within the time limit, and the time is up",
    selesai="closed",
)
