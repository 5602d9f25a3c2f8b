"""Any writer that takes a user's desk work away hands their open tickets back, not only the accounts
page, the API and `fieldline deactivate-user` (app/accounts/desk_rights.py): before, a user made
inactive by `platform.auth.deactivate_user` or given the engineer role outside `edit_user` kept
their open tickets, which then no queue view showed as unassigned."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import status as ticket_status
from app.models import AuditLog, Ticket, TicketEvent, User
from app.platform.auth import deactivate_user
from app.platform.db import utcnow
from tests import factories as f


def _assigned(db: Session, user: User, *, done: bool = False) -> Ticket:
    ticket = f.open_ticket(db, f.make_account(db))
    ticket.assignee_id = user.id
    if done:
        ticket_status.change_status(db, ticket, "open", actor=None, channel="phone", at=utcnow())
        ticket_status.change_status(db, ticket, "resolved", actor=None, channel="phone", at=utcnow())
    db.flush()
    return ticket


def _handed_back(db: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(
        db.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.kind == "assigned",
                TicketEvent.body.contains("no longer works the desk"),
            )
        )
    )


def test_a_user_deactivated_outside_the_accounts_service_hands_back_open_tickets(db: Session) -> None:
    maria = f.make_user(db, role="agent", name="Maria Lopez")
    open_one, done = _assigned(db, maria), _assigned(db, maria, done=True)
    db.commit()
    version = open_one.version

    deactivate_user(db, maria)  # the kernel's own helper: sets is_active and signs out, nothing more
    db.commit()
    db.expire_all()
    assert db.get_one(Ticket, open_one.id).assignee_id is None
    assert db.get_one(Ticket, open_one.id).version == version + 1  # a form opened before is stale
    assert db.get_one(Ticket, done.id).assignee_id == maria.id  # history stays
    [event] = _handed_back(db, open_one)
    assert event.body == "Back to the unassigned queue: Maria Lopez no longer works the desk."
    assert (event.actor_id, event.data) == (None, {"from": maria.id, "to": None})
    audit = db.scalar(
        select(AuditLog).where(
            AuditLog.entity == "ticket", AuditLog.entity_id == open_one.id, AuditLog.action == "update"
        )
    )
    assert audit is not None and audit.changes == {"assignee_id": [maria.id, None]}


def test_an_agent_given_the_engineer_role_directly_hands_back(db: Session) -> None:
    ann = f.make_user(db, role="agent", name="Ann Agent")
    ticket = _assigned(db, ann)
    db.commit()
    ann.role, ann.name = "dispatcher", "Ann Dispatcher"  # still at the desk: nothing goes back
    db.flush()
    assert ticket.assignee_id == ann.id and _handed_back(db, ticket) == []

    ann.role = "engineer"  # e.g. a sign-on sync that maps a group to a role
    db.flush()
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).assignee_id is None
    [event] = _handed_back(db, ticket)
    assert event.body == "Back to the unassigned queue: Ann Dispatcher no longer works the desk."


def test_the_api_hands_back_once_and_a_direct_change_after_it_too(
    client: TestClient, db: Session, login: Any
) -> None:
    """The hook leaves the account service's own hand-back alone (one timeline entry, the admin's,
    and the answer lists the ticket), and still catches the writer that goes around the service."""
    admin = login("admin")
    ann, bob = f.make_user(db, role="agent", name="Ann Agent"), f.make_user(db, role="manager", name="Bob")
    anns, bobs = _assigned(db, ann), _assigned(db, bob)
    db.commit()
    url = f"/api/v1/users/{ann.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    r = client.patch(url, json={"is_active": False}, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert r.json()["handover"]["tickets_unassigned"] == [anns.number]
    db.expire_all()
    [event] = _handed_back(db, anns)
    assert event.actor_id is not None and db.get_one(User, event.actor_id).role == "admin"

    db.get_one(User, bob.id).is_active = False
    db.commit()
    db.expire_all()
    assert db.get_one(Ticket, bobs.id).assignee_id is None
    [event] = _handed_back(db, bobs)
    assert event.actor_id is None
