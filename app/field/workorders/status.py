"""The work-order lifecycle: its transition table and the one function that changes status.

Every status change (API transition, scheduling, check-in, service report) goes through
`change_status`, so the visit timeline, audit log and `workorder.status_changed` webhook are
the same whichever action caused it. The table is documented in docs/workorders.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy.orm import Session

from app.models import User, WorkOrder, WorkOrderEvent, WorkOrderStatus
from app.platform import audit
from app.platform.errors import InvalidTransition
from app.platform.events import emit

TRANSITIONS: dict[str, tuple[str, ...]] = {
    WorkOrderStatus.unscheduled: (WorkOrderStatus.scheduled, WorkOrderStatus.cancelled),
    # → unscheduled takes the visit off the engineer's day (engineer and start are cleared).
    WorkOrderStatus.scheduled: (
        WorkOrderStatus.unscheduled,
        WorkOrderStatus.en_route,
        WorkOrderStatus.on_site,
        WorkOrderStatus.cancelled,
    ),
    # → scheduled: the engineer turned back (the assignment is kept).
    WorkOrderStatus.en_route: (WorkOrderStatus.scheduled, WorkOrderStatus.on_site, WorkOrderStatus.cancelled),
    # Only the service report leaves on_site: fixed → done, not fixed → needs_follow_up.
    WorkOrderStatus.on_site: (WorkOrderStatus.done, WorkOrderStatus.needs_follow_up),
    WorkOrderStatus.done: (),
    WorkOrderStatus.cancelled: (),
    # A return visit is a new work order for the same ticket.
    WorkOrderStatus.needs_follow_up: (),
}
TERMINAL = frozenset(str(s) for s, nexts in TRANSITIONS.items() if not nexts)
OPEN = frozenset(str(s) for s in WorkOrderStatus) - TERMINAL


def allowed_next(work_order: WorkOrder) -> list[str]:
    return [str(s) for s in TRANSITIONS[WorkOrderStatus(work_order.status)]]


def check(work_order: WorkOrder, to: str) -> None:
    allowed = allowed_next(work_order)
    if to in allowed:
        return
    nexts = ", ".join(allowed) or "none (it is final)"
    raise InvalidTransition(
        f"Work order {work_order.number} is {work_order.status} and cannot move to {to}; "
        f"allowed next: {nexts}.",
        current=work_order.status,
        requested=to,
        allowed=allowed,
    )


def summary(work_order: WorkOrder) -> dict[str, Any]:
    """The webhook payload for every workorder.* event."""
    return {
        "work_order_id": work_order.id,
        "number": work_order.number,
        "ticket_id": work_order.ticket_id,
        "status": work_order.status,
        "priority": work_order.priority,
        "region_id": work_order.region_id,
        "engineer_id": work_order.engineer_id,
        "planned_start_at": work_order.planned_start_at,
    }


def add_event(
    session: Session,
    work_order: WorkOrder,
    kind: str,
    *,
    actor: User | None,
    at: datetime,
    data: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    event = WorkOrderEvent(
        work_order_id=work_order.id,
        kind=kind,
        actor_id=actor.id if actor else None,
        at=at,
        data=jsonable_encoder(data or {}),
    )
    session.add(event)
    return event


def change_status(
    session: Session,
    work_order: WorkOrder,
    to: str,
    *,
    actor: User | None,
    at: datetime,
    reason: str = "",
) -> None:
    """Move to `to` if the table allows it (409 naming the allowed states otherwise)."""
    check(work_order, to)
    old = work_order.status
    work_order.status = to
    add_event(
        session, work_order, "status", actor=actor, at=at, data={"from": old, "to": to, "reason": reason}
    )
    changes: dict[str, Any] = {"status": [old, to]}
    if reason:
        changes["reason"] = [None, reason]
    audit.record(session, actor, "work_order", work_order.id, "status", changes)
    session.flush()
    emit(session, "workorder.status_changed", {**summary(work_order), "from": old, "reason": reason})
    from app.field.workorders import risk  # risk builds on this module's helpers

    risk.on_status(session, work_order, at=at)
