"""The customer's language (what notices and surveys are written in): read in the 360° view, set
with `PATCH /api/v1/customers/{id}` (If-Match); an unknown language is a 422 naming the field.
The customer page's form: tests/web/test_customer_language_page.py."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Account
from tests import factories as f

API = "/api/v1/customers"


def test_the_language_is_read_and_set_through_the_api(client: TestClient, db: Session, login: Any) -> None:
    manager = login("manager")
    owner = f.make_user(db, role="agent")
    account = f.make_account(db)
    account.owner_user_id = owner.id
    db.commit()
    view = client.get(f"{API}/{account.id}/360", headers=manager)
    assert view.json()["account"]["language"] == "en"  # the default: what customers were written to

    url = f"{API}/{account.id}"
    done = client.patch(url, json={"language": "DE "}, headers={**manager, "If-Match": view.headers["ETag"]})
    assert done.status_code == 200, done.text
    # the owner, not sent, stays as it was
    assert done.json() == {"owner_user_id": owner.id, "language": "de"}
    again = client.get(f"{API}/{account.id}/360", headers=manager)
    assert again.json()["account"]["language"] == "de" and again.headers["ETag"] == done.headers["ETag"]
    db.expire_all()
    assert db.get_one(Account, account.id).language == "de"

    for bad, message in (
        ("fr", "unknown language; use one of en, de"),
        (None, "cannot be null; use one of en, de"),
        (7, "Input should be a valid string"),
    ):
        r = client.patch(url, json={"language": bad}, headers={**manager, "If-Match": done.headers["ETag"]})
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "language", r.text
        assert r.json()["errors"][0]["message"].startswith(message)
    empty = client.patch(url, json={}, headers={**manager, "If-Match": done.headers["ETag"]})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    db.expire_all()
    assert db.get_one(Account, account.id).language == "de"
    stale = client.patch(url, json={"language": "en"}, headers={**manager, "If-Match": view.headers["ETag"]})
    assert stale.status_code == 412
