"""The agreed schemas as JSON Schema (draft 2020-12), for counterparties on any stack.

The conversion of fields and validators is apispec's (its marshmallow plugin,
OpenAPI 3.1 flavour, whose schema objects are JSON Schema 2020-12). On top of
it this module adds what our own field types mean (a trimmed text, a NIK, a
Kota Bekasi region code) and marks personal data with ``x-personal``,
``x-specific-personal`` and ``x-confidential``.

Some rules of the agreement span several fields or need a calendar; JSON
Schema cannot state them, and :data:`NOT_EXPRESSED` names them by error code.
A record that passes the exported schema can still be refused for those.
"""

from __future__ import annotations

import inspect
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from schemas import registry
from schemas._base import NIK, RegionCode, Text, UnitCode, region_codes
from schemas.registers import unit_codes

__all__ = ["DIALECT", "NOT_EXPRESSED", "TRIMMED", "json_schema", "schema_body"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Error codes of rules that the exported JSON Schema does not check.
NOT_EXPRESSED: dict[str, str] = {
    "nik_birth_date": "a NIK's birth-date digits form a real date (needs a calendar)",
    "nik_sequence": "a NIK's sequence number is not 0000",
    "nik_region": "a NIK starts with a real province code (and, in Kota Bekasi, kecamatan)",
    "deadline_not_after_letter": "the response deadline falls after the letter date",
    "incident_after_letter": "the incident is not after the letter date",
    "incident_too_old": "the incident is at most two years before the letter date",
    "confidential_with_identity": "a confidential report carries no reporter identity",
    "reporter_required": "a report that is not confidential carries the reporter's identity",
    "evidence_required": "a finished clarification lists its evidence",
    "completion_date_without_completion": "a completion date only with status selesai",
    "corrective_actions_required": "a finding of maladministration names corrective actions",
    "corrective_actions_without_finding": "corrective actions only with a finding",
    "maladministration_types_required": "a finding of maladministration names its types",
    "maladministration_types_without_finding": "maladministration types only with a finding",
    "deadline_not_after_lahp": "each corrective action's deadline falls after the LAHP date",
    "grade_zone_mismatch": "the zone agrees with the grade",
    "grade_opinion_mismatch": "the opinion agrees with the grade",
    "too_many_decimals": "a score has at most two decimals",
    "fee_legal_basis_required": "a fee above Rp 0 names its legal basis",
    "count_not_suppressed": "a count from 1 to 4 is sent as suppressed",
    "suppressed_count_sent": "a suppressed row carries no count",
    "duplicate_row": "each dimension and value is counted once",
    "reason_required": "a reason unless the action was fully carried out",
    "action_index_required": "a corrective action names its index in the LAHP",
    "action_reference_required": "an action of a recommendation is named by index or text",
    "end_before_start": "an activity ends on or after its start",
    "participant_counts_mismatch": "men and women add up to the participants",
    "target_before_end": "a follow-up target date is on or after the activity's end",
    "value_not_in_dimension": "a row's value belongs to its dimension's vocabulary",
    "count_required": "a row that is not suppressed carries its count",
    "invalid_text": "text is Unicode: no lone surrogate such as \\ud800 (I-JSON, RFC 7493 "
    "section 2.1)",
    "invalid": "an e-mail address as marshmallow's validator reads it (JSON Schema's "
    "'email' format is looser)",
    # hasil_penilaian_kepatuhan 2.0
    "method_year_mismatch": "the assessment method applies to the assessment year (configured)",
    "required_by_method": "the members the assessment method requires are present",
    "not_in_method": "members the assessment method does not have are absent",
    "required_by_scope": "a unit's result names its unit; the entity's, the units assessed",
    "not_in_scope": "a unit's result names no units assessed; the entity's, no unit",
    "grade_score_mismatch": "the grade agrees with the total by the configured score bands",
    "opinion_score_mismatch": "the opinion agrees with the total by the configured score bands",
    "weighted_total_mismatch": "the total agrees with the weighted dimension scores (configured)",
    "qualifier_follow_up_mismatch": "Tanpa Maladministrasi exactly when every finding was "
    "followed up",
    "follow_up_exceeds_products": "no more findings followed up than there are",
    "suggestion_count_required": "the number of improvement suggestions, from 2023",
    "suggestion_count_mismatch": "the number of improvement suggestions is the number listed",
    # standar_pelayanan 2.0 and kegiatan_pengembangan 2.0
    "service_code_unit_mismatch": "a service code begins with the code of the record's unit",
    "duplicate_value": "a facility for vulnerable groups is listed once (each kind; lainnya "
    "once per description)",
    "maklumat_date_required": "a published maklumat pelayanan has its date",
    "maklumat_reference_required": "a published maklumat pelayanan has its number or text",
    "url_required": "a publication on an online channel names its address",
    "description_required": "a value lainnya comes with a description",
    "review_date_required": "a standard under review has its review date",
    "review_not_after_decree": "a standard's review date falls after its decree date",
    "revocation_required": "a revoked standard names the revoking decree",
    "revocation_without_revoked_status": "a revoking decree only with status dicabut",
    "revocation_not_after_decree": "the revoking decree is dated after the standard's decree",
    "clause_kind_mismatch": "an activity's MoU clause is the one its kind serves",
    "realisation_required": "an activity carried out has its realisation",
    "realisation_without_completion": "a realisation only with status terlaksana",
    "cancellation_reason_required": "a cancelled activity has its reason",
    "cancellation_reason_without_cancellation": "a cancellation reason only with status "
    "dibatalkan",
    "follow_up_without_completion": "a follow-up plan only for an activity carried out",
    # lahp 2.0, monitoring_tindak_lanjut 2.0, penilaian_tindak_lanjut 1.0
    "text_contains_nik": "free text holds no NIK-shaped value (16 digits, separators allowed)",
    "text_contains_phone": "free text holds no Indonesian phone number (+62, 62 or 0, then 8 "
    "to 13 digits)",
    "text_contains_email": "free text holds no e-mail address",
    "duplicate_action_id": "each corrective action of a report has its own id_tindakan",
    "stop_reason_required": "a stopped examination says why (alasan_penghentian)",
    "stop_reason_without_stop": "alasan_penghentian only when the examination was stopped",
    "deadline_required": "a corrective action's follow-up carries its deadline (batas_waktu)",
    "deadline_without_corrective_action": "a recommendation's follow-up carries no batas_waktu",
    "superior_report_required": "a recommendation's follow-up is reported by the Wali Kota "
    "(UU 37/2008 Pasal 38(2))",
    "report_before_receipt": "a follow-up report is not dated before tanggal_diterima",
    "late_flag_mismatch": "terlambat is true exactly when the report came after batas_waktu (a "
    "recommendation: 60 days after tanggal_diterima)",
    "assessment_before_report": "a verdict is not dated before the follow-up report it assesses",
    "assessment_reason_required": "a verdict other than diterima gives its reasons",
    "response_deadline_required": "perlu_klarifikasi gives a deadline for the answer",
    "deadline_not_after_assessment": "the deadline for the answer falls after the verdict",
    # rekap_pengaduan 2.0
    "suppressed_count_derivable": "no withheld count can be worked out from the record "
    "(complementary suppression, schemas.suppression)",
    "dimension_total_mismatch": "each dimension's counts can add up to the month's total",
    "data_date_before_period_end": "the data date falls after the month counted",
    "lapor_received_mismatch": "SP4N-LAPOR! received is the sp4n_lapor channel's count, "
    "withheld alike",
    "lapor_count_exceeds_received": "no SP4N-LAPOR! follow-up count exceeds the reports received",
    "lapor_timely_and_overdue_exceed_received": "SP4N-LAPOR! reports followed up in time and "
    "overdue add up to at most those received",
    "lapor_closed_exceeds_followed_up": "SP4N-LAPOR! reports closed are at most those followed up",
    # permintaan_klarifikasi 2.0 and tanggapan_klarifikasi 3.0
    "registration_after_letter": "the report is registered on or before the letter date",
    "incident_after_registration": "the incident is not after the report's registration",
    "incident_too_old_at_registration": "a report is registered at most two years after "
    "the incident",
    "own_motion_with_reporter": "an own-motion investigation carries no reporter, consent "
    "or identity number",
    "own_motion_confidential": "an own-motion investigation is not flagged confidential",
    "confidentiality_flag_required": "a report says whether its reporter is confidential",
    "disclosure_consent_required": "the reporter's name only with a consent to disclose it",
    "consent_after_letter": "a consent is dated on or before the letter",
    "identity_consent_required": "an identity number only with the reporter's consent",
    "job_title_not_indonesian": "an official's position is an Indonesian job title",
    "completion_after_answer": "the completion date is on or before the answer date",
}

_MARKS = {"personal": "x-personal", "specific": "x-specific-personal",
          "confidential": "x-confidential"}  # fmt: skip
# Trimmed: no white space at either end (Python's and ECMAScript's \s agree on ASCII).
TRIMMED = r"^\S(?:[\s\S]*\S)?$"
_NIK = r"^[0-9]{16}$"


def json_schema(dataset: str, version: str, *, base_uri: str = "") -> dict[str, Any]:
    """The JSON Schema of one record of ``dataset`` at ``version``."""
    schema_cls = registry.schema_class(dataset, version)
    doc = inspect.getdoc(inspect.getmodule(schema_cls)) or ""
    out: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"{base_uri}/api/v1/schemas/{dataset}/{version}",
        "title": f"{dataset} {version}",
        "description": doc.strip(),
    }
    out.update(schema_body(schema_cls))
    return out


