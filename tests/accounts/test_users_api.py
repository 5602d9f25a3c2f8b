"""/api/v1/users: admins create accounts, change name, role and active, set a new password; ETags on
every change; the last active admin stays; deactivation and a new password sign the owner out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.models import AuditLog, User
from app.platform.errors import Unprocessable
from tests import factories as f

API = "/api/v1/users"
GOOD = "plum-harbour-71"


def test_admin_creates_an_account_that_can_sign_in(client: TestClient, db: Session, login: Any) -> None:
    admin = login("admin")
    r = client.post(
        API,
        json={"email": " Nina.Novak@Example.com ", "name": "Nina Novak", "role": "agent", "password": GOOD},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "nina.novak@example.com" and body["role"] == "agent" and body["is_active"]
    assert "password" not in r.text and "hash" not in r.text
    assert r.headers["ETag"] == '"v1"' and r.headers["Location"] == f"{API}/{body['id']}"
    token = client.post("/api/v1/auth/token", data={"username": "nina.novak@example.com", "password": GOOD})
    assert token.status_code == 200 and token.json()["role"] == "agent"
    assert db.query(AuditLog).filter_by(entity="user", entity_id=body["id"], action="created").count() == 1

    again = client.post(
        API,
        json={"email": "nina.novak@example.com", "name": "N", "role": "agent", "password": GOOD},
        headers=admin,
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "email"
    for bad, field in (
        ({"email": "not-an-address", "name": "X", "role": "agent", "password": GOOD}, "email"),
        ({"email": "x@example.com", "name": "   ", "role": "agent", "password": GOOD}, "name"),
        ({"email": "x@example.com", "name": "X", "role": "agent", "password": "password123"}, "password"),
        ({"email": "x@example.com", "name": "X", "role": "agent", "password": "short"}, "password"),
    ):
        r = client.post(API, json=bad, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text, (bad, r.text)
    r = client.post(
        API, json={"email": "x@example.com", "name": "X", "role": "owner", "password": GOOD}, headers=admin
    )
    assert r.status_code == 422


def test_only_admins_manage_accounts(client: TestClient, db: Session, login: Any) -> None:
    target = f.make_user(db, role="agent")
    db.commit()
    for role in ("agent", "dispatcher", "engineer", "manager"):
        headers = login(role)
        assert client.get(API, headers=headers).status_code == 403
        assert client.get(f"{API}/{target.id}", headers=headers).status_code == 403
        r = client.patch(
            f"{API}/{target.id}", json={"role": "admin"}, headers={**headers, "If-Match": '"v1"'}
        )
        assert r.status_code == 403
        r = client.post(
            API,
            json={"email": "y@example.com", "name": "Y", "role": "admin", "password": GOOD},
            headers=headers,
        )
        assert r.status_code == 403
    db.refresh(target)
    assert target.role == "agent"
    assert client.get(API).status_code == 401


def test_changes_need_the_current_etag(client: TestClient, db: Session, login: Any) -> None:
    admin = login("admin")
    target = f.make_user(db, role="agent", name="Tom")
    db.commit()
    url = f"{API}/{target.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    assert client.patch(url, json={"role": "dispatcher"}, headers=admin).status_code == 428
    r = client.patch(
        url, json={"role": "dispatcher", "name": "Tom Tailor"}, headers={**admin, "If-Match": etag}
    )
    assert r.status_code == 200 and r.json()["role"] == "dispatcher" and r.headers["ETag"] != etag
    stale = client.patch(url, json={"name": "Someone else"}, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    db.refresh(target)
    assert (target.name, target.role) == ("Tom Tailor", "dispatcher")
    audit = db.query(AuditLog).filter_by(entity="user", entity_id=target.id, action="updated").one()
    assert audit.changes == {"name": ["Tom", "Tom Tailor"], "role": ["agent", "dispatcher"]}


def test_deactivation_and_a_new_password_sign_the_owner_out(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    owner = f.make_user(db, role="agent")
    db.commit()
    owner_headers = f.bearer(owner)
    assert client.get("/api/v1/auth/me", headers=owner_headers).status_code == 200

    url = f"{API}/{owner.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    r = client.post(f"{url}/password", json={"password": GOOD}, headers={**admin, "If-Match": etag})
    assert r.status_code == 204
    assert client.get("/api/v1/auth/me", headers=owner_headers).status_code == 401
    signed_in = client.post("/api/v1/auth/token", data={"username": owner.email, "password": GOOD})
    assert signed_in.status_code == 200
    fresh = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

    etag = r.headers["ETag"]
    weak = client.post(
        f"{url}/password", json={"password": "1234567890"}, headers={**admin, "If-Match": etag}
    )
    assert weak.status_code == 422
    r = client.patch(url, json={"is_active": False}, headers={**admin, "If-Match": etag})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 401
    refused = client.post("/api/v1/auth/token", data={"username": owner.email, "password": GOOD})
    assert refused.status_code == 401


def test_there_is_always_an_active_admin(client: TestClient, db: Session, login: Any) -> None:
    db.query(User).filter(User.role == "admin").delete()  # this test's world: exactly the admins below
    first = f.make_user(db, role="admin", name="First admin")
    db.commit()
    headers = f.bearer(first)
    url = f"{API}/{first.id}"

    def patch(target: str, body: dict[str, Any], who: dict[str, str] = headers) -> Any:
        etag = client.get(target, headers=who).headers["ETag"]
        return client.patch(target, json=body, headers={**who, "If-Match": etag})

    own = patch(url, {"role": "manager"})
    assert own.status_code == 422 and "your own account" in own.text
    assert [e["field"] for e in own.json()["errors"]] == ["role"]
    # deactivating it names the field the admin changed (it named `role`)
    own = patch(url, {"is_active": False})
    assert own.status_code == 422 and [e["field"] for e in own.json()["errors"]] == ["is_active"]
    second = f.make_user(db, role="admin", name="Second admin")
    db.commit()
    other = f"{API}/{second.id}"
    assert patch(other, {"is_active": False}).status_code == 200  # another admin remains: fine
    assert patch(other, {"is_active": True}).status_code == 200
    assert patch(other, {"role": "manager"}).status_code == 200
    # now `first` is the last active admin. Through the API only an admin acts, and not on their own
    # account, so the rule guards races (two admins demoting each other at once): the service,
    # called as if by the other one, refuses it.
    db.refresh(second)
    assert client.get(url, headers=f.bearer(second)).status_code == 403
    db.refresh(first)
    with pytest.raises(Unprocessable, match="last active admin"):
        accounts.update_user(db, first, values={"is_active": False}, version=first.version, actor=second)
    db.rollback()
    db.refresh(first)
    assert first.role == "admin" and first.is_active
