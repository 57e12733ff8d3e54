"""The API contract against the app: routes, the served document and page, and a fuzzer.

* Every route of the app's url_map is documented with the same methods, and every
  documented operation is a route.
* ``GET /openapi.json`` serves the document, public and cacheable; ``GET /docs/api``
  renders it for people, under its own Content-Security-Policy.
* Schemathesis generates requests from the document (valid ones and, in its negative
  mode, invalid ones) and sends them to a node in process, with a bearer token of the
  role each operation names, and every node-to-node request signed by the peer's key
  (a WSGI middleware signs the request exactly as the app receives it), so that the
  fuzzer gets past authentication. The property: no answer is a 5xx, and each answer
  is one the document lists, of its media type and schema. Bounded and deterministic:
  a few examples per operation, derandomized.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from gateway.exchange import sending
from gateway.http import openapi
from gateway.http.api.apidocs import CSP
from gateway.node import audit_log
from gateway.peers import signed_requests
from schemas import registry
from schemas.samples import sample_records
from tests.conftest import PASSPHRASE, Deployment, NodeApp, build_apps

PEMKOT, OMBUDSMAN = "pemkot-bekasi", "ombudsman-ri"
PERMINTAAN, TANGGAPAN = "permintaan_klarifikasi", "tanggapan_klarifikasi"
JOSE = "application/jose"


def _routes(app: Any) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every rule of the app but its static files and the
    auditor console's pages, which are for people, not an API (docs/CONSOLE.md)."""
    return {
        (openapi.openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and not rule.endpoint.startswith("console.")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def _documented(app: Any, document: dict[str, Any]) -> set[tuple[str, str]]:
    """(the path of the route it is served by, method) of every documented operation.

    A path with parameters is a route's own template; a concrete path (the records of
    one dataset) is whichever route the app's router matches it to, if any.
    """
    adapter = app.url_map.bind("localhost")
    found = set()
    for path, item in document["paths"].items():
        for method in item:
            if method == "parameters":
                continue
            if "{" not in path:
                try:
                    rule, _ = adapter.match(path, method.upper(), return_rule=True)
                    path = openapi.openapi_path(rule.rule)
                except HTTPException:
                    pass  # no route: left as it is, so the comparison names it
            found.add((path, method))
    return found


def test_the_document_and_the_routes_agree(pemkot: NodeApp) -> None:
    document = openapi.document()
    routes, documented = _routes(pemkot.app), _documented(pemkot.app, document)
    assert not routes - documented, f"routes not in the document: {sorted(routes - documented)}"
    assert not documented - routes, f"documented, but no route: {sorted(documented - routes)}"
    # Each path parameter of a route is declared, under the name the route gives it.
    for path, item in document["paths"].items():
        declared = {p["$ref"].rsplit("/", 1)[-1] for p in item.get("parameters", [])}
        assert declared == set(re.findall(r"\{(\w+)\}", path)), path
    # The records of each registered dataset, and of no other, have a path of their own.
    submissions = {p for p in document["paths"] if p.endswith("/records")}
    assert submissions == {f"/api/v1/datasets/{d}/records" for d in registry.dataset_names()}


def test_openapi_json_is_public_and_cacheable(pemkot: NodeApp) -> None:
    answer = pemkot.client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert answer.get_json() == openapi.document()
    assert answer.headers["Cache-Control"] == "public, max-age=300"
    etag = answer.headers["ETag"]
    again = pemkot.client.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_the_docs_page_names_every_operation(pemkot: NodeApp) -> None:
    answer = pemkot.client.get("/docs/api")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert answer.headers["Content-Security-Policy"] == CSP
    html = answer.get_data(as_text=True)
    assert '<html lang="en">' in html and "<main>" in html and "<h1>" in html
    assert 'href="/openapi.json"' in html
    assert "<script" not in html and "style=" not in html
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert f'id="{operation["operationId"]}"' in html, (method, path)
            assert f"{method.upper()}</span> <code>{path}</code>" in html, (method, path)
            assert operation["summary"].replace("'", "&#39;") in html, (method, path)
    # The bodies' schemas, each with its members; a body's schema links to it.
    assert '<h2 id="schemas">' in html and 'href="#schema-Error"' in html
    for name in openapi.document()["components"]["schemas"]:
        assert f'id="schema-{name}"' in html, name
    # Its style sheet is served from this origin, which its policy allows.
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert href is not None and href.group(1).startswith("/")
    assert "style-src 'self'" in CSP and "script-src" not in CSP
    with pemkot.client.get(href.group(1)) as style:
        assert style.status_code == 200 and style.mimetype == "text/css"


# -- the fuzzer ------------------------------------------------------------------------------

# Per operation: examples generated in Schemathesis's fuzzing phase (its coverage and
# examples phases add their own, a bounded number of each). More for a deeper run:
# GATEWAY_TEST_FUZZ_EXAMPLES=200 (a few minutes).
MAX_EXAMPLES = int(os.environ.get("GATEWAY_TEST_FUZZ_EXAMPLES", "8"))
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20211104,
        "generation": {"deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
    }
)
SCHEMA = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)


