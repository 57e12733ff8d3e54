"""``lahp``: the Ombudsman's final examination report (Laporan Akhir Hasil Pemeriksaan).

Direction: Ombudsman -> Pemkot. MoU clause 1 (faster handling and resolution of
public reports): the LAHP closes the examination stage of a case and opens its
resolution and monitoring. Per PO 48/2020 Pasal 25 the conclusion is one of
three. When maladministration is found, the report names its types and the
corrective actions (who must do what by when, each deadline after the LAHP
date); otherwise it carries neither. The summary may name people, so it is
personal data, as are the corrective actions, which may name officials or the
reporter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import PERSONAL, AgreedSchema, Choice, Date, Text

__all__ = ["FOUND", "KESIMPULAN", "LahpV1", "TindakanKorektif"]

KESIMPULAN = (
    "ditemukan_maladministrasi",
    "tidak_ditemukan_maladministrasi",
    "pemeriksaan_dihentikan",
)

FOUND = "ditemukan_maladministrasi"
MAX_ACTIONS = 100


def _distinct(values: Sequence[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


class TindakanKorektif(AgreedSchema):
    """One corrective action: who must do what, by when."""

    pihak = Text(
        required=True,
        max_length=200,
        metadata={**PERSONAL, "description": "who must act: an office or official"},
    )
    tindakan = Text(
        required=True,
        max_length=2000,
        metadata={**PERSONAL, "description": "what must be done"},
    )
    batas_waktu = Date(
        required=True,
        metadata={"description": "deadline (a day in Asia/Jakarta); after the LAHP date"},
    )


class LahpV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(
        required=True,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string"},
    )
    nomor_lahp = Text(
        required=True, max_length=100, metadata={"description": "number of the LAHP document"}
    )
    tanggal_lahp = Date(
        required=True, metadata={"description": "date the LAHP was issued (Asia/Jakarta)"}
    )
    unit_terlapor = Text(
        required=True, max_length=200, metadata={"description": "the reported Pemkot unit"}
    )
    kesimpulan = Choice(
        KESIMPULAN,
        required=True,
        metadata={"description": "the conclusion of the examination (PO 48/2020 Pasal 25)"},
    )
    jenis_maladministrasi = fields.List(
        Choice(vocab.MALADMINISTRASI),
        load_default=list,
        validate=[
            validate.Length(max=len(vocab.MALADMINISTRASI), error="length"),
            _distinct,
        ],
        metadata={
            "uniqueItems": True,
            "description": "maladministration types found, each once; required (non-empty) "
            "when maladministration is found, empty otherwise",
        },
    )
    tindakan_korektif = fields.List(
        fields.Nested(TindakanKorektif),
        load_default=list,
        validate=validate.Length(max=MAX_ACTIONS, error="length"),
        metadata={
            "description": "corrective actions; required (non-empty) when maladministration "
            "is found, empty otherwise"
        },
    )
    ringkasan = Text(
        required=True,
        max_length=8000,
        metadata={**PERSONAL, "description": "summary of the findings; may name people"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        found = data["kesimpulan"] == FOUND
        types: list[str] = data["jenis_maladministrasi"]
        actions: list[dict[str, Any]] = data["tindakan_korektif"]
        if found and not types:
            errors["jenis_maladministrasi"] = ["maladministration_types_required"]
        if not found and types:
            errors["jenis_maladministrasi"] = ["maladministration_types_without_finding"]
        if found and not actions:
            errors["tindakan_korektif"] = ["corrective_actions_required"]
        if not found and actions:
            errors["tindakan_korektif"] = ["corrective_actions_without_finding"]
        issued: dt.date = data["tanggal_lahp"]
        late = {
            i: {"batas_waktu": ["deadline_not_after_lahp"]}
            for i, action in enumerate(actions)
            if action["batas_waktu"] <= issued
        }
        if late and "tindakan_korektif" not in errors:
            errors["tindakan_korektif"] = late
        if errors:
            raise ValidationError(errors)
