"""``standar_pelayanan``: one public service's standard, as Pemkot has set it.

Direction: Pemkot -> Ombudsman. MoU clause 2 (compliance and prevention). The
fourteen components of UU 25/2009 Pasal 21 and PermenPANRB 15/2014: six for
service delivery, eight for service management. A standard is set by a decree
(SK) with its number and date; a fee above Rp 0 needs its legal basis. No
personal data.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Date, Text, describe

SATUAN_WAKTU = ("menit", "jam", "hari", "hari_kerja")
MAX_FEE = 1_000_000_000_000  # Rp 1 trillion: above any fee a public service sets
MAX_STAFF = 100_000  # staff of one service: more than Pemkot Bekasi employs


def _texts(description: str) -> fields.List[str]:
    return fields.List(
        Text(max_length=1000),
        required=True,
        validate=validate.Length(min=1, max=100, error="length"),
        metadata={"description": description},
    )


class JangkaWaktu(AgreedSchema):
    nilai = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000, error="range")
    )
    satuan = Choice(SATUAN_WAKTU, required=True)


class Biaya(AgreedSchema):
    jumlah_rupiah = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_FEE, error="range"),
        metadata={"description": "fee in rupiah; 0 means free of charge"},
    )
    dasar_hukum = Text(
        load_default=None, max_length=500, metadata={"description": "required above Rp 0"}
    )


class StandarPelayananV1(AgreedSchema):
    """Version 1.0."""

    nama_layanan = Text(required=True, max_length=200)
    unit = Text(required=True, max_length=200)
    nomor_sk = Text(required=True, max_length=100, metadata={"description": "decree number"})
    tanggal_sk = Date(required=True)
    # Service delivery.
    persyaratan = _texts("requirements")
    sistem_mekanisme_prosedur = _texts("system, mechanism and procedure")
    jangka_waktu = fields.Nested(JangkaWaktu, required=True)
    biaya_tarif = fields.Nested(Biaya, required=True)
    produk = _texts("products of the service")
    penanganan_pengaduan = _texts("handling of complaints, suggestions and input")
    # Service management.
    dasar_hukum = _texts("legal basis of the service")
    sarana_prasarana = _texts("facilities")
    kompetensi_pelaksana = _texts("competence of the staff")
    pengawasan_internal = _texts("internal supervision")
    jumlah_pelaksana = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_STAFF, error="range")
    )
    jaminan_pelayanan = _texts("service guarantee")
    jaminan_keamanan_keselamatan = _texts("security and safety guarantee")
    evaluasi_kinerja = _texts("evaluation of staff performance")

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        fee = data["biaya_tarif"]
        if fee["jumlah_rupiah"] > 0 and not fee.get("dasar_hukum"):
            raise ValidationError({"biaya_tarif": {"dasar_hukum": ["fee_legal_basis_required"]}})


describe(
    StandarPelayananV1,
    nama_layanan="name of the service",
    unit="the unit that delivers it",
    tanggal_sk="date of the decree",
    jangka_waktu="time limit of the service",
    biaya_tarif="fee or tariff",
    jumlah_pelaksana="number of staff delivering the service",
)

describe(
    JangkaWaktu,
    nilai="amount of time",
    satuan="unit of time",
)
