"""Redacting a record by its schema, for logs and anything else that must not hold personal data.

A field is sensitive when its schema metadata marks it ``personal``,
``specific`` (specific personal data, UU 27/2022) or ``confidential``. Its
value is replaced by :data:`REDACTED`; nested records and lists of them are
redacted field by field. A member the schema does not know is replaced too:
what nobody agreed on may hold anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields

from schemas import registry

__all__ = ["REDACTED", "SENSITIVE_MARKS", "is_sensitive", "redact", "redact_record"]

REDACTED = "[redacted]"
SENSITIVE_MARKS = ("personal", "specific", "confidential")


def is_sensitive(field: fields.Field[Any]) -> bool:
    return any(field.metadata.get(mark) for mark in SENSITIVE_MARKS)


def redact_record(dataset: str, version: str, record: Any) -> Any:
    """``record`` with every sensitive value of the agreed schema replaced."""
    return redact(registry.schema_class(dataset, version)(), record)


def redact(schema: Schema, record: Any) -> Any:
    if not isinstance(record, Mapping):
        return REDACTED
    out: dict[str, Any] = {}
    for key, value in record.items():
        field = schema.fields.get(key)
        out[key] = REDACTED if field is None else _redact_value(field, value)
    return out


def _redact_value(field: fields.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    if is_sensitive(field):
        return REDACTED
    if isinstance(field, fields.Nested):
        return redact(_nested_schema(field), value)
    if isinstance(field, fields.List):
        if not isinstance(value, list):
            return REDACTED
        return [_redact_value(field.inner, item) for item in value]
    return value


def _nested_schema(field: fields.Nested) -> Schema:
    schema = field.schema
    assert isinstance(schema, Schema)
    return schema
