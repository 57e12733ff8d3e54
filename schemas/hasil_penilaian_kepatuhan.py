"""``hasil_penilaian_kepatuhan``: a unit's result in the Ombudsman's compliance assessment.

Direction: Ombudsman -> Pemkot. MoU clause 3 (oversight of the public services
Pemkot Bekasi delivers); the improvement notes also serve clause 2 (prevention
of maladministration). The method used since 2022 scores four dimensions
(input, proses, output, pengaduan) and gives a total, a grade A-E, a zone and
an opinion: A and B are zona hijau, C kuning, D and E merah; the opinion runs
from kualitas tertinggi (A) to kualitas terendah (E). Grade, zone and opinion
must agree. The numeric cut-offs of the grades are not confirmed, so a score is
not checked against its grade, nor the total against the dimensions (their
weights are not confirmed either). Scores are JSON numbers from 0 to 100 with
at most two decimals; a numeric string is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Text

__all__ = [
    "FIRST_YEAR",
    "GRADES",
    "OPINIONS",
    "OPINION_OF_GRADE",
    "ZONES",
    "ZONE_OF_GRADE",
    "Dimensi",
    "HasilPenilaianKepatuhanV1",
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
