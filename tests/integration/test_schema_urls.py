"""``GET /api/v1/schemas/<dataset>/<version>``: what does not exist is 404, with its path."""

import pytest

from gateway.client import GatewayClient, NotFound
from gateway.http.openapi import document
from schemas import registry
from tests.flask_adapter import session_for

TANGGAPAN = "tanggapan_klarifikasi"


@pytest.mark.parametrize(("dataset", "version", "code", "path"), [
    (TANGGAPAN, "9.9", "unknown_schema_version", "version"),
    (TANGGAPAN, "1.0.0", "unknown_schema_version", "version"),
    (TANGGAPAN, "1", "unknown_schema_version", "version"),
    (TANGGAPAN, "v1.0", "unknown_schema_version", "version"),
    (TANGGAPAN, "..", "unknown_schema_version", "version"),
    ("no_such", "1.0", "unknown_dataset", "dataset"),
    ("no_such", "9.9", "unknown_dataset", "dataset"),
    (TANGGAPAN.upper(), "1.0", "unknown_dataset", "dataset"),
])
def test_an_unknown_dataset_or_version_is_404(pemkot, dataset, version, code, path):
    answer = pemkot.client.get(f"/api/v1/schemas/{dataset}/{version}", headers=pemkot.auth())
    assert answer.status_code == 404
    error = answer.get_json()["error"]
    assert (error["code"], error["path"]) == (code, path)
    assert error["message"]


def test_every_known_version_is_200_and_the_document_lists_no_422(pemkot):
    for dataset in registry.dataset_names():
        for version in registry.versions(dataset):
            answer = pemkot.client.get(f"/api/v1/schemas/{dataset}/{version}",
                                       headers=pemkot.auth())
            assert answer.status_code == 200, (dataset, version)
    responses = document()["paths"]["/api/v1/schemas/{dataset}/{version}"]["get"]["responses"]
    assert "404" in responses and "422" not in responses


def test_the_client_gets_not_found(pemkot):
    session, _ = session_for(pemkot.app)
    token = pemkot.auth()["Authorization"].removeprefix("Bearer ")
    client = GatewayClient("http://node.test", token, session=session)
    with pytest.raises(NotFound) as caught:
        client.schema(TANGGAPAN, "9.9")
    assert (caught.value.code, caught.value.path) == ("unknown_schema_version", "version")
