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
from app.platform.errors import Conflict, InvalidTransition
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
# Where an undone check-in returns to (the visit's state before it; docs/workorders.md).
UNDONE_TO = frozenset({WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value})
TERMINAL = frozenset(str(s) for s, nexts in TRANSITIONS.items() if not nexts)
OPEN = frozenset(str(s) for s in WorkOrderStatus) - TERMINAL

# What the engineer is told when a field action comes at the wrong moment, by action and by the
# status the visit is in. The pages show this sentence alone (an engineer needs "Check in
# first", not the state names); the API's problem+json carries it as `hint` and starts its
# `detail` with it, before the precise sentence (current state, allowed next).
NOT_SCHEDULED = "This visit is not on a route (it is unscheduled): ask dispatch about it first."
CHECK_IN_FIRST = "Check in first: "
FINISHED: dict[str, str] = {
    WorkOrderStatus.done: "This visit is already finished: its service report was filed.",
    WorkOrderStatus.needs_follow_up: "This visit is already finished: its report was filed "
    "and it needs a follow-up visit.",
    WorkOrderStatus.cancelled: "This visit is already finished: it was cancelled.",
}
OUT_OF_ORDER: dict[str, dict[str, str]] = {
    "en_route": {
        WorkOrderStatus.unscheduled: NOT_SCHEDULED,
        WorkOrderStatus.en_route: "You are already on your way to this visit.",
        WorkOrderStatus.on_site: "You are already checked in at this visit.",
    },
    "check_in": {WorkOrderStatus.unscheduled: NOT_SCHEDULED},
    "check_out": {
        WorkOrderStatus.unscheduled: NOT_SCHEDULED,
        WorkOrderStatus.scheduled: CHECK_IN_FIRST + "you can only check out of a visit you checked in to.",
        WorkOrderStatus.en_route: CHECK_IN_FIRST + "you can only check out of a visit you checked in to.",
    },
    "report": {
        WorkOrderStatus.unscheduled: NOT_SCHEDULED,
        WorkOrderStatus.scheduled: CHECK_IN_FIRST + "the service report is filed on site, after checking in.",
        WorkOrderStatus.en_route: CHECK_IN_FIRST + "the service report is filed on site, after checking in.",
    },
}


def hint(work_order: WorkOrder, action: str) -> str:
    """The engineer's sentence for `action` refused in the visit's status ('' when none fits)."""
    return FINISHED.get(work_order.status) or OUT_OF_ORDER.get(action, {}).get(work_order.status, "")


def refuse_finished(work_order: WorkOrder, precise: str = "") -> None:
    """409 for a field action on a finished visit. Checked before the idempotent "already done"
    answers: a check-in on a visit reported yesterday is a wrong tap, not a retry, and its
    "Checked in." misled. `precise`: the API's sentence after the engineer's one."""
    if work_order.status in TERMINAL:
        human = FINISHED[work_order.status]
        raise Conflict(
            f"{human} {precise or f'Work order {work_order.number} is {work_order.status}.'}",
            current=work_order.status,
            allowed=[],
            hint=human,
        )


def allowed_next(work_order: WorkOrder) -> list[str]:
    return [str(s) for s in TRANSITIONS[WorkOrderStatus(work_order.status)]]


def check(work_order: WorkOrder, to: str, *, action: str = "") -> None:
    """409 unless the table allows `to`; `action` (a field action) adds the engineer's sentence."""
    allowed = allowed_next(work_order)
    if to in allowed:
        return
    nexts = ", ".join(allowed) or "none (it is final)"
    human = hint(work_order, action) if action else ""
    extra: dict[str, Any] = {"hint": human} if human else {}
    # on site → back: not a transition, but the way out of a wrong check-in (not a false report)
    undo = (
        " A wrong check-in is taken back with POST …/undo-check-in."
        if work_order.status == WorkOrderStatus.on_site and to in UNDONE_TO
        else ""
    )
    raise InvalidTransition(
        f"{human + ' ' if human else ''}Work order {work_order.number} is {work_order.status} and "
        f"cannot move to {to}; allowed next: {nexts}.{undo}",
        current=work_order.status,
        requested=to,
        allowed=allowed,
        **extra,
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
    undo_check_in: bool = False,
    data: dict[str, Any] | None = None,
) -> None:
    """Move to `to` if the table allows it (409 naming the allowed states otherwise).
    `undo_check_in`: on_site back to the state before the check-in (`visits.undo_check_in`, which
    checks its own conditions), a move the table offers to nobody else. `data`: more for the
    status event (→ en_route keeps the ETA it replaced, for the way back)."""
    if not (undo_check_in and work_order.status == WorkOrderStatus.on_site and to in UNDONE_TO):
        check(work_order, to)
    old = work_order.status
    work_order.status = to
    add_event(
        session,
        work_order,
        "status",
        actor=actor,
        at=at,
        data={**(data or {}), "from": old, "to": to, "reason": reason},
    )
    changes: dict[str, Any] = {"status": [old, to]}
    if reason:
        changes["reason"] = [None, reason]
    audit.record(session, actor, "work_order", work_order.id, "status", changes)
    session.flush()
    emit(session, "workorder.status_changed", {**summary(work_order), "from": old, "reason": reason})
    from app.field.workorders import risk  # risk builds on this module's helpers

    risk.on_status(session, work_order, at=at)