@schemathesis.serializer(JOSE)
def _jose(context: Any, value: Any) -> bytes:
    """A JOSE compact serialization is text: sent as generated (negative mode: any value)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The client whose token each operation is called with, by the role its security names.
TOKEN_OF_ROLE = {"submit": "sistem-pengaduan", "pull": "sistem-pengaduan",
                 "auditor": "auditor", "operator": "operator"}  # fmt: skip
SECURITY = {(op.method, op.path): op.security for op in openapi.OPERATIONS}


@dataclass
class FuzzNode:
    """Pemkot Bekasi's node with data to find, and ids of it to put in paths."""

    pemkot: NodeApp
    ombudsman: NodeApp
    inbound: list[str]  # batches received from the Ombudsman: a single one, a chunked one
    outbound: list[str]  # batches sealed for the Ombudsman to pull


def _submit(app: NodeApp, client_id: str, dataset: str, count: int, seed: int) -> None:
    answer = app.client.post(
        f"/api/v1/datasets/{dataset}/records",
        json={"schema_version": "1.0", "records": sample_records(dataset, count, seed=seed,
                                                                      version="1.0")},
        headers=app.auth(client_id),
    )
    assert answer.status_code == 202, answer.get_json()


def _push_to(target: NodeApp) -> Callable[..., tuple[int, Any]]:
    def post(url: str, body: bytes, timeout: float, headers: Any) -> tuple[int, Any]:
        path = "/exchange" + url.partition("/exchange")[2]
        answer = target.client.post(path, data=body, content_type=JOSE, headers=headers)
        return answer.status_code, answer.get_json()

    return post


def _signing(wsgi_app: Any, signer: NodeApp, audience: str) -> Callable[..., Any]:
    """A WSGI middleware that signs each /exchange/v1 request, as the app will see it."""

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith("/exchange/v1/") and request.path != "/exchange/v1/jwks":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            query = environ.get("QUERY_STRING", "")
            environ["HTTP_AUTHORIZATION"] = signed_requests.authorization(
                signing_key=signer.node.keys.signing, issuer=signer.party, audience=audience,
                method=environ["REQUEST_METHOD"],
                target=request.path + (f"?{query}" if query else ""),
                body=body, now=dt.datetime.now(dt.UTC))  # fmt: skip
        return wsgi_app(environ, start_response)

    return middleware


@pytest.fixture(scope="module")
def fuzz_node(deployment_factory: Callable[..., Deployment]) -> Iterator[FuzzNode]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GATEWAY_KEY_PASSPHRASE", PASSPHRASE)
        deployment = deployment_factory(delivery="pull", max_chunk_bytes=4096)
        apps = build_apps(deployment)
        pemkot, ombudsman = apps[PEMKOT], apps[OMBUDSMAN]
        try:
            inbound = []
            for count, seed in ((2, 1), (40, 2)):
                _submit(ombudsman, "simpel", PERMINTAAN, count, seed)
                report = sending.run(ombudsman.node, post=_push_to(pemkot))
                inbound += [str(b) for b in report.delivered]
            outbound = []
            for count, seed in ((2, 3), (40, 4)):
                _submit(pemkot, "sistem-pengaduan", TANGGAPAN, count, seed)
                outbound += [str(b) for b in sending.run(pemkot.node).sealed]
            audit_log.checkpoint(pemkot.node)
            assert len(inbound) == 2 and len(outbound) == 2
            pemkot.app.wsgi_app = _signing(pemkot.app.wsgi_app, ombudsman, PEMKOT)
            yield FuzzNode(pemkot, ombudsman, inbound, outbound)
        finally:
            for app in apps.values():
                app.node.store.dispose()


def _headers(case: schemathesis.Case, node: FuzzNode) -> dict[str, str]:
    """A bearer token of the role the operation names (signatures: the middleware's)."""
    for requirement in SECURITY[(case.operation.method.lower(), case.operation.path)]:
        roles = requirement.get(openapi.BEARER)
        if roles is not None:
            return node.pemkot.auth(TOKEN_OF_ROLE[roles[0]] if roles else "sistem-pengaduan")
    return {}


