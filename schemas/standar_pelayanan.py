"""``standar_pelayanan``: one public service's standard, as Pemkot has set it.

Direction: Pemkot -> Ombudsman. MoU clause 2 (compliance and prevention). The
fourteen components of UU 25/2009 Pasal 21 and PermenPANRB 15/2014: six for
service delivery, eight for service management. A standard is set by a decree
(SK) with its number and date; a fee above Rp 0 needs its legal basis. No
personal data.

Legal basis:

* UU 25/2009 tentang Pelayanan Publik: Pasal 15 huruf a and b (the provider sets
  its service standards, and sets and publishes its *maklumat pelayanan*);
  Pasal 20 (a standard is set with the public taking part); Pasal 21 (the
  fourteen components); Pasal 22 (the maklumat pelayanan, a declaration that the
  provider will deliver the service as its standard says, published clearly and
  widely); Pasal 23 (the national public service information system); Pasal 4
  huruf j and Pasal 29 with its elucidation (facilities and special treatment for
  vulnerable groups: persons with disabilities, the elderly, pregnant women,
  children, victims of natural and social disasters; the elucidation's list as
  secondary sources quote it).
* PP 96/2012, the implementing regulation of UU 25/2009 (its articles on standards
  and on vulnerable groups: *unconfirmed*, not checked against the text).
* PermenPANRB 15/2014 tentang Pedoman Standar Pelayanan (it replaced PermenPANRB
  36/2012). No later regulation replacing it was found; *unconfirmed*. It asks for
  standards to be evaluated periodically; no source found states how often, so
  version 2.0 records the latest review but sets no interval.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import END, AgreedSchema, Choice, Date, Text, UnitCode, describe

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


# The unit's code (as in the register), a colon, and a slug naming the service.
KODE_LAYANAN = rf"^[0-9]{{4}}(?:\.[A-Z0-9]+)+:[a-z0-9]+(?:-[a-z0-9]+)*{END}"
# An http(s) address with a host name.
URL = rf"^https?://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::[0-9]{{1,5}})?(?:[/?#]\S*)?{END}"


def distinct(values: list[Any]) -> None:
    """A list that names each value once."""
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


def _repeated_facilities(facilities: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``duplicate_value`` error of each facility listed before: each kind once, but
    any number of ``lainnya`` with different descriptions."""
    seen: set[tuple[str, str | None]] = set()
    errors: dict[str, Any] = {}
    for i, facility in enumerate(facilities):
        kind = facility["jenis"]
        key = (kind, facility.get("keterangan") if kind == "lainnya" else None)
        if key in seen:
            errors[str(i)] = {"jenis": ["duplicate_value"]}
        seen.add(key)
    return errors


class MaklumatPelayanan(AgreedSchema):
    """The service declaration (UU 25/2009 Pasal 22). Once published it has a date and
    a reference: its number, its text, or both."""

    dipublikasikan = fields.Boolean(required=True, truthy={True}, falsy={False})
    tanggal = Date(load_default=None)
    nomor = Text(load_default=None, max_length=100)
    teks = Text(load_default=None, max_length=4000)

    @validates_schema(skip_on_field_errors=True)
    def _published(self, data: dict[str, Any], **_: Any) -> None:
        if not data["dipublikasikan"]:
            return
        errors: dict[str, list[str]] = {}
        if data.get("tanggal") is None:
            errors["tanggal"] = ["maklumat_date_required"]
        if not data.get("nomor") and not data.get("teks"):
            errors["_schema"] = ["maklumat_reference_required"]
        if errors:
            raise ValidationError(errors)


class Publikasi(AgreedSchema):
    """One place where the standard is published."""

    saluran = Choice(vocab.SALURAN_PUBLIKASI, required=True)
    url = fields.String(
        load_default=None,
        validate=[
            validate.Length(max=2000, error="length"),
            validate.Regexp(URL, error="url_format"),
        ],
    )
    keterangan = Text(load_default=None, max_length=500)

    @validates_schema(skip_on_field_errors=True)
    def _channel(self, data: dict[str, Any], **_: Any) -> None:
        if data["saluran"] in vocab.SALURAN_PUBLIKASI_DARING and not data.get("url"):
            raise ValidationError("url_required", "url")
        if data["saluran"] == "lainnya" and not data.get("keterangan"):
            raise ValidationError("description_required", "keterangan")


class FasilitasKelompokRentan(AgreedSchema):
    """A facility for vulnerable groups (UU 25/2009 Pasal 29), and the groups it serves."""

    jenis = Choice(vocab.FASILITAS_KELOMPOK_RENTAN, required=True)
    kelompok = fields.List(
        Choice(vocab.KELOMPOK_RENTAN),
        required=True,
        validate=[
            validate.Length(min=1, max=len(vocab.KELOMPOK_RENTAN), error="length"),
            distinct,
        ],
        metadata={"uniqueItems": True},
    )
    keterangan = Text(load_default=None, max_length=500)

    @validates_schema(skip_on_field_errors=True)
    def _described(self, data: dict[str, Any], **_: Any) -> None:
        if data["jenis"] == "lainnya" and not data.get("keterangan"):
            raise ValidationError("description_required", "keterangan")


