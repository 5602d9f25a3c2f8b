"""Mailing a ticket's replies and resolution to the customer, the way visit notices are mailed
(app/planning/notify.py): a `ReplyDelivery` row written with the reply, delivered after the commit
by a task that claims the row first, the outcome recorded on the row.

- Once: the claim (pending → sending, one guarded UPDATE) lets only one task send; a retried,
  redelivered or duplicated task (the outbox drain racing the first publish) finds the row taken
  or sent and sends nothing. As with notices, a worker lost between the SMTP hand-off and its
  bookkeeping sends again once its claim expires (e-mail has no exactly-once); the copy carries
  the same Message-ID, so mail clients show it once.
- Retries: the notices' policy. A failed send goes back to pending with its reason; the beat
  (`fieldline.replies.deliver_due`) tries again, up to `MAX_ATTEMPTS`, then the row is failed.
- Transport: app.platform.mail's mailer (SMTP when configured, else the log; tests install theirs).
"""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.integrations.inbound_email.service import outbound_message
from app.models import Contact, NotificationStatus, ReplyDelivery, Ticket, TicketEvent
from app.platform.db import utcnow

# The visit notices' policy (app/planning/notify.py; integrations may not import planning).
MAX_ATTEMPTS = 5
CLAIM_TTL = timedelta(minutes=10)
# A reply enqueued after its commit and never tried after this long lost that hand-over.
ENQUEUE_GRACE = timedelta(minutes=2)
_ERROR_LEN = 2000
LEFT = "the contact has left the customer"


def claim(session: Session, delivery_id: int, now: datetime | None = None) -> EmailMessage | None:
    """Take a due delivery (pending, or a claim left by a lost worker) and build its mail; None:
    nothing to send (taken, sent, failed for good, or not mailed)."""
    now = now or utcnow()
    got = session.execute(
        update(ReplyDelivery)
        .where(
            ReplyDelivery.id == delivery_id,
            (ReplyDelivery.status == NotificationStatus.pending.value)
            | (
                (ReplyDelivery.status == NotificationStatus.sending.value)
                & (ReplyDelivery.claimed_at < now - CLAIM_TTL)
            ),
        )
        .values(status=NotificationStatus.sending.value, claimed_at=now, attempts=ReplyDelivery.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if got != 1:
        return None
    delivery = session.get_one(ReplyDelivery, delivery_id, populate_existing=True)
    event = session.get_one(TicketEvent, delivery.event_id)
    ticket = session.get_one(Ticket, event.ticket_id)
    contact = session.get(Contact, ticket.contact_id) if ticket.contact_id else None
    if contact is not None and not contact.active:  # left the customer (deactivated) meanwhile
        delivery.status, delivery.error = NotificationStatus.skipped.value, LEFT
        return None
    msg = outbound_message(session, event=event)
    del msg["To"]
    msg["To"] = delivery.recipient  # the address the reply was written to (the contact may change)
    return msg


def reason(exc: BaseException) -> str:
    """What the agent reads on the timeline: why the mail did not go."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{addr}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for addr, (code, msg) in exc.recipients.items()
        )
        return f"refused by the mail server ({refused})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        )
        return f"refused by the mail server ({exc.smtp_code} {text})"
    if isinstance(exc, OSError):
        return f"the mail server could not be reached ({exc})"
    return f"not sent ({exc!r})"


def record(session: Session, delivery_id: int, error: str | None) -> str:
    delivery = session.get_one(ReplyDelivery, delivery_id, populate_existing=True)
    if error is None:
        delivery.status, delivery.sent_at, delivery.error = NotificationStatus.sent.value, utcnow(), None
    else:
        delivery.error = error[:_ERROR_LEN]
        delivery.status = (
            NotificationStatus.failed.value
            if delivery.attempts >= MAX_ATTEMPTS
            else NotificationStatus.pending.value
        )
    return delivery.status


def due_ids(session: Session, limit: int = 100, now: datetime | None = None) -> list[int]:
    """Failed attempts to retry, deliveries whose hand-over was lost (`ENQUEUE_GRACE`), and claims
    left by a lost worker."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(ReplyDelivery.id)
            .where(
                (
                    (ReplyDelivery.status == NotificationStatus.pending.value)
                    & ((ReplyDelivery.attempts > 0) | (ReplyDelivery.created_at <= now - ENQUEUE_GRACE))
                )
                | (
                    (ReplyDelivery.status == NotificationStatus.sending.value)
                    & (ReplyDelivery.claimed_at < now - CLAIM_TTL)
                )
            )
            .order_by(ReplyDelivery.id)
            .limit(limit)
        )
    )
