"""``permintaan_klarifikasi``: a case the Ombudsman forwards to Pemkot for clarification.

Direction: Ombudsman -> Pemkot. MoU clause 1 (faster handling of public reports).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import (
    CONFIDENTIAL_PERSONAL,
    END,
    NIK,
    AgreedSchema,
    Choice,
    Date,
    RegionCode,
    Text,
    describe,
)


class Pelapor(AgreedSchema):
    """The reporter; absent whenever the report is confidential."""

    nama = Text(required=True, max_length=200, metadata=CONFIDENTIAL_PERSONAL)
    nik = NIK(load_default=None)
    telepon = fields.String(
        load_default=None,
        validate=validate.Regexp(rf"^\+?[0-9][0-9 -]{{6,19}}{END}", error="phone_format"),
        metadata=CONFIDENTIAL_PERSONAL,
    )
    email = fields.Email(load_default=None, metadata=CONFIDENTIAL_PERSONAL)


class PermintaanKlarifikasiV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(
        required=True,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string"},
    )
    nomor_surat = Text(required=True, max_length=100)
    tanggal_surat = Date(required=True)
    jenis_penerimaan = Choice(vocab.JENIS_PENERIMAAN, required=True)
    tahap = Choice(vocab.TAHAP, required=True)
    substansi = Choice(vocab.SUBSTANSI, required=True)
    jenis_maladministrasi = fields.List(
        Choice(vocab.MALADMINISTRASI),
        required=True,
        validate=validate.Length(min=1, error="length"),
    )
    unit_terlapor = Text(required=True, max_length=200)
    tanggal_kejadian = Date(required=True)
    kode_wilayah = RegionCode(required=True)
    batas_waktu_tanggapan = Date(required=True)
    ringkasan = Text(required=True, max_length=4000, metadata={"personal": True})
    pelapor_dirahasiakan = fields.Boolean(required=True, truthy={True}, falsy={False})
    pelapor = fields.Nested(Pelapor, load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        letter: dt.date = data["tanggal_surat"]
        if data["batas_waktu_tanggapan"] <= letter:
            raise ValidationError("deadline_not_after_letter", "batas_waktu_tanggapan")
        incident: dt.date = data["tanggal_kejadian"]
        if incident > letter:
            raise ValidationError("incident_after_letter", "tanggal_kejadian")
        if incident < _years_before(letter, 2):
            raise ValidationError("incident_too_old", "tanggal_kejadian")
        if data["pelapor_dirahasiakan"] and data.get("pelapor") is not None:
            raise ValidationError("confidential_with_identity", "pelapor")
        if not data["pelapor_dirahasiakan"] and data.get("pelapor") is None:
            raise ValidationError("reporter_required", "pelapor")


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


describe(
    PermintaanKlarifikasiV1,
    nomor_surat="number of the Ombudsman's clarification letter",
    tanggal_surat="date of the letter",
    jenis_penerimaan="how the report reached the Ombudsman (intake type)",
    tahap="stage of the case",
    substansi="substance area of the report",
    jenis_maladministrasi="alleged maladministration types, one or more",
    unit_terlapor="the Pemkot unit reported",
    tanggal_kejadian="date of the incident; not after the letter, at most two years before",
    kode_wilayah="Kemendagri region code (Kota Bekasi) where it happened",
    batas_waktu_tanggapan="deadline for Pemkot's answer; after the letter date",
    ringkasan="summary of the report",
    pelapor_dirahasiakan="true when the reporter's identity is kept secret (UU 37/2008 Ps 24(2))",
    pelapor="the reporter; absent when confidential, required otherwise",
)

describe(
    Pelapor,
    nama="reporter's name",
    nik="reporter's NIK",
    telepon="reporter's phone number",
    email="reporter's e-mail address",
)
