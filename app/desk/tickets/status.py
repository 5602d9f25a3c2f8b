"""The ticket status lifecycle: the transition table and the one function that changes status.

Every status change — API transition, page button, e-mail reply, work-order hook — goes
through `change_status`, so the timeline, the SLA ledger, the audit log and the webhook
events are the same whichever channel caused it. The table is documented in docs/tickets.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.sla import clock as sla_clock
from app.desk.tickets import first_response, hooks
from app.models import Ticket, TicketEvent, TicketStatus, User, WorkOrder, WorkOrderStatus
from app.platform import audit
from app.platform.config import get_settings
from app.platform.errors import Conflict, InvalidTransition
from app.platform.events import emit

TRANSITIONS: dict[str, tuple[str, ...]] = {
    TicketStatus.new: (
        TicketStatus.open,
        TicketStatus.waiting_on_customer,
        TicketStatus.scheduled,
        TicketStatus.in_progress,
        TicketStatus.closed,
    ),
    # open → resolved is the first-call fix.
    TicketStatus.open: (
        TicketStatus.waiting_on_customer,
        TicketStatus.scheduled,
        TicketStatus.in_progress,
        TicketStatus.resolved,
    ),
    TicketStatus.waiting_on_customer: (
        TicketStatus.open,
        TicketStatus.scheduled,
        TicketStatus.in_progress,
        TicketStatus.resolved,
    ),
    TicketStatus.scheduled: (
        TicketStatus.open,
        TicketStatus.waiting_on_customer,
        TicketStatus.in_progress,
        TicketStatus.resolved,
    ),
    TicketStatus.in_progress: (
        TicketStatus.open,
        TicketStatus.waiting_on_customer,
        TicketStatus.scheduled,
        TicketStatus.resolved,
    ),
    # → open is a reopen, only within settings.reopen_days of resolution (or closing).
    TicketStatus.resolved: (TicketStatus.open, TicketStatus.closed),
    TicketStatus.closed: (TicketStatus.open,),
}
DONE = frozenset({TicketStatus.resolved.value, TicketStatus.closed.value})
# These describe field work: the work-order hooks set them, a person cannot (docs/tickets.md).
FIELD_STATUSES = frozenset({TicketStatus.scheduled.value, TicketStatus.in_progress.value})
_ENDED_WORK = (
    WorkOrderStatus.done.value,
    WorkOrderStatus.cancelled.value,
    WorkOrderStatus.needs_follow_up.value,
)


def reopen_deadline(ticket: Ticket) -> datetime | None:
    anchor = ticket.resolved_at or ticket.closed_at
    if anchor is None:
        return None
    return anchor + timedelta(days=get_settings().reopen_days)


def allowed_next(ticket: Ticket, *, at: datetime) -> list[str]:
    """The states this ticket may move to now (a reopen only inside its window)."""
    allowed = [str(s) for s in TRANSITIONS[TicketStatus(ticket.status)]]
    if ticket.status in DONE:
        deadline = reopen_deadline(ticket)
        if deadline is None or at > deadline:
            allowed.remove(TicketStatus.open.value)
    return allowed


def manual_next(ticket: Ticket, *, at: datetime) -> list[str]:
    """The states a person may move this ticket to now (field statuses follow the work orders)."""
    return [s for s in allowed_next(ticket, at=at) if s not in FIELD_STATUSES]


def open_work_orders(session: Session, ticket: Ticket) -> list[WorkOrder]:
    return list(
        session.scalars(
            select(WorkOrder)
            .where(WorkOrder.ticket_id == ticket.id, WorkOrder.status.not_in(_ENDED_WORK))
            .order_by(WorkOrder.id)
        )
    )


def _end_field_work(session: Session, ticket: Ticket, closing: hooks.Closing) -> None:
    """The registered handlers end (or refuse to end) the ticket's visits; whatever they did, a
    resolved or closed ticket never keeps live work (a process that forgot to install them
    refuses here instead of leaving a visit to be planned for a closed case)."""
    hooks.run_closing(session, ticket, closing)
    session.flush()
    left = open_work_orders(session, ticket)
    if left:
        names = ", ".join(f"{w.number} ({w.status.replace('_', ' ')})" for w in left)
        raise Conflict(
            f"Ticket {ticket.number} still has open work orders: {names}. "
            "Finish or cancel them before the ticket is " + closing.to + ".",
            open_work_orders=[w.number for w in left],
        )


def label(status: str) -> str:
    """A status as pages write it: 'waiting_on_customer' → 'Waiting on customer'."""
    text = str(status).replace("_", " ")
    return text[:1].upper() + text[1:]


def check(ticket: Ticket, to: str, *, at: datetime, manual: bool = False) -> None:
    """409 naming the allowed states; `manual`: the states a person may choose."""
    allowed = manual_next(ticket, at=at) if manual else allowed_next(ticket, at=at)
    if to in allowed:
        return
    if (
        ticket.status in DONE
        and to == TicketStatus.open
        and TicketStatus.open in TRANSITIONS[TicketStatus(ticket.status)]
    ):
        days = get_settings().reopen_days
        detail = (
            f"Ticket {ticket.number} can no longer be reopened: the {days}-day reopen "
            "window has ended; open a new ticket instead."
        )
    else:
        # words for people (the detail); `allowed` keeps the codes for programs
        nexts = ", ".join(label(s) for s in allowed) or "none"
        detail = f"A ticket that is {label(ticket.status)} cannot move to {label(to)}; allowed next: {nexts}."
    raise InvalidTransition(detail, current=ticket.status, requested=to, allowed=allowed)


def change_status(
    session: Session,
    ticket: Ticket,
    to: str,
    *,
    actor: User | None,
    channel: str | None,
    at: datetime,
    reason: str = "",
    event_data: dict[str, object] | None = None,
    contact: tuple[str, str | None] | None = None,
) -> None:
    """Move the ticket to `to` (legal-checked here via `check`). `contact` = (via, contact
    channel) when a person's resolution reaches the customer: it may be the first response."""
    check(ticket, to, at=at)
    old = ticket.status
    reopening = old in DONE and to == TicketStatus.open
    if to in DONE and old not in DONE:
        _end_field_work(session, ticket, hooks.Closing(to, actor, channel, at, reason))
    # Targets that ran out before this change are breaches, whatever the new state.
    sla_clock.refresh(session, ticket, now=at)
    ticket.status = to
    if to == TicketStatus.resolved:
        ticket.resolved_at = at
        if contact is not None:  # a person's resolution that the customer receives
            first_response.record(
                session, ticket, at=at, via=contact[0], channel=channel, contact_channel=contact[1]
            )
        sla_clock.settle(session, ticket, "resolution", channel=channel)
    elif to == TicketStatus.closed:
        ticket.closed_at = at
    if reopening:
        ticket.resolved_at = None
        ticket.closed_at = None
        sla_clock.resume(session, ticket, at=at, channel=channel, reason="reopened", reopened=True)
    elif to in DONE and old not in DONE:
        sla_clock.stop(session, ticket, at=at, channel=channel, reason=to)
    elif to == TicketStatus.waiting_on_customer:
        sla_clock.pause(session, ticket, at=at, channel=channel, reason=to)
    elif old == TicketStatus.waiting_on_customer:
        sla_clock.resume(session, ticket, at=at, channel=channel, reason=to)
    else:
        sla_clock.refresh(session, ticket, now=at)
    data: dict[str, object] = {"from": old, "to": to, **(event_data or {})}
    if reason:
        data["reason"] = reason
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=at,
            kind="status",
            channel=channel,
            actor_id=actor.id if actor else None,
            body=reason,
            data=data,
        )
    )
    audit.record(
        session,
        actor,
        "ticket",
        ticket.id,
        "status",
        {"status": [old, to], **({"reason": reason} if reason else {})},
    )
    session.flush()
    emit(
        session,
        "ticket.status_changed",
        {
            "ticket_id": ticket.id,
            "number": ticket.number,
            "from": old,
            "to": to,
            "reason": reason,
            "at": at,
            "channel": channel,
        },
    )
