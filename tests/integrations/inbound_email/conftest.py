"""Inbound e-mail fixtures: a configured relay token and two customers' contacts; the replies'
fake mail transports (tests/fake_mail.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.platform.config import get_settings
from tests import factories as f
from tests.fake_mail import box, smtp_sink  # noqa: F401 - the recording mailer and the SMTP server

TOKEN = "relay-secret-123"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "inbound_email_token", TOKEN)


@pytest.fixture
def people(db: Session) -> dict[str, Any]:
    acc = f.make_account(db)
    other = f.make_account(db)
    out = {
        "account": acc,
        "anna": f.make_contact(db, acc, email="Anna.Berg@Kunde.example"),
        "other": f.make_contact(db, other, email="bob@elsewhere.example"),
    }
    db.commit()
    return out
