"""``kegiatan_pengembangan``: a staff development or mentoring activity.

Direction: both ways (each party reports the activities it organised). MoU
clauses 5 (staff competence) and 6 (periodic mentoring). Participants are
counted, never listed: no personal data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas._base import AgreedSchema, Choice, Date, Text, describe

JENIS_KEGIATAN = ("pelatihan", "pendampingan", "sosialisasi")


def _count(description: str, **kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=100_000, error="range"),
        metadata={"description": description},
        **kwargs,
    )


class RencanaTindakLanjut(AgreedSchema):
    kegiatan = Text(required=True, max_length=1000)
    unit_penanggung_jawab = Text(required=True, max_length=200)
    target_tanggal = Date(required=True, metadata={"description": "on or after the end date"})


class KegiatanPengembanganV1(AgreedSchema):
    """Version 1.0."""

    id_kegiatan = Text(required=True, max_length=64, metadata={"description": "opaque id"})
    jenis = Choice(JENIS_KEGIATAN, required=True)
    judul = Text(required=True, max_length=300)
    tanggal_mulai = Date(required=True)
    tanggal_selesai = Date(required=True)
    penyelenggara = Text(required=True, max_length=200, metadata={"description": "organiser"})
    unit_sasaran = fields.List(
        Text(max_length=200),
        required=True,
        validate=validate.Length(min=1, max=100, error="length"),
    )
    jumlah_peserta = _count("participants in all", required=True)
    peserta_laki_laki = _count("of which men", load_default=None)
    peserta_perempuan = _count("of which women", load_default=None)
    rencana_tindak_lanjut = fields.List(
        fields.Nested(RencanaTindakLanjut),
        load_default=list,
        validate=validate.Length(max=50, error="length"),
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        end: dt.date = data["tanggal_selesai"]
        if end < data["tanggal_mulai"]:
            raise ValidationError("end_before_start", "tanggal_selesai")
        men, women = data.get("peserta_laki_laki"), data.get("peserta_perempuan")
        if men is not None and women is not None and men + women != data["jumlah_peserta"]:
            raise ValidationError("participant_counts_mismatch", "jumlah_peserta")
        early = {
            str(i): {"target_tanggal": ["target_before_end"]}
            for i, plan in enumerate(data["rencana_tindak_lanjut"])
            if plan["target_tanggal"] < end
        }
        if early:
            raise ValidationError({"rencana_tindak_lanjut": early})


describe(
    KegiatanPengembanganV1,
    jenis="kind of activity",
    judul="title",
    tanggal_mulai="first day",
    tanggal_selesai="last day",
    unit_sasaran="units the activity is for",
    rencana_tindak_lanjut="follow-up plan",
)

describe(
    RencanaTindakLanjut,
    kegiatan="what will be done",
    unit_penanggung_jawab="unit responsible",
)
