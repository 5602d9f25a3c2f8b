"""A refusal from a schema's model validator names the field it is about, not `body`.

QA: `PATCH /api/v1/kb/articles/{id}` with `{"title": null}` answered `"field": "body"`,
"Value error, title cannot be null". Every input schema whose model validator checks a field is
covered here through its endpoint; the message has no "Value error, " prefix (as on the pages)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app.field.engineers.schemas import EngineerUpdate
from app.platform.errors import refuse_fields

MISSING = 999_999  # the body is checked before the endpoint looks anything up

# (role, method, path, body, field, message)
CASES: list[tuple[str, str, str, dict[str, Any], str, str]] = [
    ("agent", "PATCH", f"/api/v1/tickets/{MISSING}", {"subject": None}, "subject", "cannot be null"),
    ("agent", "PATCH", f"/api/v1/tickets/{MISSING}", {"priority": None}, "priority", "cannot be null"),
    ("dispatcher", "PATCH", f"/api/v1/work-orders/{MISSING}", {"notes": None}, "notes", "cannot be null"),
    (
        "engineer",
        "POST",
        f"/api/v1/work-orders/{MISSING}/check-in",
        {"latitude": 48.1},
        "longitude",
        "give both latitude and longitude, or neither",
    ),
    ("dispatcher", "PATCH", f"/api/v1/engineers/{MISSING}", {"name": None}, "name", "cannot be null"),
    ("dispatcher", "PATCH", f"/api/v1/parts/{MISSING}", {"sku": None}, "sku", "cannot be null"),
    (
        "dispatcher",
        "POST",
        "/api/v1/stock/adjustments",
        {"kind": "adjust", "location_id": 1, "part_id": 1, "quantity": 0, "reason": "counted"},
        "quantity",
        "must not be 0",
    ),
    (
        "dispatcher",
        "POST",
        "/api/v1/stock/adjustments",
        {"kind": "receive", "location_id": 1, "part_id": 1, "quantity": -3, "reason": "counted"},
        "quantity",
        "must be positive: a receipt adds stock",
    ),
    (
        "admin",
        "POST",
        "/api/v1/webhooks/subscriptions",
        {"url": "https://example.com/" + "a" * 600},
        "url",
        "at most 500 characters",
    ),
    (
        "admin",
        "PATCH",
        f"/api/v1/webhooks/subscriptions/{MISSING}",
        {"active": None},
        "active",
        "cannot be null",
    ),
]


@pytest.mark.parametrize(("role", "method", "path", "body", "field", "message"), CASES)
def test_the_refusal_names_the_field(
    client: TestClient,
    login: Any,
    role: str,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
    message: str,
) -> None:
    r = client.request(method, path, json=body, headers={**login(role), "If-Match": '"v1"'})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    problem = r.json()
    assert problem["errors"] == [{"field": field, "message": message, "type": "value_error"}]
    assert problem["detail"] == f"{field}: {message}"


def _article(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    r = client.post(
        "/api/v1/kb/articles", json={"title": "Compressor trips", "body": "Reset it."}, headers=headers
    )
    assert r.status_code == 201, r.text
    return f"/api/v1/kb/articles/{r.json()['id']}", r.headers["ETag"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": None}, "title", "cannot be null"),
        ({"tags": ["t" * 5000]}, "tags", "each item at most 100 characters"),
        ({"resolution_steps": ["x" * 100_000]}, "resolution_steps", "each item at most 2000 characters"),
    ],
)
def test_a_knowledge_article_edit_names_the_field(
    client: TestClient, db: Session, login: Any, body: dict[str, Any], field: str, message: str
) -> None:
    """The three bodies of the QA report."""
    headers = login("manager")
    url, etag = _article(client, headers)
    r = client.patch(url, json=body, headers={**headers, "If-Match": etag})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": field, "message": message, "type": "value_error"}]
    assert "Value error" not in r.text and "body" not in r.text.replace("/api/v1/kb", "")
    assert client.get(url, headers=headers).json()["title"] == "Compressor trips"  # nothing saved


def test_every_problem_is_named_at_once_and_new_articles_too(client: TestClient, login: Any) -> None:
    headers = login("manager")
    url, etag = _article(client, headers)
    r = client.patch(
        url, json={"title": None, "fault_codes": ["E" * 101]}, headers={**headers, "If-Match": etag}
    )
    assert {(e["field"], e["message"]) for e in r.json()["errors"]} == {
        ("title", "cannot be null"),
        ("fault_codes", "each item at most 100 characters"),
    }
    r = client.post(
        "/api/v1/kb/articles", json={"title": "T", "product_models": ["M" * 101]}, headers=headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "product_models"


def test_a_whole_body_problem_still_names_the_body_readably(client: TestClient, login: Any) -> None:
    r = client.patch(f"/api/v1/tickets/{MISSING}", json={}, headers={**login("agent"), "If-Match": '"v1"'})
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"field": "body", "message": "send at least one field to change", "type": "value_error"}
    ]


def test_a_nested_model_keeps_its_place_in_the_location() -> None:
    """`refuse_fields` errors sit under the model's own location, as pydantic's own do."""
    with pytest.raises(ValidationError) as caught:
        EngineerUpdate.model_validate({"shifts": None, "active": None})
    assert {e["loc"] for e in caught.value.errors()} == {("shifts",), ("active",)}
    with pytest.raises(ValidationError) as nested:
        TypeAdapter(list[EngineerUpdate]).validate_python([{"name": "Ann"}, {"name": None}])
    assert [e["loc"] for e in nested.value.errors()] == [(1, "name")]
    refuse_fields(EngineerUpdate(name="Ann"), {})  # nothing to refuse: returns
