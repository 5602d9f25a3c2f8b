"""Deactivating a desk agent who still has work: her open tickets go back to the unassigned queue
(an open recovery to the recovery queue), the answer says what she left, and her customers'
unhappy answers no longer go to her (QA: a recovery ticket went to deactivated user 22)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import status as ticket_status
from app.feedback import recovery
from app.models import AuditLog, SurveyRecovery, Ticket, TicketEvent, User
from app.platform.db import utcnow
from tests import factories as f
from tests.feedback.world import detractor

API = "/api/v1/users"


def _deactivate(client: TestClient, admin: dict[str, str], user: User, **body: Any) -> Any:
    url = f"{API}/{user.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    return client.patch(url, json=body or {"is_active": False}, headers={**admin, "If-Match": etag})


def _assigned(db: Session, account: Any, user: User) -> Ticket:
    ticket = f.open_ticket(db, account)
    ticket.assignee_id = user.id
    return ticket


def test_deactivating_an_agent_hands_her_open_tickets_back_and_names_her_accounts(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    ann = f.make_user(db, role="agent", name="Ann Agent")
    account = f.make_account(db, owner_user_id=ann.id)
    other = f.make_account(db)
    mine = [_assigned(db, other, ann) for _ in range(2)]
    done = _assigned(db, other, ann)
    ticket_status.change_status(db, done, "open", actor=None, channel="phone", at=utcnow())
    ticket_status.change_status(db, done, "resolved", actor=None, channel="phone", at=utcnow())
    someone_elses = _assigned(db, other, f.make_user(db, role="agent"))
    db.commit()

    r = _deactivate(client, admin, ann)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["is_active"] is False
    handover = body["handover"]
    assert handover["tickets_unassigned"] == [t.number for t in mine]
    assert handover["accounts_owned"] == [account.id]
    assert "unassigned queue" in handover["detail"] and "/api/v1/customers/" in handover["detail"]

    db.expire_all()
    assert [db.get(Ticket, t.id).assignee_id for t in mine] == [None, None]  # type: ignore[union-attr]
    assert db.get(Ticket, done.id).assignee_id == ann.id  # type: ignore[union-attr] # history stays
    assert db.get(Ticket, someone_elses.id).assignee_id is not None  # type: ignore[union-attr]
    event = db.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == mine[0].id, TicketEvent.kind == "assigned")
    )
    assert event is not None and event.data == {"from": ann.id, "to": None}
    assert "Ann Agent no longer works the desk" in event.body
    assert db.scalar(select(AuditLog).where(AuditLog.entity == "ticket", AuditLog.entity_id == mine[0].id))
    # the desk's unassigned view lists them again
    queue = client.get("/api/v1/tickets", params={"view": "unassigned"}, headers=login("agent")).json()
    assert {t.number for t in mine} <= {t["number"] for t in queue["items"]}
    # the account keeps its owner (whose it was), the admin was told; nothing else changed
    assert account.owner_user_id == ann.id


def test_an_edit_that_keeps_the_agent_at_the_desk_hands_nothing_back(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    ann = f.make_user(db, role="agent")
    ticket = _assigned(db, f.make_account(db), ann)
    db.commit()
    r = _deactivate(client, admin, ann, role="dispatcher", name="Ann Dispatcher")
    assert r.status_code == 200 and r.json()["handover"] is None
    db.expire_all()
    assert db.get(Ticket, ticket.id).assignee_id == ann.id  # type: ignore[union-attr]


def test_a_recovery_opened_after_the_owner_left_goes_to_the_recovery_queue(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    world = detractor(db, name="Ann Agent")
    owner, answer_id = world.owner, world.answer_id
    assert _deactivate(client, admin, owner).status_code == 200
    db.expire_all()

    rec = recovery.open_recovery(db, answer_id)
    db.commit()
    assert rec is not None and (rec.owner_user_id, rec.queue) == (None, "recovery")
    assert db.get(Ticket, rec.ticket_id).assignee_id is None  # type: ignore[union-attr]
    listed = client.get(
        "/api/v1/recoveries", params={"queue": "recovery", "state": "open"}, headers=login("manager")
    ).json()["items"]
    assert rec.id in {i["id"] for i in listed}


def test_an_open_recovery_of_the_deactivated_owner_moves_to_the_recovery_queue(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    world = detractor(db, role="manager", name="Kim Keyaccount")
    owner, answer_id = world.owner, world.answer_id
    rec = recovery.open_recovery(db, answer_id)
    db.commit()
    assert rec is not None and rec.queue == "owner"

    r = _deactivate(client, admin, owner)
    assert r.status_code == 200
    db.expire_all()
    rec = db.get(SurveyRecovery, rec.id)
    assert rec is not None and rec.queue == "recovery"
    assert db.get(Ticket, rec.ticket_id).assignee_id is None  # type: ignore[union-attr]
    assert r.json()["handover"]["tickets_unassigned"] == [db.get(Ticket, rec.ticket_id).number]  # type: ignore[union-attr]


def test_an_owner_made_an_engineer_no_longer_gets_recoveries(db: Session) -> None:
    world = detractor(db)
    owner, answer_id = world.owner, world.answer_id
    owner.role = "engineer"  # not a desk role: cannot take a ticket
    db.commit()
    rec = recovery.open_recovery(db, answer_id)
    assert rec is not None and (rec.owner_user_id, rec.queue) == (None, "recovery")