def _known_ids(case: schemathesis.Case, node: FuzzNode) -> list[str]:
    """Ids of batches that exist, for an operation with a batch id in its path."""
    if "batch_id" not in (case.path_parameters or {}):
        return []
    path = case.operation.path
    if path.endswith("/refusal"):
        return []  # a refusal dead-letters the batch: the other operations need them sealed
    if path.startswith("/api/v1/batches/"):
        return node.inbound
    if path.startswith("/exchange/v1/outbox/"):
        return node.outbound
    return []


@pytest.mark.sqlite_pass  # what it fuzzes is the HTTP layer's checks, not the database's
@SCHEMA.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_fuzz_the_api(case: schemathesis.Case, fuzz_node: FuzzNode) -> None:
    headers = _headers(case, fuzz_node)
    response = case.call(app=fuzz_node.pemkot.app, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    # Once more on batches that exist, so that the fuzzer's values reach the code behind.
    for batch_id in _known_ids(case, fuzz_node):
        case.path_parameters["batch_id"] = batch_id
        response = case.call(app=fuzz_node.pemkot.app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)


def test_the_fuzzer_gets_past_authentication(fuzz_node: FuzzNode) -> None:
    # The middleware's signature and the tokens open the doors the fuzzer knocks on.
    client = fuzz_node.pemkot.client
    listing = client.get("/exchange/v1/outbox")
    assert listing.status_code == 200, listing.get_json()
    assert {b["batch_id"] for b in listing.get_json()["batches"]} == set(fuzz_node.outbound)
    body = json.dumps({"receipt": "a.b.c"}).encode()
    refused = client.post(f"/exchange/v1/outbox/{fuzz_node.outbound[0]}/receipt", data=body,
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "receipt_rejected"
    batch = client.get(f"/api/v1/batches/{fuzz_node.inbound[1]}", headers=fuzz_node.pemkot.auth())
    assert batch.status_code == 200 and batch.get_json()["chunk_count"] > 1


# The answers were 500 before: what the fuzzer found (the chunk indexes), and the same
# mistake found beside it (numbers in a query that int() takes and the rest cannot).
OUT_OF_RANGE = [
    # A chunk index beyond what SQLite's integers hold, of a batch that exists.
    ("GET", "/api/v1/batches/{chunked}/chunks/314758457867511754476521217064960", 404),
    # A refused chunk's index, beyond what canonical JSON holds, in the audit entry.
    ("POST", f"/exchange/v1/batches/{uuid.UUID(int=1)}/chunks/1005600457641577984", 400),
    # "²" is a digit to str.isdigit(), not to int().
    ("GET", f"/api/v1/datasets/{PERMINTAAN}/batches?limit=%C2%B2", 400),
    ("GET", "/exchange/v1/outbox?limit=%C2%B2", 400),
    # Cursors beyond a 64-bit integer, and digits int() takes but no cursor is made of.
    ("GET", f"/api/v1/datasets/{PERMINTAAN}/batches?after=99999999999999999999999", 400),
    ("GET", f"/api/v1/datasets/{PERMINTAAN}/batches?after=-99999999999999999999", 400),
    ("GET", f"/api/v1/datasets/{PERMINTAAN}/batches?after=%EF%BC%91", 400),
    # Numbers beyond PostgreSQL's 32-bit INTEGER columns (the fuzzer, on PostgreSQL).
    ("GET", f"/api/v1/datasets/{PERMINTAAN}/batches?after=2147483648", 400),
    ("GET", "/api/v1/audit/proof/consistency?old=0&new=53143060898", 400),
    ("GET", "/api/v1/audit/proof/inclusion?index=0&size=2147483648", 400),
    ("GET", "/api/v1/audit/checkpoints?after=2147483648", 400),
    ("GET", "/api/v1/audit/entries?start=2147483648", 400),
]


@pytest.mark.parametrize(("method", "target", "status"), OUT_OF_RANGE)
def test_numbers_out_of_range_are_refused(fuzz_node: FuzzNode, method: str, target: str,
                                          status: int) -> None:  # fmt: skip
    answer = fuzz_node.pemkot.client.open(
        target.format(chunked=fuzz_node.inbound[1]), method=method, data=b"a.b.c.d.e",
        content_type=JOSE,
        headers=fuzz_node.pemkot.auth("auditor" if "/audit/" in target else None))  # fmt: skip
    assert answer.status_code == status, answer.get_json()
    assert answer.get_json()["error"]["code"] != "internal_error"
