"""The survey mail through a real SMTP server (aiosmtpd on a free local port), read back."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from app.feedback import answering, sending
from app.platform.config import get_settings
from tests.fake_mail import SmtpSink
from tests.feedback.world import customer, later, visit


def test_the_survey_mail_arrives_with_one_click_ratings_and_unsubscribe(
    db: Session, smtp_sink: SmtpSink
) -> None:
    case = customer(db, tier="gold")
    wo = visit(db, case)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"send": 1}
    [(rcpt, msg)] = smtp_sink.messages
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
