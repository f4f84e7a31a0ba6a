"""The OpenAPI document: valid OpenAPI 3, with the real envelope, error shape, Bearer scheme and parameters."""

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(anon_api) -> dict:
    response = anon_api.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_documents_the_drifts_contract(schema):
    paths = schema["paths"]
    for path in (
        "/api/v1/drifts",
        "/api/v1/drifts/{id}",
        "/api/v1/drifts/{id}/resolve",
        "/api/v1/drifts/summary",
        "/api/v1/drifts/detect",
    ):
        assert path in paths, path
    listing = paths["/api/v1/drifts"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"provider_id", "resource_id", "severity", "type", "status", "page", "per_page"} <= names
    envelope = listing["responses"]["200"]["content"]["application/json"]["schema"]
    if "$ref" in envelope:
        envelope = schema["components"]["schemas"][envelope["$ref"].rsplit("/", 1)[1]]
    assert set(envelope["properties"]) == {"data", "meta"}
    assert set(envelope["properties"]["meta"]["properties"]) == {"total", "page", "per_page"}
    patch = paths["/api/v1/drifts/{id}"]["patch"]
    assert {"200", "400", "401", "404", "409"} <= set(patch["responses"])
    assert paths["/api/v1/drifts/detect"]["post"]["responses"].keys() >= {"202", "401", "403", "404", "409"}
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "dw_...",
    }
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error"}
