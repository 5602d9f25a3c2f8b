"""A ticket handed back to the unassigned queue tells the webhooks, as any change of its assignee
does (QA: deactivating user 17 unassigned her tickets, but no `ticket.updated` went out)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Ticket, User, WebhookDelivery
from app.platform.auth import deactivate_user, issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.web.conftest import csrf_of


def _assigned(db: Session, user: User) -> Ticket:
    ticket = f.open_ticket(db, f.make_account(db))
    ticket.assignee_id = user.id
    db.flush()
    return ticket


def _updates(db: Session) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(WebhookDelivery).where(WebhookDelivery.event == "ticket.updated").order_by(WebhookDelivery.id)
    )
    return [r.payload["data"] for r in rows]


def test_deactivating_through_the_api_emits_one_ticket_updated_per_ticket(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    f.make_webhook_subscription(db, "https://hooks.example.com/all")
    ann = f.make_user(db, role="agent", name="Ann Agent")
    tickets = [_assigned(db, ann) for _ in range(2)]
    db.commit()
    url = f"/api/v1/users/{ann.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    r = client.patch(url, json={"is_active": False}, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text

    db.expire_all()
    sent = _updates(db)
    assert [d["ticket_id"] for d in sent] == [t.id for t in tickets]
    assert all(d["changes"] == {"assignee_id": [ann.id, None]} for d in sent)
    assert sent[0]["number"] == tickets[0].number


def test_a_role_change_on_the_page_emits_too(client: TestClient, db: Session) -> None:
    f.make_webhook_subscription(db, "https://hooks.example.com/updates", events=["ticket.updated"])
    ann = f.make_user(db, role="agent", name="Ann Agent")
    ticket = _assigned(db, ann)
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(f.make_user(db, role="admin")))
    db.commit()
    page = client.get(f"/admin/users/{ann.id}")
    data = {"name": ann.name, "role": "engineer", "active": "yes", "version": str(ann.version)}
    data["csrf"] = csrf_of(page.text)
    r = client.post(f"/admin/users/{ann.id}", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    db.expire_all()
    assert [d["ticket_id"] for d in _updates(db)] == [ticket.id]


def test_a_writer_around_the_service_emits_in_the_same_commit(db: Session) -> None:
    """The session hook hands back during a flush, where `emit` cannot flush: the events go out
    before the commit, once each."""
    f.make_webhook_subscription(db, "https://hooks.example.com/all")
    maria = f.make_user(db, role="agent", name="Maria Lopez")
    ticket = _assigned(db, maria)
    db.commit()

    deactivate_user(db, maria)
    db.commit()  # the change is flushed by the commit itself
    db.expire_all()
    assert [(d["ticket_id"], d["changes"]) for d in _updates(db)] == [
        (ticket.id, {"assignee_id": [maria.id, None]})
    ]

    bob = f.make_user(db, role="manager", name="Bob")
    other = _assigned(db, bob)
    db.commit()
    bob.is_active = False
    db.flush()  # flushed before the commit this time
    db.rollback()  # nothing happened: no event either
    db.expire_all()
    assert db.get_one(Ticket, other.id).assignee_id == bob.id
    db.get_one(User, bob.id).is_active = False
    db.flush()
    db.commit()
    db.expire_all()
    assert [d["ticket_id"] for d in _updates(db)] == [ticket.id, other.id]
