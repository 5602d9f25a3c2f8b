"""Hostile inbound e-mail: a leaked Message-ID does not let a stranger write into a customer's
ticket, and a deeply nested MIME message is refused cleanly (422, not 500)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.integrations.inbound_email.mime import MAX_MIME_DEPTH
from app.models import Ticket, TicketEvent
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import mail, post


def test_a_leaked_message_id_does_not_thread_a_strangers_mail(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    anna_ticket = post(client, mail()).json()["ticket_id"]
    # Bob (a contact of another customer) replies to Anna's Message-ID.
    r = post(
        client,
        mail(
            sender="bob@elsewhere.example",
            message_id="<b1@elsewhere.example>",
            in_reply_to="<m1@kunde.example>",
        ),
    )
    assert r.status_code == 201 and r.json()["action"] == "created"
    assert r.json()["ticket_id"] != anna_ticket
    bobs = db.get(Ticket, r.json()["ticket_id"])
    assert bobs is not None and bobs.account_id == people["other"].account_id
    assert bobs.asset_id is None  # nothing of Anna's ticket is carried over
    created = db.scalar(
        select(TicketEvent).where(TicketEvent.ticket_id == bobs.id, TicketEvent.kind == "created")
    )
    assert created is not None and "follows" not in (created.data or {})
    events_on_anna = db.scalar(
        select(func.count())
        .select_from(TicketEvent)
        .where(TicketEvent.ticket_id == anna_ticket, TicketEvent.kind == "email_in")
    )
    assert events_on_anna == 1


def test_an_unknown_sender_with_a_leaked_message_id_is_held_not_threaded(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    post(client, mail())
    r = post(
        client,
        mail(sender="eve@attacker.example", message_id="<e1@a.example>", in_reply_to="<m1@kunde.example>"),
    )
    assert r.status_code == 202 and r.json()["action"] == "held", r.text
    assert db.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "email_in")) == 1


def test_a_colleague_of_the_customer_still_threads(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    f.make_contact(db, people["account"], email="carl@kunde.example")
    db.commit()
    r = post(
        client,
        mail(sender="carl@kunde.example", message_id="<c1@kunde.example>", in_reply_to="<m1@kunde.example>"),
    )
    assert r.json()["action"] == "threaded" and r.json()["ticket_id"] == tid


def _nested(depth: int) -> bytes:
    head = (
        b"From: Anna Berg <anna.berg@kunde.example>\r\nSubject: deep\r\nMessage-ID: <deep@kunde.example>\r\n"
    )
    parts = [head]
    for level in range(depth):
        parts.append(
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n'
            % (level, level)
        )
    parts.append(b"Content-Type: text/plain\r\n\r\nhello\r\n")
    for level in reversed(range(depth)):
        parts.append(b"--b%d--\r\n" % level)
    return b"".join(parts)


def test_two_thousand_nested_parts_are_refused_cleanly(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    r = post(client, _nested(2000))
    assert r.status_code == 422, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "message"
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_nesting_just_past_the_limit_is_refused_and_at_it_accepted(
    client: TestClient, people: dict[str, Any]
) -> None:
    assert post(client, _nested(MAX_MIME_DEPTH)).status_code == 422  # the message itself is one level
    ok = post(client, _nested(MAX_MIME_DEPTH - 1).replace(b"<deep@", b"<ok@"))
    assert ok.status_code == 201, ok.text[:300]
