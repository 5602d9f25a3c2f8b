"""Where surveys show up: the periodic job's schedule (beat and the in-process scheduler) and the
agent's 360° page."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.feedback import answering, recovery, sending
from app.models import User
from app.platform.db import utcnow
from app.platform.worker import celery_app
from surveys import Answer
from tests.feedback.world import Outbox, customer, later, survey_of, visit
from tests.web.conftest import sign_in  # noqa: F401 - the page sign-in fixture


def test_the_sending_job_is_scheduled_every_minute_and_registered() -> None:
    # The same beat_schedule drives `celery beat` and the embedded scheduler thread.
    [entry] = [e for e in celery_app.conf.beat_schedule.values() if e["task"] == "fieldline.surveys.send_due"]
    assert float(entry["schedule"]) == 60.0
    celery_app.loader.import_default_modules()
    assert "fieldline.surveys.send_due" in celery_app.tasks
    assert "fieldline.surveys.open_recovery" in celery_app.tasks


def test_the_360_page_shows_answers_follow_ups_and_health_reasons(
    client: TestClient,
    db: Session,
    outbox: Outbox,
    sign_in: Callable[..., User],  # noqa: F811
) -> None:
    case = customer(db, name="Metzgerei Huber")
    visit(db, case)
    db.commit()
    sending.send_due(now=later(hours=3))
    survey = survey_of(db, ticket_id=case.ticket.id)
    survey.answered_at = utcnow()
    row = answering.record(db, survey, Answer(csat=1, solved=False, comment="Heizung kalt"), utcnow())
    recovery.open_recovery(db, row.id)
    db.commit()
    sign_in("agent")
    html = client.get(f"/desk/customers/{case.account.id}").text
    assert "1/5" in html and "Heizung kalt" in html and "Not solved" in html and "Unhappy" in html
    assert "Recovery queue (no account owner)" in html
    assert "1 unhappy survey answer in 90 days" in html and "(-8)" in html
    assert "Health: green · 92/100" in html
