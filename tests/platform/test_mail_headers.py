"""Every outgoing mail carries Date and Message-ID (relays and spam filters expect them): the
survey mail and the customer's ETA mail alike start from `mail.new_message`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from app.feedback import messages
from app.platform.mail import new_message


def _check(msg_date: str, msg_id: str) -> None:
    assert msg_date.endswith("-0000")  # UTC (formatdate), not the server's zone
    sent = parsedate_to_datetime(msg_date).replace(tzinfo=UTC)  # -0000 parses naive
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)
    assert msg_id.startswith("<") and msg_id.endswith("@fieldline.example>")  # the sender's domain


def test_new_message_sets_the_headers_every_mail_needs() -> None:
    a = new_message(to="jana@kunde.example", subject="Hi")
    b = new_message(to="jana@kunde.example", subject="Hi")
    assert (a["From"], a["To"], a["Subject"]) == ("dispatch@fieldline.example", "jana@kunde.example", "Hi")
    _check(a["Date"], a["Message-ID"])
    assert a["Message-ID"] != b["Message-ID"]


def test_the_survey_mail_has_date_and_message_id() -> None:
    msg = messages.compose(
        survey_id=7,
        template_id="post_visit",
        to="jana@kunde.example",
        contact_name="Jana",
        case_ref="T-1",
        reminder=False,
    )
    _check(msg["Date"], msg["Message-ID"])
    assert msg["List-Unsubscribe"] and msg["To"] == "jana@kunde.example"
