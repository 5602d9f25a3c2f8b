"""First response: the first time a person was in contact with the customer.

The rule (docs/tickets.md "First response", cited by docs/kpis.md — First response): a public
reply, a call an agent logged, an appointment a person confirmed with the customer, or a person
resolving the ticket with a resolution the customer receives. Automatic planning never counts:
a visit the planner put on someone's route has told the customer nothing yet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.desk.sla import clock as sla_clock
from app.models import Ticket, TicketStatus

VIA = ("reply", "call", "appointment", "resolution")


def record(
    session: Session,
    ticket: Ticket,
    *,
    at: datetime,
    via: str,
    channel: str | None,
    contact_channel: str | None = None,
) -> bool:
    """Record a human contact at `at`; the earliest one is the first response (settled on the
    SLA clock). A closed ticket's clock is final: nothing is written to it. True if it counted."""
    if via not in VIA:
        raise ValueError(f"{via!r} is not a human contact; one of {', '.join(VIA)}")
    if ticket.status == TicketStatus.closed:
        return False
    if ticket.first_response_at is not None and ticket.first_response_at <= at:
        return False
    ticket.first_response_at = at
    ticket.first_response_via = via
    ticket.first_contact_channel = contact_channel
    sla_clock.settle(session, ticket, "first_response", channel=channel)
    return True
