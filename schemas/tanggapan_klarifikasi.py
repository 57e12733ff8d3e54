"""``tanggapan_klarifikasi``: Pemkot's answer to a clarification request.

Direction: Pemkot -> Ombudsman. MoU clause 1 (faster handling of public reports).
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import END, PERSONAL, AgreedSchema, Choice, Date, Text, describe

_SHA256 = rf"^[0-9a-f]{{64}}{END}"  # exactly 64 hex digits


class Bukti(AgreedSchema):
    """Evidence is exchanged by digest; the file itself travels by other agreed means."""

    nama_berkas = Text(required=True, max_length=255)
    sha256 = fields.String(
        required=True, validate=validate.Regexp(_SHA256, error="sha256_format")
    )


class Pejabat(AgreedSchema):
    nama = Text(required=True, max_length=200, metadata=PERSONAL)
    jabatan = Text(required=True, max_length=200)


class TanggapanKlarifikasiV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(required=True, max_length=64)
    nomor_surat_tanggapan = Text(required=True, max_length=100)
    tanggal_tanggapan = Date(required=True)
    status = Choice(vocab.STATUS_TANGGAPAN, required=True)
    penjelasan = Text(required=True, max_length=8000, metadata={"personal": True})
    unit_penanggung_jawab = Text(required=True, max_length=200)
    pejabat_penanggung_jawab = fields.Nested(Pejabat, required=True)
    bukti = fields.List(
        fields.Nested(Bukti), load_default=list, validate=validate.Length(max=50, error="length")
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        if data["status"] == "selesai" and not data["bukti"]:
            raise ValidationError("evidence_required", "bukti")


class TanggapanKlarifikasiV2(TanggapanKlarifikasiV1):
    """Version 2.0: adds the optional completion date (compatible with 1.0)."""

    tanggal_selesai = Date(
        load_default=None,
        metadata={"description": "the day the case was settled; only when status is selesai"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _completion(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("tanggal_selesai") is not None and data["status"] != "selesai":
            raise ValidationError("completion_date_without_completion", "tanggal_selesai")


describe(
    TanggapanKlarifikasiV1,
    nomor_laporan="the Ombudsman's case number being answered",
    nomor_surat_tanggapan="number of Pemkot's answer letter",
    tanggal_tanggapan="date of the answer",
    status="where the case stands at Pemkot",
    penjelasan="the explanation",
    unit_penanggung_jawab="the Pemkot unit responsible",
    pejabat_penanggung_jawab="the official responsible",
    bukti="evidence, by digest; required when the status is selesai",
)

describe(
    Pejabat,
    nama="official's name",
    jabatan="official's position",
)

describe(
    Bukti,
    nama_berkas="file name",
    sha256="SHA-256 of the file, lower-case hex",
)
