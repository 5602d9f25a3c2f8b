"""The refusal of a second service report: when the first one was filed, and by whom.

Two tabs (or two phones) on one visit: the report filed in the first one closes the visit, and the
second one is refused. "This visit is already finished" alone left the engineer wondering whether
their own text had gone anywhere; the time and the name say which report stands.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders.status import FINISHED, refuse_finished
from app.models import Region, User, WorkOrder, WorkOrderEvent, WorkOrderStatus
from app.platform.errors import Conflict


def report_refusal(session: Session, work_order: WorkOrder, actor: User | None) -> Conflict | None:
    """Why no report can be filed on a finished visit (its report filed, or cancelled), or None
    while it is open. Reads only."""
    if work_order.status in (WorkOrderStatus.done, WorkOrderStatus.needs_follow_up):
        return already_reported(session, work_order, actor)
    try:
        refuse_finished(work_order)
    except Conflict as exc:
        return exc
    return None


def already_reported(session: Session, work_order: WorkOrder, actor: User | None) -> Conflict:
    """The 409 for a report on a visit whose report was filed (done or needs_follow_up)."""
    event = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == work_order.id, WorkOrderEvent.kind == "report")
        .order_by(WorkOrderEvent.at.desc(), WorkOrderEvent.id.desc())
        .limit(1)
    ).first()
    human = FINISHED[work_order.status]
    if event is not None:
        region = session.get(Region, work_order.region_id)
        local = event.at.astimezone(ZoneInfo(region.timezone if region else "UTC"))
        filed = f"filed on {local:%a %d %b} at {local:%H:%M}{_by(session, event.actor_id, actor)}"
        human = (
            f"This visit is already finished: its service report was {filed}."
            if work_order.status == WorkOrderStatus.done
            else f"This visit is already finished: its report was {filed}, and it needs a follow-up visit."
        )
    return Conflict(
        f"{human} Work order {work_order.number} already has its service report ({work_order.status}).",
        current=work_order.status,
        allowed=[],
        hint=human,
    )


def _by(session: Session, author_id: int | None, actor: User | None) -> str:
    if author_id is None:
        return ""
    if actor is not None and actor.id == author_id:
        return " by you"  # the engineer's other tab or phone
    author = session.get(User, author_id)
    return f" by {author.name}" if author is not None else ""
