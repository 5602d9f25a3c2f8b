"""A customer with a finished visit, built through the real services (the hooks see it all); one
who answered its survey; a desk user who owns the account of an unhappy one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.feedback import answering, sending
from app.field.workorders import visits
from app.models import Account, Asset, Contact, Engineer, Survey, Ticket, User, WorkOrder
from app.platform.db import utcnow
from app.platform.mail import set_mailer
from surveys import Answer
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


_installed: list[Outbox] = []  # the outboxes installed now, innermost last


@contextmanager
def installed_outbox() -> Iterator[Outbox]:
    """Survey mail goes to an Outbox while inside; one installed around this one is back after."""
    box = Outbox()
    _installed.append(box)
    set_mailer(box)
    try:
        yield box
    finally:
        _installed.pop()
        set_mailer(_installed[-1] if _installed else None)


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


def answered(db: Session, answer: Answer, **kw: Any) -> tuple[Case, int]:
    """A `customer(**kw)` whose visit's survey was mailed and answered with `answer`, all committed
    (mail goes to an outbox meanwhile): the case and the answer's id."""
    with installed_outbox():
        case = customer(db, **kw)
        visit(db, case)
        db.commit()
        sending.send_due(now=later(hours=3))
        survey = survey_of(db, ticket_id=case.ticket.id)
        survey.answered_at = utcnow()
        row = answering.record(db, survey, answer, utcnow())
        db.commit()
    return case, row.id


@dataclass
class Detractor:
    owner: User  # a staff user who owns the case's account
    case: Case
    answer_id: int  # the customer's answer: CSAT 1


def detractor(db: Session, *, role: str = "agent", **owner: Any) -> Detractor:
    """A staff user (`role`, and `owner` as f.make_user takes it: name, is_active…) who owns the
    account of a customer who answered the visit's survey with CSAT 1; all committed."""
    user = f.make_user(db, role=role, **owner)
    case, answer_id = answered(db, Answer(csat=1), owner_user_id=user.id)
    return Detractor(user, case, answer_id)
