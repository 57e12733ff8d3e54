"""Validating records against the agreed schema, with errors people can act on.

Pure: no Flask, no database. Each error is a :class:`FieldError` with a JSON
Pointer (RFC 6901) path such as ``/records/3/pelapor/nik``, a stable code and
a message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError

from gateway.errors import FieldError, SchemaViolation, UnknownDataset, UnknownSchemaVersion
from gateway.messages import field_message
from schemas import registry

__all__ = ["RecordValidator", "validator_for"]


def _flatten(messages: Any, path: str, out: list[FieldError]) -> None:
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # marshmallow files schema-level errors under "_schema".
            sub = path if key == "_schema" else f"{path}/{key}"
            _flatten(value, sub, out)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for code in messages:
            out.append(FieldError(path=path, code=code, message=field_message(code)))
    elif isinstance(messages, list):
        for m in messages:
            _flatten(m, path, out)
    else:
        code = str(messages)
        out.append(FieldError(path=path, code=code, message=field_message(code)))


class RecordValidator:
    """Validates records of one dataset version."""

    def __init__(self, dataset: str, version: str, schema: Schema) -> None:
        self.dataset = dataset
        self.version = version
        self._schema = schema

    def errors(self, records: Sequence[Any], *, prefix: str = "/records") -> list[FieldError]:
        """Every error in every record; an empty list means all are valid."""
        out: list[FieldError] = []
        load = self._schema.load
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                out.append(
                    FieldError(f"{prefix}/{i}", "invalid_type", field_message("invalid_type"))
                )
                continue
            try:
                load(record)
            except ValidationError as exc:
                _flatten(exc.messages, f"{prefix}/{i}", out)
        return out

    def check(self, records: Sequence[Any]) -> None:
        """Raise :class:`SchemaViolation` listing every error, if there is any."""
        errors = self.errors(records)
        if errors:
            raise SchemaViolation(errors, record_count=len(records))


@cache
def _validator(dataset: str, version: str) -> RecordValidator:
    return RecordValidator(dataset, version, registry.schema_class(dataset, version)())


def validator_for(dataset: str, version: str) -> RecordValidator:
    """The validator for a dataset version, or an error that says what exists."""
    known = registry.versions(dataset)
    if not known:
        raise UnknownDataset(f"unknown dataset {dataset!r}", path="dataset")
    if version not in known:
        raise UnknownSchemaVersion(
            f"dataset {dataset!r} has no schema version {version!r} (known: {known})",
            path="/schema_version",
        )
    return _validator(dataset, version)
