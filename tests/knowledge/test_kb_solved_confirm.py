"""The ticket page's "This solved it" resolves the ticket and mails the customer only once confirmed.

kb-suggest.js asks in a dialog and then sends ``confirmed=1``. The same button is drawn by the server,
so a click before the deferred script ran (or with scripts off) reaches the server without it: the
server then answers the ticket page with the question and changes nothing until it is confirmed.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.knowledge import articles
from app.models import Account, Contact, KbTicketFeedback, ReplyDelivery, Ticket, User
from tests import factories as f
from tests.web.conftest import csrf_of


def _world(db: Session, author: User) -> tuple[Ticket, int, str]:
    """An open ticket whose contact has an e-mail address (so resolving it queues a mail), and a
    published article for it."""
    acc = f.make_account(db)
    contact = f.make_contact(db, acc)
    ticket = f.open_ticket(db, acc, subject="Display shows F.75", contact_id=contact.id)
    article = articles.create_article(
        db,
        values={"title": "Heat pump shows F.75", "body": "Refill to 1.5 bar.", "status": "published"},
        actor=author,
    )
    db.commit()
    return ticket, article.id, str(contact.email)


def _counts(db: Session, ticket_id: int) -> tuple[int, int]:
    feedback = db.scalar(select(func.count()).where(KbTicketFeedback.ticket_id == ticket_id)) or 0
    mails = db.scalar(select(func.count()).where(ReplyDelivery.ticket_id == ticket_id)) or 0
    return feedback, mails


def test_solved_without_the_confirmation_asks_and_changes_nothing(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    agent = sign_in("agent")
    ticket, article, email = _world(db, agent)
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    url = f"/desk/tickets/{ticket.id}/kb/{article}/solved"

    asked = client.post(url, data={"csrf": token}, follow_redirects=False)
    assert asked.status_code == 200  # the question, not the redirect of a saved verdict
    page = html.unescape(asked.text)
    assert f"Resolve ticket {ticket.number} with KB-{article} and mail the customer the resolution?" in page
    form = page.split('id="kb-confirm"', 1)[1].split("</form>", 1)[0]
    assert 'name="confirmed" value="1"' in form and f'name="csrf" value="{token}"' in form
    assert f'href="/desk/tickets/{ticket.id}#kb-title"' in form  # Cancel: back, nothing sent
    # the same action, inside the panel: drafts.js's '#kb-panel form[action$="/solved"]' matches it
    opening = page.split('id="kb-confirm"', 1)[0].rsplit("<form", 1)[1]
    assert f'action="{url}"' in opening and 'id="kb-panel"' in page.split('id="kb-confirm"', 1)[0]
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "new"
    assert _counts(db, ticket.id) == (0, 0)  # no verdict, no mail queued
    # anything but "1" is no confirmation either
    assert client.post(url, data={"csrf": token, "confirmed": "yes"}).status_code == 200
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "new" and _counts(db, ticket.id) == (0, 0)

    done = client.post(url, data={"csrf": token, "confirmed": "1"}, follow_redirects=False)
    assert done.status_code == 303 and "done=kb_" in done.headers["location"]
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "resolved"
    assert _counts(db, ticket.id) == (1, 1)
    mail = db.scalar(select(ReplyDelivery).where(ReplyDelivery.ticket_id == ticket.id))
    assert mail is not None and mail.recipient == email


def test_the_question_is_asked_with_the_csrf_check_first_and_names_a_missing_article(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    agent = sign_in("agent")
    ticket, article, _ = _world(db, agent)
    url = f"/desk/tickets/{ticket.id}/kb/{article}/solved"
    assert client.post(url, data={"csrf": "forged"}).status_code == 403
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    missing = client.post(f"/desk/tickets/{ticket.id}/kb/999999/solved", data={"csrf": token})
    assert missing.status_code == 404 and 'id="kb-confirm"' not in missing.text


def test_an_already_resolved_ticket_is_only_linked_and_the_question_says_no_mail(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    agent = sign_in("agent")
    ticket, article, _ = _world(db, agent)
    tickets.transition(db, ticket_id=ticket.id, to="open", reason="", actor=agent, channel="desk")
    tickets.transition(
        db, ticket_id=ticket.id, to="resolved", reason="Reset it.", actor=agent, channel="desk"
    )
    db.commit()
    mails = _counts(db, ticket.id)[1]
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    asked = client.post(f"/desk/tickets/{ticket.id}/kb/{article}/solved", data={"csrf": token})
    page = html.unescape(asked.text)
    assert (
        asked.status_code == 200 and f"Link KB-{article} to ticket {ticket.number} as its resolution?" in page
    )
    assert "No e-mail goes out: the ticket is resolved already." in page and "mail the customer" not in page
    db.expire_all()
    assert _counts(db, ticket.id) == (0, mails)


def test_the_question_and_the_dialog_say_when_no_mail_goes_out(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: the question promised "mail the customer the resolution" for a ticket without a contact
    and for a contact who had left, and nothing was mailed. Both now say why no e-mail goes out, as
    the reply form does; the script's dialog reads the same words from the panel."""
    agent = sign_in("agent")
    ticket, article, _ = _world(db, agent)
    left = db.get_one(Ticket, ticket.id)
    alone = f.open_ticket(db, f.make_account(db), subject="Display shows F.75")
    db.commit()
    assert left.contact_id is not None
    db.get_one(Contact, left.contact_id).active = False
    db.commit()
    for tid, why in ((alone.id, "the ticket has no contact"), (left.id, "the contact has left the customer")):
        token = csrf_of(client.get(f"/desk/tickets/{tid}").text)
        page = html.unescape(
            client.post(f"/desk/tickets/{tid}/kb/{article}/solved", data={"csrf": token}).text
        )
        number = db.get_one(Ticket, tid).number
        assert f"Resolve ticket {number} with KB-{article}?" in page
        assert f"No e-mail goes out: {why}." in page
        assert "mail the customer" not in page
        dialog = page.split('data-solved-question="', 1)[1].split('"', 1)[0]
        assert dialog == f"Resolve this ticket with this article? No e-mail goes out: {why}."
    # a contact with an address: the dialog promises the mail
    other, _, _ = _world(db, agent)
    page = html.unescape(client.get(f"/desk/tickets/{other.id}").text)
    dialog = page.split('data-solved-question="', 1)[1].split('"', 1)[0]
    assert dialog == "Resolve this ticket with this article? The customer gets the resolution e-mail."


def test_a_german_customer_gets_the_resolution_line_in_german(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: the mail around it was German ("Guten Tag …") and the resolution line English ("Solved by
    our service desk"). It is written in the customer's language, as the mail is."""
    agent = sign_in("agent")
    ticket, article, _ = _world(db, agent)
    db.get_one(Account, ticket.account_id).language = "de"
    db.commit()
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    done = client.post(
        f"/desk/tickets/{ticket.id}/kb/{article}/solved", data={"csrf": token, "confirmed": "1"}
    )
    assert done.status_code == 200, done.text
    page = html.unescape(done.text)
    assert f"Von unserem Service-Desk gelöst (Referenz KB-{article})." in page  # the timeline
    assert "Solved by our service desk" not in page
