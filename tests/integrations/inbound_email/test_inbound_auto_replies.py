"""Automatic mail (out-of-office, lists, bounces) never opens a ticket: on a ticket it threads onto
it is recorded and moves nothing; otherwise the relay hears 200 `ignored` and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Ticket, TicketEvent
from tests.integrations.inbound_email.test_inbound_email import mail, post, transition


def _with(raw: bytes, *headers: str) -> bytes:
    return "".join(f"{h}\r\n" for h in headers).encode() + raw


def _tickets(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Ticket)) or 0


@pytest.mark.parametrize(
    ("headers", "subject", "marker"),
    [
        (("Auto-Submitted: auto-replied",), "Heating down", "Auto-Submitted: auto-replied"),
        (
            ("Auto-Submitted: auto-generated; owner-email=x@y",),
            "Heating down",
            "Auto-Submitted: auto-generated",
        ),
        (("Precedence: bulk",), "Heating down", "Precedence: bulk"),
        (("Precedence: junk",), "Heating down", "Precedence: junk"),
        (("Precedence: list",), "Heating down", "Precedence: list"),
        (("X-Autoreply: yes",), "Heating down", "X-Autoreply"),
        (("X-Autorespond: Out of office",), "Heating down", "X-Autorespond"),
        ((), "Automatic reply: Heating down", "out-of-office subject"),
        ((), "Automatische Antwort: Heizung", "out-of-office subject"),
        ((), "Out of Office: Heating down", "out-of-office subject"),
    ],
)
def test_an_automatic_mail_opens_no_ticket(
    client: TestClient,
    db: Session,
    people: dict[str, Any],
    headers: tuple[str, ...],
    subject: str,
    marker: str,
) -> None:
    raw = _with(mail(subject=subject, text="I am out of the office until Monday."), *headers)
    r = post(client, raw)
    assert r.status_code == 200, r.text
    assert r.json() == {"action": "ignored", "reason": "auto-reply", "marker": marker}
    assert "location" not in r.headers
    assert _tickets(db) == 0
    again = post(client, raw)  # a relay retry: still nothing
    assert again.status_code == 200 and again.json()["action"] == "ignored" and _tickets(db) == 0


def test_a_delivery_report_opens_no_ticket(client: TestClient, db: Session, people: dict[str, Any]) -> None:
    raw = (
        b"From: Anna Berg <anna.berg@kunde.example>\r\nMessage-ID: <dsn@kunde.example>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"\r\n'
        b"\r\n--r\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n--r--\r\n"
    )
    r = post(client, raw)
    assert r.status_code == 200 and r.json()["marker"] == "Content-Type: multipart/report"
    assert _tickets(db) == 0
    # a person's mail still opens one, whatever it says and however it declares itself
    r = post(
        client, _with(mail(subject="Office heating out of order"), "Auto-Submitted: no", "Precedence: normal")
    )
    assert r.status_code == 201 and r.json()["action"] == "created"


def test_an_automatic_mail_from_an_unknown_sender_is_ignored_not_bounced(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    # A 422 would make the relay bounce an auto-reply: the start of a mail loop.
    r = post(client, _with(mail(sender="robot@nowhere.example"), "Auto-Submitted: auto-replied"))
    assert r.status_code == 200 and r.json()["action"] == "ignored"


def test_an_automatic_reply_on_a_resolved_ticket_is_recorded_and_reopens_nothing(
    client: TestClient, db: Session, login: Any, people: dict[str, Any]
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login("agent")
    url = f"/api/v1/tickets/{tid}"
    transition(client, h, tid, "open", "resolved")

    r = post(
        client,
        _with(
            mail(message_id="<auto@kunde.example>", in_reply_to="<m1@kunde.example>", text="Out of office."),
            "X-Autorespond: yes",
        ),
    )

    assert r.status_code == 201 and r.json()["action"] == "threaded" and r.json()["ticket_id"] == tid
    assert client.get(url, headers=h).json()["status"] == "resolved"
    event = db.get(TicketEvent, r.json()["event_id"])
    assert event is not None and event.data["auto"] is True and event.data["auto_reason"] == "X-Autorespond"
    assert _tickets(db) == 1
