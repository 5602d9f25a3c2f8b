"""Page-test helpers: sign in through the cookie session and read CSRF tokens out of forms."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.fake_mail import box  # noqa: F401 - the recording mailer (the reply pages' mail)

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on the page."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@pytest.fixture
def sign_in(client: TestClient, db: Session) -> Callable[..., User]:
    """sign_in(role) -> a fresh user whose session cookie the client now carries."""

    def _sign_in(role: str = "agent", **kw: object) -> User:
        user = f.make_user(db, role=role, **kw)
        db.commit()
        client.cookies.set(SESSION_COOKIE, issue_token(user))
        return user

    return _sign_in
