"""``tanggapan_klarifikasi``: Pemkot's answer to a clarification request.

Direction: Pemkot -> Ombudsman. MoU clause 1 (faster handling of public reports).

Legal basis: UU 37/2008 on the Ombudsman (the reported party answers the Ombudsman's
request for clarification), and Peraturan Ombudsman 58/2023 on the examination and
settlement of reports, which replaced PO 26/2017 as amended by PO 48/2020.

Version 3.0 names the responsible unit by its code in the register of Kota Bekasi's
perangkat daerah (``schemas/data/perangkat_daerah_kota_bekasi.csv``), so that a unit's
answers join its cases, standards, complaints and compliance results, and requires the
responsible official's position to be an Indonesian job title (*jabatan*: Kepala Dinas,
Sekretaris Dinas, Kepala Bidang ..., Camat, Lurah, ...; an acting official's Plt., Plh.
or Pj. first). It keeps the optional completion date of 2.0, which cannot fall after
the answer.

*Unconfirmed*: the time Pemkot has to answer. Fourteen days is commonly cited for a
written clarification; PO 58/2023 Pasal 54 is read as giving the terlapor 30 working
days before the case moves to resolution and monitoring. The deadline is the one set in
the Ombudsman's letter; this schema does not check the answer date against a period,
which belongs in configuration once confirmed.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import END, PERSONAL, AgreedSchema, Choice, Date, Text, UnitCode, describe
from schemas.registers import unit_codes

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


# -- version 3.0 --------------------------------------------------------------------------

# The first word of a job title, after an acting official's prefix if any.
_FIRST_WORD = re.compile(r"(?:(?:plt|plh|pjs|pj)(?:\.\s*|\s+))?([^\W\d_]+)", re.IGNORECASE)
_TITLE_WORDS = frozenset(vocab.AWALAN_JABATAN)


class Jabatan(Text):
    """An Indonesian job title: its first word (after Plt., Plh., Pj. or Pjs.) is one an
    Indonesian position starts with (``vocab.AWALAN_JABATAN``), so that ``Kepala Bidang
    Pelayanan`` passes and ``Civil Service administrator`` does not."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        found = _FIRST_WORD.match(text)
        if found is None or found.group(1).casefold() not in _TITLE_WORDS:
            raise ValidationError("job_title_not_indonesian")
        return text


class PejabatV3(Pejabat):
    """The responsible official: name, and position as an Indonesian job title."""

    jabatan = Jabatan(required=True, max_length=200)


class TanggapanKlarifikasiV3(TanggapanKlarifikasiV2):
    """Version 3.0: the responsible unit by its code in the units register, the
    official's position as an Indonesian job title, and a completion date on or before
    the answer. Not compatible with 2.0."""

    # Replaces the free-text field of 1.0 and 2.0 (marshmallow declares fields by name).
    unit_penanggung_jawab = UnitCode(  # type: ignore[assignment]
        required=True, metadata={"enum": sorted(unit_codes())}
    )
    pejabat_penanggung_jawab = fields.Nested(PejabatV3, required=True)

    @validates_schema(skip_on_field_errors=True)
    def _completion_date(self, data: dict[str, Any], **_: Any) -> None:
        done = data.get("tanggal_selesai")
        if done is not None and done > data["tanggal_tanggapan"]:
            raise ValidationError("completion_after_answer", "tanggal_selesai")


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

describe(
    TanggapanKlarifikasiV3,
    unit_penanggung_jawab=(
        "the Pemkot unit responsible, by its code in the register of perangkat daerah"
    ),
    pejabat_penanggung_jawab="the official responsible",
)

describe(
    PejabatV3,
    jabatan=(
        "official's position, an Indonesian job title (Kepala Dinas, Sekretaris Dinas, "
        "Kepala Bidang ..., Camat, Lurah, ...; Plt., Plh. or Pj. first when acting)"
    ),
)
