"""What a resolved or closed ticket does to its visits (registered with the desk at start-up).

Per case (docs/tickets.md, "Resolving or closing with open work orders"):
- an engineer is on the way or on site (en_route, on_site): the transition is refused, naming
  those work orders; the visit ends with its service report, or the dispatcher turns the
  engineer back first. Nothing is cancelled behind an engineer's back;
- the visit has not started (unscheduled, scheduled): it is cancelled with the ticket's reason.
  Cancelling releases its parts, and the planning session hook re-plans the engineer's day
  ("cancellation") and tells the customer if the visit had been announced, in this transaction.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import hooks
from app.field.workorders.service import transition
from app.field.workorders.status import OPEN
from app.models import Ticket, WorkOrder, WorkOrderStatus
from app.platform.errors import Conflict

STARTED = (WorkOrderStatus.en_route.value, WorkOrderStatus.on_site.value)


def end_open_work_orders(session: Session, ticket: Ticket, closing: hooks.Closing) -> None:
    rows = list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.ticket_id == ticket.id, WorkOrder.status.in_(OPEN))
            .order_by(WorkOrder.id)
        )
    )
    started = [w for w in rows if w.status in STARTED]
    if started:  # checked before anything is cancelled: a refusal writes nothing
        where = {WorkOrderStatus.on_site: "engineer on site", WorkOrderStatus.en_route: "engineer en route"}
        names = ", ".join(f"{w.number} ({where[WorkOrderStatus(w.status)]})" for w in started)
        raise Conflict(
            f"Ticket {ticket.number} cannot be {closing.to} while a visit is under way: {names}. "
            "Let the engineer file the service report, or have the dispatcher turn the engineer "
            "back, then try again.",
            open_work_orders=[w.number for w in started],
        )
    why = f"ticket {ticket.number} {closing.to}" + (f": {closing.reason}" if closing.reason else "")
    for w in rows:
        transition(session, work_order=w, to=WorkOrderStatus.cancelled.value, actor=closing.actor, reason=why)


def install_ticket_hooks() -> None:
    """Called once at start-up by each composition root (next to the planning session hooks)."""
    hooks.on_closing(end_open_work_orders)
