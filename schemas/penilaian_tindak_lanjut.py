"""``penilaian_tindak_lanjut``: the Ombudsman's verdict on a follow-up report.

Direction: Ombudsman -> Pemkot. MoU clause 1 (faster handling and resolution of
public reports): the resolution and monitoring stage of a case. Pemkot reports
how far it carried out each corrective action of an examination report (LHP) or
each action of a recommendation (dataset ``monitoring_tindak_lanjut``); the
Ombudsman answers each report with one record here. The record refers to the
follow-up report it assesses by the case number, the LHP or recommendation
number, the action's stable identifier (``id_tindakan``) and the date of the
report.

The verdict is diterima (accepted), diterima sebagian (partly accepted), ditolak
(rejected) or perlu klarifikasi (Pemkot must clarify, by the deadline given).
Every verdict but diterima gives its reasons. Free text holds no NIK, phone
number or e-mail address.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, validates, validates_schema

from schemas import vocab
from schemas._base import PERSONAL, AgreedSchema, Choice, Date, Text, UnitCode
from schemas._redacted_text import check_no_identifiers
from schemas.lahp import ActionId
from schemas.monitoring_tindak_lanjut import JENIS_RUJUKAN

__all__ = ["ACCEPTED", "CLARIFY", "PenilaianTindakLanjutV1"]

ACCEPTED = "diterima"
CLARIFY = "perlu_klarifikasi"


class PenilaianTindakLanjutV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(
        required=True,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string"},
    )
    jenis_rujukan = Choice(
        JENIS_RUJUKAN,
        required=True,
        metadata={"description": "a corrective action of an LHP, or an action of a recommendation"},
    )
    nomor_rujukan = Text(
        required=True,
        max_length=100,
        metadata={"description": "number of the LHP or of the recommendation; opaque"},
    )
    id_tindakan = ActionId(
        required=True,
        metadata={"description": "the action's stable identifier, as in the follow-up report"},
    )
    tanggal_laporan_tindak_lanjut = Date(
        required=True,
        metadata={"description": "date of the follow-up report assessed (its tanggal_laporan)"},
    )
    unit_penanggung_jawab = UnitCode(
        required=True, metadata={"description": "code of the Pemkot unit responsible"}
    )
    tanggal_penilaian = Date(
        required=True,
        metadata={"description": "date of the verdict; not before the follow-up report"},
    )
    penilaian = Choice(
        vocab.PENILAIAN_TINDAK_LANJUT,
        required=True,
        metadata={"description": "the Ombudsman's verdict on the follow-up report"},
    )
    alasan = Text(
        load_default=None,
        max_length=4000,
        metadata={
            **PERSONAL,
            "description": "the reasons for the verdict; required unless diterima",
        },
    )
    batas_waktu_tanggapan = Date(
        load_default=None,
        metadata={
            "description": "deadline for Pemkot's answer; required when perlu_klarifikasi, "
            "after tanggal_penilaian"
        },
    )

    @validates("alasan")
    def _no_identifiers(self, value: str | None, **_: Any) -> None:
        if value is not None:
            check_no_identifiers(value)

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        assessed: dt.date = data["tanggal_penilaian"]
        if assessed < data["tanggal_laporan_tindak_lanjut"]:
            errors["tanggal_penilaian"] = ["assessment_before_report"]
        if data["penilaian"] != ACCEPTED and data.get("alasan") is None:
            errors["alasan"] = ["assessment_reason_required"]
        deadline: dt.date | None = data.get("batas_waktu_tanggapan")
        if deadline is None and data["penilaian"] == CLARIFY:
            errors["batas_waktu_tanggapan"] = ["response_deadline_required"]
        elif deadline is not None and deadline <= assessed:
            errors["batas_waktu_tanggapan"] = ["deadline_not_after_assessment"]
        if errors:
            raise ValidationError(errors)
