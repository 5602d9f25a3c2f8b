"""Holding mail from an unknown sender (docs/tickets.md "Inbound e-mail", step 5).

A customer's colleague writing from a new address must not lose their mail: it is kept as an
`UnmatchedEmail` for a desk user to attach to a customer or discard (unmatched.py). Kept within
bounds, since anyone can send mail: at most PER_SENDER_PER_DAY held per sender address and
PER_DAY held in all per UTC day; past either the mail is ignored (nothing written, 200 to the
relay, logged), never refused, since a refusal makes the relay bounce to a possibly forged sender.
The message's size is bounded as every inbound mail's (api.MAX_BYTES, mime.py's caps)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.integrations.inbound_email.mime import ParsedEmail
from app.models import Contact, UnmatchedEmail
from app.models.crm import email_domain

PER_SENDER_PER_DAY = 20
PER_DAY = 2000
HELD, ATTACHED, DISCARDED = "held", "attached", "discarded"
log = logging.getLogger(__name__)


def suggest_account(session: Session, addr: str) -> int | None:
    """The customer whose contacts share the sender's mail domain, when exactly one does (the
    search's exact domain match: "bau.de" is not "ziegler-bau.de")."""
    domain = addr.split("@", 1)[1] if "@" in addr else ""
    if not domain:
        return None
    found = list(
        session.scalars(
            select(Contact.account_id).where(email_domain(Contact.email) == domain).distinct().limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def over_limit(session: Session, sender: str, at: datetime) -> str | None:
    """Why one more held mail would pass a daily cap, or None."""
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    today = UnmatchedEmail.received_at >= day
    count = select(func.count()).select_from(UnmatchedEmail)
    if (session.scalar(count.where(UnmatchedEmail.from_addr == sender, today)) or 0) >= PER_SENDER_PER_DAY:
        return f"{PER_SENDER_PER_DAY} mails from this sender held today"
    if (session.scalar(count.where(today)) or 0) >= PER_DAY:
        return f"{PER_DAY} mails held today"
    return None


def hold(session: Session, mail: ParsedEmail, data: dict[str, Any], at: datetime) -> UnmatchedEmail | str:
    """Keep the mail for a person; a daily cap's reason instead when it is full."""
    sender = mail.from_addr[:254]
    full = over_limit(session, sender, at)
    if full is not None:
        log.warning("inbound e-mail %s from %s not held: %s", mail.message_id, sender, full)
        return full
    row = UnmatchedEmail(
        message_id=mail.message_id,
        from_addr=sender,
        from_name=mail.from_name,
        subject=mail.subject,
        body=mail.body,
        data=data,
        received_at=at,
        suggested_account_id=suggest_account(session, sender),
        status=HELD,
    )
    session.add(row)
    session.flush()
    log.info("inbound e-mail %s from unknown sender %s held as %s", mail.message_id, sender, row.id)
    return row
