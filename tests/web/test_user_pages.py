"""The admin's users pages: create an account (a refused form keeps what was typed, never the
password), change role and active with the hidden version (stale: 409, nothing saved), set a new
password (the owner is signed out); nobody but an admin opens them."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.auth import verify_password
from tests import factories as f
from tests.web.conftest import csrf_of

GOOD = "plum-harbour-71"


def _version(html: str, action: str) -> str:
    form = html[html.index(f'action="{action}"') :]
    return re.search(r'name="version" value="(\d+)"', form).group(1)  # type: ignore[union-attr]


def test_admin_creates_an_account_from_the_list(client: TestClient, db: Session, sign_in: Any) -> None:
    sign_in("admin")
    page = client.get("/admin/users")
    assert page.status_code == 200 and "New account" in page.text
    token = csrf_of(page.text)
    typed = {"csrf": token, "email": "ida@example.com", "name": "Ida Iversen", "role": "engineer"}

    weak = client.post("/admin/users", data={**typed, "password": "password1"})
    assert weak.status_code == 422 and 'id="new-password-error"' in weak.text
    assert 'value="ida@example.com"' in weak.text and 'value="Ida Iversen"' in weak.text
    assert '<option value="engineer" selected>' in weak.text and "password1" not in weak.text
    assert db.query(User).filter_by(email="ida@example.com").count() == 0

    r = client.post("/admin/users", data={**typed, "password": GOOD}, follow_redirects=True)
    assert r.status_code == 200 and "The account is created" in r.text
    user = db.query(User).filter_by(email="ida@example.com").one()
    assert (
        user.role == "engineer" and user.name == "Ida Iversen" and verify_password(user.password_hash, GOOD)
    )

    dup = client.post("/admin/users", data={**typed, "password": GOOD})
    assert dup.status_code == 409 and "already" in dup.text


def test_role_and_active_change_with_the_version(client: TestClient, db: Session, sign_in: Any) -> None:
    target = f.make_user(db, role="agent", name="Tom Tailor")
    db.commit()
    owner_cookie = f.bearer(target)
    sign_in("admin")
    url = f"/admin/users/{target.id}"
    page = client.get(url)
    form = {"csrf": csrf_of(page.text), "version": _version(page.text, url), "name": "Tom Tailor"}

    r = client.post(url, data={**form, "role": "dispatcher", "active": "no"}, follow_redirects=True)
    assert r.status_code == 200 and "The account is saved" in r.text and "Deactivated" in r.text
    db.refresh(target)
    assert target.role == "dispatcher" and not target.is_active
    assert client.get("/api/v1/auth/me", headers=owner_cookie).status_code == 401  # signed out

    # the same (old) form again: someone else's change is not overwritten
    stale = client.post(url, data={**form, "role": "manager", "active": "yes"})
    assert stale.status_code == 409 and "Someone else changed this account" in stale.text
    assert '<option value="manager" selected>' in stale.text  # what was chosen is kept
    db.refresh(target)
    assert target.role == "dispatcher" and not target.is_active

    fresh = {**form, "version": _version(client.get(url).text, url)}
    blank = client.post(url, data={**fresh, "name": "  ", "role": "dispatcher", "active": "no"})
    assert blank.status_code == 422 and "must not be blank" in blank.text
    odd = client.post(url, data={**fresh, "role": "owner", "active": "no"})
    assert odd.status_code == 422 and "one of agent" in odd.text


def test_an_admin_cannot_lock_themselves_out(client: TestClient, db: Session, sign_in: Any) -> None:
    me = sign_in("admin")
    url = f"/admin/users/{me.id}"
    page = client.get(url)
    form = {"csrf": csrf_of(page.text), "version": _version(page.text, url), "name": me.name}
    r = client.post(url, data={**form, "role": "admin", "active": "no"})
    assert r.status_code == 422 and "another admin must" in r.text
    db.refresh(me)
    assert me.is_active and me.role == "admin"


def test_a_new_password_signs_the_owner_out(client: TestClient, db: Session, sign_in: Any) -> None:
    owner = f.make_user(db, role="engineer")
    db.commit()
    owner_headers = f.bearer(owner)
    sign_in("admin")
    url = f"/admin/users/{owner.id}"
    page = client.get(url)
    action = f"{url}/password"
    form = {"csrf": csrf_of(page.text), "version": _version(page.text, action)}

    weak = client.post(action, data={**form, "password": "abc"})
    assert weak.status_code == 422 and "New password" in weak.text and 'aria-invalid="true"' in weak.text
    r = client.post(action, data={**form, "password": GOOD}, follow_redirects=True)
    assert r.status_code == 200 and "signed out on every device" in r.text
    db.refresh(owner)
    assert verify_password(owner.password_hash, GOOD)
    assert client.get("/api/v1/auth/me", headers=owner_headers).status_code == 401


def test_only_admins_open_the_users_pages(client: TestClient, db: Session, sign_in: Any) -> None:
    target = f.make_user(db, role="agent")
    db.commit()
    for role in ("agent", "dispatcher", "engineer", "manager"):
        sign_in(role)
        assert client.get("/admin/users").status_code == 403
        assert client.get(f"/admin/users/{target.id}").status_code == 403
        token = csrf_of(client.get("/kb").text)
        r = client.post(
            f"/admin/users/{target.id}",
            data={"csrf": token, "version": "1", "name": "X", "role": "admin", "active": "yes"},
        )
        assert r.status_code == 403
    db.refresh(target)
    assert target.role == "agent"
    sign_in("admin")
    assert client.get("/admin/users/999999").status_code == 404


def test_an_engineer_with_open_visits_keeps_signing_in_until_they_are_moved(
    client: TestClient, db: Session, sign_in: Any, login: Any
) -> None:
    """Deactivating an engineer's account (or giving it another role) left the engineer on the
    board and in plans, even preselected for visits, though they could no longer open their route."""
    from app.models import Engineer, WorkOrder
    from app.platform.http import etag

    region = f.make_region(db)
    person = f.make_user(db, role="engineer", name="Bernhard Schuster")
    engineer = f.make_engineer(db, region, user=person, name="Bernhard Schuster")
    account = f.make_account(db, region=region)
    ticket = f.open_ticket(db, account, asset=f.make_asset(db, f.make_site(db, account, region=region)))
    visit = f.make_work_order(db, ticket)
    visit.engineer_id, visit.status = engineer.id, "scheduled"  # on their route
    db.commit()
    sign_in("admin")
    url = f"/admin/users/{person.id}"
    page = client.get(url)
    form = {"csrf": csrf_of(page.text), "version": _version(page.text, url), "name": person.name}

    for change in ({"role": "engineer", "active": "no"}, {"role": "agent", "active": "yes"}):
        r = client.post(url, data={**form, **change})
        assert r.status_code == 409 and f"still has 1 open visit ({visit.number})" in r.text, change
        db.expire_all()
        assert db.get(User, person.id).is_active and db.get(User, person.id).role == "engineer"  # type: ignore[union-attr]
        assert db.get(Engineer, engineer.id).active  # type: ignore[union-attr]
    # the API keeps the same rule
    api = client.patch(
        f"/api/v1/users/{person.id}",
        json={"is_active": False},
        headers={**login("admin"), "If-Match": etag(db.get(User, person.id).version)},  # type: ignore[union-attr]
    )
    assert api.status_code == 409 and visit.number in api.json()["detail"]

    # moved to someone else: the account stops, the engineer leaves planning; and comes back
    db.get(WorkOrder, visit.id).engineer_id = None  # type: ignore[union-attr]
    db.get(WorkOrder, visit.id).status = "unscheduled"  # type: ignore[union-attr]
    db.commit()
    fresh = {**form, "version": _version(client.get(url).text, url)}
    assert (
        client.post(
            url, data={**fresh, "role": "engineer", "active": "no"}, follow_redirects=False
        ).status_code
        == 303
    )
    db.expire_all()
    assert not db.get(Engineer, engineer.id).active  # type: ignore[union-attr]
    fresh = {**form, "version": _version(client.get(url).text, url)}
    assert (
        client.post(
            url, data={**fresh, "role": "engineer", "active": "yes"}, follow_redirects=False
        ).status_code
        == 303
    )
    db.expire_all()
    assert db.get(Engineer, engineer.id).active  # type: ignore[union-attr]


def test_deactivating_a_desk_agent_says_what_went_back_and_lists_the_customers_they_own(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """The API answered with the handover; the page said only "saved", and nothing showed the
    customers left with an owner who no longer works the desk."""
    agent = f.make_user(db, role="agent", name="Anna Brunner")
    owned = f.make_account(db, name="Gasthof Kellner")
    owned.owner_user_id = agent.id
    ticket = f.open_ticket(db, owned, subject="Cold room too warm")
    ticket.assignee_id = agent.id
    db.commit()
    sign_in("admin")
    url = f"/admin/users/{agent.id}"
    page = client.get(url)
    assert 'id="owned-accounts"' not in page.text  # still at the desk: nothing to hand over
    form = {"csrf": csrf_of(page.text), "version": _version(page.text, url), "name": agent.name}
    r = client.post(url, data={**form, "role": "agent", "active": "no"}, follow_redirects=True)
    assert r.status_code == 200
    assert "The account is saved. 1 open ticket of theirs went back to the unassigned queue." in r.text
    listed = r.text[r.text.index('id="owned-accounts"') :]
    notice = listed[: listed.index("</div>")]
    # each linked to the Owner field of its page (it told the admin to PATCH the API)
    assert f'<a href="/desk/customers/{owned.id}#owner">Gasthof Kellner</a>' in notice
    assert "PATCH" not in notice
    db.refresh(ticket)
    assert ticket.assignee_id is None


def test_the_new_account_form_lists_every_mistake_at_once(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: a bad e-mail, an empty name and a short password showed only the e-mail's error."""
    sign_in("admin")
    token = csrf_of(client.get("/admin/users").text)
    typed = {"csrf": token, "email": "ida@", "name": "  ", "role": "manager", "password": "short"}
    r = client.post("/admin/users", data=typed)
    assert r.status_code == 422
    for field in ("email", "name", "password"):
        assert f'id="new-{field}-error"' in r.text, field
    assert 'value="ida@"' in r.text and '<option value="manager" selected>' in r.text
    assert "short" not in r.text.split('id="new-password"')[1].split(">")[0]  # never the password
    assert db.query(User).filter_by(email="ida@").count() == 0


def test_the_api_names_every_field_at_once(client: TestClient, login: Any) -> None:
    r = client.post(
        "/api/v1/users",
        json={"email": "nope", "name": " ", "role": "agent", "password": "short"},
        headers=login("admin"),
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["email", "name", "password"]
