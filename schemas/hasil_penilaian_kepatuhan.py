"""``hasil_penilaian_kepatuhan``: the Ombudsman's assessment of Kota Bekasi's public services.

Direction: Ombudsman -> Pemkot. MoU clause 3 (oversight of the public services
Pemkot Bekasi delivers); the improvement notes also serve clause 2 (prevention
of maladministration).

Legal basis: UU 25/2009 on public services (the service standard of Pasal 21
that the assessment measures) and UU 37/2008 on the Ombudsman (its oversight
and prevention of maladministration). Method by assessment year:

* 2022-2024, Penilaian Kepatuhan Penyelenggaraan Pelayanan Publik
  (``penilaian_kepatuhan_2022``): four dimensions (input, proses, output,
  pengaduan) scored 0-100 and weighted into a total; a grade A-E, a zone (A and
  B zona hijau, C kuning, D and E merah) and an opinion from "Kualitas
  Tertinggi" (A) to "Kualitas Terendah" (E). Kota Bekasi 2022: seven units
  assessed, total 83.18, grade B, "Kualitas Tinggi"; 58.99 was a C in 2022.
* From 2025, the *Opini Ombudsman RI* of the Penilaian Maladministrasi
  Penyelenggaraan Pelayanan Publik (``opini_2025``; Peraturan Ombudsman
  61/2025, *unconfirmed*): a score and an opinion ("Kualitas Tertinggi" ...),
  qualified "Tanpa Maladministrasi" when the assessed body has followed up the
  Ombudsman's findings (corrective actions, improvement and refinement
  suggestions, recommendations); the condition is *unconfirmed*.

A result is either the city's as a whole (the entity) or one unit's; the two
differ. Improvement suggestions (*saran perbaikan*) are counted since 2023.

*Unconfirmed*, so configuration (``schemas/data``, listed with source, edition
and status in ``registers.toml``), not code: the years each method applies to,
the score bands of the grades and opinions, and the dimension weights (Input
21.85% in one representative office's material). A method with no bands or
weights configured is not checked against them.

Version 1.0 checks only that grade, zone and opinion agree; version 2.0 checks
the score bands and the weights as configured. Scores are JSON numbers from 0
to 100 with at most two decimals; a numeric string is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Text, UnitCode
from schemas.registers import register, unit_codes

__all__ = [
    "DIMENSIONS",
    "ENTITY",
    "FIRST_YEAR",
    "GRADED_METHOD",
    "GRADES",
    "METHODS",
    "OPINIONS",
    "OPINION_METHOD",
    "OPINION_OF_GRADE",
    "SCOPES",
    "SUGGESTIONS_COUNTED_FROM",
    "TOTAL_TOLERANCE",
    "UNIT",
    "ZONES",
    "ZONE_OF_GRADE",
    "Band",
    "Dimensi",
    "HasilPenilaianKepatuhanV1",
    "HasilPenilaianKepatuhanV2",
    "SaranPerbaikan",
    "TindakLanjutProduk",
    "band_of",
    "bands",
    "method_years",
    "weighted_total",
    "weights",
]

FIRST_YEAR = 2022  # the first year of the four-dimension method

GRADES = ("A", "B", "C", "D", "E")
ZONES = ("hijau", "kuning", "merah")
OPINIONS = (
    "kualitas_tertinggi",
    "kualitas_tinggi",
    "kualitas_sedang",
    "kualitas_rendah",
    "kualitas_terendah",
)
ZONE_OF_GRADE = {"A": "hijau", "B": "hijau", "C": "kuning", "D": "merah", "E": "merah"}
OPINION_OF_GRADE = dict(zip(GRADES, OPINIONS, strict=True))


def _check_decimals(value: float) -> None:
    if not 0 <= value <= 100:
        return  # refused by the range alone
    # repr gives the shortest decimal that reads back as this float: what the sender wrote.
    exponent = Decimal(repr(value)).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValidationError("too_many_decimals")


class _Number(fields.Float):
    """A JSON number; a numeric string or a boolean is refused, as JSON Schema does."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return float(super()._deserialize(value, attr, data, **kwargs))


def _score(description: str, **kwargs: Any) -> _Number:
    """A score from 0 to 100 with at most two decimals."""
    return _Number(
        allow_nan=False,
        validate=[validate.Range(min=0, max=100, error="range"), _check_decimals],
        # As integers in the exported schema (apispec would write the float bounds 0.0, 100.0).
        metadata={"minimum": 0, "maximum": 100, "description": description},
        **kwargs,
    )


