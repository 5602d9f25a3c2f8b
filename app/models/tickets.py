"""Tickets, their timeline and the SLA clock ledger."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, Index, String, Text, case, text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class TicketStatus(StrEnum):
    new = "new"
    open = "open"
    waiting_on_customer = "waiting_on_customer"
    scheduled = "scheduled"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    web = "web"
    api = "api"


# The queue's saved views read live tickets only; most of a large desk's rows are closed history,
# so the queue indexes are partial and stay small. Queries must repeat this predicate verbatim
# for PostgreSQL to use them.
LIVE_TICKET = "status NOT IN ('resolved', 'closed')"


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_account_opened", "account_id", "opened_at"),
        Index("ix_ticket_status_priority", "status", "priority"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    channel: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(24), default=TicketStatus.new)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # SLA entitlement resolved at opening (tier of the covering contract, else 'standard').
    sla_tier: Mapped[str] = mapped_column(String(20), default="standard")
    sla_calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendar.id"))
    sla_contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    # First response is the first human contact with the customer (docs/tickets.md, "First
    # response"): a public reply, a logged call, an appointment a person confirmed, or a person's
    # resolution. Automatic planning never counts; `first_visit_at` only records the first visit
    # created or scheduled (it makes the arrival target apply, in the queue's next due time too).
    first_response_at: Mapped[datetime | None]
    first_response_via: Mapped[str | None] = mapped_column(String(20))  # reply|call|appointment|resolution
    # How the customer was first reached (phone for a logged call): first-contact resolution.
    first_contact_channel: Mapped[str | None] = mapped_column(String(10))
    first_reply_at: Mapped[datetime | None]
    first_visit_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    arrival_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None] = mapped_column(index=True)
    sla_paused: Mapped[bool] = mapped_column(default=False)
    sla_breached: Mapped[bool] = mapped_column(default=False)
    # One of its visits cannot be planned in time (see WorkOrder.at_risk_since).
    at_risk_since: Mapped[datetime | None]
    at_risk_reason: Mapped[str | None] = mapped_column(Text)
    email_thread_id: Mapped[str | None] = mapped_column(String(300), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class TicketEvent(Base):
    """The ticket's timeline: every change, reply, note and e-mail."""

    __tablename__ = "ticket_event"
    __table_args__ = (Index("ix_ticket_event_ticket_at", "ticket_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))  # created, status, reply, note, email_in, ...
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    channel: Mapped[str | None] = mapped_column(String(10))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # RFC 5322 Message-ID of an e-mail in or a reply out: threading and relay-retry dedupe.
    message_id: Mapped[str | None] = mapped_column(String(300), unique=True)


class ReplyDelivery(Base):
    """The mailing of one message to the customer (a `reply` event: a public reply or the
    resolution), claimed and recorded like a visit notice (app/integrations/inbound_email/outbound.py).
    One row per event (unique), so a retried or duplicated task finds it and sends nothing twice.
    Status as `NotificationStatus`: pending (queued) | sending | sent | failed | skipped (not mailed:
    no address)."""

    __tablename__ = "reply_delivery"
    __table_args__ = (Index("ix_reply_delivery_due", "status", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("ticket_event.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(254), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class UnmatchedEmail(Base):
    """A customer e-mail from an address no active contact has, held for a person to sort out
    (docs/tickets.md "Inbound e-mail", step 5): attached (a contact is created on the chosen
    customer and the ticket opened from it) or discarded (kept for audit, hidden from the list).
    `data` is what the ticket's `email_in` event will carry; `message_id` is unique, so a relay
    retry holds nothing twice. Status: held | attached | discarded."""

    __tablename__ = "unmatched_email"
    __table_args__ = (
        Index("ix_unmatched_email_status_received", "status", "received_at"),
        # The per-sender daily cap counts these (app/integrations/inbound_email/unmatched.py).
        Index("ix_unmatched_email_sender_received", "from_addr", "received_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    from_addr: Mapped[str] = mapped_column(String(254))
    from_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The one customer whose contacts share the sender's mail domain, if exactly one does.
    suggested_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="held")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class SlaEvent(Base):
    """Auditable SLA clock ledger: start, pause, resume, retarget, met, breach, stop, withdraw
    (cancels an earlier `met`, named in data.withdraws: rows are only ever appended)."""

    __tablename__ = "sla_event"
    __table_args__ = (
        Index("ix_sla_event_ticket_at", "ticket_id", "at"),
        # A metric breaches at most once per ticket, even with two breach checkers racing.
        Index(
            "uq_sla_event_breach",
            "ticket_id",
            "metric",
            unique=True,
            sqlite_where=text("kind = 'breach'"),
            postgresql_where=text("kind = 'breach'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    metric: Mapped[str | None] = mapped_column(String(20))  # first_response, arrival, resolution
    channel: Mapped[str | None] = mapped_column(String(10))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def sla_next_due() -> ColumnElement[datetime]:
    """The first SLA target still outstanding: first response, then arrival (once the ticket has a
    visit: `first_visit_at`, set when its first work order is created or scheduled), then
    resolution. The targets fall in that order, so this is the nearest due time: the queue sorts by
    it ("SLA risk") and "breaching soon" filters on it."""
    return case(
        (
            Ticket.first_response_at.is_(None) & Ticket.first_response_due_at.is_not(None),
            Ticket.first_response_due_at,
        ),
        (
            Ticket.arrived_at.is_(None)
            & Ticket.arrival_due_at.is_not(None)
            & Ticket.first_visit_at.is_not(None),
            Ticket.arrival_due_at,
        ),
        else_=Ticket.resolution_due_at,
    )


# Expression indexes for the saved views (my / team / unassigned by assignee, breaching soon by
# due time), both ordered by the next due time and partial on live tickets.
# sla_next_due() as PostgreSQL prints it back (and SQLAlchemy reflects it), so the migration
# check compares like with like.
NEXT_DUE_SQL = """(
CASE
    WHEN first_response_at IS NULL AND first_response_due_at IS NOT NULL THEN first_response_due_at
    WHEN arrived_at IS NULL AND arrival_due_at IS NOT NULL AND first_visit_at IS NOT NULL THEN arrival_due_at
    ELSE resolution_due_at
END)"""
Index(
    "ix_ticket_queue_due",
    text(NEXT_DUE_SQL),
    Ticket.id,
    postgresql_where=text(LIVE_TICKET),
    sqlite_where=text(LIVE_TICKET),
)
Index(
    "ix_ticket_queue_assignee_due",
    Ticket.assignee_id,
    text(NEXT_DUE_SQL),
    Ticket.id,
    postgresql_where=text(LIVE_TICKET),
    sqlite_where=text(LIVE_TICKET),
)
