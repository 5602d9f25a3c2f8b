"""What the 360° view shows of surveys: the last answers, the recoveries, and the survey and
visit signals of the health score. Installed into `app.desk.customers.view360` at start-up
(`app.feedback.triggers.install_session_hooks`), because the desk must not import this layer.
A fixed handful of queries per account, whatever its size.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.desk.customers.view360 import SurveySignals
from app.feedback.facts import visit_facts
from app.models import SurveyAnswer, SurveyRecovery, Ticket, WorkOrder
from surveys import kpis

WINDOW = timedelta(days=90)
ANSWERS_SHOWN = 5
RECOVERIES_SHOWN = 10


def _answers(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(SurveyAnswer)
        .where(SurveyAnswer.account_id == account_id)
        .order_by(SurveyAnswer.answered_at.desc(), SurveyAnswer.id.desc())
        .limit(ANSWERS_SHOWN)
    ).all()
    return [
        {
            "id": a.id,
            "survey_id": a.survey_id,
            "ticket_id": a.ticket_id,
            "work_order_id": a.work_order_id,
            "answered_at": a.answered_at,
            "csat": a.csat,
            "nps": a.nps,
            "solved": a.solved,
            "reasons": list(a.reasons or []),
            "comment": a.comment,
            "is_detractor": a.is_detractor,
        }
        for a in rows
    ]


def _recoveries(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(SurveyRecovery, Ticket.number, Ticket.status)
        .join(Ticket, Ticket.id == SurveyRecovery.ticket_id)
        .where(SurveyRecovery.account_id == account_id)
        .order_by(SurveyRecovery.opened_at.desc(), SurveyRecovery.id.desc())
        .limit(RECOVERIES_SHOWN)
    ).all()
    return [
        {
            "id": r.id,
            "ticket_id": r.ticket_id,
            "number": number,
            "status": status,
            "queue": r.queue,
            "owner_user_id": r.owner_user_id,
            "opened_at": r.opened_at,
            "closed_at": r.closed_at,
            "outcome": r.outcome,
        }
        for r, number, status in rows
    ]


def _csat_windows(
    session: Session, account_id: int, now: datetime
) -> tuple[float | None, int, float | None, int, int]:
    recent = SurveyAnswer.answered_at >= now - WINDOW
    row = session.execute(
        select(
            func.avg(case((recent, SurveyAnswer.csat))),
            func.count(case((recent, SurveyAnswer.csat))),
            func.avg(case((~recent, SurveyAnswer.csat))),
            func.count(case((~recent, SurveyAnswer.csat))),
            func.count(case((recent & SurveyAnswer.is_detractor, SurveyAnswer.id))),
        ).where(SurveyAnswer.account_id == account_id, SurveyAnswer.answered_at >= now - 2 * WINDOW)
    ).one()
    mean, n, prev_mean, prev_n, detractors = row
    return (
        float(mean) if mean is not None else None,
        int(n),
        float(prev_mean) if prev_mean is not None else None,
        int(prev_n),
        int(detractors),
    )


def _repeat_visits(session: Session, account_id: int, now: datetime) -> int:
    """Repeat visits (docs/kpis.md) that arrived in the window; earlier visits are loaded too,
    since a repeat is judged against the work order completed before it."""
    visits = session.scalars(
        select(WorkOrder).where(
            WorkOrder.account_id == account_id,
            WorkOrder.checked_in_at.is_not(None),
            WorkOrder.checked_in_at >= now - WINDOW - kpis.RETURN_WINDOW,
        )
    ).all()
    facts = [visit_facts(w) for w in visits]
    repeats = kpis.repeat_visit_ids(facts)
    return sum(
        1 for v in facts if v.id in repeats and v.arrived_at is not None and v.arrived_at >= now - WINDOW
    )


def survey_signals(session: Session, account_id: int, now: datetime) -> SurveySignals:
    mean, n, prev_mean, prev_n, detractors = _csat_windows(session, account_id, now)
    return SurveySignals(
        answers=_answers(session, account_id),
        recoveries=_recoveries(session, account_id),
        detractors_90d=detractors,
        repeat_visits_90d=_repeat_visits(session, account_id, now),
        csat_mean_90d=mean,
        csat_n_90d=n,
        csat_mean_prev_90d=prev_mean,
        csat_n_prev_90d=prev_n,
    )