def schema_body(schema_cls: type[Schema]) -> dict[str, Any]:
    """The JSON Schema keywords of one record of ``schema_cls`` (no ``$schema``/``$id``)."""
    schema = schema_cls()
    body: dict[str, Any] = _converter().schema2jsonschema(schema)
    _annotate(schema, body)
    return body


def _converter() -> Any:
    spec = APISpec(
        title="agreed schemas",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=_inline)],
    )
    return spec.plugins[0].converter  # type: ignore[attr-defined]


def _inline(_schema: type[Schema]) -> str:
    # No names: apispec then writes each nested schema in place (its resolver may
    # return None, though its type hint says str), so each document stands alone.
    return None  # type: ignore[return-value]


def _annotate(schema: Schema, body: dict[str, Any]) -> None:
    properties = body.get("properties", {})
    for name, field in schema.fields.items():
        prop = properties.get(field.data_key or name)
        if prop is not None:
            _annotate_field(field, prop)


def _annotate_field(field: fields.Field[Any], prop: dict[str, Any]) -> None:
    for mark, keyword in _MARKS.items():
        if field.metadata.get(mark):
            prop[keyword] = True
    if isinstance(field, Text):
        prop["pattern"] = TRIMMED
    elif isinstance(field, NIK):
        prop["pattern"] = _NIK
    elif isinstance(field, RegionCode):
        prop["enum"] = sorted(region_codes())
    elif isinstance(field, UnitCode):
        prop["enum"] = sorted(unit_codes())
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        _annotate(field.schema, prop)
    elif isinstance(field, fields.List) and "items" in prop:
        _annotate_field(field.inner, prop["items"])
