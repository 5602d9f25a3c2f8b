"""Numbers, bytes and dates that used to crash the server: each is a 422 that names the field,
through one mechanism (app/platform/inputs.py) for bodies, paths, queries, forms and cursors.
Run on SQLite and on PostgreSQL (TEST_DATABASE_URL), where int4 and NUL bytes fail for real."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import models as m
from app.platform.deps import SESSION_COOKIE
from app.platform.inputs import InputModel
from tests import factories as f

INT4_OVER = 2**31
INT8_OVER = 2**63


def _fields(r) -> set[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"] for e in r.json()["errors"]}


@pytest.fixture
def desk(login) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return login("manager")


@pytest.mark.parametrize("big", [INT4_OVER, INT8_OVER, -INT4_OVER - 1])
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ("/api/v1/tickets/{}", "ticket_id"),
        ("/api/v1/tickets/{}/timeline", "ticket_id"),
        ("/api/v1/customers/{}/360", "account_id"),
        ("/api/v1/work-orders/{}", "work_order_id"),
        ("/api/v1/engineers/{}/absences", "engineer_id"),
        ("/api/v1/webhooks/subscriptions/{}", "subscription_id"),
    ],
)
def test_huge_ids_in_paths(client: TestClient, login, template: str, field: str, big: int) -> None:  # type: ignore[no-untyped-def]
    r = client.get(template.format(big), headers=login("admin"))
    assert _fields(r) == {field}


def test_huge_ids_in_queries_and_cursors(client: TestClient, desk: dict[str, str]) -> None:
    assert _fields(client.get("/api/v1/tickets", params={"customer_id": INT4_OVER}, headers=desk)) == {
        "customer_id"
    }
    assert _fields(client.get("/api/v1/work-orders", params={"region_id": INT8_OVER}, headers=desk)) == {
        "region_id"
    }
    forged = base64.urlsafe_b64encode(str(INT8_OVER).encode()).decode().rstrip("=")
    assert _fields(client.get("/api/v1/tickets", params={"cursor": forged}, headers=desk)) == {"cursor"}
    # An id at the very top of int4 is fine: it simply does not exist.
    assert client.get(f"/api/v1/tickets/{2**31 - 1}", headers=desk).status_code == 404


def test_huge_ids_and_booleans_in_bodies(client: TestClient, db: Session, desk: dict[str, str]) -> None:
    account = f.make_account(db)
    db.commit()
    good = {"customer_id": account.id, "subject": "Pump leaks", "priority": "P2", "channel": "phone"}
    for bad in (INT4_OVER, INT8_OVER, True, False):
        r = client.post("/api/v1/tickets", json={**good, "customer_id": bad}, headers=desk)
        assert _fields(r) == {"customer_id"}, bad
    r = client.post("/api/v1/tickets", json={**good, "asset_id": True}, headers=desk)
    assert _fields(r) == {"asset_id"}
    assert db.scalar(select(func.count()).select_from(m.Ticket)) == 0
    assert client.post("/api/v1/tickets", json=good, headers=desk).status_code == 201


def test_nul_bytes_in_text(client: TestClient, db: Session, desk: dict[str, str]) -> None:
    account = f.make_account(db)
    db.commit()
    body = {"customer_id": account.id, "subject": "Pump\x00leaks", "priority": "P2", "channel": "phone"}
    assert _fields(client.post("/api/v1/tickets", json=body, headers=desk)) == {"subject"}
    created = client.post("/api/v1/tickets", json={**body, "subject": "Pump leaks"}, headers=desk)
    ticket_id = created.json()["id"]
    note = client.post(f"/api/v1/tickets/{ticket_id}/notes", json={"text": "a\x00b"}, headers=desk)
    assert _fields(note) == {"text"}
    assert _fields(client.get("/api/v1/customers", params={"q": "acme\x00"}, headers=desk)) == {"q"}
    assert _fields(client.get("/api/v1/tickets", params={"q": "\x00"}, headers=desk)) == {"q"}


def test_nul_byte_in_the_login_username(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "a\x00@test.example", "password": "x"})
    assert _fields(r) == {"username"}


def test_nul_bytes_on_pages_get_a_readable_422(client: TestClient, db: Session) -> None:
    user = f.make_user(db, role="agent")
    db.commit()
    login_page = client.post("/login", data={"email": "a\x00@test.example", "password": "x", "csrf": "x"})
    assert login_page.status_code == 422 and login_page.headers["content-type"].startswith("text/html")
    assert "must not contain a NUL character" in login_page.text
    client.cookies.set(SESSION_COOKIE, f.bearer(user)["Authorization"].removeprefix("Bearer "))
    search = client.get("/desk/search", params={"q": "acme\x00"})
    assert search.status_code == 422 and "must not contain a NUL character" in search.text
    assert client.get(f"/desk/tickets/{INT8_OVER}").status_code == 404  # no such page, readable (not a 500)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31"])
def test_dates_out_of_range_in_queries(client: TestClient, login, day: str) -> None:  # type: ignore[no-untyped-def]
    dispatcher = login("dispatcher")
    assert _fields(client.get("/api/v1/work-orders", params={"date": day}, headers=dispatcher)) == {"date"}
    engineer = login("engineer")
    assert _fields(client.get("/api/v1/me/route", params={"date": day}, headers=engineer)) == {"date"}
    r = client.get("/api/v1/engineers/1/absences", params={"from": day}, headers=dispatcher)
    assert _fields(r) == {"from"}


def test_dates_out_of_range_in_bodies(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/plans", json={"region_id": 1, "date": "9999-12-31"}, headers=login("dispatcher"))
    assert _fields(r) == {"date"}


def test_input_model_rules_apply_to_nested_lists() -> None:
    class Lines(InputModel):
        ids: list[int]
        tags: list[str] = []

    with pytest.raises(ValueError, match="integer, not true"):
        Lines.model_validate({"ids": [1, True]})
    with pytest.raises(ValueError, match="between"):
        Lines.model_validate({"ids": [1, INT4_OVER]})
    with pytest.raises(ValueError, match="NUL"):
        Lines.model_validate({"ids": [], "tags": ["ok", "b\x00d"]})
    assert Lines.model_validate({"ids": [1, 2**31 - 1]}).ids == [1, 2**31 - 1]


def test_every_json_body_is_an_input_model() -> None:
    """The guard only holds for bodies built on InputModel: the customer-owner PATCH was a plain
    BaseModel, so `"owner_user_id": true` made user 1 the owner and 2**63 was a 500. (Form bodies
    are FastAPI's own models, checked by `guard_params`.)"""
    from collections.abc import Iterator
    from typing import Any

    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from app.main import app

    def routes(found: Any) -> Iterator[APIRoute]:
        for route in found:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # an included router
                yield from routes(route.original_router.routes)

    loose, seen = [], 0
    for route in routes(app.routes):
        if route.body_field is None:
            continue
        annotation = route.body_field.field_info.annotation
        for model in (a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)):
            if issubclass(model, BaseModel) and not model.__module__.startswith("fastapi"):
                seen += 1
                if not issubclass(model, InputModel):
                    loose.append((route.path, sorted(route.methods), model.__name__))
    assert seen > 30 and loose == []


def test_the_customer_owner_is_an_id_not_a_boolean_or_a_huge_number(
    client: TestClient, db: Session, login
) -> None:  # type: ignore[no-untyped-def]
    manager = login("manager")
    account = f.make_account(db)
    db.commit()
    url = f"/api/v1/customers/{account.id}"
    for body, field in (
        ({"owner_user_id": True}, "owner_user_id"),
        ({"owner_user_id": 2**63}, "owner_user_id"),
        ({"owner_user_id": None, "zzz": 1}, "zzz"),
    ):
        r = client.patch(url, json=body, headers={**manager, "If-Match": f'"v{account.version}"'})
        assert r.status_code == 422, (body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, r.text
    db.refresh(account)
    assert account.owner_user_id is None
