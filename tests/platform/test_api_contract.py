"""The OpenAPI says what clients really get (app/platform/api_contract.py): every error as
problem+json with the Problem schema, each operation listing the errors its route can give, If-Match
declared where the endpoint checks it, the CSV routes as text/csv, inbound e-mail's raw body.

Schemathesis found the old schema wrong on every error (`application/json`, FastAPI's validation
body) and silent on 404, 409, 412, 415 and 428; these tests walk every operation instead."""

from __future__ import annotations

import types
from typing import Any

import jsonschema_rs
import pytest
from fastapi import routing
from fastapi.testclient import TestClient

from app.platform.errors import PROBLEM

API = "/api/v1/"
FORM = "application/x-www-form-urlencoded"
WRITES = {"post", "put", "patch", "delete"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    from app.main import app

    with TestClient(app) as c:  # the served document, not only app.openapi()
        return dict(c.get("/openapi.json").json())


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    ops = [
        (path, method, op)
        for path, item in spec["paths"].items()
        if path.startswith(API)
        for method, op in item.items()
    ]
    assert len(ops) > 90
    return ops


def _names(code: types.CodeType) -> set[str]:
    """The names an endpoint uses, its nested functions' included."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _if_match_checks() -> dict[tuple[str, str], bool]:
    """(path, method) → If-Match required (True) or checked only when sent (False), read from
    what each endpoint calls, not from the routes' declarations."""
    from app.main import app

    checks: dict[tuple[str, str], bool] = {}
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, routing.APIRoute):
            continue
        used, path = _names(route.endpoint.__code__), str(context.path_format)
        for method in context.methods or ():
            # require_if_match, or a module's wrapper of it (`_require_if_match`, `_optional_if_match`)
            if any(name.endswith("require_if_match") for name in used):
                checks[(path, method.lower())] = True
            elif any(name.endswith("optional_if_match") for name in used):
                checks[(path, method.lower())] = False
    assert len(checks) > 20
    return checks


def test_every_error_is_problem_json_with_the_problem_schema(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(spec)
    for path, method, op in _operations(spec):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            content = response["content"]
            assert content.get(PROBLEM) == {"schema": PROBLEM_REF}, (method, path, status)
            others = set(content) - {PROBLEM}
            # only the health check's own 503 body (monitoring reads it) is plain JSON
            assert not others or (path, status) == ("/api/v1/health", "503"), (method, path, status)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert {"errors", "current_etag"} <= set(problem["properties"])
    field = spec["components"]["schemas"]["ProblemField"]
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/ProblemField"}
    assert set(field["required"]) == {"field", "message"}


def test_every_operation_lists_the_errors_its_route_can_give(spec: dict[str, Any]) -> None:
    if_match = _if_match_checks()
    for path, method, op in _operations(spec):
        declared = set(op["responses"])
        where = f"{method.upper()} {path}: {sorted(declared)}"
        parameters = op.get("parameters", [])
        body = op.get("requestBody", {}).get("content", {})
        signed_in = "security" in op  # FastAPI marks the routes that read the bearer token
        assert "503" in declared, where  # admission, or the database away
        if parameters or body:
            assert "422" in declared, where
        if signed_in:
            assert {"401", "403"} <= declared, where
        if any(p["in"] == "path" for p in parameters):
            assert "404" in declared, where
        if signed_in and method in WRITES:
            assert "409" in declared, where
        if body:
            assert "413" in declared, where
            assert ("415" in declared) == bool(set(body) - {FORM}), where
        headers = [p for p in parameters if p["in"] == "header" and p["name"] == "If-Match"]
        if (path, method) in if_match:
            (header,) = headers
            assert header["schema"]["type"] == "string", where
            assert header["required"] is if_match[(path, method)], where
            assert {"409", "412"} <= declared, where
            assert ("428" in declared) is if_match[(path, method)], where
        else:
            assert not headers and "412" not in declared and "428" not in declared, where


def test_csv_routes_declare_text_csv(spec: dict[str, Any]) -> None:
    for path in ("/api/v1/kpis.csv", "/api/v1/kpis/drivers.csv"):
        assert set(spec["paths"][path]["get"]["responses"]["200"]["content"]) == {"text/csv"}, path
    for path in ("/api/v1/kpis", "/api/v1/kpis/drivers"):  # ?format=csv
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/csv"}, path


def test_inbound_email_declares_its_raw_body_and_every_answer(spec: dict[str, Any]) -> None:
    op = spec["paths"]["/api/v1/inbound/email"]["post"]
    assert op["requestBody"]["required"] is True
    assert set(op["requestBody"]["content"]) == {"message/rfc822", "text/plain"}
    assert {"200", "201", "401", "413", "415", "422", "503"} <= set(op["responses"])
    assert (
        op["responses"]["200"]["content"]["application/json"]
        == op["responses"]["201"]["content"]["application/json"]
    )


def test_real_refusals_match_the_problem_schema(client: TestClient, login: Any, spec: dict[str, Any]) -> None:
    """What the app sends on a 412, a 428, a 422 and a 404 validates against the documented schema."""
    validator = jsonschema_rs.validator_for({**PROBLEM_REF, "components": spec["components"]})
    h = login("dispatcher")
    r = client.post("/api/v1/parts", json={"sku": "A-1", "name": "Filter"}, headers=h)
    assert r.status_code == 201, r.text
    part = f"/api/v1/parts/{r.json()['id']}"
    answers = [
        client.patch(part, json={"name": "F2"}, headers={**h, "If-Match": '"v99"'}),
        client.patch(part, json={"name": "F2"}, headers=h),
        client.post("/api/v1/parts", json={"sku": ""}, headers=h),
        client.get("/api/v1/parts/999999", headers=h),
    ]
    assert [a.status_code for a in answers] == [412, 428, 422, 404]
    for answer in answers:
        assert answer.headers["content-type"].startswith(PROBLEM)
        validator.validate(answer.json())
    assert answers[0].json()["current_etag"] == r.headers["ETag"]
