"""The exported JSON Schema accepts and refuses what the marshmallow schema does,
except for the rules named in schemas.export.NOT_EXPRESSED."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from gateway.exchange.validation import validator_for
from schemas import registry
from schemas.export import DIALECT, NOT_EXPRESSED, json_schema
from schemas.samples import sample_records

DATASETS = [(d, v) for d in registry.dataset_names() for v in registry.versions(d)]


def _mutations(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each valid record broken (or not) in one place: every field removed, nulled,
    retyped, given an odd string; one unknown member; the same one level down."""
    out = []
    for key, value in record.items():
        for replacement in (None, 12345, "zz-bukan-nilai", " padded ", [], {}):
            out.append({**record, key: replacement})
        out.append({k: v for k, v in record.items() if k != key})
        if isinstance(value, dict):
            for inner in value:
                out.append({**record, key: {**value, inner: 12345}})
                out.append({**record, key: {k: v for k, v in value.items() if k != inner}})
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in value[0]:
                broken = copy.deepcopy(value)
                broken[0][inner] = None
                out.append({**record, key: broken})
    out.append({**record, "kolom_tak_dikenal": 1})
    return out


@pytest.mark.parametrize(("dataset", "version"), DATASETS)
def test_exported_schema_agrees_with_marshmallow(dataset, version):
    schema = json_schema(dataset, version)
    assert schema["$schema"] == DIALECT
    jsonschema.Draft202012Validator.check_schema(schema)
    checker = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator = validator_for(dataset, version)
    compared = 0
    for record in sample_records(dataset, 12, seed=11, version=version):
        assert checker.is_valid(record), list(checker.iter_errors(record))[:1]
        for mutated in _mutations(record):
            errors = validator.errors([mutated])
            accepted_by_json_schema = checker.is_valid(mutated)
            compared += 1
            if not errors:
                assert accepted_by_json_schema, (mutated, list(checker.iter_errors(mutated))[:1])
            elif accepted_by_json_schema:
                # Only a rule JSON Schema cannot state may tell the two apart.
                codes = {e.code for e in errors}
                assert codes <= set(NOT_EXPRESSED), (codes, mutated)
    assert compared > 100


def test_personal_data_is_marked():
    pelapor = json_schema("permintaan_klarifikasi", "1.0")["properties"]["pelapor"]
    assert pelapor["properties"]["nik"]["x-personal"] is True
    assert pelapor["properties"]["nama"]["x-confidential"] is True
