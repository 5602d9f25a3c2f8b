"""The visit facts joined to an answer (definitions: docs/kpis.md, `surveys.kpis`).

Computed from the rows when the answer arrives: the answered visit and the other visits to the
same asset (or site, when the visit had no asset) in the return window around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Ticket, WorkOrder
from surveys import kpis
from surveys.kpis import RETURN_WINDOW, VisitFacts


@dataclass(frozen=True, slots=True)
class AnswerFacts:
    minutes_late: float | None = None
    late: bool | None = None
    repeat_visit: bool | None = None
    part_missing: bool | None = None
    duration_overrun: bool | None = None
    sla_breach: bool | None = None
    first_time_fix: bool | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


def target_of(asset_id: int | None, site_id: int) -> str:
    """What a return visit returns to: the asset, or the site when the asset is unknown."""
    return f"asset:{asset_id}" if asset_id is not None else f"site:{site_id}"


def visit_facts(w: WorkOrder) -> VisitFacts:
    return VisitFacts(
        id=str(w.id),
        work_order_id=str(w.id),
        target=target_of(w.asset_id, w.site_id),
        arrived_at=w.checked_in_at,
        finished_at=w.checked_out_at,
        completed=w.status == "done",
        promised_from=w.appointment_start_at,
        promised_to=w.appointment_end_at,
        planned_duration_min=float(w.duration_min) if w.duration_min else None,
        engineer=str(w.engineer_id or ""),
    )


def second_trip(session: Session, w: WorkOrder) -> bool:
    """The visit could not finish the job (needs follow-up) or was not the ticket's only trip."""
    if w.status == "needs_follow_up":
        return True
    other = session.scalar(
        select(WorkOrder.id).where(
            WorkOrder.ticket_id == w.ticket_id, WorkOrder.id != w.id, WorkOrder.checked_in_at.is_not(None)
        )
    )
    return other is not None


def for_answer(session: Session, *, ticket_id: int, work_order_id: int | None, now: datetime) -> AnswerFacts:
    ticket = session.get(Ticket, ticket_id)
    sla_breach = ticket.sla_breached if ticket else None
    w = session.get(WorkOrder, work_order_id) if work_order_id is not None else None
    if w is None or w.checked_in_at is None:
        return AnswerFacts(sla_breach=sla_breach)
    same_target = (
        WorkOrder.asset_id == w.asset_id if w.asset_id is not None else WorkOrder.site_id == w.site_id
    )
    around = session.scalars(
        select(WorkOrder).where(
            same_target,
            WorkOrder.checked_in_at.is_not(None),
            WorkOrder.checked_in_at >= w.checked_in_at - 2 * RETURN_WINDOW,
            WorkOrder.checked_in_at <= w.checked_in_at + RETURN_WINDOW,
        )
    ).all()
    visits = [visit_facts(v) for v in {*around, w}]
    this = visit_facts(w)
    facts = kpis.visit_driver_facts(
        this,
        repeat_ids=kpis.repeat_visit_ids(visits),
        first_time_fix=kpis.first_time_fix_detail(visits, as_of=now),
        part_missing=second_trip(session, w),
        sla_breached=sla_breach,
    )
    return AnswerFacts(
        minutes_late=kpis.minutes_late(this),
        late=facts.get("late"),
        repeat_visit=facts.get("repeat_visit"),
        part_missing=facts.get("part_missing"),
        duration_overrun=facts.get("duration_overrun"),
        sla_breach=facts.get("sla_breach"),
        first_time_fix=facts.get("first_time_fix"),
    )
