"""``lahp``: the Ombudsman's examination report on a case (Laporan Hasil Pemeriksaan, LHP).

Direction: Ombudsman -> Pemkot. MoU clause 1 (faster handling and resolution of
public reports): the report closes the examination stage of a case and opens its
resolution and monitoring.

Legal basis: Peraturan Ombudsman 58/2023 (tata cara pemeriksaan dan penyelesaian
laporan) replaced PO 26/2017 as amended by PO 48/2020, and calls this report the
*LHP*, Laporan Hasil Pemeriksaan; under the old rules it was the LAHP, Laporan
Akhir Hasil Pemeriksaan (PO 48/2020 Pasal 25). The dataset keeps the name
``lahp``: an identifier, not a citation. The conclusion is one of three:
maladministration found, not found, or the examination stopped. When
maladministration is found, the report names its types and the corrective
actions (tindakan korektif): who must do what by when, each deadline after the
report date; otherwise it carries neither. After receiving the report the
terlapor has 30 working days to carry out the corrective actions before the case
moves to resolution and monitoring (PO 58/2023 Pasal 54; unconfirmed). That
period is counted in working days, which depend on each year's joint decree on
holidays and cuti bersama, so it is configuration of whoever tracks it, not a
rule of this schema: each action carries its own deadline.

Version 2.0 gives each corrective action a stable identifier (``id_tindakan``,
unique within the report, which ``monitoring_tindak_lanjut`` 2.0 and
``penilaian_tindak_lanjut`` refer to instead of a position in the list), names
the responsible unit by its code in the units register (an official only where
the action needs one), names the reported unit by its code, says why a stopped
examination was stopped, and says whether the reporter's identity is kept secret
(UU 37/2008 Pasal 24(2)), so that the receiving side treats the case so. It
carries no reporter identity: free text that holds a NIK, a phone number or an
e-mail address is refused, and the reporter is called *pelapor*, never by name.
The summary and the actions are still personal data: they are about a person's
case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from schemas import vocab
from schemas._base import (
    END,
    PERSONAL,
    AgreedSchema,
    Choice,
    Date,
    Text,
    UnitCode,
)
from schemas._redacted_text import check_no_identifiers

__all__ = [
    "ACTION_ID_PATTERN",
    "FOUND",
    "KESIMPULAN",
    "STOPPED",
    "ActionId",
    "Flag",
    "LahpV1",
    "LahpV2",
    "Pejabat",
    "TindakanKorektif",
    "TindakanKorektifV2",
]

KESIMPULAN = (
    "ditemukan_maladministrasi",
    "tidak_ditemukan_maladministrasi",
    "pemeriksaan_dihentikan",
)

FOUND = "ditemukan_maladministrasi"
STOPPED = "pemeriksaan_dihentikan"
MAX_ACTIONS = 100

# A corrective action's identifier: short, stable, unique within its report ("TK-01").
ACTION_ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,31}}{END}"


def _distinct(values: Sequence[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("duplicate_value")


class TindakanKorektif(AgreedSchema):
    """One corrective action: who must do what, by when."""

    pihak = Text(
        required=True,
        max_length=200,
        metadata={**PERSONAL, "description": "who must act: an office or official"},
    )
    tindakan = Text(
        required=True,
        max_length=2000,
        metadata={**PERSONAL, "description": "what must be done"},
    )
    batas_waktu = Date(
        required=True,
        metadata={"description": "deadline (a day in Asia/Jakarta); after the LAHP date"},
    )


class LahpV1(AgreedSchema):
    """Version 1.0."""

    nomor_laporan = Text(
        required=True,
        max_length=64,
        metadata={"description": "Ombudsman case number, an opaque string"},
    )
    nomor_lahp = Text(
        required=True, max_length=100, metadata={"description": "number of the LAHP document"}
    )
    tanggal_lahp = Date(
        required=True, metadata={"description": "date the LAHP was issued (Asia/Jakarta)"}
    )
    # Typed as any string field: version 2.0 reads a unit code here instead.
    unit_terlapor: fields.String = Text(
        required=True, max_length=200, metadata={"description": "the reported Pemkot unit"}
    )
    kesimpulan = Choice(
        KESIMPULAN,
        required=True,
        metadata={"description": "the conclusion of the examination (PO 48/2020 Pasal 25)"},
    )
    jenis_maladministrasi = fields.List(
        Choice(vocab.MALADMINISTRASI),
        load_default=list,
        validate=[
            validate.Length(max=len(vocab.MALADMINISTRASI), error="length"),
            _distinct,
        ],
        metadata={
            "uniqueItems": True,
            "description": "maladministration types found, each once; required (non-empty) "
            "when maladministration is found, empty otherwise",
        },
    )
    tindakan_korektif = fields.List(
        fields.Nested(TindakanKorektif),
        load_default=list,
        validate=validate.Length(max=MAX_ACTIONS, error="length"),
        metadata={
            "description": "corrective actions; required (non-empty) when maladministration "
            "is found, empty otherwise"
        },
    )
    ringkasan = Text(
        required=True,
        max_length=8000,
        metadata={**PERSONAL, "description": "summary of the findings; may name people"},
    )

    @validates_schema(skip_on_field_errors=True)
    def _cross_field(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        found = data["kesimpulan"] == FOUND
        types: list[str] = data["jenis_maladministrasi"]
        actions: list[dict[str, Any]] = data["tindakan_korektif"]
        if found and not types:
            errors["jenis_maladministrasi"] = ["maladministration_types_required"]
        if not found and types:
            errors["jenis_maladministrasi"] = ["maladministration_types_without_finding"]
        if found and not actions:
            errors["tindakan_korektif"] = ["corrective_actions_required"]
        if not found and actions:
            errors["tindakan_korektif"] = ["corrective_actions_without_finding"]
        issued: dt.date = data["tanggal_lahp"]
        late = {
            i: {"batas_waktu": ["deadline_not_after_lahp"]}
            for i, action in enumerate(actions)
            if action["batas_waktu"] <= issued
        }
        if late and "tindakan_korektif" not in errors:
            errors["tindakan_korektif"] = late
        if errors:
            raise ValidationError(errors)


class ActionId(fields.String):
    """The stable identifier of a corrective action within its report: 1 to 32 letters,
    digits, dots, hyphens or underscores, starting with a letter or digit."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Regexp(ACTION_ID_PATTERN, error="action_id_format"), **kwargs
        )


