"""Open tickets and work orders that name a contact or an asset: while one does, the contact or
asset may not move to another customer (API PATCH or CSV import), since the open case's customer
would no longer be the contact's or the asset's (docs/customers.md "Moving a contact or asset").

Closed history does not hold a move back: a resolved ticket keeps naming its old contact, as it
keeps its old customer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Ticket, TicketStatus, WorkOrder, WorkOrderStatus

# Spelled out here: the desk's customers may not import tickets' or the field's status modules.
_DONE_TICKET = (TicketStatus.resolved.value, TicketStatus.closed.value)
_DONE_WORK = (
    WorkOrderStatus.done.value,
    WorkOrderStatus.cancelled.value,
    WorkOrderStatus.needs_follow_up.value,  # its follow-up is a new work order
)
_CHUNK = 1000  # ids per IN (...)
_SHOWN = 5  # cases named per record in a message; the rest are counted


def _label(kind: str, number: str | None, row_id: int) -> str:
    return f"{kind} {number or f'#{row_id}'}"


def _ids(ids: Iterable[int]) -> list[list[int]]:
    wanted = sorted(set(ids))
    return [wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]


def of_contacts(session: Session, contact_ids: Iterable[int]) -> dict[int, list[str]]:
    """Contact id → the open tickets naming it ("ticket T-0000042"), oldest first."""
    out: defaultdict[int | None, list[str]] = defaultdict(list)  # the IN (...) rules None out
    for chunk in _ids(contact_ids):
        rows = session.execute(
            select(Ticket.contact_id, Ticket.number, Ticket.id)
            .where(Ticket.contact_id.in_(chunk), Ticket.status.not_in(_DONE_TICKET))
            .order_by(Ticket.id)
        )
        for contact_id, number, ticket_id in rows:
            out[contact_id].append(_label("ticket", number, ticket_id))
    return {k: v for k, v in out.items() if k is not None}


def of_assets(session: Session, asset_ids: Iterable[int]) -> dict[int, list[str]]:
    """Asset id → the open tickets and work orders naming it, tickets first, oldest first."""
    out: defaultdict[int | None, list[str]] = defaultdict(list)  # the IN (...) rules None out
    for chunk in _ids(asset_ids):
        tickets = session.execute(
            select(Ticket.asset_id, Ticket.number, Ticket.id)
            .where(Ticket.asset_id.in_(chunk), Ticket.status.not_in(_DONE_TICKET))
            .order_by(Ticket.id)
        )
        for asset_id, number, ticket_id in tickets:
            out[asset_id].append(_label("ticket", number, ticket_id))
        orders = session.execute(
            select(WorkOrder.asset_id, WorkOrder.number, WorkOrder.id)
            .where(WorkOrder.asset_id.in_(chunk), WorkOrder.status.not_in(_DONE_WORK))
            .order_by(WorkOrder.id)
        )
        for asset_id, number, order_id in orders:
            out[asset_id].append(_label("work order", number, order_id))
    return {k: v for k, v in out.items() if k is not None}


def named(cases: list[str]) -> str:
    """ "ticket T-1, work order W-2" (the first few, then how many more)."""
    shown = ", ".join(cases[:_SHOWN])
    return shown if len(cases) <= _SHOWN else f"{shown} and {len(cases) - _SHOWN} more"


def move_refusal(what: str, cases: list[str]) -> str:
    """The message of a refused move: `what` ("contact 607") is named by open `cases`."""
    return (
        f"{what} cannot move to another customer while open cases name it ({named(cases)}): "
        "their customer would no longer match. Resolve or close them, or take the "
        f"{what.split()[0]} off them, first."
    )
