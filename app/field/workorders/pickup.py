"""Why the engineer's "I picked these up" is refused on a visit, read without trying.

The visit page says it at its own address after a refused pickup (Post/Redirect/Get), so each
reason is read from the visit and the stock as they are: a finished visit, nothing to pick up,
or a warehouse that no longer holds the parts reserved for it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.field.inventory import reservations
from app.field.workorders.status import refuse_finished
from app.models import WorkOrder
from app.platform.errors import Conflict


def pickup_refusal(session: Session, work_order: WorkOrder, engineer_id: int) -> Conflict | None:
    """The 409 for confirming the visit's pickup now, or None when it would go through (parts
    fetched already included: a repeat changes nothing)."""
    try:
        refuse_finished(work_order)
    except Conflict as exc:
        return exc
    state = reservations.pickup_state(session, work_order_id=work_order.id, engineer_id=engineer_id)
    if state == "none":
        # confirm_pickup answers [] for "nothing to fetch" too (the API repeats safely); the page
        # must not call it "Pickup confirmed".
        return Conflict("There is nothing to pick up for this visit.", current=work_order.status)
    if state == "picked_up":
        return None
    return reservations.pickup_shortage(session, work_order_id=work_order.id, engineer_id=engineer_id)