class Flag(fields.Boolean):
    """A JSON true or false, nothing else: not 1, 0 or a string (Python's ``1 == True``
    would let 1 through marshmallow's truthy set)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy={True}, falsy={False}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Pejabat(AgreedSchema):
    """An official, named by position; by name only where the action needs it."""

    jabatan = Text(
        required=True,
        max_length=200,
        metadata={"description": "the official's position, e.g. Kepala Dinas Kesehatan"},
    )
    nama = Text(
        load_default=None,
        max_length=200,
        metadata={**PERSONAL, "description": "the official's name, only where needed"},
    )


class TindakanKorektifV2(AgreedSchema):
    """One corrective action of version 2.0: its identifier, the unit that must act (and
    the official, where needed), what must be done, by when."""

    id_tindakan = ActionId(
        required=True,
        metadata={
            "description": "stable identifier of the action, unique within the report "
            "(e.g. TK-01); follow-up reports refer to it"
        },
    )
    unit_penanggung_jawab = UnitCode(
        required=True, metadata={"description": "code of the Pemkot unit that must act"}
    )
    pejabat = fields.Nested(
        Pejabat,
        load_default=None,
        metadata={"description": "the official who must act, where the action names one"},
    )
    tindakan = Text(
        required=True,
        max_length=2000,
        metadata={
            **PERSONAL,
            "description": "what must be done; no NIK, phone number or e-mail address",
        },
    )
    batas_waktu = Date(
        required=True,
        metadata={"description": "deadline (a day in Asia/Jakarta); after the report date"},
    )

    @validates("tindakan")
    def _no_identifiers(self, value: str, **_: Any) -> None:
        check_no_identifiers(value)


class LahpV2(LahpV1):
    """Version 2.0: stable action identifiers, unit codes, the reason an examination
    was stopped, the confidentiality flag; no identifiers in free text (breaking)."""

    # As in 1.0, described under PO 58/2023 (the report is now the LHP).
    nomor_lahp = Text(
        required=True, max_length=100, metadata={"description": "number of the LHP document"}
    )
    tanggal_lahp = Date(
        required=True, metadata={"description": "date the LHP was issued (Asia/Jakarta)"}
    )
    kesimpulan = Choice(
        KESIMPULAN,
        required=True,
        metadata={"description": "the conclusion of the examination (PO 58/2023)"},
    )
    unit_terlapor = UnitCode(
        required=True, metadata={"description": "code of the reported Pemkot unit"}
    )
    # A plain string with OneOf, not a Choice: the exported enum then admits null, as the
    # field does when it is left out.
    alasan_penghentian = fields.String(
        load_default=None,
        validate=validate.OneOf(vocab.ALASAN_PENGHENTIAN, error="one_of"),
        metadata={
            "description": "why the examination was stopped; required when the conclusion "
            "is pemeriksaan_dihentikan, absent otherwise"
        },
    )
    pelapor_dirahasiakan = Flag(
        required=True,
        metadata={
            "description": "true when the reporter's identity is kept secret "
            "(UU 37/2008 Pasal 24(2)): the receiving side must not seek or reveal it"
        },
    )
    tindakan_korektif = fields.List(
        fields.Nested(TindakanKorektifV2),
        load_default=list,
        validate=validate.Length(max=MAX_ACTIONS, error="length"),
        metadata={
            "description": "corrective actions, each with its own id_tindakan; required "
            "(non-empty) when maladministration is found, empty otherwise"
        },
    )
    ringkasan = Text(
        required=True,
        max_length=8000,
        metadata={
            **PERSONAL,
            "description": "summary of the findings; names no reporter and holds no NIK, "
            "phone number or e-mail address",
        },
    )

    @validates("ringkasan")
    def _no_identifiers(self, value: str, **_: Any) -> None:
        check_no_identifiers(value)

    @validates_schema(skip_on_field_errors=True)
    def _v2_rules(self, data: dict[str, Any], **_: Any) -> None:
        # The rules of version 1.0 (_cross_field) apply as well.
        errors: dict[str, Any] = {}
        stopped = data["kesimpulan"] == STOPPED
        if stopped and data.get("alasan_penghentian") is None:
            errors["alasan_penghentian"] = ["stop_reason_required"]
        if not stopped and data.get("alasan_penghentian") is not None:
            errors["alasan_penghentian"] = ["stop_reason_without_stop"]
        seen: set[str] = set()
        duplicates: dict[int, Any] = {}
        for i, action in enumerate(data["tindakan_korektif"]):
            if action["id_tindakan"] in seen:
                duplicates[i] = {"id_tindakan": ["duplicate_action_id"]}
            seen.add(action["id_tindakan"])
        if duplicates:
            errors["tindakan_korektif"] = duplicates
        if errors:
            raise ValidationError(errors)
