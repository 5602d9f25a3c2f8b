"""Mail from an unknown sender is held for the desk (docs/tickets.md "Inbound e-mail", step 5):
listed with a suggested customer, attached (a contact and a threaded ticket) or discarded, with
If-Match; bounded per sender and day; automatic mail is still not held."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.desk.sla import clock
from app.integrations.inbound_email import held as held_mail
from app.integrations.inbound_email import unmatched
from app.models import AuditLog, Contact, SlaEvent, Ticket, TicketEvent, UnmatchedEmail
from app.platform.db import utcnow
from app.platform.errors import Conflict
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import mail, post

LIST = "/api/v1/inbound-email/unmatched"
CAROLA = "Carola Weiss <carola.weiss@kunde.example>"  # Anna's colleague, from a new address


def _hold(client: TestClient, **kw: Any) -> int:
    r = post(client, mail(**{"sender": CAROLA, "message_id": "<c1@kunde.example>", **kw}))
    assert r.status_code == 202, r.text
    assert r.json()["action"] == "held"
    return int(r.json()["unmatched_id"])


def _count(db: Session, model: Any, *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_unknown_sender_is_held_and_listed_with_the_suggested_customer(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    uid = _hold(client, subject="Boiler noise", text="Hall 3 boiler is loud.")
    assert _count(db, Ticket) == 0
    h = login("agent")
    listed = client.get(LIST, headers=h)
    assert listed.status_code == 200, listed.text
    assert listed.json()["held"] == 1
    [item] = listed.json()["items"]
    assert item["id"] == uid
    assert (item["from_addr"], item["from_name"]) == ("carola.weiss@kunde.example", "Carola Weiss")
    assert (item["subject"], item["message_id"]) == ("Boiler noise", "<c1@kunde.example>")
    assert "Hall 3" in item["text"] and item["received_at"]
    # Anna's customer is the only one with contacts at kunde.example
    assert item["suggested_account_id"] == people["account"].id
    assert item["suggested_account_name"] == people["account"].name
    one = client.get(f"{LIST}/{uid}", headers=h)
    assert one.status_code == 200 and one.headers["ETag"] == '"v1"'
    # a relay retry holds nothing twice
    again = post(client, mail(sender=CAROLA, message_id="<c1@kunde.example>"))
    assert (again.status_code, again.json()["unmatched_id"]) == (202, uid)
    assert _count(db, UnmatchedEmail) == 1


def test_no_suggestion_when_two_customers_share_the_domain(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    f.make_contact(db, f.make_account(db), email="x@kunde.example")
    f.make_contact(db, f.make_account(db), email="y@notkunde.example")  # not the same domain
    db.commit()
    uid = _hold(client)
    assert client.get(f"{LIST}/{uid}", headers=login("agent")).json()["suggested_account_id"] is None
    stranger = _hold(client, sender="z@nowhere.example", message_id="<z@nowhere.example>")
    assert db.get(UnmatchedEmail, stranger).suggested_account_id is None  # type: ignore[union-attr]


def test_attach_creates_the_contact_and_a_threaded_ticket(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    uid = _hold(client, subject="Boiler noise", text="Hall 3 boiler is loud.")
    h = login("agent")
    acc = people["account"].id
    r = client.post(f"{LIST}/{uid}/attach", json={"account_id": acc}, headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 201, r.text
    out = r.json()
    ticket = db.get(Ticket, out["ticket_id"])
    contact = db.get(Contact, out["contact_id"])
    assert ticket is not None and contact is not None
    assert (contact.account_id, contact.email, contact.name) == (
        acc,
        "carola.weiss@kunde.example",
        "Carola Weiss",
    )
    assert (ticket.account_id, ticket.contact_id, ticket.channel, ticket.priority, ticket.status) == (
        acc,
        contact.id,
        "email",
        "P3",
        "new",
    )
    assert ticket.subject == "Boiler noise" and "Hall 3" in ticket.description
    assert ticket.email_thread_id == "<c1@kunde.example>"
    first = db.scalar(select(TicketEvent).where(TicketEvent.message_id == "<c1@kunde.example>"))
    assert first is not None and first.ticket_id == ticket.id and first.kind == "email_in"
    assert out["unmatched"]["status"] == "attached" and out["unmatched"]["ticket_id"] == ticket.id
    assert _count(db, AuditLog, AuditLog.entity == "contact", AuditLog.entity_id == contact.id) == 1
    assert client.get(LIST, headers=h).json()["items"] == []
    # her reply threads onto the ticket; the relay's retry of the held mail is a duplicate
    reply = post(
        client, mail(sender=CAROLA, message_id="<c2@kunde.example>", in_reply_to="<c1@kunde.example>")
    )
    assert reply.status_code == 201 and reply.json()["action"] == "threaded", reply.text
    assert reply.json()["ticket_id"] == ticket.id
    retry = post(client, mail(sender=CAROLA, message_id="<c1@kunde.example>"))
    assert (retry.status_code, retry.json()["action"], retry.json()["ticket_id"]) == (
        200,
        "duplicate",
        ticket.id,
    )


def test_attached_two_hours_later_the_sla_runs_from_when_the_customer_wrote(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    # an always-open calendar: the due time is the receipt plus the target, whatever the hour now
    clock.default_calendar(db).always_open = True
    db.commit()
    uid = _hold(client)
    row = db.get_one(UnmatchedEmail, uid)
    received = utcnow().replace(microsecond=0) - timedelta(hours=2)
    row.received_at = received
    db.commit()
    h = login("agent")
    etag = client.get(f"{LIST}/{uid}", headers=h).headers["ETag"]
    r = client.post(
        f"{LIST}/{uid}/attach", json={"account_id": people["account"].id}, headers={**h, "If-Match": etag}
    )
    assert r.status_code == 201, r.text
    ticket = db.get_one(Ticket, r.json()["ticket_id"])
    assert ticket.opened_at == received
    start = db.scalar(select(SlaEvent).where(SlaEvent.ticket_id == ticket.id, SlaEvent.kind == "start"))
    assert start is not None and start.at == received
    minutes = clock.targets_for(db, tier=ticket.sla_tier, priority=ticket.priority)["first_response"]
    assert ticket.first_response_due_at == received + timedelta(minutes=minutes)


def test_attach_reuses_an_active_contact_with_the_address_and_checks_the_customer(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    uid = _hold(client)
    h = {**login("manager"), "If-Match": '"v1"'}
    missing = client.post(f"{LIST}/{uid}/attach", json={"account_id": 999999}, headers=h)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "account_id"
    assert db.get(UnmatchedEmail, uid).status == "held"  # type: ignore[union-attr]
    # added to the CRM meanwhile: not created twice
    known = f.make_contact(db, people["account"], email="carola.weiss@kunde.example", active=True)
    known.active = True
    db.commit()
    r = client.post(f"{LIST}/{uid}/attach", json={"account_id": people["account"].id}, headers=h)
    assert r.status_code == 201 and r.json()["contact_id"] == known.id, r.text


def test_if_match_is_required_and_the_second_attach_is_a_conflict(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    uid = _hold(client)
    h = login("agent")
    body = {"account_id": people["account"].id}
    assert client.post(f"{LIST}/{uid}/attach", json=body, headers=h).status_code == 428
    assert (
        client.post(f"{LIST}/{uid}/attach", json=body, headers={**h, "If-Match": '"v7"'}).status_code == 412
    )
    assert (
        client.post(f"{LIST}/{uid}/attach", json=body, headers={**h, "If-Match": '"v1"'}).status_code == 201
    )
    stale = client.post(f"{LIST}/{uid}/attach", json=body, headers={**h, "If-Match": '"v1"'})
    assert stale.status_code == 412  # the other agent's ETag is no longer current
    fresh = client.get(f"{LIST}/{uid}", headers=h).headers["ETag"]
    again = client.post(f"{LIST}/{uid}/attach", json=body, headers={**h, "If-Match": fresh})
    assert again.status_code == 409 and "already attached" in again.json()["detail"]
    discard = client.post(f"{LIST}/{uid}/discard", headers={**h, "If-Match": fresh})
    assert discard.status_code == 409
    assert _count(db, Ticket, Ticket.email_thread_id == "<c1@kunde.example>") == 1


def test_two_agents_attaching_at_once_open_one_ticket(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    """The second agent read the mail (version 1, held) and passed its If-Match before the first
    one's attach committed: its own attach fails on the version before it writes a contact or a
    ticket (and its transaction is rolled back)."""
    uid = _hold(client)
    h = login("agent")
    agent = f.make_user(db, role="agent")
    second_view = db.get(UnmatchedEmail, uid)
    assert second_view is not None and second_view.status == "held" and second_view.version == 1
    first = client.post(
        f"{LIST}/{uid}/attach", json={"account_id": people["account"].id}, headers={**h, "If-Match": '"v1"'}
    )
    assert first.status_code == 201
    assert _count(db, Ticket, Ticket.email_thread_id == "<c1@kunde.example>") == 1
    statements: list[str] = []
    conn = db.connection()

    def _seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(conn, "before_cursor_execute", _seen)
    try:
        with pytest.raises(Conflict, match="just now"):
            unmatched.attach(db, second_view, account_id=people["account"].id, name=None, actor=agent)
    finally:
        event.remove(conn, "before_cursor_execute", _seen)
    assert statements and statements[0].lstrip().upper().startswith("UPDATE UNMATCHED_EMAIL")
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]


def test_discard_hides_it_and_keeps_it(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    uid = _hold(client)
    h = login("dispatcher")
    r = client.post(f"{LIST}/{uid}/discard", headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 200 and r.json()["status"] == "discarded", r.text
    assert r.headers["ETag"] == '"v2"'
    assert client.get(LIST, headers=h).json() == {"items": [], "held": 0}
    row = db.get(UnmatchedEmail, uid)
    assert row is not None and row.status == "discarded" and row.decided_by is not None
    assert _count(db, AuditLog, AuditLog.entity == "unmatched_email", AuditLog.action == "discard") == 1
    retry = post(client, mail(sender=CAROLA, message_id="<c1@kunde.example>"))
    assert (retry.status_code, retry.json()["action"]) == (200, "duplicate")
    attach = client.post(
        f"{LIST}/{uid}/attach", json={"account_id": people["account"].id}, headers={**h, "If-Match": '"v2"'}
    )
    assert attach.status_code == 409 and _count(db, Ticket) == 0


@pytest.mark.parametrize("role", ["agent", "dispatcher", "manager", "admin"])
def test_desk_roles_see_the_list(client: TestClient, login: Any, people: dict[str, Any], role: str) -> None:
    _hold(client)
    assert client.get(LIST, headers=login(role)).json()["held"] == 1


def test_engineers_and_strangers_are_refused(client: TestClient, login: Any, people: dict[str, Any]) -> None:
    uid = _hold(client)
    h = {**login("engineer"), "If-Match": '"v1"'}
    assert client.get(LIST, headers=h).status_code == 403
    assert client.get(f"{LIST}/{uid}", headers=h).status_code == 403
    assert client.post(f"{LIST}/{uid}/attach", json={"account_id": 1}, headers=h).status_code == 403
    assert client.post(f"{LIST}/{uid}/discard", headers=h).status_code == 403
    assert client.get(LIST).status_code == 401


def test_an_automatic_mail_from_an_unknown_sender_is_not_held(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    r = post(client, mail(sender="robot@nowhere.example", auto=True))
    assert (r.status_code, r.json()["action"], r.json()["reason"]) == (200, "ignored", "auto-reply")
    assert _count(db, UnmatchedEmail) == 0


def test_held_mail_is_capped_per_sender_and_per_day(
    client: TestClient, db: Session, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(held_mail, "PER_SENDER_PER_DAY", 2)
    monkeypatch.setattr(held_mail, "PER_DAY", 3)
    for i in (1, 2):
        _hold(client, message_id=f"<c{i}@kunde.example>")
    full = post(client, mail(sender=CAROLA, message_id="<c3@kunde.example>"))
    assert (full.status_code, full.json()["action"], full.json()["reason"]) == (200, "ignored", "held-limit")
    _hold(client, sender="dora@kunde.example", message_id="<d1@kunde.example>")  # another sender: held
    day_full = post(client, mail(sender="emil@kunde.example", message_id="<e1@kunde.example>"))
    assert day_full.json()["reason"] == "held-limit"
    assert _count(db, UnmatchedEmail) == 3
