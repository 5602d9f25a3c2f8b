"""Tickets and work orders that name a contact or an asset and are open, or can still come back:
while one of another customer does, the contact or asset may not move away from that customer (API
PATCH or CSV import), since the case's customer would no longer be the contact's or the asset's
(docs/customers.md "Moving a contact or asset").

- A resolved or closed ticket still in its reopen window counts: reopening it would bring back an
  open case naming a record of another customer. Past the window its history holds nothing (it
  keeps naming its old contact, as it keeps its old customer). A finished work order (done,
  cancelled, needs follow-up) cannot be reopened (a follow-up is a new work order): it never counts.
- Only a mismatch is refused: a move TO the customer of the cases that name the record (moving it
  back) is always allowed (`against`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.models import Ticket, TicketStatus, WorkOrder, WorkOrderStatus
from app.platform.config import get_settings
from app.platform.db import utcnow

# Spelled out here: the desk's customers may not import tickets' or the field's status modules.
_DONE_TICKET = (TicketStatus.resolved.value, TicketStatus.closed.value)
_DONE_WORK = (
    WorkOrderStatus.done.value,
    WorkOrderStatus.cancelled.value,
    WorkOrderStatus.needs_follow_up.value,  # its follow-up is a new work order
)
_CHUNK = 1000  # ids per IN (...)
_SHOWN = 5  # cases named per record in a message; the rest are counted


@dataclass(frozen=True)
class Case:
    label: str  # "ticket T-0000042", "ticket T-0000488 (resolved)", "work order WO-7"
    account_id: int  # the case's customer


def _label(kind: str, number: str | None, row_id: int, status: str | None = None) -> str:
    done = f" ({status})" if status in _DONE_TICKET else ""
    return f"{kind} {number or f'#{row_id}'}{done}"


def _ids(ids: Iterable[int]) -> list[list[int]]:
    wanted = sorted(set(ids))
    return [wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]


def _live_ticket() -> ColumnElement[bool]:
    """Open, or resolved/closed within the reopen window (app/desk/tickets/status.py
    `reopen_deadline`: resolved_at, else closed_at, plus settings.reopen_days)."""
    since = utcnow() - timedelta(days=get_settings().reopen_days)
    anchor = func.coalesce(Ticket.resolved_at, Ticket.closed_at)
    return Ticket.status.not_in(_DONE_TICKET) | (anchor.is_not(None) & (anchor >= since))


def of_contacts(session: Session, contact_ids: Iterable[int]) -> dict[int, list[Case]]:
    """Contact id → the tickets naming it that are open or can be reopened, oldest first."""
    out: defaultdict[int | None, list[Case]] = defaultdict(list)  # the IN (...) rules None out
    for chunk in _ids(contact_ids):
        rows = session.execute(
            select(Ticket.contact_id, Ticket.number, Ticket.id, Ticket.status, Ticket.account_id)
            .where(Ticket.contact_id.in_(chunk), _live_ticket())
            .order_by(Ticket.id)
        )
        for contact_id, number, ticket_id, status, account_id in rows:
            out[contact_id].append(Case(_label("ticket", number, ticket_id, status), account_id))
    return {k: v for k, v in out.items() if k is not None}


def of_assets(session: Session, asset_ids: Iterable[int]) -> dict[int, list[Case]]:
    """Asset id → the tickets (open or reopenable) and open work orders naming it, tickets
    first, oldest first."""
    out: defaultdict[int | None, list[Case]] = defaultdict(list)  # the IN (...) rules None out
    for chunk in _ids(asset_ids):
        tickets = session.execute(
            select(Ticket.asset_id, Ticket.number, Ticket.id, Ticket.status, Ticket.account_id)
            .where(Ticket.asset_id.in_(chunk), _live_ticket())
            .order_by(Ticket.id)
        )
        for asset_id, number, ticket_id, status, account_id in tickets:
            out[asset_id].append(Case(_label("ticket", number, ticket_id, status), account_id))
        orders = session.execute(
            select(WorkOrder.asset_id, WorkOrder.number, WorkOrder.id, WorkOrder.account_id)
            .where(WorkOrder.asset_id.in_(chunk), WorkOrder.status.not_in(_DONE_WORK))
            .order_by(WorkOrder.id)
        )
        for asset_id, number, order_id, account_id in orders:
            out[asset_id].append(Case(_label("work order", number, order_id), account_id))
    return {k: v for k, v in out.items() if k is not None}


def against(cases: Iterable[Case] | None, account_id: int) -> list[str]:
    """The cases a move to `account_id` would mismatch: those of another customer (a move to the
    cases' own customer, e.g. back, mends rather than breaks)."""
    return [c.label for c in cases or () if c.account_id != account_id]


def named(cases: list[str]) -> str:
    """ "ticket T-1, work order W-2" (the first few, then how many more)."""
    shown = ", ".join(cases[:_SHOWN])
    return shown if len(cases) <= _SHOWN else f"{shown} and {len(cases) - _SHOWN} more"


def move_refusal(what: str, cases: list[str]) -> str:
    """The message of a refused move: `what` ("contact 607") is named by `cases` of another
    customer that are open or can be reopened."""
    return (
        f"{what} cannot move to another customer while cases that are open or can be reopened "
        f"name it ({named(cases)}): their customer would no longer match. Resolve or close them "
        f"(a resolved ticket counts until its reopen window ends), or take the {what.split()[0]} "
        "off them, first."
    )
