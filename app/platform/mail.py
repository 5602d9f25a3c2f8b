"""Outgoing e-mail: one pluggable transport for every message the product sends.

`notify_sender=smtp` with `smtp_host` delivers through an SMTP relay; otherwise messages go to
the log (development, demos). Tests install their own with `set_mailer`. A raise means "not
sent": callers keep their row pending and retry later. Every outgoing message starts from
`new_message`, which sets the headers every mail needs (From, To, Subject, Date, Message-ID).
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol

from app.platform.config import get_settings

log = logging.getLogger(__name__)


def new_message(*, to: str, subject: str) -> EmailMessage:
    """A message from the product's sender with the headers relays and spam filters expect: a
    mail without Date or Message-ID is scored as spam or stamped by whichever relay takes it."""
    sender = get_settings().mail_from
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=domain)
    return msg


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Deliver or raise."""
        ...


class LogMailer:
    def send(self, message: EmailMessage) -> None:
        log.info("mail to %s: %s", message["To"] or "(no address)", message["Subject"])


class SmtpMailer:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


_mailer: Mailer | None = None


def set_mailer(mailer: Mailer | None) -> None:
    """Install a transport (tests, integrations); None goes back to the configured one."""
    global _mailer
    _mailer = mailer


def get_mailer() -> Mailer:
    if _mailer is not None:
        return _mailer
    s = get_settings()
    if s.notify_sender == "smtp" and s.smtp_host:
        return SmtpMailer(s.smtp_host, s.smtp_port)
    return LogMailer()
