"""docs/accounts.md "Every mistake at once": a wrong role hid the rest. `POST /api/v1/users` with
`{"email":"nope","name":"","role":"boss","password":"123"}` named only `role` (the schema refused
the enum before the service checked the others), and an edit (`PATCH`, the user page) with a blank
name and a wrong role named only the name."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests import factories as f

API = "/api/v1/users"


def test_create_names_every_field_also_with_a_wrong_role(client: TestClient, db: Session, login: Any) -> None:
    r = client.post(
        API, json={"email": "nope", "name": "", "role": "boss", "password": "123"}, headers=login("admin")
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert list(errors) == ["email", "name", "role", "password"]
    assert errors["role"] == "one of agent, dispatcher, engineer, manager, admin"
    assert r.json()["detail"].startswith("E-mail: ") and "Role: one of agent" in r.json()["detail"]
    assert db.query(User).filter_by(email="nope").count() == 0


def test_the_openapi_still_lists_the_roles(client: TestClient) -> None:
    """A client still reads the roles from the schema (they were an enum there, the `Role` schema)."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("UserCreate", "UserUpdate"):
        role = json.dumps(schemas[name]["properties"]["role"])
        role += "".join(json.dumps(schemas[ref]) for ref in re.findall(r"#/components/schemas/(\w+)", role))
        assert all(f'"{r}"' in role for r in ("agent", "dispatcher", "engineer", "manager", "admin")), role


def test_patch_names_the_blank_name_and_the_wrong_role_at_once(
    client: TestClient, db: Session, login: Any
) -> None:
    target = f.make_user(db, role="agent", name="Tom Tailor")
    db.commit()
    r = client.patch(
        f"{API}/{target.id}",
        json={"name": "  ", "role": "boss"},
        headers={**login("admin"), "If-Match": '"v1"'},
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["name", "role"]
    db.refresh(target)
    assert (target.name, target.role, target.version) == ("Tom Tailor", "agent", 1)
