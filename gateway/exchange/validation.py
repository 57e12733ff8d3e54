"""Validating records against the agreed schema, with errors people can act on.

Pure: no Flask, no database. Each error is a :class:`FieldError` with a JSON
Pointer (RFC 6901) path such as ``/records/3/pelapor/nik``, a stable code and
a message.

The answer is bounded: :meth:`RecordValidator.report` validates every record and
counts every error, but keeps only the first :data:`MAX_ERRORS`. The work per
record is bounded by the schemas themselves (:mod:`schemas._base`: an object
with a flood of unknown members is refused with one error, not one per member).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from marshmallow import Schema, ValidationError

from gateway.errors import FieldError, SchemaViolation, UnknownDataset, UnknownSchemaVersion
from gateway.messages import field_message
from gateway.node.config import PersonalData
from schemas import registry
from schemas.personal import allows_all, carried

__all__ = ["MAX_ERRORS", "RecordValidator", "Report", "validator_for"]

# Field errors a refusal lists; the others are counted (docs/API.md).
MAX_ERRORS = 100


def _token(key: object) -> str:
    """A member name or index as a JSON Pointer reference token (RFC 6901 section 3)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _flatten(messages: Any, path: str) -> Iterator[tuple[str, str]]:
    """The (path, code) of each error in marshmallow's nested messages."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            # marshmallow files schema-level errors under "_schema".
            sub = path if key == "_schema" else f"{path}/{_token(key)}"
            yield from _flatten(value, sub)
    elif isinstance(messages, list):
        for m in messages:
            if isinstance(m, str):
                yield path, m
            else:
                yield from _flatten(m, path)
    else:
        yield path, str(messages)


@dataclass(frozen=True)
class Report:
    """The outcome of validating records: the first errors, and how many there are."""

    errors: list[FieldError]  # the first ``limit``, in record order
    total: int  # every error found, exactly
    invalid_records: int  # records with at least one error

    @property
    def truncated(self) -> bool:
        return self.total > len(self.errors)


class RecordValidator:
    """Validates records of one dataset version."""

    def __init__(self, dataset: str, version: str, schema: Schema) -> None:
        self.dataset = dataset
        self.version = version
        self._schema = schema

    def report(
        self,
        records: Sequence[Any],
        *,
        prefix: str = "/records",
        limit: int | None = MAX_ERRORS,
        personal: PersonalData | None = None,
    ) -> Report:
        """Validate every record; keep the first ``limit`` errors (None: all), count all.

        ``personal``: the personal-data fields the record's flow lets cross; a valid
        record that carries another personal value is refused at its path with
        ``personal_field_not_allowed``. None: no flow's rule applies (a local check).
        """
        out: list[FieldError] = []
        total = invalid = 0
        load = self._schema.load
        allowed: frozenset[str] | None = None
        if personal is not None:
            allowed = frozenset(personal.fields)
            if allows_all(self.dataset, self.version, allowed):
                allowed = None  # every personal field may cross: nothing to look for
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                found: Iterator[tuple[str, str]] = iter([(f"{prefix}/{i}", "invalid_type")])
            else:
                try:
                    load(record)
                except ValidationError as exc:
                    found = _flatten(exc.messages, f"{prefix}/{i}")
                else:
                    if allowed is None:
                        continue
                    found = self._not_allowed(record, allowed, f"{prefix}/{i}")
            before = total
            for path, code in found:
                total += 1
                if limit is None or len(out) < limit:
                    out.append(FieldError(path=path, code=code, message=field_message(code)))
            invalid += total > before
        return Report(errors=out, total=total, invalid_records=invalid)

    def _not_allowed(
        self, record: dict[str, Any], allowed: frozenset[str], prefix: str
    ) -> Iterator[tuple[str, str]]:
        for value in carried(self.dataset, self.version, record, besides=allowed):
            yield f"{prefix}{value.pointer}", "personal_field_not_allowed"

    def errors(
        self,
        records: Sequence[Any],
        *,
        prefix: str = "/records",
        limit: int | None = None,
        personal: PersonalData | None = None,
    ) -> list[FieldError]:
        """Every error in every record (or the first ``limit``); empty if all are valid."""
        return self.report(records, prefix=prefix, limit=limit, personal=personal).errors

    def check(self, records: Sequence[Any], *, personal: PersonalData | None = None) -> None:
        """Raise :class:`SchemaViolation` with the first :data:`MAX_ERRORS` errors and the
        count of all, if there is any (``personal``: see :meth:`report`)."""
        found = self.report(records, personal=personal)
        if found.total:
            raise SchemaViolation(
                found.errors,
                record_count=len(records),
                total=found.total,
                invalid_records=found.invalid_records,
            )


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
