"""Nothing in the demo happens to a ticket before it is opened, whatever the time of day the seed runs:
the KPI refresh refuses such data (surveys/kpis.py), and every refresh of that demo failed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.insights import aggregates
from app.models import Ticket, WorkOrder
from app.seed.generate import seed

# A seed run at this moment made a maintenance ticket "opened" at its visit's start on the calendar
# table's first morning, three minutes after the engineer checked in.
SEEDED_AT = datetime(2026, 12, 7, 7, 8, 30, tzinfo=UTC)


def test_no_ticket_has_an_event_before_it_was_opened_and_the_kpis_refresh(db: Session) -> None:
    seed(db, now=SEEDED_AT, demo_users=False)
    early = or_(
        Ticket.arrived_at < Ticket.opened_at,
        Ticket.first_response_at < Ticket.opened_at,
        Ticket.first_visit_at < Ticket.opened_at,
        Ticket.resolved_at < Ticket.opened_at,
    )
    assert db.scalar(select(func.count()).select_from(Ticket).where(early)) == 0
    visits_before = (
        select(func.count())
        .select_from(WorkOrder)
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .where(or_(WorkOrder.checked_in_at < Ticket.opened_at))
    )
    assert db.scalar(visits_before) == 0
    assert aggregates.refresh(db, now=SEEDED_AT) > 0
