"""A reply through a real SMTP server (aiosmtpd on a free local port): delivered with its thread
headers; a recipient the server refuses is shown with the server's answer."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.platform.config import get_settings
from tests.integrations.inbound_email.test_inbound_email import mail, post


class Relay:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse = False

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        msg = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[Relay]:
    handler = Relay()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = get_settings()
        monkeypatch.setattr(settings, "notify_sender", "smtp")
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", port)
        yield handler
    finally:
        controller.stop()


def test_a_reply_reaches_the_smtp_server_threaded(
    client: TestClient, db: Session, login, people, relay: Relay
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"text": "Engineer tomorrow"}, headers=login())
    [(rcpt, msg)] = relay.messages
    assert [a.lower() for a in rcpt] == ["anna.berg@kunde.example"]
    assert msg["Message-ID"] == r.json()["message_id"] and msg["In-Reply-To"] == "<m1@kunde.example>"
    assert "Engineer tomorrow" in msg.get_content()


def test_a_refused_recipient_shows_the_servers_answer(
    client: TestClient, db: Session, login, people, relay: Relay
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login()
    relay.refuse = True
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"text": "Engineer tomorrow"}, headers=h)
    items = client.get(f"/api/v1/tickets/{tid}/timeline", headers=h).json()["items"]
    (item,) = [i for i in items if i["source"] == "ticket" and i["id"] == r.json()["id"]]
    delivery = item["data"]["delivery"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1  # retried by the beat
    assert delivery["error"].startswith("refused by the mail server (")
    assert "550 5.1.1 no such mailbox here" in delivery["error"]
    assert relay.messages == []
