"""A detractor's answer opens its recovery ticket through a real broker and a real
`celery -A app.worker worker` process (PostgreSQL + Redis; skipped otherwise, see conftest)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.feedback import answering, sending
from app.models import SurveyRecovery, Ticket, WebhookDelivery
from tests import factories as f
from tests.feedback.world import customer, installed_outbox, later, visit
from tests.worker.test_real_worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker", "via_broker", "cleanup")]


def test_a_detractor_answer_opens_a_recovery_ticket_on_the_worker(
    committed_db: Session, worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    case = customer(db, tier="silver")
    owner = f.make_user(db, role="manager")
    case.account.owner_user_id = owner.id
    sub = f.make_webhook_subscription(db, "http://127.0.0.1:9/unused", events=["survey.detractor"])
    visit(db, case, late_min=50)
    db.commit()
    with installed_outbox() as outbox:
        assert sending.send_due(now=later(hours=3)) == {"send": 1}
    text = outbox.sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    token = re.findall(r"/survey/([^\s?/]+)\?csat=1", text)[0]

    page = answering.submit(db, token, {"csat": "1", "nps": "3", "solved": "no", "comment": "Still broken"})
    assert page.outcome == "recorded"
    assert db.scalar(select(SurveyRecovery.id)) is None  # nothing before the commit
    db.commit()  # the task goes to Redis after this commit; the worker opens the ticket
    committed = time.monotonic()

    def opened() -> SurveyRecovery | None:
        db.expire_all()
        rec = db.scalar(select(SurveyRecovery).where(SurveyRecovery.account_id == case.account.id))
        db.rollback()
        return rec

    rec = wait_until(opened, "the recovery ticket", worker_log_tail)
    print(f"recovery ticket seen {time.monotonic() - committed:.2f} s after the answer's commit")
    ticket = db.get(Ticket, rec.ticket_id)
    assert ticket is not None
    assert (ticket.assignee_id, ticket.category, rec.queue) == (owner.id, "recovery", "owner")
    assert "satisfaction 1/5" in ticket.description and "Still broken" in ticket.description
    assert rec.facts["late"] is True and rec.facts["minutes_late"] >= 49
    [event] = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)).all()
    assert event.event == "survey.detractor" and event.payload["data"]["recovery_ticket_id"] == ticket.id
    db.rollback()
