"""``monitoring_tindak_lanjut``: how far Pemkot carried out a corrective action or recommendation.

Direction: Pemkot -> Ombudsman. MoU clause 1 (faster handling and resolution of
public reports): the resolution and monitoring stage of a case. One record per
action, per report date: an action is a corrective action (tindakan korektif) of
an examination report (LHP, dataset ``lahp``) or an action of an Ombudsman
recommendation (rekomendasi). The status is dilaksanakan (carried out),
dilaksanakan sebagian (partly) or tidak dilaksanakan (not carried out).
Carried-out or partly carried-out actions list their evidence, by SHA-256
digest (the files travel by other agreed means); a reason is required unless the
action was fully carried out.

Deadlines. A corrective action has the deadline its report sets; the terlapor
has 30 working days from receiving the report before the case moves to
resolution and monitoring (PO 58/2023 Pasal 54; unconfirmed, so not checked
here). A recommendation is addressed to the terlapor's superior, who reports on
its implementation within 60 days of receiving it: calendar days, not working
days (UU 37/2008 Pasal 38(2)). For a unit of Pemkot Bekasi that superior is the
Wali Kota, so the report on a recommendation is the Wali Kota's (signed by the
Wali Kota or on the Wali Kota's behalf).

Version 2.0 refers to the action by its stable identifier in the report or
recommendation (``id_tindakan``) and to the case, instead of a position in a
list; names the responsible unit by its code in the units register; carries the
day the report or recommendation was received and says who reports. A late
report is still a fact worth sending, so it is not refused: ``terlambat`` says
that the report came after its deadline (a corrective action's ``batas_waktu``;
for a recommendation, 60 days after receipt), and the gateway checks that it
agrees with the dates. Free text holds no NIK, phone number or e-mail address.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from schemas._base import PERSONAL, AgreedSchema, Choice, Date, Text, UnitCode
from schemas._redacted_text import check_no_identifiers
from schemas.lahp import ActionId, Flag

__all__ = [
    "DISAMPAIKAN_OLEH",
    "JENIS_RUJUKAN",
    "REPORT_DAYS",
    "STATUS_TINDAK_LANJUT",
    "Bukti",
    "MonitoringTindakLanjutV1",
    "MonitoringTindakLanjutV2",
    "is_late",
]

STATUS_TINDAK_LANJUT = ("dilaksanakan", "dilaksanakan_sebagian", "tidak_dilaksanakan")
JENIS_RUJUKAN = ("tindakan_korektif", "rekomendasi")

# Who reports: the Wali Kota (the superior of every Pemkot unit, UU 37/2008 Pasal 38(2)),
# or the head of the responsible unit (perangkat daerah).
DISAMPAIKAN_OLEH = ("wali_kota", "kepala_perangkat_daerah")

# The statuses that need evidence, and the one that needs no reason.
NEEDS_EVIDENCE = ("dilaksanakan", "dilaksanakan_sebagian")
DONE = "dilaksanakan"

# UU 37/2008 Pasal 38(2): the superior reports on a recommendation within 60 days of
# receiving it; days, not working days.
REPORT_DAYS = 60

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
    # Typed as any string field: version 2.0 reads a unit code here instead.
    unit_penanggung_jawab: fields.String = Text(
        required=True,
        max_length=200,
        metadata={"description": "the Pemkot unit responsible for the action"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        index = data.get("urutan_tindakan")
        if data["jenis_rujukan"] == "tindakan_korektif" and index is None:
            errors["urutan_tindakan"] = ["action_index_required"]
        elif index is None and data.get("tindakan") is None:
            errors["urutan_tindakan"] = ["action_reference_required"]
        errors.update(_status_errors(data))
        if errors:
            raise ValidationError(errors)


def _status_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """A reason unless the action was carried out; evidence if it was, at least partly."""
    errors: dict[str, list[str]] = {}
    if data["status"] != DONE and data.get("alasan") is None:
        errors["alasan"] = ["reason_required"]
    if data["status"] in NEEDS_EVIDENCE and not data["bukti"]:
        errors["bukti"] = ["evidence_required"]
    return errors


def is_late(data: dict[str, Any]) -> bool | None:
    """Whether a follow-up report came after its deadline: a corrective action's
    ``batas_waktu``, or :data:`REPORT_DAYS` after a recommendation was received. None
    when a corrective action's deadline is not known."""
    reported: dt.date = data["tanggal_laporan"]
    if data["jenis_rujukan"] == "rekomendasi":
        received: dt.date = data["tanggal_diterima"]
        return reported > received + dt.timedelta(days=REPORT_DAYS)
    deadline: dt.date | None = data.get("batas_waktu")
    return None if deadline is None else reported > deadline


class MonitoringTindakLanjutV2(MonitoringTindakLanjutV1):
    """Version 2.0: the action by its stable identifier, unit codes, the day received, who
    reports and whether the report is late; no identifiers in free text (breaking)."""

    class Meta(MonitoringTindakLanjutV1.Meta):
        # The position of the action in a list that may change: id_tindakan instead.
        exclude = ("urutan_tindakan",)

    nomor_laporan = Text(
        required=True,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string"},
    )
    unit_penanggung_jawab = UnitCode(
        required=True, metadata={"description": "code of the Pemkot unit responsible"}
    )
    id_tindakan = ActionId(
        required=True,
        metadata={
            "description": "the action's stable identifier: id_tindakan of the corrective "
            "action in the LHP, or the action's number in the recommendation"
        },
    )
    tanggal_diterima = Date(
        required=True,
        metadata={
            "description": "day Pemkot received the LHP or recommendation (a recommendation:"
            " the day the Wali Kota received it); tanggal_laporan is not before it"
        },
    )
    batas_waktu = Date(
        load_default=None,
        metadata={
            "description": "a corrective action's deadline as the LHP sets it; required for a "
            "corrective action, absent for a recommendation (its report is due 60 days "
            "after receipt)"
        },
    )
    terlambat = Flag(
        required=True,
        metadata={
            "description": "true when this report came after its deadline (batas_waktu; a "
            "recommendation: 60 days after tanggal_diterima, UU 37/2008 Pasal 38(2))"
        },
    )
    disampaikan_oleh = Choice(
        DISAMPAIKAN_OLEH,
        required=True,
        metadata={
            "description": "who reports: the Wali Kota (required for a recommendation) or the"
            " head of the responsible unit"
        },
    )

    @validates("tindakan", "uraian", "alasan")
    def _no_identifiers(self, value: str | None, **_: Any) -> None:
        if value is not None:
            check_no_identifiers(value)

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        # Replaces the rules of 1.0 on urutan_tindakan; those on the status stay.
        errors = _status_errors(data)
        recommendation = data["jenis_rujukan"] == "rekomendasi"
        if not recommendation and data.get("batas_waktu") is None:
            errors["batas_waktu"] = ["deadline_required"]
        if recommendation and data.get("batas_waktu") is not None:
            errors["batas_waktu"] = ["deadline_without_corrective_action"]
        if recommendation and data["disampaikan_oleh"] != "wali_kota":
            errors["disampaikan_oleh"] = ["superior_report_required"]
        if data["tanggal_laporan"] < data["tanggal_diterima"]:
            errors["tanggal_laporan"] = ["report_before_receipt"]
        late = is_late(data)
        if late is not None and late != data["terlambat"]:
            errors["terlambat"] = ["late_flag_mismatch"]
        if errors:
            raise ValidationError(errors)
