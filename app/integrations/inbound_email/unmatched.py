"""Held mail from unknown senders, sorted out by a desk user (docs/tickets.md "Inbound e-mail",
step 5): attach it to a customer (a contact with the sender's address is created there through
the CRM records service, and the ticket is opened as a known contact's mail would have opened it,
threaded on the mail's Message-ID) or discard it (kept for audit, hidden from the list, and
deleted UNMATCHED_EMAIL_RETENTION_DAYS after the discard by `purge_discarded`).

Both need the version the person read: the status change is flushed first, so of two people
acting on the same mail at once the second gets a 409 before anything else is written, and no
second ticket is opened."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.desk.customers import records
from app.integrations.inbound_email.held import ATTACHED, DISCARDED, HELD
from app.integrations.inbound_email.service import open_ticket
from app.models import Contact, Ticket, UnmatchedEmail, User
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, NotFound

LIST_LIMIT = 200


def held_count(session: Session) -> int:
    return (
        session.scalar(select(func.count()).select_from(UnmatchedEmail).where(UnmatchedEmail.status == HELD))
        or 0
    )


def list_held(session: Session, *, limit: int = LIST_LIMIT) -> list[UnmatchedEmail]:
    """The mail still waiting for a person, oldest first (it has waited longest)."""
    return list(
        session.scalars(
            select(UnmatchedEmail)
            .where(UnmatchedEmail.status == HELD)
            .order_by(UnmatchedEmail.received_at, UnmatchedEmail.id)
            .limit(limit)
        )
    )


def get(session: Session, unmatched_id: int) -> UnmatchedEmail:
    row = session.get(UnmatchedEmail, unmatched_id)
    if row is None:
        raise NotFound(f"Unmatched mail {unmatched_id} does not exist.")
    return row


def _decide(session: Session, row: UnmatchedEmail, status: str, actor: User) -> None:
    """Take the mail out of the list, first: a second person acting on it gets the conflict here."""
    if row.status != HELD:
        raise Conflict(
            f"This mail was already {row.status} by someone else; nothing was changed.",
            errors=[{"field": "status", "message": f"already {row.status}"}],
        )
    row.status, row.decided_by, row.decided_at = status, actor.id, utcnow()
    try:
        session.flush()
    except StaleDataError as exc:  # attached or discarded at the same moment by someone else
        raise Conflict("Someone else attached or discarded this mail just now; nothing was changed.") from exc


def attach(
    session: Session, row: UnmatchedEmail, *, account_id: int, name: str | None, actor: User
) -> Ticket:
    """Open the ticket from the held mail on `account_id`, as the sender's contact there: an
    active contact of that customer with the sender's address, or a new one named `name` (by
    default the sender's display name, else the address)."""
    _decide(session, row, ATTACHED, actor)
    name = (name or "").strip() or row.from_name.strip() or row.from_addr
    contact = session.scalar(
        select(Contact)
        .where(Contact.account_id == account_id, Contact.email == row.from_addr, Contact.active.is_(True))
        .order_by(Contact.id)
        .limit(1)
    )
    if contact is None:
        contact = records.create_contact(
            session,
            values={"account_id": account_id, "name": name[:200], "email": row.from_addr},
            actor=actor,
        )
    ticket, _ = open_ticket(
        session,
        contact=contact,
        subject=row.subject,
        body=row.body,
        message_id=row.message_id,
        data=dict(row.data or {}),
        # opened (and its SLA clock started) when the customer wrote, not when a person got to
        # the held mail: the wait in the list is the desk's time, not the customer's
        at=row.received_at,
        actor=actor,
        extra={"unmatched_email": row.id, "received_at": row.received_at.isoformat()},
    )
    row.ticket_id, row.contact_id = ticket.id, contact.id
    session.flush()
    audit.record(
        session,
        actor,
        "unmatched_email",
        row.id,
        "attach",
        {"ticket_id": ticket.id, "contact_id": contact.id},
    )
    return ticket


def discard(session: Session, row: UnmatchedEmail, *, actor: User) -> None:
    _decide(session, row, DISCARDED, actor)
    audit.record(session, actor, "unmatched_email", row.id, "discard", {"from": row.from_addr})


def purge_discarded(session: Session, *, now: datetime, retention_days: int) -> int:
    """Delete the mail discarded more than `retention_days` before `now` (the periodic
    `fieldline.unmatched.purge`): anyone can send mail, so what nobody wanted must not pile up
    forever. The row holds all there is of it (text, `data`; attachments were never kept), so
    nothing else is left behind; its audit entries stay. Held and attached mail is never touched
    (an attached one is the ticket's origin, kept as long as the ticket). Returns how many went."""
    cutoff = now - timedelta(days=retention_days)
    result = session.execute(
        delete(UnmatchedEmail).where(UnmatchedEmail.status == DISCARDED, UnmatchedEmail.decided_at < cutoff)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
