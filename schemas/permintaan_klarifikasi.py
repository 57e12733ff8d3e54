"""``permintaan_klarifikasi``: a case the Ombudsman forwards to Pemkot for clarification.

Direction: Ombudsman -> Pemkot. MoU clause 1 (faster handling of public reports).

Legal basis: UU 37/2008 on the Ombudsman, and Peraturan Ombudsman 58/2023 on the
examination and settlement of reports, which replaced PO 26/2017 as amended by PO
48/2020. A clarification is asked of the unit being reported during the examination.

Version 2.0 follows them and UU 27/2022 (personal data protection, purpose limitation):

* Only reports lead to a clarification request: a *konsultasi non-laporan* and a
  *tembusan* are refused (``intake_not_a_report``). An own-motion investigation
  (*investigasi atas prakarsa sendiri*) has no reporter at all: no reporter, consent or
  identity number, and no confidentiality flag (absent or false).
* The unit needs no reporter's NIK, phone number or e-mail, and never gets them. The
  reporter's name is sent only when the report is not confidential (UU 37/2008 Pasal
  24(2)) and the reporter consented to its disclosure, a consent the record carries with
  its date (``persetujuan_pengungkapan``); otherwise there is no reporter object. Where
  the matter cannot be settled without an identity number (a population document to be
  issued, ...), ``nomor_identitas`` carries the NIK with its purpose, from a closed list,
  and the reporter's consent to pass it on.
* Free text (the summary, the documents requested, the reporter's name) is refused when
  it holds a NIK-, phone- or e-mail-shaped value (``text_contains_nik``,
  ``text_contains_phone``, ``text_contains_email``): the sending system redacts first.
  A summary of a health, children's or social-assistance matter is specific personal
  data (UU 27/2022 Pasal 4(2)); the schema cannot tell the matter from the text, so the
  summary and the documents requested are marked specific personal data throughout.
* UU 37/2008 Pasal 24(3): a report is filed within two years of the incident, counted to
  the report's registration (``tanggal_registrasi``), not to the letter: a case registered
  in time may be clarified later. Registration is on or before the letter date. The
  limit binds reports; an own-motion investigation is not one.
* The clarification round (1, 2, ...), its form (letter, meeting, field visit) and the
  documents requested; the reported unit by its code in the register of Kota Bekasi's
  perangkat daerah; the substance area from the register of the Ombudsman's 27 areas.

*Unconfirmed*: how long the unit has to answer. Fourteen days is commonly cited for a
written clarification; PO 58/2023 Pasal 54 is read as giving the terlapor 30 working days
before the case moves to resolution and monitoring. Neither is a rule of this schema: the
Ombudsman sets the deadline in each letter (``batas_waktu_tanggapan``, after the letter
date), and a check of it against a period belongs in configuration once the period is
confirmed. The upper bound of the round number is a bound against mistakes, not a rule
of law.
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
    SubstanceArea,
    Text,
    UnitCode,
    describe,
)
from schemas._redacted_text import RedactedText
from schemas.registers import unit_codes


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


# -- version 2.0 --------------------------------------------------------------------------

OWN_MOTION = "investigasi_prakarsa_sendiri"
# The intake types that lead to a clarification request: reports, and own-motion cases.
INTAKES = tuple(v for v in vocab.JENIS_PENERIMAAN if v not in vocab.BUKAN_LAPORAN)
# Guards against mistakes only: no law bounds the rounds or the documents requested.
MAX_ROUNDS = 10
MAX_DOCUMENTS = 20
# What specific personal data a text may be about (UU 27/2022 Pasal 4(2)).
SPECIFIC_PERSONAL = {"personal": True, "specific": True}
# The reporter's own data that identifies them to the unit: the members a consent, a
# confidential report or an own-motion investigation decides on.
_REPORTER_MEMBERS = ("pelapor", "persetujuan_pengungkapan", "nomor_identitas")


class JenisPenerimaan(Choice):
    """An intake type that leads to a clarification request. A consultation or a copy
    (``vocab.BUKAN_LAPORAN``) is refused with its own code, not as an unknown value."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(INTAKES, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, str) and value in vocab.BUKAN_LAPORAN:
            raise ValidationError("intake_not_a_report")
        return super()._deserialize(value, attr, data, **kwargs)


