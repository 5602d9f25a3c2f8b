"""Ticket service: one function per action, called by every channel (API, pages, e-mail, hooks).

Functions take the session first and keyword-only arguments, flush and never commit. The
work-order service reports visits through `on_visit_scheduled`, `on_visit_arrived`,
`on_visit_arrival_withdrawn` (a check-in undone), `on_visit_finished` and
`on_appointment_confirmed`. A resolved or closed ticket takes no more
field news: nothing is planned for it and its SLA clock is final.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.sla import clock as sla_clock
from app.desk.tickets import first_response
from app.desk.tickets.status import (
    DONE,
    FIELD_STATUSES,
    TRANSITIONS,
    allowed_next,
    change_status,
    check,
    label,
    manual_next,
)
from app.models import (
    Account,
    Asset,
    Channel,
    Contact,
    NotificationStatus,
    Priority,
    ReplyDelivery,
    Role,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    WorkOrder,
    WorkOrderStatus,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict, InvalidTransition, NotFound, Unprocessable, refuse
from app.platform.events import emit
from app.platform.outbox import enqueue
from app.platform.text import is_blank

__all__ = [
    "TRANSITIONS",
    "add_event",
    "add_note",
    "add_reply",
    "allowed_next",
    "create_ticket",
    "get_ticket",
    "log_call",
    "manual_next",
    "on_appointment_confirmed",
    "on_visit_arrival_withdrawn",
    "on_visit_arrived",
    "on_visit_finished",
    "on_visit_scheduled",
    "transition",
    "update_ticket",
]

DESK_ROLES = {Role.agent.value, Role.dispatcher.value, Role.manager.value, Role.admin.value}
UPDATABLE = ("subject", "description", "category", "priority", "contact_id", "asset_id", "assignee_id")
HOOK_CHANNEL = "field"  # timeline/ledger channel of events reported by the work-order service
MESSAGE_ID_DOMAIN = "fieldline.local"
CALL_DIRECTIONS = ("inbound", "outbound")
MAX_CALL_MIN = 600
# app/integrations/inbound_email/tasks.py: mails a reply's ReplyDelivery row
DELIVER_TASK = "fieldline.replies.deliver"
NO_CONTACT = "the ticket has no contact"
NO_ADDRESS = "the contact has no e-mail address"


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"Ticket {ticket_id} does not exist.")
    return ticket


class StaleTicket(Conflict):
    """The caller's copy of the ticket is older than the saved one."""


def _expect_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise StaleTicket(f"Ticket {ticket.number} was changed by someone else; reload and retry.")


def add_event(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    actor: User | None,
    channel: str | None,
    at: datetime,
    body: str = "",
    data: dict[str, Any] | None = None,
    message_id: str | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        kind=kind,
        actor_id=actor.id if actor else None,
        channel=channel,
        at=at,
        body=body,
        data=data or {},
        message_id=message_id,
    )
    session.add(event)
    session.flush()
    return event


def _validate_refs(
    session: Session,
    *,
    account_id: int,
    contact_id: int | None,
    asset_id: int | None,
    assignee_id: int | None = None,
    account_field: str = "customer_id",
    kept_contact_id: int | None = None,
) -> list[dict[str, str]]:
    """Field errors for references that do not exist or belong to another customer. A contact who
    left (deactivated) may stay on the ticket that names them (`kept_contact_id`), not be chosen."""
    errors: list[dict[str, str]] = []
    if session.get(Account, account_id) is None:
        return [{"field": account_field, "message": f"customer {account_id} does not exist"}]
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.account_id != account_id:
            errors.append(
                {"field": "contact_id", "message": f"contact {contact_id} is not a contact of this customer"}
            )
        elif not contact.active and contact_id != kept_contact_id:
            errors.append({"field": "contact_id", "message": f"contact {contact_id} has left this customer"})
    if asset_id is not None:
        asset = session.get(Asset, asset_id)
        if asset is None or asset.account_id != account_id:
            errors.append(
                {"field": "asset_id", "message": f"asset {asset_id} is not an asset of this customer"}
            )
    if assignee_id is not None:
        user = session.get(User, assignee_id)
        if user is None or not user.is_active or user.role not in DESK_ROLES:
            errors.append(
                {"field": "assignee_id", "message": f"user {assignee_id} is not an active desk user"}
            )
    return errors


