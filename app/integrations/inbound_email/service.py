"""Inbound e-mail from the mail relay: thread a reply onto its ticket or open a new one.

Threading, in order: a Message-ID in In-Reply-To/References that we sent or received on a
ticket (Ticket.email_thread_id or a TicketEvent.message_id), then a "[T-0000123]" subject tag.
Either only counts when the sender belongs on that ticket — a contact of the ticket's customer,
or an address the ticket already corresponded with — since Message-IDs leak (forwarded mails,
quoted headers) and anyone can type a ticket number. Anyone else who is a known contact gets a
new ticket on their own account (nothing is added to the foreign ticket, not even a link); an
unknown sender is refused with 422 so the relay can bounce it. Every message is stored with its
Message-ID (unique), so a relay retry creates nothing twice.

A message nested deeper than MAX_MIME_DEPTH (or declaring more than MAX_MIME_PARTS multiparts)
is refused with 422 before the parser's recursion can fail on it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.desk.tickets.status import DONE, allowed_next, change_status
from app.models import Contact, Ticket, TicketEvent, TicketStatus
from app.platform.db import utcnow
from app.platform.errors import Unprocessable
from app.platform.events import emit

CHANNEL = "email"
MAX_BODY_CHARS = 100_000
# Real mail nests a handful of levels (mixed > alternative > related); these leave ample room.
MAX_MIME_DEPTH = 30
MAX_MIME_PARTS = 500
_BOUNDARY = re.compile(rb"boundary\s*=", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]+>")
_TAG = re.compile(r"\[(T-\d{7})\]")


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    from_addr: str
    from_name: str
    subject: str
    body: str
    references: tuple[str, ...] = ()
    date: str | None = None
    auto: bool = False  # an out-of-office or other machine reply (RFC 3834)


@dataclass(frozen=True)
class Received:
    ticket: Ticket
    event: TicketEvent
    action: str  # created | threaded | duplicate


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()


def _too_deep(detail: str) -> Unprocessable:
    return Unprocessable(detail, errors=[{"field": "message", "message": "MIME structure too deep"}])


def _mime_depth(msg: Message) -> int:
    """Depth of the part tree, walked with an explicit stack (no recursion to overflow)."""
    deepest, stack = 0, [(msg, 1)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if isinstance(child, Message))
    return deepest


def _read(raw: bytes) -> Message:
    # Counting boundary declarations first bounds the parser's work (and its recursion).
    if len(_BOUNDARY.findall(raw)) > MAX_MIME_PARTS:
        raise _too_deep(f"The message has more than {MAX_MIME_PARTS} multipart sections; refused.")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except RecursionError as exc:
        raise _too_deep("The message's MIME structure is nested too deeply to read.") from exc
    if _mime_depth(msg) > MAX_MIME_DEPTH:
        raise _too_deep(f"The message's MIME parts nest more than {MAX_MIME_DEPTH} levels deep; refused.")
    return msg


def parse(raw: bytes) -> ParsedEmail:
    """Parse an RFC 5322 message; raises Unprocessable for one without a sender or one nested
    too deeply."""
    msg = _read(raw)
    addresses = [(n, a) for n, a in getaddresses([str(v) for v in msg.get_all("From", [])]) if a]
    if not addresses or "@" not in addresses[0][1]:
        raise Unprocessable(
            "The message has no usable From address.",
            errors=[{"field": "from", "message": "missing or invalid"}],
        )
    name, addr = addresses[0]
    found = _MSGID.findall(str(msg.get("Message-ID", "")))
    # Without a Message-ID the content itself identifies the message, so retries still dedupe.
    message_id = found[0] if found else f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"
    refs = _MSGID.findall(" ".join(str(msg.get(h, "")) for h in ("In-Reply-To", "References")))
    part = msg.get_body(preferencelist=("plain", "html")) if isinstance(msg, EmailMessage) else None
    body = ""
    if part is not None:
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # unknown charset or broken encoding
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        body = _html_to_text(content) if part.get_content_subtype() == "html" else content
    return ParsedEmail(
        message_id=message_id[:300],
        from_addr=addr.strip().lower(),
        from_name=name.strip(),
        subject=str(msg.get("Subject", "")).strip(),
        body=body.strip()[:MAX_BODY_CHARS],
        references=tuple(dict.fromkeys(refs)),
        date=str(msg["Date"]) if msg["Date"] else None,
        auto=_is_auto(msg),
    )


def _is_auto(msg: Message) -> bool:
    auto_submitted = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    return (
        auto_submitted != "no" or precedence in ("auto_reply", "bulk", "junk") or bool(msg.get("X-Autoreply"))
    )


def _contacts(session: Session, addr: str) -> list[Contact]:
    return list(
        session.scalars(select(Contact).where(func.lower(Contact.email) == addr).order_by(Contact.id))
    )


def _belongs(session: Session, ticket: Ticket, addr: str, senders: list[Contact]) -> bool:
    """A contact of the ticket's customer, or an address the ticket has mailed with before."""
    if any(c.account_id == ticket.account_id for c in senders):
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
    if not mail.references:
        return None
    ticket = session.scalar(
        select(Ticket).where(Ticket.email_thread_id.in_(mail.references)).order_by(Ticket.id.desc()).limit(1)
    )
    if ticket is not None:
        return ticket
    event = session.scalar(
        select(TicketEvent)
        .where(TicketEvent.message_id.in_(mail.references))
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    return session.get(Ticket, event.ticket_id) if event is not None else None


def _thread(session: Session, mail: ParsedEmail, senders: list[Contact]) -> Ticket | None:
    ticket = _referenced(session, mail)
    if ticket is not None and _belongs(session, ticket, mail.from_addr, senders):
        return ticket
    for number in _TAG.findall(mail.subject):
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is not None and any(c.account_id == ticket.account_id for c in senders):
            return ticket
    return None


def receive_email(session: Session, *, raw: bytes) -> Received:
    mail = parse(raw)
    seen = session.scalar(select(TicketEvent).where(TicketEvent.message_id == mail.message_id))
    if seen is not None:
        return Received(session.get_one(Ticket, seen.ticket_id), seen, "duplicate")
    try:
        with session.begin_nested():
            return _receive(session, mail)
    except IntegrityError:  # the same message arrived twice at once; the other one won
        seen = session.scalar(select(TicketEvent).where(TicketEvent.message_id == mail.message_id))
        if seen is None:
            raise
        return Received(session.get_one(Ticket, seen.ticket_id), seen, "duplicate")


def _receive(session: Session, mail: ParsedEmail) -> Received:
    senders = _contacts(session, mail.from_addr)
    at = utcnow()
    ticket = _thread(session, mail, senders)
    data = {
        "from": mail.from_addr,
        "from_name": mail.from_name,
        "subject": mail.subject,
        "date": mail.date,
        "in_reply_to": list(mail.references),
        "auto": mail.auto,
    }
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
    contact = next(
        (c for c in senders if ticket is None or c.account_id == ticket.account_id),
        senders[0] if senders else None,
    )
    if contact is None and ticket is not None:  # reply on a ticket past its reopen window
        contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    if contact is None:
        raise Unprocessable(
            f"No contact has the address {mail.from_addr}; add the contact or open the ticket by hand.",
            errors=[{"field": "from", "message": "unknown sender"}],
        )
    extra: dict[str, Any] = {"follows": ticket.number} if ticket is not None else {}
    if len(senders) > 1:
        extra["other_contacts"] = [c.id for c in senders if c.id != contact.id]
    new = tickets.create_ticket(
        session,
        account_id=contact.account_id,
        contact_id=contact.id,
        asset_id=ticket.asset_id if ticket is not None else None,
        subject=mail.subject or "(no subject)",
        description=mail.body,
        priority="P3",
        channel=CHANNEL,
        actor=None,
        opened_at=at,
        email_thread_id=mail.message_id,
        event_data=extra,
    )
    event = tickets.add_event(
        session,
        new,
        "email_in",
        actor=None,
        channel=CHANNEL,
        at=at,
        body=mail.body,
        data=data,
        message_id=mail.message_id,
    )
    return Received(new, event, "created")


def outbound_message(session: Session, *, event: TicketEvent) -> EmailMessage:
    """The e-mail for a public reply, with headers that make the customer's answer thread."""
    ticket = session.get_one(Ticket, event.ticket_id)
    msg = EmailMessage()
    msg["Message-ID"] = event.message_id or tickets.new_message_id(ticket)
    msg["Subject"] = (event.data or {}).get("subject") or f"[{ticket.number}] {ticket.subject}"
    if (event.data or {}).get("to"):
        msg["To"] = event.data["to"]
    thread = ticket.email_thread_id
    if thread and thread != msg["Message-ID"]:
        msg["In-Reply-To"] = thread
        msg["References"] = thread
    msg.set_content(event.body)
    return msg