def _distinct(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


class Persetujuan(AgreedSchema):
    """A consent of the reporter, as recorded by the Ombudsman: given or not, and when."""

    disetujui = fields.Boolean(required=True, truthy={True}, falsy={False})
    tanggal = Date(required=True)


class PelaporV2(AgreedSchema):
    """The reporter, by name only; never a NIK, phone number or e-mail."""

    nama = RedactedText(required=True, max_length=200, metadata=CONFIDENTIAL_PERSONAL)


class NomorIdentitas(AgreedSchema):
    """An identity number the matter cannot be settled without, with its purpose and the
    reporter's consent to pass it on."""

    nik = NIK(required=True)
    tujuan = Choice(vocab.TUJUAN_NOMOR_IDENTITAS, required=True)
    persetujuan = fields.Nested(Persetujuan, required=True)


class PermintaanKlarifikasiV2(AgreedSchema):
    """Version 2.0: reports only; the reporter's name only with consent and never their
    NIK or contact details; free text redacted; the two-year limit counted to the
    registration; the clarification round, its form and the documents requested; unit and
    substance area from the registers. Not compatible with 1.0."""

    nomor_laporan = Text(required=True, max_length=64)
    nomor_surat = Text(required=True, max_length=100)
    tanggal_surat = Date(required=True)
    tanggal_registrasi = Date(required=True)
    jenis_penerimaan = JenisPenerimaan(required=True)
    tahap = Choice(vocab.TAHAP, required=True)
    substansi = SubstanceArea(required=True)
    jenis_maladministrasi = fields.List(
        Choice(vocab.MALADMINISTRASI),
        required=True,
        validate=[
            validate.Length(min=1, max=len(vocab.MALADMINISTRASI), error="length"),
            _distinct,
        ],
        metadata={"uniqueItems": True},
    )
    unit_terlapor = UnitCode(required=True, metadata={"enum": sorted(unit_codes())})
    tanggal_kejadian = Date(required=True)
    kode_wilayah = RegionCode(required=True)
    batas_waktu_tanggapan = Date(required=True)
    putaran_klarifikasi = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ROUNDS, error="range")
    )
    bentuk_klarifikasi = Choice(vocab.BENTUK_KLARIFIKASI, required=True)
    dokumen_diminta = fields.List(
        RedactedText(max_length=300),
        load_default=list,
        validate=[validate.Length(max=MAX_DOCUMENTS, error="length"), _distinct],
        metadata={**SPECIFIC_PERSONAL, "uniqueItems": True},
    )
    ringkasan = RedactedText(required=True, max_length=4000, metadata=SPECIFIC_PERSONAL)
    pelapor_dirahasiakan = fields.Boolean(load_default=None, truthy={True}, falsy={False})
    pelapor = fields.Nested(PelaporV2, load_default=None)
    persetujuan_pengungkapan = fields.Nested(Persetujuan, load_default=None)
    nomor_identitas = fields.Nested(NomorIdentitas, load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def _dates(self, data: dict[str, Any], **_: Any) -> None:
        letter: dt.date = data["tanggal_surat"]
        registered: dt.date = data["tanggal_registrasi"]
        incident: dt.date = data["tanggal_kejadian"]
        errors: dict[str, str] = {}
        if data["batas_waktu_tanggapan"] <= letter:
            errors["batas_waktu_tanggapan"] = "deadline_not_after_letter"
        if registered > letter:
            errors["tanggal_registrasi"] = "registration_after_letter"
        if incident > letter:
            errors["tanggal_kejadian"] = "incident_after_letter"
        elif incident > registered:
            errors["tanggal_kejadian"] = "incident_after_registration"
        elif data["jenis_penerimaan"] != OWN_MOTION and incident < _years_before(registered, 2):
            errors["tanggal_kejadian"] = "incident_too_old_at_registration"
        if errors:
            raise ValidationError({name: [code] for name, code in errors.items()})

    @validates_schema(skip_on_field_errors=True)
    def _reporter(self, data: dict[str, Any], **_: Any) -> None:
        if data["jenis_penerimaan"] == OWN_MOTION:
            errors = _own_motion_errors(data)
        else:
            errors = _report_errors(data)
        if errors:
            raise ValidationError(errors)


def _own_motion_errors(data: dict[str, Any]) -> dict[str, Any]:
    """An own-motion investigation has no reporter: nothing of one, and no flag set."""
    errors: dict[str, Any] = {
        name: ["own_motion_with_reporter"]
        for name in _REPORTER_MEMBERS
        if data.get(name) is not None
    }
    if data.get("pelapor_dirahasiakan"):
        errors["pelapor_dirahasiakan"] = ["own_motion_confidential"]
    return errors


def _report_errors(data: dict[str, Any]) -> dict[str, Any]:
    """A report says whether its reporter is confidential; a name only with consent, and
    nothing identifying when confidential; every consent before the letter."""
    errors: dict[str, Any] = {}
    flag = data.get("pelapor_dirahasiakan")
    if flag is None:
        errors["pelapor_dirahasiakan"] = ["confidentiality_flag_required"]
    confidential = flag is True
    letter: dt.date = data["tanggal_surat"]
    consent = data.get("persetujuan_pengungkapan")
    # A consent may stand beside a confidential report: the Ombudsman may keep a
    # reporter's identity secret whatever they agreed to (UU 37/2008 Pasal 24(2)).
    if consent is not None and consent["tanggal"] > letter:
        errors["persetujuan_pengungkapan"] = {"tanggal": ["consent_after_letter"]}
    if data.get("pelapor") is not None:
        if confidential:
            errors["pelapor"] = ["confidential_with_identity"]
        elif consent is None or not consent["disetujui"]:
            errors["pelapor"] = ["disclosure_consent_required"]
    number = data.get("nomor_identitas")
    if number is not None:
        if confidential:
            errors["nomor_identitas"] = ["confidential_with_identity"]
        elif not number["persetujuan"]["disetujui"]:
            errors["nomor_identitas"] = {"persetujuan": ["identity_consent_required"]}
        elif number["persetujuan"]["tanggal"] > letter:
            errors["nomor_identitas"] = {"persetujuan": {"tanggal": ["consent_after_letter"]}}
    return errors


describe(
    PermintaanKlarifikasiV2,
    nomor_laporan="Ombudsman case number, an opaque string",
    nomor_surat="number of the Ombudsman's clarification letter",
    tanggal_surat="date of the letter",
    tanggal_registrasi="date the report was registered; on or before the letter date",
    jenis_penerimaan=(
        "how the case reached the Ombudsman: a report or an own-motion investigation "
        "(a konsultasi non-laporan or a tembusan is not a report: intake_not_a_report)"
    ),
    tahap="stage of the case",
    substansi="substance area of the case, from the register of the Ombudsman's 27 areas",
    jenis_maladministrasi="alleged maladministration types, one or more, each once",
    unit_terlapor="the Pemkot unit reported, by its code in the register of perangkat daerah",
    tanggal_kejadian=(
        "date of the incident; not after the registration (nor the letter); for a report, "
        "at most two years before the registration (UU 37/2008 Ps 24(3))"
    ),
    kode_wilayah="Kemendagri region code (Kota Bekasi) where it happened",
    batas_waktu_tanggapan=(
        "deadline for Pemkot's answer, set in the letter; after the letter date (the "
        "period itself is unconfirmed and not fixed by this schema)"
    ),
    putaran_klarifikasi="the clarification round: 1 for the first request, 2 for the next, ...",
    bentuk_klarifikasi="how the clarification is asked: by letter, in a meeting, on a field visit",
    dokumen_diminta=(
        "the documents requested, each a short text, each once; no NIK, phone or e-mail"
    ),
    ringkasan=(
        "summary of the case, redacted: no NIK, phone or e-mail (specific personal data "
        "when it concerns health, children, ...)"
    ),
    pelapor_dirahasiakan=(
        "for a report, required: true when the reporter's identity is kept secret "
        "(UU 37/2008 Ps 24(2)); for an own-motion investigation absent or false"
    ),
    pelapor=(
        "the reporter, by name only; only when the report is not confidential and the "
        "reporter consented to the disclosure (persetujuan_pengungkapan)"
    ),
    persetujuan_pengungkapan=(
        "the reporter's consent to the disclosure of their name to the unit, and its "
        "date (on or before the letter date); a confidential report sends no name "
        "whatever the consent"
    ),
    nomor_identitas=(
        "an identity number the matter cannot be settled without, with its purpose and "
        "the reporter's consent; never with a confidential report or an own-motion case"
    ),
)

describe(PelaporV2, nama="reporter's name; no NIK, phone or e-mail in it")

describe(
    Persetujuan,
    disetujui="true when the reporter consented",
    tanggal="date the consent was given or refused; on or before the letter date",
)

describe(
    NomorIdentitas,
    nik="the NIK the matter concerns (the reporter's, or a family member's)",
    tujuan="what the unit needs it for, from the agreed list",
    persetujuan="the reporter's consent to pass the number on; it must be given",
)
