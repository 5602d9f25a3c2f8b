"""/api/v1/recoveries: the follow-ups of unhappy answers, for managers (the recovery queue is the
ones without an account owner). KPIs over answers are a separate API (docs/kpis.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import Select, select

from app.models import SurveyAnswer, SurveyRecovery
from app.platform.deps import DbSession, ManagerUser
from app.platform.http import Page, paginate

router = APIRouter(prefix="/recoveries", tags=["surveys"])


class RecoveryRead(BaseModel):
    id: int
    ticket_id: int
    account_id: int
    answer_id: int
    owner_user_id: int | None
    queue: Literal["owner", "recovery"]
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None
    outcome_note: str
    facts: dict[str, Any]
    csat: int | None
    nps: int | None
    solved: bool | None
    reasons: list[str]
    comment: str


@router.get("")
def list_recoveries(
    db: DbSession,
    user: ManagerUser,
    queue: Literal["owner", "recovery"] | None = None,
    state: Literal["open", "closed"] | None = None,
    customer_id: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[RecoveryRead]:
    """Newest first; `queue=recovery&state=open` is the unowned follow-ups waiting for someone."""
    stmt: Select[Any] = select(SurveyRecovery)
    if queue is not None:
        stmt = stmt.where(SurveyRecovery.queue == queue)
    if state == "open":
        stmt = stmt.where(SurveyRecovery.closed_at.is_(None))
    elif state == "closed":
        stmt = stmt.where(SurveyRecovery.closed_at.is_not(None))
    if customer_id is not None:
        stmt = stmt.where(SurveyRecovery.account_id == customer_id)
    rows, next_cursor = paginate(db, stmt, SurveyRecovery.id, cursor=cursor, limit=limit)
    answers = {
        a.id: a
        for a in db.scalars(select(SurveyAnswer).where(SurveyAnswer.id.in_([r.answer_id for r in rows])))
    }
    items = []
    for r in rows:
        a = answers[r.answer_id]
        items.append(
            RecoveryRead(
                id=r.id,
                ticket_id=r.ticket_id,
                account_id=r.account_id,
                answer_id=r.answer_id,
                owner_user_id=r.owner_user_id,
                queue=r.queue,
                opened_at=r.opened_at,
                closed_at=r.closed_at,
                outcome=r.outcome,
                outcome_note=r.outcome_note,
                facts=r.facts,
                csat=a.csat,
                nps=a.nps,
                solved=a.solved,
                reasons=list(a.reasons or []),
                comment=a.comment,
            )
        )
    return Page[RecoveryRead](items=items, next_cursor=next_cursor)
