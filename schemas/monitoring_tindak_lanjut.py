"""``monitoring_tindak_lanjut``: how far Pemkot carried out a corrective action or recommendation.

Direction: Pemkot -> Ombudsman. MoU clause 1 (resolution of public reports).
An Ombudsman recommendation is monitored for 60 working days; each report says
whether the action was carried out (dilaksanakan), partly (dilaksanakan
sebagian) or not (tidak dilaksanakan). Evidence travels by digest; a reason is
required unless the action was fully carried out.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Date, Text, describe

STATUS_TINDAK_LANJUT = ("dilaksanakan", "dilaksanakan_sebagian", "tidak_dilaksanakan")
JENIS_RUJUKAN = ("tindakan_korektif", "rekomendasi")


class Bukti(AgreedSchema):
    """Evidence, exchanged by digest; the file travels by other agreed means."""

    nama_berkas = Text(required=True, max_length=255)
    sha256 = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$", error="sha256_format")
    )


class MonitoringTindakLanjutV1(AgreedSchema):
    """Version 1.0."""

    jenis_rujukan = Choice(JENIS_RUJUKAN, required=True,
                           metadata={"description": "a corrective action of a LAHP, or a "
                                                    "recommendation"})  # fmt: skip
    nomor_rujukan = Text(
        required=True,
        max_length=100,
        metadata={"description": "LAHP or recommendation number, e.g. 001/RM.03.01/VIII/2023"},
    )
    urutan_tindakan = fields.Integer(
        load_default=None,
        strict=True,
        validate=validate.Range(min=0, error="range"),
        metadata={"description": "index of the corrective action in the LAHP"},
    )
    tanggal_laporan = Date(required=True)
    status = Choice(STATUS_TINDAK_LANJUT, required=True)
    uraian = Text(required=True, max_length=4000, metadata={"description": "what was done"})
    alasan = Text(
        load_default=None,
        max_length=4000,
        metadata={"description": "why not (fully) carried out; required unless dilaksanakan"},
    )
    bukti = fields.List(
        fields.Nested(Bukti), load_default=list, validate=validate.Length(max=50, error="length")
    )
    unit_penanggung_jawab = Text(required=True, max_length=200)

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        status = data["status"]
        if status != "dilaksanakan" and not data.get("alasan"):
            raise ValidationError("reason_required", "alasan")
        if status != "tidak_dilaksanakan" and not data["bukti"]:
            raise ValidationError("evidence_required", "bukti")
        if data["jenis_rujukan"] == "tindakan_korektif" and data.get("urutan_tindakan") is None:
            raise ValidationError("action_index_required", "urutan_tindakan")


describe(
    MonitoringTindakLanjutV1,
    tanggal_laporan="date of this progress report",
    status="how far the action was carried out",
    bukti="evidence, by digest; required unless not carried out",
    unit_penanggung_jawab="the Pemkot unit responsible",
)

describe(
    Bukti,
    nama_berkas="file name",
    sha256="SHA-256 of the file, lower-case hex",
)
