"""The customer's ETag follows the API's one convention (`"v<version>"`, app/platform/http.py):
the 360° view sends it, `PATCH /customers/{id}` takes it as If-Match, and the OpenAPI text says so.
The 360 GET used to send no ETag and the PATCH's description asked for `"<version>"`, which the
PATCH then refused with 412."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f

API = "/api/v1/customers"


def test_the_360_view_sends_the_etag_that_the_patch_takes(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    owner = f.make_user(db, role="agent")
    account = f.make_account(db)
    db.commit()

    view = client.get(f"{API}/{account.id}/360", headers=manager)
    assert view.status_code == 200, view.text
    version = view.json()["account"]["version"]
    assert view.headers.get("ETag") == f'"v{version}"'

    url = f"{API}/{account.id}"
    assert client.patch(url, json={"owner_user_id": owner.id}, headers=manager).status_code == 428
    stale = client.patch(url, json={"owner_user_id": owner.id}, headers={**manager, "If-Match": '"v999"'})
    assert stale.status_code == 412 and stale.json()["current_etag"] == view.headers["ETag"]

    done = client.patch(
        url, json={"owner_user_id": owner.id}, headers={**manager, "If-Match": view.headers["ETag"]}
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"owner_user_id": owner.id, "language": "en"}
    again = client.get(f"{API}/{account.id}/360", headers=manager)
    assert again.headers["ETag"] == done.headers["ETag"] == f'"v{again.json()["account"]["version"]}"'
    assert again.headers["ETag"] != view.headers["ETag"]

    # The new ETag is the one the next PATCH needs; the old one is stale.
    cleared = client.patch(
        url, json={"owner_user_id": None}, headers={**manager, "If-Match": again.headers["ETag"]}
    )
    assert cleared.status_code == 200, cleared.text
    assert (
        client.patch(
            url, json={"owner_user_id": None}, headers={**manager, "If-Match": view.headers["ETag"]}
        ).status_code
        == 412
    )


def test_the_patch_description_names_the_etag_format_it_accepts(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    patch = spec["paths"]["/api/v1/customers/{account_id}"]["patch"]
    text = patch.get("description", "")
    assert '"v<version>"' in text
    assert '`"<version>"`' not in text
    get360 = spec["paths"]["/api/v1/customers/{account_id}/360"]["get"]
    assert "ETag" in get360["responses"]["200"].get("headers", {})


def test_only_managers_and_admins_give_an_account_an_owner(
    client: TestClient, db: Session, login: Any
) -> None:
    """docs/surveys.md (step 7) said agents and dispatchers could; the rule is managers and admins."""
    owner = f.make_user(db, role="agent")
    account = f.make_account(db)
    db.commit()
    url = f"{API}/{account.id}"
    for role, status in (("agent", 403), ("dispatcher", 403), ("engineer", 403), ("manager", 200)):
        headers = login(role)
        etag = client.get(f"{API}/{account.id}/360", headers=login("manager")).headers["ETag"]
        r = client.patch(url, json={"owner_user_id": owner.id}, headers={**headers, "If-Match": etag})
        assert r.status_code == status, (role, r.text)
