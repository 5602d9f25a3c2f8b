"""A customer with a finished visit, built through the real services (the hooks see it all)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import Account, Asset, Contact, Engineer, Survey, Ticket, WorkOrder
from app.platform.db import utcnow
from app.platform.mail import set_mailer
from tests import factories as f


@dataclass
class Case:
    account: Account
    contact: Contact
    asset: Asset
    engineer: Engineer
    ticket: Ticket
    work_order: WorkOrder | None = None


class Outbox:
    """A mailer that keeps what it is given (the SMTP path has its own test)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


@contextmanager
def installed_outbox() -> Iterator[Outbox]:
    """Survey mail goes to an Outbox while inside."""
    box = Outbox()
    set_mailer(box)
    try:
        yield box
    finally:
        set_mailer(None)


def customer(
    db: Session, *, tier: str = "gold", email: str | None = "pat@customer.example", **kw: object
) -> Case:
    region = f.make_region(db)
    account = f.make_account(db, region=region, tier=tier, **kw)
    contact = f.make_contact(db, account, email=email, name="Pat Customer")
    site = f.make_site(db, account)
    asset = f.make_asset(db, site)
    engineer = f.make_engineer(db, region)
    ticket = f.open_ticket(db, account, asset=asset, contact_id=contact.id)
    return Case(account, contact, asset, engineer, ticket)


def visit(
    db: Session, case: Case, *, fixed: bool = True, late_min: int = 0, new_ticket: bool = False
) -> WorkOrder:
    """A visit that arrives (late_min after the promised window's end) and files its report."""
    if new_ticket:
        case.ticket = f.open_ticket(db, case.account, asset=case.asset, contact_id=case.contact.id)
    now = utcnow()
    wo = f.make_work_order(db, case.ticket)
    wo.status, wo.engineer_id, wo.planned_start_at = "scheduled", case.engineer.id, now - timedelta(hours=2)
    wo.appointment_start_at = now - timedelta(hours=2, minutes=late_min)
    wo.appointment_end_at = now - timedelta(minutes=late_min)
    db.flush()
    visits.check_in(db, work_order=wo, actor=None)
    visits.report(db, work_order=wo, work_done="replaced fan", parts_used=[], fixed=fixed, actor=None)
    case.work_order = wo
    return wo


def survey_of(db: Session, *, work_order_id: int | None = None, ticket_id: int | None = None) -> Survey:
    where = Survey.work_order_id == work_order_id if work_order_id else Survey.ticket_id == ticket_id
    db.expire_all()
    survey = db.scalar(select(Survey).where(where).order_by(Survey.id.desc()))
    assert survey is not None, "no survey was created"
    return survey


def later(hours: float = 0, days: float = 0) -> datetime:
    return utcnow() + timedelta(hours=hours, days=days)
