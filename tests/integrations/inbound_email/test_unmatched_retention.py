"""Discarded mail from unknown senders is deleted UNMATCHED_EMAIL_RETENTION_DAYS (default 30) after
the discard by the periodic `fieldline.unmatched.purge`; held and attached mail stays (docs/tickets.md
"Inbound e-mail", step 5)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.inbound_email import tasks
from app.models import AuditLog, UnmatchedEmail
from app.platform.config import Settings, get_settings
from app.platform.db import utcnow
from app.platform.worker import celery_app
from tests.integrations.inbound_email.test_inbound_email import mail, post

LIST = "/api/v1/inbound-email/unmatched"


def _row(db: Session, name: str, status: str, decided: datetime | None, received: datetime) -> int:
    row = UnmatchedEmail(
        message_id=f"<{name}@nowhere.example>",
        from_addr=f"{name}@nowhere.example",
        subject=name,
        body=f"the text of {name}",
        data={"from": name},
        received_at=received,
        status=status,
        decided_at=decided,
    )
    db.add(row)
    db.flush()
    return row.id


def _left(db: Session) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(UnmatchedEmail.subject)))


def test_only_discarded_mail_past_the_retention_is_deleted(db: Session) -> None:
    now = utcnow()
    long_ago = now - timedelta(days=400)
    _row(db, "old-discard", "discarded", now - timedelta(days=31), long_ago)
    # received long ago but discarded recently: the retention counts from the discard
    _row(db, "recent-discard", "discarded", now - timedelta(days=29), long_ago)
    _row(db, "old-attached", "attached", long_ago, long_ago)
    _row(db, "old-held", "held", None, long_ago)
    db.commit()
    assert get_settings().unmatched_email_retention_days == 30  # the default
    assert tasks.purge_discarded_mail() == 1
    assert _left(db) == {"recent-discard", "old-attached", "old-held"}
    assert tasks.purge_discarded_mail() == 0  # nothing more to do


def test_the_retention_is_a_setting(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    now = utcnow()
    _row(db, "eight-days", "discarded", now - timedelta(days=8), now - timedelta(days=8))
    _row(db, "six-days", "discarded", now - timedelta(days=6), now - timedelta(days=6))
    db.commit()
    assert tasks.purge_discarded_mail() == 0
    monkeypatch.setattr(get_settings(), "unmatched_email_retention_days", 7)
    assert tasks.purge_discarded_mail() == 1
    assert _left(db) == {"six-days"}


def test_the_setting_comes_from_the_environment_and_is_at_least_a_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNMATCHED_EMAIL_RETENTION_DAYS", "90")
    assert Settings().unmatched_email_retention_days == 90
    monkeypatch.setenv("UNMATCHED_EMAIL_RETENTION_DAYS", "0")  # would delete a discard at once
    with pytest.raises(ValidationError):
        Settings()


def test_a_mail_discarded_on_the_desk_goes_after_the_retention_and_its_audit_stays(
    client: TestClient, db: Session, login: Any
) -> None:
    held = post(client, mail(sender="Z <z@nowhere.example>", message_id="<z1@nowhere.example>"))
    assert held.status_code == 202, held.text
    uid = held.json()["unmatched_id"]
    r = client.post(f"{LIST}/{uid}/discard", headers={**login("agent"), "If-Match": '"v1"'})
    assert r.status_code == 200, r.text
    assert tasks.purge_discarded_mail() == 0  # discarded just now: kept for audit
    row = db.get(UnmatchedEmail, uid)
    assert row is not None and row.decided_at is not None
    row.decided_at -= timedelta(days=30, minutes=1)
    db.commit()
    assert tasks.purge_discarded_mail() == 1
    db.expire_all()
    assert db.get(UnmatchedEmail, uid) is None
    audit = db.scalars(select(AuditLog.action).where(AuditLog.entity == "unmatched_email")).all()
    assert audit == ["discard"]


def test_the_purge_is_scheduled_hourly_and_registered() -> None:
    """The same beat_schedule drives `celery beat` and the embedded scheduler thread."""
    [entry] = [e for e in celery_app.conf.beat_schedule.values() if e["task"] == "fieldline.unmatched.purge"]
    assert float(entry["schedule"]) == 3600.0
    celery_app.loader.import_default_modules()
    assert "fieldline.unmatched.purge" in celery_app.tasks
