"""Inbound e-mail: new tickets, threading, relay retries, authentication."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.integrations.inbound_email.service import outbound_message, parse
from app.models import Ticket, TicketEvent
from app.platform.config import get_settings
from tests import factories as f
from tests.integrations.inbound_email.conftest import TOKEN

URL = "/api/v1/inbound/email"


def mail(
    *,
    sender: str = "Anna Berg <anna.berg@kunde.example>",
    subject: str = "Heating down",
    text: str = "The boiler in hall 2 is cold.",
    message_id: str | None = "<m1@kunde.example>",
    in_reply_to: str | None = None,
    html: bool = False,
    auto: bool = False,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "service@fieldline.example"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    if auto:
        msg["Auto-Submitted"] = "auto-replied"
    if html:
        msg.set_content("<html><body><p>Still <b>cold</b></p></body></html>", subtype="html")
    else:
        msg.set_content(text)
    return bytes(msg)


def post(client: TestClient, raw: bytes, *, token: str | None = TOKEN, ctype: str = "message/rfc822"):  # type: ignore[no-untyped-def]
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["X-Relay-Token"] = token
    return client.post(URL, content=raw, headers=headers)


def transition(
    client: TestClient, h: dict[str, str], tid: int, *states: str, reason: str = "replaced the fuse"
) -> None:
    """Take the ticket through `states` in turn as an agent does, each with its ETag; `resolved`
    carries the reason."""
    url = f"/api/v1/tickets/{tid}"
    for to in states:
        etag = client.get(url, headers=h).headers["ETag"]
        body = {"to": to, "reason": reason} if to == "resolved" else {"to": to}
        r = client.post(f"{url}/transitions", json=body, headers={**h, "If-Match": etag})
        assert r.status_code == 200, r.text


def tickets_of(db: Session, account_id: int) -> list[Ticket]:
    return list(db.scalars(select(Ticket).where(Ticket.account_id == account_id)))


def test_new_ticket_from_a_known_contact(client: TestClient, db: Session, people) -> None:
    r = post(client, mail())
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["action"] == "created"
    t = db.get(Ticket, out["ticket_id"])
    assert t is not None
    assert (t.channel, t.priority, t.status) == ("email", "P3", "new")
    assert t.contact_id == people["anna"].id and t.account_id == people["account"].id
    assert t.subject == "Heating down" and "hall 2" in t.description
    assert t.email_thread_id == "<m1@kunde.example>"
    kinds = [e.kind for e in db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id))]
    assert kinds == ["created", "email_in"]
    assert t.resolution_due_at is not None  # the SLA clock runs like any other channel


def test_relay_retry_creates_nothing_twice(client: TestClient, db: Session, people) -> None:
    first = post(client, mail())
    again = post(client, mail())
    assert again.status_code == 200 and again.json()["action"] == "duplicate"
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert again.json()["event_id"] == first.json()["event_id"]
    assert len(tickets_of(db, people["account"].id)) == 1
    # without a Message-ID the content identifies the message
    a = post(client, mail(message_id=None, subject="No id"))
    b = post(client, mail(message_id=None, subject="No id"))
    assert a.status_code == 201 and b.json()["action"] == "duplicate"


def test_reply_threads_and_resumes_a_waiting_ticket(client: TestClient, db: Session, login, people) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    url = f"/api/v1/tickets/{tid}"
    client.post(f"{url}/replies", json={"text": "Which boiler model?"}, headers=h)
    etag = client.get(url, headers=h).headers["ETag"]
    r = client.post(f"{url}/transitions", json={"to": "waiting_on_customer"}, headers={**h, "If-Match": etag})
    assert r.json()["sla_paused"] is True
    reply_id = db.scalar(
        select(TicketEvent.message_id).where(TicketEvent.ticket_id == tid, TicketEvent.kind == "reply")
    )
    # the customer answers our reply
    r = post(
        client,
        mail(
            subject="Re: Heating down",
            text="It is a Vitocrossal 300.",
            message_id="<m2@kunde.example>",
            in_reply_to=reply_id,
        ),
    )
    assert r.status_code == 201 and r.json() == {**r.json(), "action": "threaded", "ticket_id": tid}
    t = client.get(url, headers=h).json()
    assert t["status"] == "open" and t["sla_paused"] is False
    items = client.get(f"{url}/timeline", headers=h).json()["items"]
    assert [i["kind"] for i in items if i["kind"] in ("email_in", "sla_resume")] == [
        "email_in",
        "email_in",
        "sla_resume",
    ]
    assert len(tickets_of(db, people["account"].id)) == 1


def test_reply_to_the_original_message_and_html_body(client: TestClient, db: Session, people) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    r = post(client, mail(message_id="<m3@kunde.example>", in_reply_to="<m1@kunde.example>", html=True))
    assert r.json()["action"] == "threaded" and r.json()["ticket_id"] == tid
    event = db.get(TicketEvent, r.json()["event_id"])
    assert event is not None and event.body == "Still cold"


def test_subject_tag_threads_only_for_the_customers_own_contacts(
    client: TestClient, db: Session, people
) -> None:
    t = db.get(Ticket, post(client, mail()).json()["ticket_id"])
    assert t is not None
    tagged = f"Re: [{t.number}] Heating down"
    own = post(client, mail(subject=tagged, message_id="<m4@kunde.example>"))
    assert own.json()["action"] == "threaded" and own.json()["ticket_id"] == t.id
    # a stranger quoting the number gets a ticket of their own, on their own account
    stranger = post(
        client, mail(sender="bob@elsewhere.example", subject=tagged, message_id="<x1@elsewhere.example>")
    )
    assert stranger.json()["action"] == "created" and stranger.json()["ticket_id"] != t.id
    other = db.get(Ticket, stranger.json()["ticket_id"])
    assert other is not None and other.account_id == people["other"].account_id


def test_unknown_sender_is_held_not_refused_and_opens_no_ticket(
    client: TestClient, db: Session, people
) -> None:
    before = db.scalar(select(func.count()).select_from(Ticket))
    r = post(client, mail(sender="spam@nowhere.example", message_id="<s@nowhere.example>"))
    assert r.status_code == 202, r.text
    assert r.json()["action"] == "held" and r.json()["unmatched_id"]
    assert db.scalar(select(func.count()).select_from(Ticket)) == before
    no_from = post(client, b"Subject: hi\r\n\r\nbody\r\n")
    assert no_from.status_code == 422


def test_relay_token_is_required(client: TestClient, people, monkeypatch: pytest.MonkeyPatch) -> None:
    assert post(client, mail(), token=None).status_code == 401
    assert post(client, mail(), token="guess").status_code == 401
    assert post(client, mail(), ctype="application/json").status_code == 415
    assert post(client, mail(), ctype="text/plain").status_code == 201
    monkeypatch.setattr(get_settings(), "inbound_email_token", None)
    assert post(client, mail(message_id="<z@kunde.example>")).status_code == 503


def test_mail_on_a_resolved_ticket_reopens_it(client: TestClient, db: Session, login, people) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    url = f"/api/v1/tickets/{tid}"
    transition(client, h, tid, "open", "resolved")
    r = post(client, mail(message_id="<m5@kunde.example>", in_reply_to="<m1@kunde.example>"))
    assert r.json()["action"] == "threaded"
    assert client.get(url, headers=h).json()["status"] == "open"


def test_outbound_reply_carries_thread_headers(client: TestClient, db: Session, login, people) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    reply = client.post(
        f"/api/v1/tickets/{tid}/replies", json={"text": "Engineer tomorrow"}, headers=h
    ).json()
    event = db.get(TicketEvent, reply["id"])
    assert event is not None
    msg = outbound_message(db, event=event)
    assert msg["Message-ID"] == reply["message_id"]
    assert msg["In-Reply-To"] == "<m1@kunde.example>" and msg["To"].lower() == "anna.berg@kunde.example"
    assert "[T-" in msg["Subject"]
    # the customer's mail client quotes it back; the parser finds it
    assert parse(mail(in_reply_to=reply["message_id"])).references == (reply["message_id"],)


def test_out_of_office_reply_does_not_resume_the_clock(
    client: TestClient, db: Session, login, people
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    url = f"/api/v1/tickets/{tid}"
    transition(client, h, tid, "open", "waiting_on_customer")
    r = post(
        client,
        mail(
            message_id="<ooo@kunde.example>",
            in_reply_to="<m1@kunde.example>",
            text="I am out of office until Monday.",
            auto=True,
        ),
    )
    assert r.json()["action"] == "threaded"
    t = client.get(url, headers=h).json()
    assert t["status"] == "waiting_on_customer" and t["sla_paused"] is True


def test_reply_after_the_reopen_window_opens_a_follow_up_ticket(
    client: TestClient, db: Session, people
) -> None:
    from datetime import timedelta

    from app.desk.tickets import service as tickets
    from app.platform.db import utcnow

    agent = f.make_user(db)
    start = utcnow() - timedelta(days=30)
    old = tickets.create_ticket(
        db,
        account_id=people["account"].id,
        subject="Heating down",
        contact_id=people["anna"].id,
        priority="P3",
        channel="email",
        actor=agent,
        opened_at=start,
        email_thread_id="<old@kunde.example>",
    )
    tickets.transition(db, ticket_id=old.id, to="open", actor=agent, channel="web", at=start)
    tickets.transition(
        db,
        ticket_id=old.id,
        to="resolved",
        reason="replaced the fuse",
        actor=agent,
        channel="web",
        at=start + timedelta(hours=2),
    )
    db.commit()
    r = post(client, mail(message_id="<late@kunde.example>", in_reply_to="<old@kunde.example>"))
    assert r.status_code == 201 and r.json()["action"] == "created"
    new = db.get(Ticket, r.json()["ticket_id"])
    assert new is not None and new.id != old.id and new.contact_id == people["anna"].id
    created = db.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == new.id, TicketEvent.kind == "created")
    )
    assert created is not None and created.data["follows"] == old.number
    db.refresh(old)
    assert old.status == "resolved"
