"""A reply through a real SMTP server (aiosmtpd on a free local port): delivered with its thread
headers; a recipient the server refuses is shown with the server's answer."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.fake_mail import SmtpSink
from tests.integrations.inbound_email.test_inbound_email import mail, post


def test_a_reply_reaches_the_smtp_server_threaded(
    client: TestClient, db: Session, login, people, smtp_sink: SmtpSink
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"text": "Engineer tomorrow"}, headers=login())
    [(rcpt, msg)] = smtp_sink.messages
    assert [a.lower() for a in rcpt] == ["anna.berg@kunde.example"]
    assert msg["Message-ID"] == r.json()["message_id"] and msg["In-Reply-To"] == "<m1@kunde.example>"
    assert "Engineer tomorrow" in msg.get_content()


def test_a_refused_recipient_shows_the_servers_answer(
    client: TestClient, db: Session, login, people, smtp_sink: SmtpSink
) -> None:
    tid = post(client, mail()).json()["ticket_id"]
    h = login()
    smtp_sink.refuse = True
    r = client.post(f"/api/v1/tickets/{tid}/replies", json={"text": "Engineer tomorrow"}, headers=h)
    items = client.get(f"/api/v1/tickets/{tid}/timeline", headers=h).json()["items"]
    (item,) = [i for i in items if i["source"] == "ticket" and i["id"] == r.json()["id"]]
    delivery = item["data"]["delivery"]
    assert delivery["status"] == "pending" and delivery["attempts"] == 1  # retried by the beat
    assert delivery["error"].startswith("refused by the mail server (")
    assert "550 5.1.1 no such mailbox here" in delivery["error"]
    assert smtp_sink.messages == []
