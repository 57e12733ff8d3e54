"""``monitoring_tindak_lanjut``: how far Pemkot carried out a corrective action or recommendation.

Direction: Pemkot -> Ombudsman. MoU clause 1 (faster handling and resolution of
public reports): the resolution and monitoring stage of a case. One record per
corrective action of a LAHP, or per action of an Ombudsman recommendation
(rekomendasi, monitored for 60 working days), per report date. The status is
dilaksanakan (carried out), dilaksanakan sebagian (partly) or tidak
dilaksanakan (not carried out). Carried-out or partly carried-out actions list
their evidence, by SHA-256 digest (the files travel by other agreed means); a
reason is required unless the action was fully carried out.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import PERSONAL, AgreedSchema, Choice, Date, Text

__all__ = [
    "JENIS_RUJUKAN",
    "STATUS_TINDAK_LANJUT",
    "Bukti",
    "MonitoringTindakLanjutV1",
]

STATUS_TINDAK_LANJUT = ("dilaksanakan", "dilaksanakan_sebagian", "tidak_dilaksanakan")
JENIS_RUJUKAN = ("tindakan_korektif", "rekomendasi")

# The statuses that need evidence, and the one that needs no reason.
NEEDS_EVIDENCE = ("dilaksanakan", "dilaksanakan_sebagian")
DONE = "dilaksanakan"

SHA256_PATTERN = "^[0-9a-f]{64}$"
_SHA256 = re.compile("[0-9a-f]{64}")


def _check_sha256(value: str) -> None:
    # fullmatch: a trailing newline, which "$" lets through in Python, is refused.
    if _SHA256.fullmatch(value) is None:
        raise ValidationError("sha256_format")


class Bukti(AgreedSchema):
    """Evidence, exchanged by digest; the file travels by other agreed means."""

    nama_berkas = Text(required=True, max_length=255, metadata={"description": "file name"})
    sha256 = fields.String(
        required=True,
        validate=_check_sha256,
        metadata={
            "pattern": SHA256_PATTERN,
            "description": "SHA-256 of the file, 64 lower-case hex digits",
        },
    )


class MonitoringTindakLanjutV1(AgreedSchema):
    """Version 1.0."""

    jenis_rujukan = Choice(
        JENIS_RUJUKAN,
        required=True,
        metadata={"description": "a LAHP corrective action, or an action of a recommendation"},
    )
    nomor_laporan = Text(
        load_default=None,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string, when known"},
    )
    nomor_rujukan = Text(
        required=True,
        max_length=100,
        metadata={
            "description": "LAHP number, or recommendation number (e.g. 001/RM.03.01/VIII/2023);"
            " opaque"
        },
    )
    urutan_tindakan = fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(min=0, max=99, error="range"),
        metadata={
            "description": "0-based position of the action in the LAHP's tindakan_korektif "
            "(required for a corrective action) or in the recommendation"
        },
    )
    tindakan = Text(
        load_default=None,
        max_length=2000,
        metadata={**PERSONAL, "description": "the action as worded in the LAHP or recommendation"},
    )
    tanggal_laporan = Date(
        required=True, metadata={"description": "date of this follow-up report (Asia/Jakarta)"}
    )
    status = Choice(
        STATUS_TINDAK_LANJUT, required=True, metadata={"description": "how far it was carried out"}
    )
    uraian = Text(
        required=True,
        max_length=4000,
        metadata={**PERSONAL, "description": "what has been done so far"},
    )
    alasan = Text(
        load_default=None,
        max_length=4000,
        metadata={
            **PERSONAL,
            "description": "why it was not (fully) carried out; required unless dilaksanakan",
        },
    )
    bukti = fields.List(
        fields.Nested(Bukti),
        load_default=list,
        validate=validate.Length(max=50, error="length"),
        metadata={
            "description": "evidence, by digest; required (non-empty) when dilaksanakan or "
            "dilaksanakan_sebagian"
        },
    )
    unit_penanggung_jawab = Text(
        required=True,
        max_length=200,
        metadata={"description": "the Pemkot unit responsible for the action"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        status = data["status"]
        index = data.get("urutan_tindakan")
        if data["jenis_rujukan"] == "tindakan_korektif" and index is None:
            errors["urutan_tindakan"] = ["action_index_required"]
        elif index is None and data.get("tindakan") is None:
            errors["urutan_tindakan"] = ["action_reference_required"]
        if status != DONE and data.get("alasan") is None:
            errors["alasan"] = ["reason_required"]
        if status in NEEDS_EVIDENCE and not data["bukti"]:
            errors["bukti"] = ["evidence_required"]
        if errors:
            raise ValidationError(errors)
