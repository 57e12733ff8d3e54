"""``lahp``: the Ombudsman's final examination report (Laporan Akhir Hasil Pemeriksaan).

Direction: Ombudsman -> Pemkot. MoU clause 2 (compliance and prevention of
maladministration). Per PO 48/2020 Pasal 25 the conclusion is one of three;
when maladministration is found, the report names corrective actions (who must
do what by when).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import PERSONAL, AgreedSchema, Choice, Date, Text, describe

KESIMPULAN = (
    "ditemukan_maladministrasi",
    "tidak_ditemukan_maladministrasi",
    "pemeriksaan_dihentikan",
)


class TindakanKorektif(AgreedSchema):
    """One corrective action: who must do what, by when."""

    pihak = Text(required=True, max_length=200, metadata={"description": "who must act"})
    tindakan = Text(required=True, max_length=2000, metadata={"description": "what to do"})
    batas_waktu = Date(required=True, metadata={"description": "by when; after the LAHP date"})


class LahpV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(
        required=True, max_length=64, metadata={"description": "case number, opaque"}
    )
    nomor_lahp = Text(required=True, max_length=100)
    tanggal_lahp = Date(required=True)
    unit_terlapor = Text(required=True, max_length=200)
    kesimpulan = Choice(KESIMPULAN, required=True, metadata={"description": "the conclusion"})
    jenis_maladministrasi = fields.List(
        Choice(vocab.MALADMINISTRASI),
        load_default=list,
        validate=validate.Length(max=len(vocab.MALADMINISTRASI), error="length"),
        metadata={"description": "the types found; only when maladministration is found"},
    )
    tindakan_korektif = fields.List(
        fields.Nested(TindakanKorektif),
        load_default=list,
        validate=validate.Length(max=100, error="length"),
        metadata={"description": "required when maladministration is found"},
    )
    ringkasan = Text(
        required=True, max_length=8000, metadata={**PERSONAL, "description": "summary"}
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        found = data["kesimpulan"] == "ditemukan_maladministrasi"
        actions: list[dict[str, Any]] = data["tindakan_korektif"]
        if found and not actions:
            raise ValidationError("corrective_actions_required", "tindakan_korektif")
        if found and not data["jenis_maladministrasi"]:
            raise ValidationError("maladministration_types_required", "jenis_maladministrasi")
        if not found and actions:
            raise ValidationError("corrective_actions_without_finding", "tindakan_korektif")
        if not found and data["jenis_maladministrasi"]:
            raise ValidationError(
                "maladministration_types_without_finding", "jenis_maladministrasi"
            )
        issued: dt.date = data["tanggal_lahp"]
        late = {
            str(i): ["deadline_not_after_lahp"]
            for i, action in enumerate(actions)
            if action["batas_waktu"] <= issued
        }
        if late:
            raise ValidationError(
                {"tindakan_korektif": {k: {"batas_waktu": v} for k, v in late.items()}}
            )


describe(
    LahpV1,
    nomor_lahp="LAHP number",
    tanggal_lahp="date the LAHP was issued",
    unit_terlapor="the Pemkot unit examined",
)
