"""Public replies and the resolution are mailed to the ticket's contact: after the commit, once
(a retried task sends nothing more), threaded, in the account's language; the timeline shows each
reply's delivery; no address → recorded as not mailed; a refused send is retried, then failed;
notes are never mailed."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.inbound_email import outbound, tasks
from app.models import Contact, OutboxMessage, ReplyDelivery, Ticket
from tests import factories as f
from tests.fake_mail import Box
from tests.integrations.inbound_email.test_inbound_email import mail, post, transition


def _reply(client: TestClient, h: dict[str, str], tid: int, text: str) -> dict[str, Any]:
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"text": text}, headers=h)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _delivery(client: TestClient, h: dict[str, str], tid: int, event_id: int) -> dict[str, Any]:
    items = client.get(f"/api/v1/tickets/{tid}/timeline", headers=h).json()["items"]
    (item,) = [i for i in items if i["source"] == "ticket" and i["id"] == event_id]
    delivery: dict[str, Any] = item["data"]["delivery"]
    return delivery


def test_a_reply_is_mailed_once_threaded_in_the_account_language(
    client: TestClient, db: Session, login, people, box: Box
) -> None:
    people["account"].language = "de"
    db.commit()
    tid = post(client, mail()).json()["ticket_id"]
    ticket = db.get_one(Ticket, tid)
    h = login("agent")
    text = "Morgen kommt ein Techniker. <b>Bitte</b> {name} nicht ändern."
    reply = _reply(client, h, tid, text)
    (msg,) = box.sent
    assert msg["To"].lower() == "anna.berg@kunde.example"
    assert msg["Subject"] == f"Re: [{ticket.number}] Heating down"
    assert msg["Message-ID"] == reply["message_id"]
    assert msg["In-Reply-To"] == "<m1@kunde.example>" and msg["References"] == "<m1@kunde.example>"
    assert msg["From"] and msg["Date"]
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert body.startswith("Guten Tag ")
    assert text in body  # as typed: no markup read, no placeholder filled
    assert "Ihr Service-Team" in body and f"[{ticket.number}]" in body
    assert "Kind regards" not in body
    delivery = _delivery(client, h, tid, reply["id"])
    assert delivery["status"] == "sent" and delivery["attempts"] == 1 and delivery["sent_at"]

    # the task again (a redelivery, the outbox drain's second copy) and the beat: nothing more
    row = db.scalars(select(ReplyDelivery).where(ReplyDelivery.event_id == reply["id"])).one()
    assert tasks.deliver_reply(row.id) is None
    assert tasks.deliver_due_replies() == 0
    assert len(box.sent) == 1


def test_an_english_account_and_an_opted_out_contact_still_get_replies(
    client: TestClient, db: Session, login, people, box: Box
) -> None:
    people["anna"].survey_opt_out = True  # surveys only
    db.commit()
    tid = post(client, mail()).json()["ticket_id"]
    reply = _reply(client, login("agent"), tid, "An engineer comes tomorrow.")
    (msg,) = box.sent
    assert msg["Message-ID"] == reply["message_id"]
    assert msg.get_content().startswith("Hello ") and "Your service team" in msg.get_content()


def test_a_contact_without_e_mail_is_recorded_as_not_mailed(
    client: TestClient, db: Session, login, box: Box
) -> None:
    acc = f.make_account(db)
    contact = f.make_contact(db, acc, email=None)
    ticket = f.open_ticket(db, acc, contact_id=contact.id)
    db.commit()
    h = login("agent")
    reply = _reply(client, h, ticket.id, "We will call you.")
    assert reply["data"]["delivery"]["status"] == "skipped"
    assert reply["data"]["delivery"]["error"] == "the contact has no e-mail address"
    delivery = _delivery(client, h, ticket.id, reply["id"])
    assert delivery["status"] == "skipped" and delivery["error"] == "the contact has no e-mail address"
    assert box.sent == []
    assert (
        db.scalars(select(OutboxMessage).where(OutboxMessage.task == "fieldline.replies.deliver")).all() == []
    )
    assert tasks.deliver_due_replies() == 0 and box.sent == []


def test_a_refused_send_is_shown_retried_then_failed(
    client: TestClient, db: Session, login, people, box: Box
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    box.refuse = True
    reply = _reply(client, h, tid, "Engineer tomorrow")
    delivery = _delivery(client, h, tid, reply["id"])
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert "refused by the mail server" in delivery["error"] and "550" in delivery["error"]
    for _ in range(outbound.MAX_ATTEMPTS - 1):  # the beat retries, per the notices' policy
        assert tasks.deliver_due_replies() == 1
    delivery = _delivery(client, h, tid, reply["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == outbound.MAX_ATTEMPTS
    assert "550 5.1.1 mailbox unavailable" in delivery["error"]
    box.refuse = False
    assert tasks.deliver_due_replies() == 0 and box.sent == []  # failed for good: not sent later


def test_a_retry_after_a_refusal_sends_once(client: TestClient, db: Session, login, people, box: Box) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    box.refuse = True
    reply = _reply(client, h, tid, "Engineer tomorrow")
    box.refuse = False
    assert tasks.deliver_due_replies() == 1
    assert tasks.deliver_due_replies() == 0
    (msg,) = box.sent
    assert msg["Message-ID"] == reply["message_id"]
    delivery = _delivery(client, h, tid, reply["id"])
    assert delivery["status"] == "sent" and delivery["attempts"] == 2 and delivery["error"] is None


def test_notes_are_never_mailed(client: TestClient, db: Session, login, people, box: Box) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    r = client.post(f"/api/v1/tickets/{tid}/notes", json={"text": "internal only"}, headers=login("agent"))
    assert r.status_code == 201, r.text
    assert "delivery" not in r.json()["data"]
    assert box.sent == []
    assert db.scalars(select(ReplyDelivery).where(ReplyDelivery.ticket_id == tid)).all() == []


def test_the_resolution_is_mailed(client: TestClient, db: Session, login, people, box: Box) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    url = f"/api/v1/tickets/{tid}"
    transition(client, h, tid, "open", "resolved", reason="Replaced the fuse.")
    (msg,) = box.sent
    assert "Replaced the fuse." in msg.get_content()
    assert msg["In-Reply-To"] == "<m1@kunde.example>" and msg["To"].lower() == "anna.berg@kunde.example"
    items = client.get(f"{url}/timeline", headers=h).json()["items"]
    (resolution,) = [i for i in items if i["kind"] == "reply" and i["data"].get("resolution")]
    assert resolution["message_id"] == msg["Message-ID"]
    assert resolution["data"]["delivery"]["status"] == "sent"


def test_mailed_only_after_the_commit(db: Session, people, box: Box) -> None:
    from app.desk.tickets import service as tickets

    ticket = f.open_ticket(db, people["account"], contact_id=people["anna"].id)
    db.commit()
    tickets.add_reply(db, ticket_id=ticket.id, body="Rolled back", actor=None, channel="api")
    db.flush()
    assert box.sent == []  # written, not committed: nothing goes out
    db.rollback()
    assert box.sent == []
    tickets.add_reply(db, ticket_id=ticket.id, body="Committed", actor=None, channel="api")
    assert box.sent == []
    db.commit()
    assert [m.get_content().count("Committed") for m in box.sent] == [1]


def test_no_reply_mail_to_a_contact_who_left_the_customer(
    client: TestClient, db: Session, login, people, box: Box
) -> None:
    """Deactivated (left the customer): the reply is recorded as not mailed with the reason, also
    when they left between a refused send and its retry."""
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    box.refuse = True
    first = _reply(client, h, tid, "Engineer tomorrow")
    assert _delivery(client, h, tid, first["id"])["status"] == "pending"
    box.refuse = False
    ticket = db.get_one(Ticket, tid)
    contact = db.get_one(Contact, ticket.contact_id)
    contact.active = False
    db.commit()
    assert tasks.deliver_due_replies() == 1
    late = _delivery(client, h, tid, first["id"])
    assert late["status"] == "skipped" and late["error"] == outbound.LEFT
    second = _reply(client, h, tid, "Anyone there?")
    assert _delivery(client, h, tid, second["id"])["status"] == "skipped"
    assert box.sent == []