class Dimensi(AgreedSchema):
    """The four dimension scores of the method used since 2022."""

    input = _score("score of the input dimension, 0-100", required=True)
    proses = _score("score of the process dimension, 0-100", required=True)
    output = _score("score of the output dimension, 0-100", required=True)
    pengaduan = _score("score of the complaint-handling dimension, 0-100", required=True)


class HasilPenilaianKepatuhanV1(AgreedSchema):
    """Version 1.0."""

    tahun = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=FIRST_YEAR, max=2100, error="range"),
        metadata={"description": "assessment year; 2022 or later (four-dimension method)"},
    )
    versi_metode = Text(
        required=True,
        max_length=40,
        metadata={"description": "version of the assessment method, as the Ombudsman names it"},
    )
    unit = Text(required=True, max_length=200, metadata={"description": "the assessed unit"})
    nilai_dimensi = fields.Nested(
        Dimensi, required=True, metadata={"description": "the four dimension scores"}
    )
    nilai_total = _score("total score, 0-100", required=True)
    predikat = Choice(GRADES, required=True, metadata={"description": "grade, A-E"})
    zona = Choice(ZONES, required=True, metadata={"description": "zone; agrees with the grade"})
    opini = Choice(
        OPINIONS, required=True, metadata={"description": "opinion; agrees with the grade"}
    )
    catatan_perbaikan = fields.List(
        Text(max_length=2000),
        load_default=list,
        validate=validate.Length(max=50, error="length"),
        metadata={"description": "improvement notes, one text each"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        grade = data["predikat"]
        if data["zona"] != ZONE_OF_GRADE[grade]:
            errors["zona"] = ["grade_zone_mismatch"]
        if data["opini"] != OPINION_OF_GRADE[grade]:
            errors["opini"] = ["grade_opinion_mismatch"]
        if errors:
            raise ValidationError(errors)


# -- version 2.0 ------------------------------------------------------------------------------

GRADED_METHOD = "penilaian_kepatuhan_2022"  # 2022-2024: dimensions, grade, zone, opinion
OPINION_METHOD = "opini_2025"  # from 2025: Opini Ombudsman RI (PO 61/2025, unconfirmed)
METHODS = (GRADED_METHOD, OPINION_METHOD)
ENTITY, UNIT = "entitas", "unit"
SCOPES = (ENTITY, UNIT)
DIMENSIONS = ("input", "proses", "output", "pengaduan")
SUGGESTIONS_COUNTED_FROM = 2023  # the year the Ombudsman began counting saran perbaikan
# How far the total may be from the weighted dimension scores: each score is rounded to
# two decimals, and so may be the configured weights.
TOTAL_TOLERANCE = 0.05
MAX_SUGGESTIONS = 200
MAX_UNITS = 100
MAX_PRODUCTS = 100_000

# The members each method requires, and those it does not have (see the module's docstring).
REQUIRED_BY_METHOD = {
    GRADED_METHOD: ("nilai_dimensi", "predikat", "zona"),
    OPINION_METHOD: ("tanpa_maladministrasi", "tindak_lanjut_produk"),
}
NOT_IN_METHOD = {
    GRADED_METHOD: ("tanpa_maladministrasi",),
    OPINION_METHOD: ("predikat", "zona"),
}
# A unit's result names the unit; the entity's names the units assessed.
REQUIRED_BY_SCOPE = {ENTITY: ("unit_dinilai",), UNIT: ("kode_unit",)}
NOT_IN_SCOPE = {ENTITY: ("kode_unit",), UNIT: ("unit_dinilai",)}


@dataclass(frozen=True)
class Band:
    """A score range (both ends included, two decimals) and the grade and opinion it gives."""

    low: float
    high: float
    grade: str | None  # None: the method has no grades
    opinion: str | None


def _year(text: str) -> int | None:
    return int(text) if text.strip() else None


def _within(year: int, first: int | None, last: int | None) -> bool:
    return (first is None or year >= first) and (last is None or year <= last)


@cache
def method_years() -> dict[str, tuple[int | None, int | None]]:
    """The assessment years each method applies to (first, last; None: open), as configured."""
    rows = register("metode_penilaian_kepatuhan").rows
    return {code: (_year(r["tahun_awal"]), _year(r["tahun_akhir"])) for code, r in rows.items()}


@cache
def bands(method: str, year: int) -> tuple[Band, ...]:
    """The configured score bands of ``method`` in assessment ``year``; empty if none."""
    found = []
    for row in register("predikat_penilaian_kepatuhan").rows.values():
        if row["versi_metode"] == method and _within(
            year, _year(row["tahun_awal"]), _year(row["tahun_akhir"])
        ):
            found.append(
                Band(
                    low=float(row["nilai_min"]),
                    high=float(row["nilai_maks"]),
                    grade=row["predikat"] or None,
                    opinion=row["opini"] or None,
                )
            )
    return tuple(sorted(found, key=lambda band: band.low))


def band_of(method: str, year: int, total: float) -> Band | None:
    """The configured band ``total`` falls in; None if no band is configured for it."""
    for band in bands(method, year):
        if band.low <= total <= band.high:
            return band
    return None


@cache
def weights(method: str) -> dict[str, float]:
    """The configured weight of each dimension of ``method`` (percent); empty if none."""
    rows = register("bobot_dimensi_kepatuhan").rows.values()
    return {r["dimensi"]: float(r["bobot"]) for r in rows if r["versi_metode"] == method}


def weighted_total(method: str, scores: dict[str, float]) -> float | None:
    """The total the configured weights give the dimension ``scores``; None if ``method``
    has no weights configured."""
    configured = weights(method)
    if not configured:
        return None
    return sum(configured[d] * scores[d] for d in configured) / sum(configured.values())


def _distinct(values: Sequence[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


class _Flag(fields.Boolean):
    """A JSON boolean; 1, 0 or "true" is refused, as JSON Schema does."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _unit_code(**kwargs: Any) -> UnitCode:
    """A unit code of the register; the exported JSON Schema lists the codes."""
    metadata = {**kwargs.pop("metadata", {}), "enum": sorted(unit_codes())}
    return UnitCode(metadata=metadata, **kwargs)


class SaranPerbaikan(AgreedSchema):
    """One improvement suggestion (saran perbaikan) of the assessment."""

    dimensi = Choice(DIMENSIONS, required=True, metadata={"description": "the dimension"})
    indikator = Text(
        required=True,
        max_length=200,
        metadata={"description": "the indicator, by its short code or its text"},
    )
    nilai = _score(
        "the indicator's score as the assessment gives it, 0-100 (some instruments score "
        "indicators 0-3)",
        required=True,
    )
    catatan = Text(
        required=True, max_length=2000, metadata={"description": "the suggestion itself"}
    )


class TindakLanjutProduk(AgreedSchema):
    """The follow-up of the Ombudsman's findings (corrective actions, improvement and
    refinement suggestions, recommendations) addressed to the assessed body."""

    jumlah_produk = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_PRODUCTS, error="range"),
        metadata={"description": "findings that were to be followed up"},
    )
    jumlah_ditindaklanjuti = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_PRODUCTS, error="range"),
        metadata={"description": "of those, the findings followed up; at most jumlah_produk"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _at_most_all(self, data: dict[str, Any], **_: Any) -> None:
        if data["jumlah_ditindaklanjuti"] > data["jumlah_produk"]:
            raise ValidationError("follow_up_exceeds_products", "jumlah_ditindaklanjuti")


class HasilPenilaianKepatuhanV2(AgreedSchema):
    """Version 2.0: the method by name (``penilaian_kepatuhan_2022`` or ``opini_2025``),
    the entity's result apart from the units', units by their code, scores checked against
    the configured bands and weights, the "Tanpa Maladministrasi" qualifier with the
    follow-up it depends on, and structured, counted improvement suggestions. Not
    compatible with 1.0."""

    tahun = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=FIRST_YEAR, max=2100, error="range"),
        metadata={"description": "assessment year; in the years of the method (configured)"},
    )
    versi_metode = Choice(
        METHODS,
        required=True,
        metadata={"description": "the method: penilaian_kepatuhan_2022 (2022-2024) or "
                  "opini_2025 (from 2025)"},
    )  # fmt: skip
    lingkup = Choice(
        SCOPES,
        required=True,
        metadata={"description": "entitas: the city as a whole; unit: one unit"},
    )
    kode_unit = _unit_code(
        metadata={"description": "the assessed unit (units register); a unit's result only"}
    )
    unit_dinilai = fields.List(
        _unit_code(),
        validate=[validate.Length(min=1, max=MAX_UNITS, error="length"), _distinct],
        metadata={
            "uniqueItems": True,
            "description": "the units assessed, each once; the entity's result only",
        },
    )
    nilai_dimensi = fields.Nested(
        Dimensi,
        metadata={"description": "the four dimension scores; required by "
                  "penilaian_kepatuhan_2022"},
    )  # fmt: skip
    nilai_total = _score(
        "total score, 0-100; within the configured weights' total of the dimension scores",
        required=True,
    )
    predikat = Choice(
        GRADES,
        metadata={"description": "grade A-E, by the configured score bands; "
                  "penilaian_kepatuhan_2022 only (required there)"},
    )  # fmt: skip
    zona = Choice(
        ZONES,
        metadata={"description": "zone, agrees with the grade; penilaian_kepatuhan_2022 only "
                  "(required there)"},
    )  # fmt: skip
    opini = Choice(
        OPINIONS,
        required=True,
        metadata={"description": "opinion; agrees with the grade, or with the configured "
                  "score bands"},
    )  # fmt: skip
    tanpa_maladministrasi = _Flag(
        metadata={"description": "the qualifier Tanpa Maladministrasi: true exactly when "
                  "every finding was followed up (unconfirmed); opini_2025 only (required "
                  "there)"},
    )  # fmt: skip
    tindak_lanjut_produk = fields.Nested(
        TindakLanjutProduk,
        metadata={"description": "follow-up of the Ombudsman's findings; required by "
                  "opini_2025"},
    )  # fmt: skip
    saran_perbaikan = fields.List(
        fields.Nested(SaranPerbaikan),
        load_default=list,
        validate=validate.Length(max=MAX_SUGGESTIONS, error="length"),
        metadata={"description": "improvement suggestions"},
    )
    jumlah_saran_perbaikan = fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_SUGGESTIONS, error="range"),
        metadata={"description": "the number of improvement suggestions, as many as listed; "
                  f"required from {SUGGESTIONS_COUNTED_FROM}"},
    )  # fmt: skip

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        method, year = data["versi_metode"], data["tahun"]
        first, last = method_years().get(method, (None, None))
        if not _within(year, first, last):
            errors["versi_metode"] = ["method_year_mismatch"]
        _presence(data, REQUIRED_BY_METHOD[method], NOT_IN_METHOD[method], "method", errors)
        scope = data["lingkup"]
        _presence(data, REQUIRED_BY_SCOPE[scope], NOT_IN_SCOPE[scope], "scope", errors)
        _scores(data, errors)
        _qualifier(data, errors)
        _suggestions(data, errors)
        if errors:
            raise ValidationError(errors)


def _add(errors: dict[str, list[str]], name: str, code: str) -> None:
    errors.setdefault(name, []).append(code)


def _presence(
    data: dict[str, Any],
    required: Sequence[str],
    absent: Sequence[str],
    by: str,
    errors: dict[str, list[str]],
) -> None:
    """``required_by_<by>`` for each missing member of ``required``, ``not_in_<by>`` for each
    member of ``absent`` present."""
    for name in required:
        if name not in data:
            _add(errors, name, f"required_by_{by}")
    for name in absent:
        if name in data:
            _add(errors, name, f"not_in_{by}")


def _scores(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Grade, zone and opinion against the total (configured bands) and each other; the
    total against the weighted dimension scores (configured weights)."""
    method, total = data["versi_metode"], data["nilai_total"]
    band = band_of(method, data["tahun"], total)
    grade = data.get("predikat") if method == GRADED_METHOD else None
    if grade is not None:
        if band is not None and band.grade is not None and grade != band.grade:
            _add(errors, "predikat", "grade_score_mismatch")
        if "zona" in data and data["zona"] != ZONE_OF_GRADE[grade]:
            _add(errors, "zona", "grade_zone_mismatch")
        if data["opini"] != OPINION_OF_GRADE[grade]:
            _add(errors, "opini", "grade_opinion_mismatch")
    elif band is not None and band.opinion is not None and data["opini"] != band.opinion:
        _add(errors, "opini", "opinion_score_mismatch")
    if "nilai_dimensi" in data:
        expected = weighted_total(method, data["nilai_dimensi"])
        if expected is not None and abs(total - expected) > TOTAL_TOLERANCE + 1e-9:
            _add(errors, "nilai_total", "weighted_total_mismatch")


def _qualifier(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Tanpa Maladministrasi exactly when every finding was followed up (unconfirmed)."""
    if "tanpa_maladministrasi" in data and "tindak_lanjut_produk" in data:
        follow_up = data["tindak_lanjut_produk"]
        complete = follow_up["jumlah_ditindaklanjuti"] == follow_up["jumlah_produk"]
        if data["tanpa_maladministrasi"] != complete:
            _add(errors, "tanpa_maladministrasi", "qualifier_follow_up_mismatch")


def _suggestions(data: dict[str, Any], errors: dict[str, list[str]]) -> None:
    """Counted from 2023: the count is required, and it is the number listed."""
    count = data.get("jumlah_saran_perbaikan")
    if count is None:
        if data["tahun"] >= SUGGESTIONS_COUNTED_FROM:
            _add(errors, "jumlah_saran_perbaikan", "suggestion_count_required")
    elif count != len(data["saran_perbaikan"]):
        _add(errors, "jumlah_saran_perbaikan", "suggestion_count_mismatch")
