"""The customer page's Owner field: managers and admins give an account a new owner there (it was
API-only, while the user page of a deactivated owner sent admins to `PATCH /api/v1/customers/{id}`)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Account
from tests import factories as f
from tests.web.conftest import csrf_of


def _form(html: str) -> dict[str, str]:
    part = html[html.index('action="/desk/customers/') :]
    part = part[part.index("/owner") :]
    version = re.search(r'name="version" value="(\d+)"', part).group(1)  # type: ignore[union-attr]
    return {"csrf": csrf_of(html), "version": version}


def test_a_manager_sets_the_owner_on_the_customer_page(client: TestClient, db: Session, sign_in: Any) -> None:
    gone = f.make_user(db, role="agent", name="Anna Brunner")
    bea = f.make_user(db, role="agent", name="Bea Berger")
    account = f.make_account(db, name="Gasthof Kellner")
    account.owner_user_id = gone.id
    db.commit()
    gone.is_active = False
    db.commit()
    sign_in("manager")
    url = f"/desk/customers/{account.id}"
    page = client.get(url)
    assert page.status_code == 200 and 'id="owner-choice"' in page.text
    # the owner who left is shown as such, chosen; only active desk people are offered otherwise
    assert f'<option value="{gone.id}" selected>Anna Brunner (inactive)</option>' in page.text
    assert f'<option value="{bea.id}">Bea Berger (agent)</option>' in page.text
    form = _form(page.text)

    r = client.post(f"{url}/owner", data={**form, "owner_user_id": str(bea.id)}, follow_redirects=True)
    assert r.status_code == 200 and "The owner is saved." in r.text
    db.expire_all()
    saved = db.get_one(Account, account.id)
    assert saved.owner_user_id == bea.id and saved.version == int(form["version"]) + 1

    # the same loaded page again: refused, nothing overwritten, the account as it is now
    stale = client.post(f"{url}/owner", data={**form, "owner_user_id": ""})
    assert stale.status_code == 409 and "Someone else changed this customer account" in stale.text
    assert f'<option value="{bea.id}" selected>' in stale.text
    db.expire_all()
    assert db.get_one(Account, account.id).owner_user_id == bea.id

    fresh = _form(client.get(url).text)
    odd = client.post(f"{url}/owner", data={**fresh, "owner_user_id": str(gone.id)})
    assert odd.status_code == 422 and 'id="owner-owner_user_id-error"' in odd.text
    forged = client.post(f"{url}/owner", data={**fresh, "owner_user_id": "x1"})
    assert forged.status_code == 422 and "choose a person from the list" in forged.text
    nobody = client.post(f"{url}/owner", data={**fresh, "owner_user_id": ""}, follow_redirects=True)
    assert "The owner is saved." in nobody.text
    db.expire_all()
    assert db.get_one(Account, account.id).owner_user_id is None


def test_agents_see_the_owner_but_cannot_set_it(client: TestClient, db: Session, sign_in: Any) -> None:
    bea = f.make_user(db, role="agent", name="Bea Berger")
    account = f.make_account(db)
    account.owner_user_id = bea.id
    db.commit()
    agent = sign_in("agent")
    page = client.get(f"/desk/customers/{account.id}").text
    assert "Owner: Bea Berger" in page and 'id="owner-choice"' not in page
    r = client.post(
        f"/desk/customers/{account.id}/owner",
        data={"csrf": csrf_of(page), "version": "1", "owner_user_id": str(agent.id)},
    )
    assert r.status_code == 403 and "set by managers and admins" in r.text
    db.expire_all()
    assert db.get_one(Account, account.id).owner_user_id == bea.id
