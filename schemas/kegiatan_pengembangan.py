"""``kegiatan_pengembangan``: a staff development or mentoring activity.

Direction: both ways (each party reports the activities it organised). MoU
clauses 5 (staff competence) and 6 (periodic mentoring). Participants are
counted, never listed: no personal data.

Legal basis: the nota kesepahaman of 4 November 2021 between Pemerintah Kota
Bekasi and Ombudsman Republik Indonesia, clauses 5 (development of staff
competence in public service delivery), 6 (periodic mentoring, *pendampingan*)
and 2 (compliance with the rules and prevention of maladministration); the
follow-on agreement of 7 February 2022 between DPMPTSP Kota Bekasi and Ombudsman
RI Perwakilan Jakarta Raya (help with service standards, training, monitoring).
*Unconfirmed*: the clause numbers and wording come from public summaries, not
the signed text; neither agreement maps kinds of activity to clauses, so that
mapping (2.0) is data, ``schemas.vocab.KLAUSUL_KEGIATAN``, not code. A *forum
konsultasi publik* is the public consultation of UU 25/2009 Pasal 20(2) (its
guideline, PermenPANRB 16/2017, *unconfirmed*).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas import vocab
from schemas._base import AgreedSchema, Choice, Date, Text, UnitCode, describe

JENIS_KEGIATAN = ("pelatihan", "pendampingan", "sosialisasi")
# The MoU clauses activities serve (2.0): those vocab.KLAUSUL_KEGIATAN maps kinds to.
CLAUSES = tuple(sorted(set(vocab.KLAUSUL_KEGIATAN.values())))


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


def distinct(values: list[Any]) -> None:
    """A list that names each value once."""
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


def _participants(description: str, **kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=100_000, error="range"),
        metadata={"description": description},
        **kwargs,
    )


class Rencana(AgreedSchema):
    """What was planned: the days and the number of participants."""

    tanggal_mulai = Date(required=True)
    tanggal_selesai = Date(required=True)
    jumlah_peserta = _participants("participants planned", required=True)

    @validates_schema(skip_on_field_errors=True)
    def _days(self, data: dict[str, Any], **_: Any) -> None:
        if data["tanggal_selesai"] < data["tanggal_mulai"]:
            raise ValidationError("end_before_start", "tanggal_selesai")


class Realisasi(AgreedSchema):
    """What took place: the days and the participants, counted (never listed)."""

    tanggal_mulai = Date(required=True)
    tanggal_selesai = Date(required=True)
    jumlah_peserta = _participants("participants who took part", required=True)
    peserta_laki_laki = _count("of which men", load_default=None)
    peserta_perempuan = _count("of which women", load_default=None)

    @validates_schema(skip_on_field_errors=True)
    def _days_and_counts(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if data["tanggal_selesai"] < data["tanggal_mulai"]:
            errors["tanggal_selesai"] = ["end_before_start"]
        men, women = data.get("peserta_laki_laki"), data.get("peserta_perempuan")
        if men is not None and women is not None and men + women != data["jumlah_peserta"]:
            errors["jumlah_peserta"] = ["participant_counts_mismatch"]
        if errors:
            raise ValidationError(errors)


class RencanaTindakLanjutV2(AgreedSchema):
    """A follow-up action of an activity that took place, by a unit of Pemkot."""

    kegiatan = Text(required=True, max_length=1000)
    unit_penanggung_jawab = UnitCode(required=True)
    target_tanggal = Date(required=True)


class KegiatanPengembanganV2(AgreedSchema):
    """Version 2.0: the kinds of activity used in practice, each serving the MoU clause
    :data:`schemas.vocab.KLAUSUL_KEGIATAN` gives it (the record names the clause, and it
    must be that one); the plan (days, participants) against what took place, by status
    (direncanakan, terlaksana, dibatalkan); target units and the units responsible for
    follow-up as codes of the register of Kota Bekasi's perangkat daerah. Participants
    are counted, never listed."""

    id_kegiatan = Text(required=True, max_length=64, metadata={"description": "opaque id"})
    jenis = Choice(vocab.JENIS_KEGIATAN_PENGEMBANGAN, required=True)
    klausul_mou = fields.Integer(
        required=True,
        strict=True,
        validate=[
            validate.Range(min=1, max=7, error="range"),
            validate.OneOf(CLAUSES, error="one_of"),
        ],
    )
    judul = Text(required=True, max_length=300)
    penyelenggara = Text(required=True, max_length=200, metadata={"description": "organiser"})
    unit_sasaran = fields.List(
        UnitCode(),
        required=True,
        validate=[validate.Length(min=1, max=100, error="length"), distinct],
        metadata={"uniqueItems": True},
    )
    status = Choice(vocab.STATUS_KEGIATAN, required=True)
    rencana = fields.Nested(Rencana, required=True)
    realisasi = fields.Nested(Realisasi, load_default=None)
    alasan_pembatalan = Text(load_default=None, max_length=1000)
    rencana_tindak_lanjut = fields.List(
        fields.Nested(RencanaTindakLanjutV2),
        load_default=list,
        validate=validate.Length(max=50, error="length"),
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        if data["klausul_mou"] != vocab.KLAUSUL_KEGIATAN[data["jenis"]]:
            errors["klausul_mou"] = ["clause_kind_mismatch"]
        done, cancelled = data["status"] == "terlaksana", data["status"] == "dibatalkan"
        realised = data.get("realisasi")
        if done and realised is None:
            errors["realisasi"] = ["realisation_required"]
        elif not done and realised is not None:
            errors["realisasi"] = ["realisation_without_completion"]
        if cancelled and not data.get("alasan_pembatalan"):
            errors["alasan_pembatalan"] = ["cancellation_reason_required"]
        elif not cancelled and data.get("alasan_pembatalan") is not None:
            errors["alasan_pembatalan"] = ["cancellation_reason_without_cancellation"]
        plans = data["rencana_tindak_lanjut"]
        if plans and not done:
            errors["rencana_tindak_lanjut"] = ["follow_up_without_completion"]
        elif plans and realised is not None:
            end: dt.date = realised["tanggal_selesai"]
            early = {
                str(i): {"target_tanggal": ["target_before_end"]}
                for i, plan in enumerate(plans)
                if plan["target_tanggal"] < end
            }
            if early:
                errors["rencana_tindak_lanjut"] = early
        if errors:
            raise ValidationError(errors)


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

describe(
    KegiatanPengembanganV2,
    jenis="kind of activity; it determines the MoU clause",
    klausul_mou="the MoU clause the activity serves (config/agreements/ [purposes]): "
    "the one schemas.vocab.KLAUSUL_KEGIATAN gives its kind",
    judul="title",
    unit_sasaran="codes of the units the activity is for, each once",
    status="direncanakan (planned), terlaksana (carried out) or dibatalkan (cancelled)",
    rencana="the plan: days and participants",
    realisasi="what took place: required when, and only when, carried out",
    alasan_pembatalan="why it was cancelled: required when, and only when, cancelled",
    rencana_tindak_lanjut="follow-up plan: only for an activity carried out; each target "
    "on or after its last day",
)

describe(
    Rencana,
    tanggal_mulai="first day planned",
    tanggal_selesai="last day planned; on or after the first",
)

describe(
    Realisasi,
    tanggal_mulai="first day it took place",
    tanggal_selesai="last day it took place; on or after the first",
)

describe(
    RencanaTindakLanjutV2,
    kegiatan="what will be done",
    unit_penanggung_jawab="code of the unit responsible",
    target_tanggal="on or after the last day the activity took place",
)
