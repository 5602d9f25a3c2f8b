"""The survey mail through a real SMTP server (aiosmtpd on a free local port), read back."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.orm import Session

from app.feedback import answering, sending
from app.platform.config import get_settings
from tests.feedback.world import customer, later, visit


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller's start-up check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # The configured transport, as production sets it: NOTIFY_SENDER=smtp, SMTP_HOST, SMTP_PORT.
        settings = get_settings()
        monkeypatch.setattr(settings, "notify_sender", "smtp")
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", port)
        yield inbox
    finally:
        controller.stop()


def test_the_survey_mail_arrives_with_one_click_ratings_and_unsubscribe(
    db: Session, smtp_server: Inbox
) -> None:
    case = customer(db, tier="gold")
    wo = visit(db, case)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"send": 1}
    [(rcpt, msg)] = smtp_server.messages
    assert rcpt == ["pat@customer.example"]
    assert msg["To"] == "pat@customer.example" and msg["From"] == get_settings().mail_from
    # the visit's number, as the visit notices and the survey page name it (not the ticket's T-…)
    assert wo.number and wo.number != case.ticket.number
    assert msg["Subject"] == f"How was our visit? ({wo.number})"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hello Pat Customer," in text
    ratings = re.findall(r"/survey/([^\s?/]+)\?csat=(\d)", text)
    assert [n for _, n in ratings] == ["1", "2", "3", "4", "5"]
    for token, n in ratings:
        assert f"/survey/{token}?csat={n}" in html  # the same links as buttons
    page = answering.open_form(db, ratings[0][0], now=later(hours=3))
    assert page.about is not None and page.about.reference == wo.number
    unsub = re.search(r"(http://\S+/survey/unsubscribe/\S+)", text)
    assert unsub is not None and msg["List-Unsubscribe"] == f"<{unsub.group(1)}>"
