"""A detractor's recovery never goes to a deactivated owner, and the dashboard's lists say when
the owner they show is deactivated (QA: `/api/v1/kpis/detractors` named her as if she worked)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.feedback import recovery
from app.insights.api import local_today
from app.models import Ticket, User
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.feedback.world import Outbox, detractor


def test_the_recovery_of_a_deactivated_owners_account_waits_in_the_recovery_queue(
    db: Session, outbox: Outbox
) -> None:
    world = detractor(db, is_active=False)  # user 22 of the report
    rec = recovery.open_recovery(db, world.answer_id)
    db.commit()
    assert rec is not None and (rec.owner_user_id, rec.queue) == (None, "recovery")
    ticket = db.get(Ticket, rec.ticket_id)
    assert ticket is not None and ticket.assignee_id is None


def test_an_active_owner_still_gets_it(db: Session, outbox: Outbox) -> None:
    world = detractor(db, role="manager")
    rec = recovery.open_recovery(db, world.answer_id)
    assert rec is not None and (rec.owner_user_id, rec.queue) == (world.owner.id, "owner")
    assert db.get(Ticket, rec.ticket_id).assignee_id == world.owner.id  # type: ignore[union-attr]


def test_the_lists_say_when_the_owner_they_show_is_deactivated(
    client: TestClient, db: Session, outbox: Outbox, login: Any
) -> None:
    world = detractor(db, name="Dora Deskagent")
    world.case.account.renewal_date = local_today()
    rec = recovery.open_recovery(db, world.answer_id)
    assert rec is not None and rec.queue == "owner"
    # Deactivated before the hand-back existed: a plain UPDATE, which no flush hook sees (an ORM change
    # now hands the ticket back, app/accounts/desk_rights.py, and migration 0029 the old ones).
    db.execute(update(User).where(User.id == world.owner.id).values(is_active=False))
    db.commit()

    today = local_today().isoformat()
    params = {"from": today, "to": today}
    manager = login("manager")
    [item] = client.get("/api/v1/kpis/detractors", params=params, headers=manager).json()["items"]
    assert (item["owner"], item["owner_active"]) == ("Dora Deskagent", False)
    [risk] = [
        i
        for i in client.get("/api/v1/kpis/renewal-risk", headers=manager).json()["items"]
        if i["account_id"] == world.case.account.id
    ]
    assert (risk["owner"], risk["owner_active"]) == ("Dora Deskagent", False)
    page_user = f.make_user(db, role="manager")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(page_user))
    page = client.get("/insights", params=params).text
    assert 'Dora Deskagent <span class="muted small">(deactivated)</span>' in page
