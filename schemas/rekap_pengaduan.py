"""``rekap_pengaduan``: one unit's monthly complaint statistics.

Direction: Pemkot -> Ombudsman. MoU clause 4 (exchange of information or data).
Counts by channel, by SP4N-LAPOR! classification and by substance area. No
personal data, and no count small enough to point at a person: a count from 1
to 4 is never sent; the row carries ``jumlah: null`` with ``disamarkan: true``
instead (suppression). Zero is sent as 0.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import END, AgreedSchema, Choice, Text, describe

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
