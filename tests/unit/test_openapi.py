"""The OpenAPI document on its own: valid OpenAPI 3.1, and saying what the code does.

That the document and the app's routes agree, and the fuzzing against a node, are in
tests/integration/test_openapi.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.errors import FieldError, NotFound, SchemaViolation
from gateway.exchange.validation import MAX_ERRORS
from gateway.http import openapi
from schemas import registry
from schemas.export import schema_body
from schemas.samples import sample_records


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator of component ``name`` that follows the document's references."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    schemas = Registry().with_resource("urn:openapi", resource)
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=schemas
    )


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_the_document_is_the_same_each_time() -> None:
    assert json.dumps(openapi.document()) == json.dumps(openapi.document())


def test_every_operation_is_named_and_answers(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids)), "operationIds are not unique"
    for path, method, operation in _operations(document):
        assert operation["summary"], (method, path)
        assert operation["tags"][0] in {t["name"] for t in document["tags"]}, (method, path)
        assert any(s.startswith("2") for s in operation["responses"]), (method, path)


def test_each_kind_of_caller_is_told_how_it_is_refused(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        schemes = {name for requirement in operation["security"] for name in requirement}
        refusal = operation["responses"].get("401", {}).get("$ref", "")
        if schemes == {openapi.BEARER}:
            assert refusal.endswith("/Unauthorized"), (method, path)
            assert "429" in operation["responses"], (method, path)
        elif schemes == {openapi.SIGNATURE}:
            assert path.startswith("/exchange/v1/"), (method, path)
            assert refusal.endswith("/SignatureRejected"), (method, path)
        else:
            assert not schemes and not refusal, (method, path)
    public = {path for path, _, op in _operations(document) if not op["security"]}
    assert public == {"/healthz", "/exchange/v1/jwks", "/openapi.json", "/docs/api"}


def test_the_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes[openapi.BEARER] | {"description": ""} == {
        "type": "http", "scheme": "bearer", "description": ""}  # fmt: skip
    assert schemes[openapi.SIGNATURE]["type"] == "http"
    assert schemes[openapi.SIGNATURE]["scheme"] == "GatewaySignature"
    roles = {
        role
        for _, _, operation in _operations(document)
        for requirement in operation["security"]
        for role in requirement.get(openapi.BEARER, [])
    }
    assert roles == {"submit", "pull", "auditor", "operator"}


def test_records_are_the_agreed_schemas(document: dict[str, Any]) -> None:
    # The same JSON Schema as `gateway schemas export` writes, and one body per version.
    schemas = document["components"]["schemas"]
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            body = schema_body(registry.schema_class(dataset, version))
            assert schemas[f"Record.{dataset}.{version}"] == {
                "title": f"{dataset} {version}", **body}  # fmt: skip
            submission = schemas[f"Submission.{dataset}.{version}"]
            assert submission["properties"]["schema_version"] == {"const": version}


@pytest.mark.parametrize("dataset", ["tanggapan_klarifikasi", "kegiatan_pengembangan"])
def test_a_valid_submission_matches_its_path_and_no_other(document: dict[str, Any],
                                                          dataset: str) -> None:  # fmt: skip
    body = {"schema_version": "1.0", "records": sample_records(dataset, 3, seed=1, version="1.0")}
    for other in registry.dataset_names():
        path = document["paths"][f"/api/v1/datasets/{other}/records"]["post"]
        schema = path["requestBody"]["content"]["application/json"]["schema"]
        names = [s["$ref"].rsplit("/", 1)[-1] for s in schema.get("oneOf", [schema])]
        valid = [n for n in names if _validator(document, n).is_valid(body)]
        assert valid == ([f"Submission.{dataset}.1.0"] if other == dataset else []), other


def test_the_error_schema_is_the_app_s_error_body(document: dict[str, Any]) -> None:
    error = _validator(document, "Error")
    violation = SchemaViolation([FieldError("/records/0/nik", "invalid", "x")], record_count=1)
    for body in (violation.to_dict("id"), NotFound("no batch", path="batch_id").to_dict(),
                 {"code": "internal_error", "message": "internal error; reference 1"}):  # fmt: skip
        error.validate({"error": body})
    assert not error.is_valid({"error": {"code": "x"}})
    assert not error.is_valid({"code": "x", "message": "y"})


def test_the_error_schema_bounds_the_field_errors(document: dict[str, Any]) -> None:
    error = _validator(document, "Error")
    listed = [FieldError(f"/records/{i}", "required", "x") for i in range(MAX_ERRORS)]
    violation = SchemaViolation(listed, record_count=5000, total=4321, invalid_records=3000)
    body = violation.to_dict()
    assert (body["error_count"], body["truncated"]) == (4321, True)
    error.validate({"error": body})
    assert not error.is_valid({"error": {**body, "errors": body["errors"] * 2}})


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("/healthz", "/healthz"),
        ("/api/v1/batches/<batch_id>", "/api/v1/batches/{batch_id}"),
        ("/api/v1/batches/<batch_id>/chunks/<int:index>",
         "/api/v1/batches/{batch_id}/chunks/{index}"),
        ("/x/<int(min=1):n>/<path:rest>", "/x/{n}/{rest}"),
    ],
)  # fmt: skip
def test_flask_rules_as_openapi_paths(rule: str, path: str) -> None:
    assert openapi.openapi_path(rule) == path


def test_the_cli_prints_or_writes_the_document(tmp_path: Path) -> None:
    def gateway(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "openapi", *args],
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    printed = gateway()
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == openapi.document()
    target = tmp_path / "openapi.json"
    written = gateway("--out", str(target))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == openapi.document()
