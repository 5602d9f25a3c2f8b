"""The ticket page says before sending when a reply cannot be mailed, and shows each reply's
delivery on the timeline (sent, not mailed, refused and retried)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Contact, Ticket, User
from tests import factories as f
from tests.fake_mail import Box
from tests.web.conftest import csrf_of

HINT = "This reply cannot be mailed: the contact has no e-mail address."


def _ticket(db: Session, email: str | None, *, opted_out: bool = False) -> int:
    acc = f.make_account(db)
    contact = f.make_contact(db, acc, email=email, survey_opt_out=opted_out)
    ticket = f.open_ticket(db, acc, contact_id=contact.id)
    db.commit()
    return ticket.id


def _send(client: TestClient, tid: int, text: str) -> str:
    token = csrf_of(client.get(f"/desk/tickets/{tid}").text)
    r = client.post(f"/desk/tickets/{tid}/reply", data={"text": text, "csrf": token})
    assert r.status_code == 200, r.text
    return r.text


def test_a_contact_without_e_mail_is_named_before_and_after_sending(
    client: TestClient, sign_in: Callable[..., User], db: Session, box: Box
) -> None:
    sign_in("agent")
    tid = _ticket(db, None)
    assert HINT in client.get(f"/desk/tickets/{tid}").text
    page = _send(client, tid, "We will call you back.")
    assert "We will call you back." in page  # recorded all the same
    assert "Not mailed: the contact has no e-mail address" in page
    assert box.sent == []


def test_a_mailed_reply_shows_sent_and_an_opted_out_contact_gets_no_hint(
    client: TestClient, sign_in: Callable[..., User], db: Session, box: Box
) -> None:
    sign_in("agent")
    tid = _ticket(db, "kim@customer.example", opted_out=True)  # opted out of surveys, not replies
    assert "cannot be mailed" not in client.get(f"/desk/tickets/{tid}").text
    page = _send(client, tid, "Engineer <b>tomorrow</b>")
    assert "E-mail sent to kim@customer.example" in page
    assert "Engineer &lt;b&gt;tomorrow&lt;/b&gt;" in page
    (msg,) = box.sent
    assert "Engineer <b>tomorrow</b>" in msg.get_content() and msg.get_content_type() == "text/plain"


def test_a_refused_reply_shows_the_reason_and_the_retry(
    client: TestClient, sign_in: Callable[..., User], db: Session, box: Box
) -> None:
    sign_in("agent")
    tid = _ticket(db, "kim@customer.example")
    box.refuse = True
    page = _send(client, tid, "Engineer tomorrow")
    assert "E-mail to kim@customer.example failed (attempt 1): refused by the mail server" in page
    assert "550 5.1.1 mailbox unavailable" in page and "retried automatically" in page


def test_a_contact_who_left_the_customer_is_named_before_sending(
    client: TestClient, sign_in: Callable[..., User], db: Session, box: Box
) -> None:
    sign_in("agent")
    tid = _ticket(db, "kim@customer.example")
    ticket = db.get_one(Ticket, tid)
    db.get_one(Contact, ticket.contact_id).active = False  # left the customer; the address stays
    db.commit()
    page = client.get(f"/desk/tickets/{tid}").text
    assert "This reply cannot be mailed: the contact has left the customer." in page
    assert "to kim@customer.example" not in page  # the form does not promise a recipient
    sent = _send(client, tid, "We will call you back.")
    assert "Not mailed: the contact has left the customer" in sent  # as the warning said
    assert box.sent == []
