"""Fake mail transports for the tests of mail the product sends.

`Box` is a mailer installed with `set_mailer` that keeps what it is given (fixture `box`);
`SmtpSink` is a real SMTP server (aiosmtpd on a free local port) that the configured SMTP
transport delivers to, so the message is read back as a relay got it (fixture `smtp_sink`).
Either can be told to refuse, as a relay refusing the recipient does. A test folder's conftest
imports the fixtures it uses.
"""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from app.platform.config import get_settings
from app.platform.mail import set_mailer


class Box:
    """A mailer that keeps what it is given; `refuse` makes it answer as a relay refusing it."""

    REFUSAL = (550, b"5.1.1 mailbox unavailable")

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse = False

    def send(self, message: EmailMessage) -> None:
        if self.refuse:
            raise smtplib.SMTPRecipientsRefused({str(message["To"]): self.REFUSAL})
        self.sent.append(message)


@pytest.fixture
def box() -> Iterator[Box]:
    b = Box()
    set_mailer(b)
    try:
        yield b
    finally:
        set_mailer(None)


class SmtpSink:
    """An aiosmtpd handler keeping each message with its envelope recipients; `refuse` answers
    every RCPT TO with a 550, as a relay does for a mailbox it does not know."""

    REFUSAL = "550 5.1.1 no such mailbox here"

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse = False

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse:
            return self.REFUSAL
        envelope.rcpt_tos.append(address)  # what aiosmtpd does without this hook
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        msg = email.message_from_bytes(envelope.original_content or b"", policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    with socket.socket() as probe:  # a free port (the controller's start-up check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # The configured transport, as production sets it: NOTIFY_SENDER=smtp, SMTP_HOST, SMTP_PORT.
        settings = get_settings()
        monkeypatch.setattr(settings, "notify_sender", "smtp")
        monkeypatch.setattr(settings, "smtp_host", "127.0.0.1")
        monkeypatch.setattr(settings, "smtp_port", port)
        yield sink
    finally:
        controller.stop()
