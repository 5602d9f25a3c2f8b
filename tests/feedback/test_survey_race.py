"""Two submissions of the same survey at the same moment record one answer (PostgreSQL: the
guarded UPDATE lets one through; the other sees "already answered")."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.feedback import answering, sending, tokens
from app.models import SurveyAnswer
from app.platform.db import SessionFactory
from tests.feedback.world import customer, installed_outbox, later, survey_of, visit
from tests.worker.conftest import cleanup  # noqa: F401 - deletes the committed rows afterwards


@pytest.mark.usefixtures("cleanup")
def test_racing_submissions_record_one_answer(engine: Engine, committed_db: Session) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: run with a PostgreSQL TEST_DATABASE_URL")
    db = committed_db
    case = customer(db)
    visit(db, case)
    db.commit()
    with installed_outbox():
        sending.send_due(now=later(hours=3))
    survey_id = survey_of(db, ticket_id=case.ticket.id).id
    db.rollback()
    token = tokens.make(survey_id, "answer")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def post(csat: str) -> None:
        with SessionFactory(bind=engine) as s:
            start.wait(timeout=10)
            outcomes.append(answering.submit(s, token, {"csat": csat}).outcome)
            s.commit()

    threads = [threading.Thread(target=post, args=(c,)) for c in ("1", "5")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["answered", "recorded"]
    count = select(func.count()).select_from(SurveyAnswer).where(SurveyAnswer.survey_id == survey_id)
    assert db.scalar(count) == 1
    db.rollback()