def create_ticket(
    session: Session,
    *,
    account_id: int,
    subject: str,
    priority: str,
    channel: str,
    actor: User | None,
    contact_id: int | None = None,
    asset_id: int | None = None,
    description: str = "",
    category: str = "",
    opened_at: datetime | None = None,
    email_thread_id: str | None = None,
    event_data: dict[str, Any] | None = None,
) -> Ticket:
    """Open a ticket (status new), number it, start its SLA clock."""
    errors = _validate_refs(session, account_id=account_id, contact_id=contact_id, asset_id=asset_id)
    if priority not in Priority.__members__:
        errors.append({"field": "priority", "message": "must be one of P1, P2, P3, P4"})
    if channel not in Channel.__members__:
        errors.append({"field": "channel", "message": "must be one of phone, email, web, api"})
    if is_blank(subject):
        errors.append({"field": "subject", "message": "must not be blank"})
    refuse(errors)
    asset = session.get(Asset, asset_id) if asset_id is not None else None
    ticket = Ticket(
        account_id=account_id,
        contact_id=contact_id,
        asset_id=asset_id,
        site_id=asset.site_id if asset else None,
        channel=channel,
        subject=subject.strip()[:300],
        description=description,
        category=category,
        priority=priority,
        status=TicketStatus.new.value,
        opened_at=opened_at or utcnow(),
        email_thread_id=email_thread_id,
    )
    session.add(ticket)
    session.flush()
    ticket.number = f"T-{ticket.id:07d}"
    sla_clock.start(session, ticket, channel=channel)
    add_event(
        session,
        ticket,
        "created",
        actor=actor,
        channel=channel,
        at=ticket.opened_at,
        body=description,
        data={
            "subject": ticket.subject,
            "priority": priority,
            "sla_tier": ticket.sla_tier,
            **(event_data or {}),
        },
    )
    audit.record(
        session,
        actor,
        "ticket",
        ticket.id,
        "create",
        {"number": [None, ticket.number], "priority": [None, priority]},
    )
    session.flush()
    emit(session, "ticket.created", _summary(ticket))
    return ticket


def _summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "account_id": ticket.account_id,
        "asset_id": ticket.asset_id,
        "priority": ticket.priority,
        "status": ticket.status,
        "subject": ticket.subject,
        "resolution_due_at": ticket.resolution_due_at,
    }


def update_ticket(
    session: Session,
    *,
    ticket_id: int,
    values: Mapping[str, Any],
    actor: User | None,
    channel: str | None,
    expected_version: int | None = None,
) -> Ticket:
    """Edit fields; a priority or asset change re-targets the SLA clock."""
    ticket = get_ticket(session, ticket_id)
    _expect_version(ticket, expected_version)
    unknown = sorted(set(values) - set(UPDATABLE))
    errors = [{"field": f, "message": "cannot be changed here"} for f in unknown]
    fields = {k: v for k, v in values.items() if k in UPDATABLE}
    if "priority" in fields and fields["priority"] not in Priority.__members__:
        errors.append({"field": "priority", "message": "must be one of P1, P2, P3, P4"})
    if "subject" in fields and is_blank(fields["subject"]):
        errors.append({"field": "subject", "message": "must not be blank"})
    # Only a new assignee must work the desk: one sent back unchanged (a form or a client that
    # echoes the whole ticket) may have left it since, and refusing would block every other edit
    # while the only way through would be to unassign them unasked. Likewise only a new contact
    # must be one of this customer's: the current one may have moved to another account since
    # (a CRM import), and the ticket keeps who called. The same for the asset: the current one
    # may have moved to another customer's site since; the ticket keeps what it was about.
    assignee_id = fields.get("assignee_id")
    contact_id = fields.get("contact_id")
    if "asset_id" in fields and fields["asset_id"] == ticket.asset_id:
        del fields["asset_id"]  # unchanged: not checked, and its site is not re-derived either
    errors += _validate_refs(
        session,
        account_id=ticket.account_id,
        contact_id=contact_id if contact_id != ticket.contact_id else None,
        asset_id=fields.get("asset_id"),
        assignee_id=assignee_id if assignee_id != ticket.assignee_id else None,
        kept_contact_id=ticket.contact_id,
    )
    refuse(errors)
    if "asset_id" in fields:
        asset = session.get(Asset, fields["asset_id"]) if fields["asset_id"] else None
        fields["site_id"] = asset.site_id if asset else None
    changes = audit.apply_changes(ticket, fields)
    if not changes:
        return ticket
    at = utcnow()
    if "priority" in changes:
        add_event(
            session,
            ticket,
            "priority",
            actor=actor,
            channel=channel,
            at=at,
            data={"from": changes["priority"][0], "to": changes["priority"][1]},
        )
    if "assignee_id" in changes:
        add_event(
            session,
            ticket,
            "assigned",
            actor=actor,
            channel=channel,
            at=at,
            data={"from": changes["assignee_id"][0], "to": changes["assignee_id"][1]},
        )
    rest = {k: v for k, v in changes.items() if k not in ("priority", "assignee_id")}
    if rest:
        add_event(session, ticket, "updated", actor=actor, channel=channel, at=at, data={"changes": rest})
    if "priority" in changes or "asset_id" in changes:
        reason = "priority" if "priority" in changes else "asset"
        sla_clock.retarget(session, ticket, at=at, channel=channel, reason=reason)
    audit.record(session, actor, "ticket", ticket.id, "update", changes)
    session.flush()
    emit(session, "ticket.updated", {**_summary(ticket), "changes": changes})
    return ticket


