"""The API's contract, served: ``GET /openapi.json`` and a page to read it, ``GET /docs/api``.

Both are public: the document holds no secret, only what any client of the
node may call and how (:mod:`gateway.http.openapi`). Both are cacheable, with an
ETag for revalidation. The page is rendered on the server from the document
itself, so it cannot say anything else; it needs no script, and its only
other resource is its style sheet, which its own Content-Security-Policy
allows (the rest of the app allows nothing at all).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request

from gateway.http import openapi

__all__ = ["CSP", "bp"]

bp = Blueprint("apidocs", __name__)

CACHE_CONTROL = "public, max-age=300"
# The page's own policy: its style sheet from this origin, nothing else.
CSP = (
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@functools.cache
def _document_bytes() -> bytes:
    return json.dumps(openapi.document(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _cacheable(response: Response, body: bytes) -> Response:
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.make_conditional(request)
    return response


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of this node's API."""
    body = _document_bytes()
    return _cacheable(Response(body, mimetype="application/json"), body)


@bp.get("/docs/api")
def api_docs() -> Response:
    """The document as a page to read: every operation, its parameters, body and answers."""
    html = render_template("apidocs.html", page=_page()).encode("utf-8")
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    return _cacheable(response, html)


# -- the page's model: the document, with references followed and schemas named -------------


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: str
    description: str


@dataclass(frozen=True)
class Content:
    media_type: str
    schema: str


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    contents: list[Content]


@dataclass(frozen=True)
class PageOperation:
    anchor: str
    method: str
    path: str
    summary: str
    description: str
    security: str
    parameters: list[Parameter]
    body: list[Content]
    body_description: str
    answers: list[Answer]


@dataclass(frozen=True)
class Section:
    tag: str
    description: str
    operations: list[PageOperation]


@dataclass(frozen=True)
class Property:
    name: str
    schema: str
    required: bool
    description: str


@dataclass(frozen=True)
class PageSchema:
    name: str
    description: str
    properties: list[Property]


@dataclass(frozen=True)
class Page:
    title: str
    version: str
    openapi: str
    description: str
    sections: list[Section]
    schemas: list[PageSchema]

    @property
    def schema_names(self) -> set[str]:
        return {s.name for s in self.schemas}


@functools.cache
def _page() -> Page:
    doc = openapi.document()
    by_tag: dict[str, list[PageOperation]] = {t["name"]: [] for t in doc.get("tags", [])}
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters":
                continue
            page_op = _operation(doc, path, method, operation, shared)
            by_tag.setdefault(operation["tags"][0], []).append(page_op)
    descriptions = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    return Page(
        title=doc["info"]["title"],
        version=doc["info"]["version"],
        openapi=doc["openapi"],
        description=doc["info"].get("description", ""),
        sections=[Section(tag, descriptions.get(tag, ""), ops) for tag, ops in by_tag.items()],
        schemas=[_schema(name, schema) for name, schema in doc["components"]["schemas"].items()],
    )


def _schema(name: str, schema: dict[str, Any]) -> PageSchema:
    if name.startswith("Record."):
        _, dataset, version = name.split(".", 2)
        return PageSchema(
            name,
            f"A record of {dataset} {version}, as agreed: its JSON Schema is served at "
            f"/api/v1/schemas/{dataset}/{version} and described in docs/datasets/{dataset}.md.",
            [],
        )
    required = set(schema.get("required", []))
    return PageSchema(
        name,
        schema.get("description", schema.get("title", "")),
        [
            Property(key, _schema_label(value), key in required, value.get("description", ""))
            for key, value in schema.get("properties", {}).items()
        ],
    )


def _operation(
    doc: dict[str, Any], path: str, method: str, operation: dict[str, Any], shared: list[Any]
) -> PageOperation:
    body = _resolve(doc, operation.get("requestBody", {}))
    return PageOperation(
        anchor=operation["operationId"],
        method=method.upper(),
        path=path,
        summary=operation.get("summary", ""),
        description=operation.get("description", ""),
        security=_security(operation.get("security", [])),
        parameters=[_parameter(doc, p) for p in [*shared, *operation.get("parameters", [])]],
        body=_contents(body),
        body_description=body.get("description", ""),
        answers=[
            Answer(status, r.get("description", ""), _contents(r))
            for status, r in ((s, _resolve(doc, r)) for s, r in operation["responses"].items())
        ],
    )


def _resolve(doc: dict[str, Any], obj: dict[str, Any]) -> dict[str, Any]:
    """``obj``, or the component its ``$ref`` names (a local reference)."""
    ref = obj.get("$ref")
    if not isinstance(ref, str):
        return obj
    found: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    resolved: dict[str, Any] = found
    return resolved


def _security(requirements: list[dict[str, list[str]]]) -> str:
    if not requirements:
        return "public"
    alternatives = []
    for requirement in requirements:
        for scheme, roles in requirement.items():
            alternatives.append(f"{scheme} ({', '.join(roles)})" if roles else scheme)
    return " or ".join(alternatives)


def _parameter(doc: dict[str, Any], param: dict[str, Any]) -> Parameter:
    found = _resolve(doc, param)
    return Parameter(
        name=found["name"],
        location=found["in"],
        required=bool(found.get("required")),
        schema=_schema_label(found.get("schema", {})),
        description=found.get("description", ""),
    )


def _contents(obj: dict[str, Any]) -> list[Content]:
    return [
        Content(media_type, _schema_label(media.get("schema", {})))
        for media_type, media in obj.get("content", {}).items()
    ]


def _schema_label(schema: dict[str, Any]) -> str:
    """A short name for a schema: its component's name, or its type and bounds."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return "one of: " + ", ".join(_schema_label(s) for s in schema[key])
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return f"exactly {schema['const']}"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array":
        return f"array of {_schema_label(schema.get('items', {}))}"
    bounds = [
        f"{word} {schema[key]}"
        for key, word in (("minimum", "min"), ("maximum", "max"), ("format", "format"))
        if key in schema
    ]
    return f"{kind} ({', '.join(bounds)})" if bounds else str(kind)
