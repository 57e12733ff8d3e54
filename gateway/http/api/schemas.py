"""The agreed schemas, published as JSON Schema to the node's own systems."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from gateway.errors import SchemaVersionNotFound, UnknownSchemaVersion
from gateway.exchange.validation import validator_for
from gateway.http.request_helpers import client, node
from schemas import registry
from schemas.export import json_schema

bp = Blueprint("schemas", __name__, url_prefix="/api/v1/schemas")


@bp.get("")
def list_schemas() -> Response:
    client()
    agreement = node().config.agreement
    items = []
    for dataset in registry.dataset_names():
        flows = [f for f in agreement.flows if f.name == dataset]
        for version in registry.versions(dataset):
            items.append(
                {
                    "dataset": dataset,
                    "version": version,
                    # Which flows of the agreement accept this version, if any.
                    "accepted_by": [
                        {"sender": f.sender, "receiver": f.receiver}
                        for f in flows
                        if version in f.schema_versions
                    ],
                    "url": f"/api/v1/schemas/{dataset}/{version}",
                }
            )
    return jsonify({"schemas": items})


@bp.get("/<dataset>/<version>")
def get_schema(dataset: str, version: str) -> Response:
    client()
    # An unknown dataset or version is a resource that does not exist: 404, with
    # the path parameter at fault (the 422 of a submission is about its body).
    try:
        validator_for(dataset, version)
    except UnknownSchemaVersion as exc:
        raise SchemaVersionNotFound(exc.message, path="version") from None
    response = jsonify(json_schema(dataset, version))
    response.mimetype = "application/schema+json"
    return response
