"""Inbound e-mail from the mail relay: thread a reply onto its ticket or open a new one.

Threading, in order: a Message-ID in In-Reply-To/References that we sent or received on a
ticket (Ticket.email_thread_id or a TicketEvent.message_id), newest reference first, then a
"[T-0000123]" subject tag. Either only counts when the sender belongs on that ticket — a contact
of the ticket's customer, or an address the ticket already corresponded with — since Message-IDs
leak (forwarded mails, quoted headers) and anyone can type a ticket number. Anyone else who is a
known contact gets a new ticket on their own account (nothing is added to the foreign ticket, not
even a link); an unknown sender's mail is held for a person (held.py, unmatched.py). Every message
is stored with its Message-ID (unique), so a relay retry creates nothing twice.

An automatic mail (out-of-office, list, bounce: mime._auto_reason) never opens a ticket: on a ticket
it threads onto it is recorded and moves nothing, otherwise it is ignored (nothing written, and
no refusal, which the relay would bounce: answering an automatic mail is how mail loops start).

Reading the message is bounded (mime.py): nesting, parts, header fields and header text are
capped (422 past a cap), and only the newest MAX_REFERENCES referenced ids are looked up.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.desk.tickets.status import DONE, allowed_next, change_status
from app.integrations.inbound_email.held import HELD, hold
from app.integrations.inbound_email.mime import ParsedEmail, parse
from app.models import Account, Contact, Ticket, TicketEvent, TicketStatus, UnmatchedEmail, User
from app.platform import i18n
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.events import emit

CHANNEL = "email"
_TAG = re.compile(r"\[(T-\d{7})\]")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    ticket: Ticket | None  # None when ignored or held
    event: TicketEvent | None
    action: str  # created | threaded | duplicate | ignored | held
    reason: str | None = None  # why it was ignored: the automatic marker, or the full daily cap
    ignored_as: str = "auto-reply"  # auto-reply | held-limit
    held: UnmatchedEmail | None = None  # held (or a retry of a held or discarded mail)


def _contacts(session: Session, addr: str) -> list[Contact]:
    return list(
        session.scalars(select(Contact).where(func.lower(Contact.email) == addr).order_by(Contact.id))
    )


def _of(ticket: Ticket, senders: list[Contact]) -> bool:
    """The sender is one of the ticket's customer's people: an active contact of that customer, or
    the ticket's own contact even after leaving (the conversation exists; docs/tickets.md)."""
    return any(c.account_id == ticket.account_id and (c.active or c.id == ticket.contact_id) for c in senders)


def _belongs(session: Session, ticket: Ticket, addr: str, senders: list[Contact]) -> bool:
    """One of the ticket's customer's people (`_of`), or an address the ticket mailed with before."""
    if _of(ticket, senders):
        return True
    events = session.scalars(
        select(TicketEvent.data).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("email_in", "reply"))
        )
    )
    return any(
        addr in {str(data.get("from") or "").lower(), str(data.get("to") or "").lower()}
        for data in events
        if isinstance(data, dict)
    )


def _referenced(session: Session, mail: ParsedEmail) -> Ticket | None:
    """The ticket of the newest reference we know (its thread's first message or any stored one)."""
    if not mail.references:
        return None
    ids = list(mail.references)  # at most mime.MAX_REFERENCES: two bounded lookups
    found: dict[str, int] = {}
    for message_id, ticket_id in session.execute(
        select(Ticket.email_thread_id, func.max(Ticket.id))
        .where(Ticket.email_thread_id.in_(ids))
        .group_by(Ticket.email_thread_id)
    ):
        found[str(message_id)] = int(ticket_id)
    for message_id, ticket_id in session.execute(
        select(TicketEvent.message_id, TicketEvent.ticket_id).where(TicketEvent.message_id.in_(ids))
    ):
        found.setdefault(str(message_id), int(ticket_id))
    newest = next((found[i] for i in ids if i in found), None)
    return session.get(Ticket, newest) if newest is not None else None


def _thread(session: Session, mail: ParsedEmail, senders: list[Contact]) -> Ticket | None:
    ticket = _referenced(session, mail)
    if ticket is not None and _belongs(session, ticket, mail.from_addr, senders):
        return ticket
    for number in _TAG.findall(mail.subject):
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is not None and _of(ticket, senders):
            return ticket
    return None


def receive_email(session: Session, *, raw: bytes) -> Received:
    mail = parse(raw)
    seen = _seen(session, mail.message_id)
    if seen is not None:
        return seen
    try:
        with session.begin_nested():
            return _receive(session, mail)
    except IntegrityError:  # the same message arrived twice at once; the other one won
        seen = _seen(session, mail.message_id)
        if seen is None:
            raise
        return seen


def _seen(session: Session, message_id: str) -> Received | None:
    """A relay retry: the ticket the message is on, or the held mail it is (still held: held
    again, nothing written; discarded: a duplicate with no ticket)."""
    event = session.scalar(select(TicketEvent).where(TicketEvent.message_id == message_id))
    if event is not None:
        return Received(session.get_one(Ticket, event.ticket_id), event, "duplicate")
    held = session.scalar(select(UnmatchedEmail).where(UnmatchedEmail.message_id == message_id))
    if held is not None:
        return Received(None, None, "held" if held.status == HELD else "duplicate", held=held)
    return None


