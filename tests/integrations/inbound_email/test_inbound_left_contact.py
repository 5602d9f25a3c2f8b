"""Inbound e-mail from a contact who left the customer (deactivated, docs/customers.md): a reply on
their own thread still lands on its ticket; a new mail, or a subject tag on another of the old
customer's tickets, is an unknown sender's (held for the desk, no ticket)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Contact, Ticket, TicketEvent, UnmatchedEmail
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import mail, post, tickets_of


def _leave(db: Session, contact: Contact) -> None:
    contact.active = False
    db.commit()


def test_a_new_mail_from_a_contact_who_left_opens_no_ticket(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    _leave(db, people["anna"])
    r = post(client, mail())
    assert r.status_code == 202 and r.json()["action"] == "held", r.text
    held = db.get(UnmatchedEmail, r.json()["unmatched_id"])
    assert held is not None and held.data["contact_left"] is True
    assert tickets_of(db, people["account"].id) == []


def test_a_reply_on_their_own_thread_still_threads(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    first = post(client, mail())
    assert first.status_code == 201, first.text
    _leave(db, people["anna"])
    r = post(client, mail(message_id="<m2@kunde.example>", in_reply_to="<m1@kunde.example>"))
    assert r.status_code == 201, r.text
    assert (r.json()["action"], r.json()["ticket_id"]) == ("threaded", first.json()["ticket_id"])
    kinds = list(
        db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == first.json()["ticket_id"]))
    )
    assert kinds.count("email_in") == 2


def test_a_subject_tag_on_another_ticket_of_the_old_customer_is_not_theirs(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    colleague = f.make_contact(db, people["account"])
    ticket = f.open_ticket(db, people["account"], contact_id=colleague.id)
    db.commit()
    _leave(db, people["anna"])
    r = post(client, mail(subject=f"Re: [{ticket.number}] Heating down"))
    assert r.status_code == 202 and r.json()["action"] == "held", r.text
    assert [t.id for t in tickets_of(db, people["account"].id)] == [ticket.id]
    assert db.scalar(select(TicketEvent).where(TicketEvent.kind == "email_in")) is None


def test_the_same_address_at_the_new_customer_opens_the_ticket_there(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    new_home = f.make_account(db)
    again = f.make_contact(db, new_home, email="anna.berg@kunde.example")
    _leave(db, people["anna"])
    r = post(client, mail())
    assert r.status_code == 201, r.text
    t = db.get_one(Ticket, r.json()["ticket_id"])
    assert (t.account_id, t.contact_id) == (new_home.id, again.id)