def transition(
    session: Session,
    *,
    ticket_id: int,
    to: str,
    actor: User | None,
    channel: str | None,
    reason: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """A person moves a ticket (API, pages); illegal moves raise InvalidTransition (409).

    Scheduled and in progress follow the work orders and are refused here. Resolving needs the
    resolution (`reason`), which goes to the customer; closing a ticket that was never resolved
    needs a reason. Resolving or closing ends the ticket's open visits or is refused naming them
    (the field layer's closing hook, docs/tickets.md)."""
    ticket = get_ticket(session, ticket_id)
    _expect_version(ticket, expected_version)
    if to not in TicketStatus.__members__:
        raise Unprocessable(
            f"{to!r} is not a ticket status.", errors=[{"field": "to", "message": "unknown status"}]
        )
    at = at or utcnow()
    reason = reason.strip()
    if to in FIELD_STATUSES:
        allowed = manual_next(ticket, at=at)
        raise InvalidTransition(
            f"“{to.replace('_', ' ')}” follows the work orders: a ticket becomes scheduled when a visit "
            "is scheduled and in progress when the engineer checks in. Create or schedule a work "
            f"order instead; allowed now: {', '.join(label(a) for a in allowed) or 'none'}.",
            current=ticket.status,
            requested=to,
            allowed=allowed,
        )
    check(ticket, to, at=at, manual=True)
    if to == TicketStatus.resolved and not reason:
        raise Unprocessable(
            "Resolving a ticket needs the resolution: what was done "
            "(it is kept on the ticket, in its timeline).",
            errors=[{"field": "reason", "message": "write the resolution"}],
        )
    if to == TicketStatus.closed and ticket.status != TicketStatus.resolved and not reason:
        raise Unprocessable(
            "Closing a ticket that was not resolved needs a reason (e.g. duplicate, customer withdrew).",
            errors=[{"field": "reason", "message": "give the reason for closing"}],
        )
    if to == TicketStatus.resolved and ticket.status not in DONE:
        contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
        reaches = actor is not None and contact is not None and bool(contact.email)
        change_status(
            session,
            ticket,
            to,
            actor=actor,
            channel=channel,
            at=at,
            reason=reason,
            contact=("resolution", "email") if reaches else None,
        )
        if contact is not None and contact.email:
            _message_customer(
                session,
                ticket,
                reason,
                actor=actor,
                channel=channel,
                at=at,
                to=contact.email,
                resolution=True,
            )
        return ticket
    change_status(session, ticket, to, actor=actor, channel=channel, at=at, reason=reason)
    return ticket


def new_message_id(ticket: Ticket) -> str:
    return f"<{ticket.number}.{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


def _message_customer(
    session: Session,
    ticket: Ticket,
    body: str,
    *,
    actor: User | None,
    channel: str | None,
    at: datetime,
    to: str | None,
    resolution: bool = False,
) -> TicketEvent:
    """A message to the customer (kind reply) with a Message-ID so the customer's answer threads."""
    message_id = new_message_id(ticket)
    in_reply_to = ticket.email_thread_id
    if ticket.email_thread_id is None:  # the first outbound message starts the thread
        ticket.email_thread_id = message_id
    ticket.first_reply_at = min(at, ticket.first_reply_at or at)
    event = add_event(
        session,
        ticket,
        "reply",
        actor=actor,
        channel=channel,
        at=at,
        body=body,
        message_id=message_id,
        data={
            "to": to,
            "subject": f"Re: [{ticket.number}] {ticket.subject}",
            "in_reply_to": in_reply_to,
            **({"resolution": True} if resolution else {}),
        },
    )
    _queue_mail(session, ticket, event, to=to)
    return event


def _queue_mail(session: Session, ticket: Ticket, event: TicketEvent, *, to: str | None) -> ReplyDelivery:
    """The reply's delivery row, mailed after the commit by the inbound-e-mail integration's task
    (by name: the desk may not import it). Without an address it is recorded as not mailed, so the
    timeline says why the customer got nothing."""
    delivery = ReplyDelivery(event_id=event.id, ticket_id=ticket.id, recipient=to or "")
    if not to:
        delivery.status = NotificationStatus.skipped.value
        delivery.error = NO_ADDRESS if ticket.contact_id else NO_CONTACT
    session.add(delivery)
    session.flush()
    if to:
        enqueue(session, DELIVER_TASK, delivery_id=delivery.id)
    return delivery


def add_reply(
    session: Session,
    *,
    ticket_id: int,
    body: str,
    actor: User | None,
    channel: str | None,
    at: datetime | None = None,
) -> TicketEvent:
    """A public reply to the customer; the first one counts as first response. A reply on a
    new ticket opens it. The reply gets a Message-ID so the customer's answer threads."""
    ticket = get_ticket(session, ticket_id)
    if is_blank(body):
        raise Unprocessable(
            "A reply needs a text.", errors=[{"field": "text", "message": "must not be blank"}]
        )
    if ticket.status == TicketStatus.closed:
        raise Conflict(f"Ticket {ticket.number} is closed; reopen it before replying.")
    at = at or utcnow()
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    to = contact.email if contact else None
    event = _message_customer(session, ticket, body, actor=actor, channel=channel, at=at, to=to)
    if ticket.status not in DONE:
        first_response.record(session, ticket, at=at, via="reply", channel=channel, contact_channel="email")
    if ticket.status == TicketStatus.new:
        change_status(
            session, ticket, TicketStatus.open.value, actor=actor, channel=channel, at=at, reason="replied"
        )
    audit.record(session, actor, "ticket", ticket.id, "reply", {"event_id": [None, event.id]})
    session.flush()
    emit(
        session,
        "ticket.replied",
        {"ticket_id": ticket.id, "number": ticket.number, "event_id": event.id, "at": at, "channel": channel},
    )
    return event


def add_note(
    session: Session,
    *,
    ticket_id: int,
    body: str,
    actor: User | None,
    channel: str | None,
    at: datetime | None = None,
) -> TicketEvent:
    """An internal note: never shown to the customer, no effect on the SLA."""
    ticket = get_ticket(session, ticket_id)
    if is_blank(body):
        raise Unprocessable(
            "A note needs a text.", errors=[{"field": "text", "message": "must not be blank"}]
        )
    event = add_event(session, ticket, "note", actor=actor, channel=channel, at=at or utcnow(), body=body)
    audit.record(session, actor, "ticket", ticket.id, "note", {"event_id": [None, event.id]})
    return event


def _advance(
    session: Session,
    ticket: Ticket,
    to: str,
    *,
    actor: User | None,
    at: datetime,
    reason: str,
    contact: tuple[str, str | None] | None = None,
) -> bool:
    """Move to `to` if that is legal now; hooks never fail on the ticket's state (a resolve that
    another visit still in progress refuses leaves the ticket as it was)."""
    if ticket.status == to or to not in allowed_next(ticket, at=at):
        return False
    try:
        with session.begin_nested():
            change_status(
                session, ticket, to, actor=actor, channel=HOOK_CHANNEL, at=at, reason=reason, contact=contact
            )
    except AppError:
        session.refresh(ticket)
        return False
    return True


def on_visit_scheduled(session: Session, *, ticket_id: int, at: datetime, actor: User | None) -> Ticket:
    """A visit was scheduled at `at` (the moment of scheduling, not the appointment): status →
    scheduled when legal and the arrival target applies. It is not a first response: the planner
    telling itself is no contact with the customer. Ignored on a resolved or closed ticket."""
    ticket = get_ticket(session, ticket_id)
    if ticket.status in DONE:
        return ticket
    at = min(at, utcnow())  # an appointment time passed by mistake must not date it ahead
    add_event(session, ticket, "visit_scheduled", actor=actor, channel=HOOK_CHANNEL, at=at)
    ticket.first_visit_at = min(at, ticket.first_visit_at or at)
    if not _advance(
        session, ticket, TicketStatus.scheduled.value, actor=actor, at=at, reason="visit scheduled"
    ):
        sla_clock.refresh(session, ticket, now=at)  # the arrival target now applies
    return ticket


def on_appointment_confirmed(
    session: Session, *, ticket_id: int, at: datetime, actor: User | None, starts_at: datetime, number: str
) -> Ticket:
    """A person agreed a visit time with the customer (the work order's appointment): a human
    contact, so it may be the first response. Without an actor (an import, the planner) nothing."""
    ticket = get_ticket(session, ticket_id)
    if actor is None or ticket.status in DONE:
        return ticket
    add_event(
        session,
        ticket,
        "appointment_confirmed",
        actor=actor,
        channel=HOOK_CHANNEL,
        at=at,
        data={"work_order": number, "starts_at": starts_at.isoformat()},
    )
    first_response.record(session, ticket, at=at, via="appointment", channel=HOOK_CHANNEL)
    return ticket


def on_visit_arrived(session: Session, *, ticket_id: int, at: datetime, actor: User | None) -> Ticket:
    """The engineer arrived on site: arrival met/breached (first arrival); → in_progress."""
    ticket = get_ticket(session, ticket_id)
    if ticket.status in DONE:  # a late report for a finished case: its clock is final
        return ticket
    add_event(session, ticket, "visit_arrived", actor=actor, channel=HOOK_CHANNEL, at=at)
    if ticket.arrived_at is None:
        ticket.arrived_at = at
        sla_clock.settle(session, ticket, "arrival", channel=HOOK_CHANNEL)
    _advance(session, ticket, TicketStatus.in_progress.value, actor=actor, at=at, reason="engineer on site")
    return ticket


def on_visit_arrival_withdrawn(
    session: Session,
    *,
    ticket_id: int,
    work_order_id: int,
    number: str,
    checked_in_at: datetime,
    at: datetime,
    actor: User | None,
) -> Ticket:
    """A check-in was undone (a wrong tap: docs/workorders.md, "Undo check-in"). The timeline says
    so; when that check-in was the ticket's arrival, its SLA stamp is withdrawn (an appended
    `withdraw` entry, `sla_clock.withdraw`) and the arrival becomes the next visit's that reached
    the site, if any; the ticket leaves `in_progress` for the status the check-in moved it from
    when no other visit of it is on site."""
    ticket = get_ticket(session, ticket_id)
    add_event(
        session,
        ticket,
        "visit_arrival_withdrawn",
        actor=actor,
        channel=HOOK_CHANNEL,
        at=at,
        data={"work_order_id": work_order_id, "number": number, "checked_in_at": checked_in_at.isoformat()},
    )
    if ticket.status in DONE:  # its clock is final
        return ticket
    others = session.execute(
        select(WorkOrder.checked_in_at, WorkOrder.status).where(
            WorkOrder.ticket_id == ticket.id,
            WorkOrder.id != work_order_id,
            WorkOrder.checked_in_at.is_not(None),
        )
    ).all()
    arrivals = sorted(a for a, _ in others if a is not None)
    if ticket.arrived_at is not None and not (arrivals and arrivals[0] < checked_in_at):
        # This check-in was the ticket's arrival (no visit of it reached the site before).
        sla_clock.withdraw(
            session,
            ticket,
            "arrival",
            at=at,
            channel=HOOK_CHANNEL,
            reason="check-in withdrawn",
            data={"work_order_id": work_order_id},
        )
        if arrivals:  # another engineer of this ticket is (or was) on site since: that is the arrival
            ticket.arrived_at = arrivals[0]
            sla_clock.settle(session, ticket, "arrival", channel=HOOK_CHANNEL)
    on_site = any(status == WorkOrderStatus.on_site.value for _, status in others)
    if ticket.status == TicketStatus.in_progress.value and not on_site:
        back = _status_before_arrival(session, ticket, checked_in_at)
        for to in dict.fromkeys((back, TicketStatus.scheduled.value)):
            if to and _advance(session, ticket, to, actor=actor, at=at, reason="check-in withdrawn"):
                break
    return ticket


def _status_before_arrival(session: Session, ticket: Ticket, checked_in_at: datetime) -> str | None:
    """The status the check-in at `checked_in_at` moved the ticket from (its `visit_arrived` hook
    wrote that status change at the same instant), if it moved it."""
    data = session.scalar(
        select(TicketEvent.data)
        .where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.kind == "status",
            TicketEvent.at == checked_in_at,
        )
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    before = (data or {}).get("from") if (data or {}).get("to") == TicketStatus.in_progress.value else None
    return before if isinstance(before, str) else None


def on_visit_finished(
    session: Session,
    *,
    ticket_id: int,
    at: datetime,
    fixed: bool,
    actor: User | None,
    work_order_id: int | None = None,
) -> Ticket:
    """The visit ended: fixed → resolved (the engineer, a person, hands the customer the service
    report on site: a human contact); otherwise the ticket stays open/in progress. `work_order_id`
    lets the timeline line lead to that visit's report."""
    ticket = get_ticket(session, ticket_id)
    if ticket.status in DONE:
        return ticket
    data: dict[str, Any] = {"fixed": fixed}
    if work_order_id is not None:
        data["work_order_id"] = work_order_id
    add_event(session, ticket, "visit_finished", actor=actor, channel=HOOK_CHANNEL, at=at, data=data)
    if fixed:
        contact = ("resolution", "on_site") if actor is not None else None
        _advance(
            session,
            ticket,
            TicketStatus.resolved.value,
            actor=actor,
            at=at,
            reason="fixed on site",
            contact=contact,
        )
    return ticket


def log_call(
    session: Session,
    *,
    ticket_id: int,
    direction: str,
    summary: str,
    duration_min: int,
    actor: User | None,
    channel: str | None,
    at: datetime | None = None,
) -> TicketEvent:
    """A phone call with the customer that an agent logs: a human contact (it may be the first
    response, its contact channel is phone). A call on a new ticket opens it."""
    ticket = get_ticket(session, ticket_id)
    errors = []
    if direction not in CALL_DIRECTIONS:
        errors.append({"field": "direction", "message": "must be inbound or outbound"})
    if is_blank(summary):
        errors.append({"field": "summary", "message": "say what was discussed"})
    if not 0 <= duration_min <= MAX_CALL_MIN:
        errors.append({"field": "duration_min", "message": f"between 0 and {MAX_CALL_MIN} minutes"})
    refuse(errors)
    if ticket.status == TicketStatus.closed:
        raise Conflict(f"Ticket {ticket.number} is closed; reopen it before logging a call.")
    at = at or utcnow()
    event = add_event(
        session,
        ticket,
        "call",
        actor=actor,
        channel=channel,
        at=at,
        body=summary.strip(),
        data={"direction": direction, "duration_min": duration_min, "contact_channel": "phone"},
    )
    if ticket.status not in DONE:
        first_response.record(session, ticket, at=at, via="call", channel=channel, contact_channel="phone")
    if ticket.status == TicketStatus.new:
        change_status(
            session,
            ticket,
            TicketStatus.open.value,
            actor=actor,
            channel=channel,
            at=at,
            reason="call logged",
        )
    audit.record(session, actor, "ticket", ticket.id, "call", {"event_id": [None, event.id]})
    session.flush()
    emit(
        session,
        "ticket.call_logged",
        {
            "ticket_id": ticket.id,
            "number": ticket.number,
            "event_id": event.id,
            "at": at,
            "direction": direction,
        },
    )
    return event