def _receive(session: Session, mail: ParsedEmail) -> Received:
    senders = _contacts(session, mail.from_addr)  # those who left too: their own threads
    at = utcnow()
    ticket = _thread(session, mail, senders)
    data: dict[str, Any] = {
        "from": mail.from_addr,
        "from_name": mail.from_name,
        "subject": mail.subject,
        "date": mail.date,
        "in_reply_to": list(mail.references),
        "auto": mail.auto,
    }
    if mail.auto_reason:
        data["auto_reason"] = mail.auto_reason
    if mail.attachments:
        # Only what was sent is recorded; the files themselves are not kept (docs/tickets.md).
        data["attachments"] = [a.as_data() for a in mail.attachments]
    if mail.attachments_not_listed:
        data["attachments_not_listed"] = mail.attachments_not_listed
    reopenable = ticket is not None and TicketStatus.open in allowed_next(ticket, at=at)
    if ticket is not None and (mail.auto or ticket.status not in DONE or reopenable):
        event = tickets.add_event(
            session,
            ticket,
            "email_in",
            actor=None,
            channel=CHANNEL,
            at=at,
            body=mail.body,
            data=data,
            message_id=mail.message_id,
        )
        # An out-of-office answer is kept on the timeline but moves nothing.
        if not mail.auto and (ticket.status in DONE or ticket.status == TicketStatus.waiting_on_customer):
            change_status(
                session,
                ticket,
                TicketStatus.open.value,
                actor=None,
                channel=CHANNEL,
                at=at,
                reason="customer e-mail",
            )
        emit(
            session,
            "ticket.updated",
            {"ticket_id": ticket.id, "number": ticket.number, "email_in": event.id, "changes": {}},
        )
        return Received(ticket, event, "threaded")
    if mail.auto_reason:  # an automatic mail never opens a ticket
        log.info("inbound e-mail %s ignored: automatic (%s)", mail.message_id, mail.auto_reason)
        return Received(None, None, "ignored", reason=mail.auto_reason)
    # A contact who left the customer (deactivated) opens nothing on it: a new mail from them is
    # an unknown sender's. Only a reply on their own thread still lands there (threaded above).
    active = [c for c in senders if c.active]
    contact = next(
        (c for c in active if ticket is None or c.account_id == ticket.account_id),
        active[0] if active else None,
    )
    if contact is None and ticket is not None:  # reply on a ticket past its reopen window
        former = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
        contact = former if former is not None and former.active else None
    if contact is None:  # kept for a person to attach to a customer or discard (held.py)
        if senders:
            data["contact_left"] = True  # the address was a contact's who has left the customer
        kept = hold(session, mail, data, at)
        if isinstance(kept, str):
            return Received(None, None, "ignored", reason=kept, ignored_as="held-limit")
        return Received(None, None, "held", held=kept)
    extra: dict[str, Any] = {"follows": ticket.number} if ticket is not None else {}
    if len(senders) > 1:
        extra["other_contacts"] = [c.id for c in senders if c.id != contact.id]
    new, event = open_ticket(
        session,
        contact=contact,
        subject=mail.subject,
        body=mail.body,
        message_id=mail.message_id,
        data=data,
        at=at,
        actor=None,
        asset_id=ticket.asset_id if ticket is not None else None,
        extra=extra,
    )
    return Received(new, event, "created")


def open_ticket(
    session: Session,
    *,
    contact: Contact,
    subject: str,
    body: str,
    message_id: str,
    data: dict[str, Any],
    at: datetime,
    actor: User | None,
    asset_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Ticket, TicketEvent]:
    """The ticket a customer's mail opens (step 4, and a held mail attached by a person): on the
    contact's customer, channel e-mail, P3, the mail's subject and text, threaded on its Message-ID,
    with the mail itself as the first `email_in` event (its Message-ID stored, so a relay retry is
    a duplicate and a reply threads)."""
    new = tickets.create_ticket(
        session,
        account_id=contact.account_id,
        contact_id=contact.id,
        asset_id=asset_id,
        subject=subject or "(no subject)",
        description=body,
        priority="P3",
        channel=CHANNEL,
        actor=actor,
        opened_at=at,
        email_thread_id=message_id,
        event_data=extra or {},
    )
    event = tickets.add_event(
        session,
        new,
        "email_in",
        actor=None,
        channel=CHANNEL,
        at=at,
        body=body,
        data=data,
        message_id=message_id,
    )
    return new, event


def outbound_message(session: Session, *, event: TicketEvent) -> EmailMessage:
    """The e-mail for a public reply (or the resolution), with headers that make the customer's
    answer thread: its own Message-ID, In-Reply-To/References naming the thread, the "[T-…]" tag in
    the subject. The agent's text is the plain-text body between a greeting and a footer in the
    account's language; it is never read as HTML or as a format string."""
    ticket = session.get_one(Ticket, event.ticket_id)
    data = event.data or {}
    msg = EmailMessage()
    msg["From"] = get_settings().mail_from
    if data.get("to"):
        msg["To"] = data["to"]
    msg["Subject"] = data.get("subject") or f"[{ticket.number}] {ticket.subject}"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = event.message_id or tickets.new_message_id(ticket)
    thread = ticket.email_thread_id
    if thread and thread != msg["Message-ID"]:
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    account = session.get(Account, ticket.account_id)
    language = account.language if account else i18n.DEFAULT
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    greeting = (
        i18n.text(language, "reply.greeting", name=contact.name)
        if contact and contact.name
        else i18n.text(language, "reply.greeting_anonymous")
    )
    footer = i18n.text(language, "reply.footer", number=ticket.number)
    msg.set_content(f"{greeting}\n\n{event.body.strip()}\n\n{footer}\n")
    msg["Content-Language"] = language
    return msg
