"""The user page's edit form names a blank name and a wrong role at once (the service stopped at
the first; tests/accounts/test_users_every_mistake.py for the API)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f
from tests.web.conftest import csrf_of


def test_the_user_page_shows_both_mistakes_under_their_fields(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    target = f.make_user(db, role="agent", name="Tom Tailor")
    db.commit()
    sign_in("admin")
    url = f"/admin/users/{target.id}"
    page = client.get(url).text
    version = re.search(r'name="version" value="(\d+)"', page[page.index(f'action="{url}"') :])
    assert version
    form = {"csrf": csrf_of(page), "version": version.group(1), "name": " ", "role": "boss", "active": "yes"}
    r = client.post(url, data=form)
    assert r.status_code == 422
    assert 'id="user-name-error"' in r.text and 'id="user-role-error"' in r.text
    db.refresh(target)
    assert (target.name, target.role) == ("Tom Tailor", "agent")
