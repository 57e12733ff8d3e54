"""``hasil_penilaian_kepatuhan``: a unit's result in the Ombudsman's compliance assessment.

Direction: Ombudsman -> Pemkot. MoU clause 3 (oversight of Pemkot's public
services). The method since 2022 scores four dimensions (input, proses, output,
pengaduan) and gives a grade A-E, a zone and an opinion. The numeric cut-offs
of the grades are not published for certain: they are not checked here, but
grade, zone and opinion must agree. Scores are numbers from 0 to 100 with at
most two decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Text, describe

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


def _check_score(value: float) -> None:
    if not 0 <= value <= 100:
        raise ValidationError("range")
    if Decimal(str(value)).as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationError("too_many_decimals")


class _Number(fields.Float):
    """A JSON number; a numeric string or a boolean is refused, as JSON Schema does."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return float(super()._deserialize(value, attr, data, **kwargs))


def Score(**kwargs: Any) -> fields.Float:
    """A score from 0 to 100 with at most two decimals."""
    return _Number(
        allow_nan=False,
        validate=_check_score,
        metadata={"minimum": 0, "maximum": 100, **kwargs.pop("metadata", {})},
        **kwargs,
    )


class Dimensi(AgreedSchema):
    """The four dimension scores."""

    input = Score(required=True)
    proses = Score(required=True)
    output = Score(required=True)
    pengaduan = Score(required=True)


class HasilPenilaianKepatuhanV1(AgreedSchema):
    """Version 1.0."""

    tahun = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=2022, max=2100, error="range"),
        metadata={"description": "assessment year (the four-dimension method, 2022 on)"},
    )
    versi_metode = Text(required=True, max_length=40)
    unit = Text(required=True, max_length=200, metadata={"description": "the assessed unit"})
    nilai_dimensi = fields.Nested(Dimensi, required=True)
    nilai_total = Score(required=True)
    predikat = Choice(GRADES, required=True, metadata={"description": "grade A-E"})
    zona = Choice(ZONES, required=True)
    opini = Choice(OPINIONS, required=True)
    catatan_perbaikan = fields.List(
        Text(max_length=2000),
        load_default=list,
        validate=validate.Length(max=50, error="length"),
        metadata={"description": "improvement notes"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        grade = data["predikat"]
        if data["zona"] != ZONE_OF_GRADE[grade]:
            raise ValidationError("grade_zone_mismatch", "zona")
        if data["opini"] != OPINION_OF_GRADE[grade]:
            raise ValidationError("grade_opinion_mismatch", "opini")


describe(
    HasilPenilaianKepatuhanV1,
    versi_metode="version of the assessment method",
    nilai_dimensi="the four dimension scores",
    nilai_total="total score, 0-100",
    zona="zone; agrees with the grade",
    opini="opinion; agrees with the grade",
)

describe(
    Dimensi,
    input="input dimension score",
    proses="process dimension score",
    output="output dimension score",
    pengaduan="complaint-handling score",
)