class Pencabutan(AgreedSchema):
    """The decree that revoked the standard."""

    nomor_sk = Text(required=True, max_length=100)
    tanggal_sk = Date(required=True)


class StandarPelayananV2(StandarPelayananV1):
    """Version 2.0: the unit as a code of the register of Kota Bekasi's perangkat daerah;
    a stable service code (the unit's code, a colon, a lower-case slug); the maklumat
    pelayanan; where the standard is published (at least one channel; an online channel
    names its address); the facilities for vulnerable groups, from a closed vocabulary
    (an empty list says there are none); the standard's status, its latest review and,
    when revoked, the revoking decree. The fourteen components and the fee rule are
    those of 1.0."""

    kode_layanan = fields.String(
        required=True,
        validate=[
            validate.Length(max=150, error="length"),
            validate.Regexp(KODE_LAYANAN, error="service_code_format"),
        ],
    )
    unit = UnitCode(required=True)  # type: ignore[assignment]  # 1.0: free text; 2.0: a code
    maklumat_pelayanan = fields.Nested(MaklumatPelayanan, required=True)
    publikasi = fields.List(
        fields.Nested(Publikasi),
        required=True,
        validate=validate.Length(min=1, max=50, error="length"),
    )
    fasilitas_kelompok_rentan = fields.List(
        fields.Nested(FasilitasKelompokRentan),
        required=True,
        validate=validate.Length(max=50, error="length"),
    )
    status = Choice(vocab.STATUS_STANDAR, required=True)
    tanggal_peninjauan = Date(load_default=None)
    pencabutan = fields.Nested(Pencabutan, load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def _v2_rules(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        unit = data["unit"]
        if data["kode_layanan"].partition(":")[0] != unit:
            errors["kode_layanan"] = ["service_code_unit_mismatch"]
        twice = _repeated_facilities(data["fasilitas_kelompok_rentan"])
        if twice:
            errors["fasilitas_kelompok_rentan"] = twice
        decided, reviewed = data["tanggal_sk"], data.get("tanggal_peninjauan")
        if reviewed is None and data["status"] == "dalam_peninjauan":
            errors["tanggal_peninjauan"] = ["review_date_required"]
        elif reviewed is not None and reviewed <= decided:
            errors["tanggal_peninjauan"] = ["review_not_after_decree"]
        revoked = data.get("pencabutan")
        if data["status"] == "dicabut" and revoked is None:
            errors["pencabutan"] = ["revocation_required"]
        elif data["status"] != "dicabut" and revoked is not None:
            errors["pencabutan"] = ["revocation_without_revoked_status"]
        elif revoked is not None and revoked["tanggal_sk"] <= decided:
            errors["pencabutan"] = {"tanggal_sk": ["revocation_not_after_decree"]}
        if errors:
            raise ValidationError(errors)


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

describe(
    StandarPelayananV2,
    kode_layanan="stable code of the service: the unit's code, a colon, a lower-case slug "
    "(e.g. 3275.DISDUKCAPIL:penerbitan-akta-kelahiran); its unit part is the unit's code",
    unit="code of the unit that delivers it (register of Kota Bekasi's perangkat daerah)",
    maklumat_pelayanan="the service declaration (maklumat pelayanan, UU 25/2009 Pasal 22)",
    publikasi="where the standard is published: at least one channel",
    fasilitas_kelompok_rentan="facilities for vulnerable groups (UU 25/2009 Pasal 29); "
    "an empty list says there are none",
    status="berlaku (in force), dalam_peninjauan (under review) or dicabut (revoked)",
    tanggal_peninjauan="the latest review (evaluasi) of the standard: the day it was done, "
    "or began while under review; after the decree date; required while under review",
    pencabutan="the decree revoking the standard: required when, and only when, revoked",
)

describe(
    MaklumatPelayanan,
    dipublikasikan="whether the declaration is published",
    tanggal="date of the declaration; required once published",
    nomor="its number; once published, the number or the text is required",
    teks="its text",
)

describe(
    Publikasi,
    saluran="channel: website, sippn (national public service information system), "
    "aplikasi, media_sosial, papan_informasi, brosur, lainnya",
    url="address (http or https); required for website, sippn, aplikasi and media_sosial",
    keterangan="description; required for lainnya",
)

describe(
    FasilitasKelompokRentan,
    jenis="kind of facility",
    kelompok="the vulnerable groups it serves, each once",
    keterangan="description; required for lainnya",
)

describe(
    Pencabutan,
    nomor_sk="number of the revoking decree",
    tanggal_sk="date of the revoking decree; after the standard's own decree",
)
