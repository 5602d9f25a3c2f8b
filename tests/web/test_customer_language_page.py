"""The customer page's Language field: managers and admins choose what notices and surveys are
written in; agents see it; a stale page or an unknown language changes nothing."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Account
from tests import factories as f
from tests.web.conftest import csrf_of


def test_a_manager_sets_the_language_on_the_customer_page(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    account = f.make_account(db, name="Metzgerei Huber")
    db.commit()
    sign_in("manager")
    url = f"/desk/customers/{account.id}"
    page = client.get(url).text
    assert (
        '<option value="en" selected>English</option>' in page
        and '<option value="de">Deutsch</option>' in page
    )
    part = page[page.index('action="/desk/customers/') :]
    part = part[part.index("/language") :]
    version = re.search(r'name="version" value="(\d+)"', part).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf_of(page), "version": version}

    r = client.post(f"{url}/language", data={**form, "language": "de"}, follow_redirects=True)
    assert r.status_code == 200 and "The language is saved." in r.text
    assert '<option value="de" selected>Deutsch</option>' in r.text
    db.expire_all()
    assert db.get_one(Account, account.id).language == "de"

    stale = client.post(f"{url}/language", data={**form, "language": "en"})
    assert stale.status_code == 409 and "choose the language again" in stale.text
    fresh = {"csrf": form["csrf"], "version": str(db.get_one(Account, account.id).version)}
    odd = client.post(f"{url}/language", data={**fresh, "language": "klingon"})
    assert odd.status_code == 422 and "unknown language; use one of en, de" in odd.text
    assert 'id="language-language-error"' in odd.text
    db.expire_all()
    assert db.get_one(Account, account.id).language == "de"


def test_agents_see_the_language_but_cannot_set_it(client: TestClient, db: Session, sign_in: Any) -> None:
    account = f.make_account(db, language="de")
    db.commit()
    sign_in("agent")
    page = client.get(f"/desk/customers/{account.id}").text
    assert "Language: Deutsch" in page and 'id="language-choice"' not in page
    r = client.post(
        f"/desk/customers/{account.id}/language",
        data={"csrf": csrf_of(page), "version": "1", "language": "en"},
    )
    assert r.status_code == 403
    db.expire_all()
    assert db.get_one(Account, account.id).language == "de"
