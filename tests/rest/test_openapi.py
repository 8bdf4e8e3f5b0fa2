"""GET /openapi.json: generated from the route table, and a valid OpenAPI 3 document."""

from __future__ import annotations

from typing import Any

import pytest

from server.api.http_rules import api_routes
from tests.rest.conftest import Stack


async def _document(stack: Stack) -> dict[str, Any]:
    async with stack.http.get(stack.url("/openapi.json")) as response:
        assert response.status == 200
        document: dict[str, Any] = await response.json()
        return document


async def test_openapi_document_validates(stack: Stack) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is a dev extra")
    document = await _document(stack)
    validator.validate(document)
    assert document["openapi"].startswith("3.")


async def test_openapi_has_every_route_with_its_parameters_and_body(stack: Stack) -> None:
    document = await _document(stack)
    paths = document["paths"]
    assert {(r.path_template, r.method.lower()) for r in api_routes()} == {
        (path, method) for path, item in paths.items() for method in item
    }
    get_grid = paths["/api/grid/status/{session_id}"]["get"]
    parameters = {(p["name"], p["in"]) for p in get_grid["parameters"]}
    assert ("session_id", "path") in parameters
    assert ("user_auth.signature", "query") in parameters
    assert ("session_id", "query") not in parameters
    start = paths["/api/grid/start"]["post"]
    assert start["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/orderly_grid.v1.StartGridRequest"
    }
    assert "parameters" not in start
    preview = paths["/api/grid/preview"]["post"]
    assert preview["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("GridConfig")
    schemas = document["components"]["schemas"]
    direction = schemas["orderly_grid.v1.StartGridRequest"]["properties"]["direction"]
    assert direction["enum"] == ["UNSPECIFIED", "LONG", "SHORT", "BOTH"]
    assert "user_auth" in schemas["orderly_grid.v1.StartGridRequest"]["required"]
    assert "application/x-ndjson" in paths["/api/grid/fills"]["get"]["responses"]["200"]["content"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
    assert "503" in paths["/health/ready"]["get"]["responses"]
