"""A survey whose case was reopened (or cancelled) after it was sent takes no answer from that
moment, not only from the sending job's next tick (QA: the link still showed the form and stored
the answer; it counted in CSAT and could open a recovery call for a case being worked again)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import status as ticket_status
from app.feedback import answering, sending, tokens
from app.models import SurveyAnswer
from app.platform.db import utcnow
from tests.feedback.world import customer, installed_outbox, later, survey_of, visit


def test_a_link_of_a_reopened_case_says_no_answer_needed_before_the_job_runs(db: Session) -> None:
    case = customer(db)
    visit(db, case)
    db.commit()
    with installed_outbox():
        sending.send_due(now=later(hours=3))
    survey = survey_of(db, ticket_id=case.ticket.id)
    token = tokens.make(survey.id, "answer")
    assert answering.open_form(db, token).outcome == "form"

    db.refresh(case.ticket)
    ticket_status.change_status(db, case.ticket, "open", actor=None, channel="phone", at=utcnow())
    db.commit()
    db.expire_all()
    assert survey_of(db, ticket_id=case.ticket.id).cancelled_at is None  # the job has not run

    assert answering.open_form(db, token).outcome == "cancelled"
    assert answering.submit(db, token, {"csat": "1"}).outcome == "cancelled"
    db.commit()
    assert db.scalar(select(SurveyAnswer.id).where(SurveyAnswer.survey_id == survey.id)) is None
    assert survey_of(db, ticket_id=case.ticket.id).answered_at is None
