"""`PATCH /api/v1/accounts/{id}` takes the owner and the language along with the master fields
(owner.py's checks and audit entries, as the deprecated `PATCH /customers/{id}`), which keeps
working and is marked deprecated in the OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, AuditLog
from tests import factories as f

V1 = "/api/v1"


def test_one_patch_sets_owner_language_and_name(client: TestClient, db: Session, login: Any) -> None:
    manager = login("manager")
    owner = f.make_user(db, role="agent")
    account = f.make_account(db, name="Bäckerei Sonne")
    db.commit()
    url = f"{V1}/accounts/{account.id}"
    tag = client.get(url, headers=manager).headers["ETag"]

    body = {"name": "Sonne KG", "owner_user_id": owner.id, "language": "DE "}
    r = client.patch(url, json=body, headers={**manager, "If-Match": tag})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["name"], got["owner_user_id"], got["language"]) == ("Sonne KG", owner.id, "de")
    assert r.headers["ETag"] == f'"v{got["version"]}"'
    # the 360° view (and the deprecated PATCH) name the same version
    assert (
        client.get(f"{V1}/customers/{account.id}/360", headers=manager).headers["ETag"] == r.headers["ETag"]
    )
    db.expire_all()
    stored = db.get_one(Account, account.id)
    assert (stored.name, stored.owner_user_id, stored.language) == ("Sonne KG", owner.id, "de")
    actions = set(
        db.scalars(
            select(AuditLog.action).where(AuditLog.entity == "account", AuditLog.entity_id == account.id)
        )
    )
    assert {"update", "owner", "language"} <= actions  # the customers PATCH's audit entries

    # owner.py's checks: an engineer owns no account, an unknown language is refused; nothing changes
    engineer = f.make_user(db, role="engineer")
    db.commit()
    now = {**manager, "If-Match": r.headers["ETag"]}
    bad = client.patch(url, json={"owner_user_id": engineer.id, "name": "X"}, headers=now)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "owner_user_id"
    unknown = client.patch(url, json={"language": "xx"}, headers=now)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "language"
    cleared = client.patch(url, json={"owner_user_id": None}, headers=now)
    assert cleared.status_code == 200 and cleared.json()["owner_user_id"] is None
    assert cleared.json()["name"] == "Sonne KG"


def test_the_customers_patch_still_works_and_is_deprecated(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    account = f.make_account(db)
    db.commit()
    tag = client.get(f"{V1}/accounts/{account.id}", headers=manager).headers["ETag"]
    r = client.patch(
        f"{V1}/customers/{account.id}", json={"language": "de"}, headers={**manager, "If-Match": tag}
    )
    assert r.status_code == 200 and r.json()["language"] == "de"
    op = client.get("/openapi.json").json()["paths"][f"{V1}/customers/{{account_id}}"]["patch"]
    assert op.get("deprecated") is True and "/accounts/{id}" in op["description"]


def test_one_patch_bumps_the_version_once(client: TestClient, db: Session, login: Any) -> None:
    """Name, owner and language in one request: one new version (v1 → v2), still an audit entry
    per part."""
    manager = login("manager")
    owner = f.make_user(db, role="agent")
    account = f.make_account(db, name="Eins")
    db.commit()
    url = f"{V1}/accounts/{account.id}"
    before = client.get(url, headers=manager).json()["version"]
    body = {"name": "Zwei", "owner_user_id": owner.id, "language": "de"}
    r = client.patch(url, json=body, headers={**manager, "If-Match": f'"v{before}"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == before + 1 and r.headers["ETag"] == f'"v{before + 1}"'
    db.expire_all()
    assert db.get_one(Account, account.id).version == before + 1
    actions = sorted(
        db.scalars(
            select(AuditLog.action).where(AuditLog.entity == "account", AuditLog.entity_id == account.id)
        )
    )
    assert [a for a in actions if a != "create"] == ["language", "owner", "update"]
    # owner and language alone: one bump too
    r = client.patch(
        url,
        json={"owner_user_id": None, "language": "en"},
        headers={**manager, "If-Match": r.headers["ETag"]},
    )
    assert r.status_code == 200 and r.json()["version"] == before + 2
