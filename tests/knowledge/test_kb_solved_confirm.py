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
from app.models import Account, Contact, KbTicketFeedback, ReplyDelivery, Ticket, TicketEvent, User
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
    # Confirm and Cancel send the reply form (its CSRF token, its text) to the same action, from
    # inside the panel: drafts.js's '#kb-panel [formaction$="/solved"]' matches them
    question = page.split('id="kb-confirm"', 1)[1].split('<label for="kb-symptom"', 1)[0]
    assert 'name="confirmed" value="1"' in question and 'name="cancel" value="1"' in question
    assert question.count(f'form="reply-form" formaction="{url}" formnovalidate') == 2
    assert f'name="csrf" value="{token}"' in page.split('id="reply-form"', 1)[1].split("</form>", 1)[0]
    assert 'id="kb-panel"' in page.split('id="kb-confirm"', 1)[0]
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


def _reply_box(page: str) -> str:
    """The reply box's text as the page drew it."""
    return html.unescape(page.split('id="reply-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])


def _timeline_holds(db: Session, ticket_id: int, words: str) -> bool:
    """Whether any timeline entry (a reply, the resolution mail, a note) holds these words."""
    bodies = db.scalars(select(TicketEvent.body).where(TicketEvent.ticket_id == ticket_id))
    return any(words in body for body in bodies)


def test_the_reply_typed_comes_back_unsent_on_the_question_cancel_and_confirm(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: a reply typed, then "This solved it" clicked before the page's scripts ran (or without
    them): the question page drew the ticket with the reply box empty, the text was gone. The button
    sends the reply form, so the question, its Cancel and its Confirm all draw the box as typed; the
    reply is never sent by them (the customer gets the resolution mail only)."""
    agent = sign_in("agent")
    ticket, article, _ = _world(db, agent)
    page = client.get(f"/desk/tickets/{ticket.id}").text
    token = csrf_of(page)
    url = f"/desk/tickets/{ticket.id}/kb/{article}/solved"
    # the server-drawn button sends the reply form, the required reply box not checked
    item = page.split(f'<li data-article="{article}">', 1)[1].split("</li>", 1)[0]
    assert f'form="reply-form" formaction="{url}" formnovalidate' in item and "This solved it" in item
    typed = "Dear Ms Weber,\r\nplease refill to 1.5 bar <and> check the gauge."

    asked = client.post(url, data={"csrf": token, "text": typed})
    assert asked.status_code == 200 and 'id="kb-confirm"' in asked.text
    assert _reply_box(asked.text) == typed
    assert "autofocus" not in asked.text.split('id="reply-text"', 1)[1].split(">", 1)[0]  # Cancel has it

    cancelled = client.post(url, data={"csrf": token, "text": typed, "cancel": "1"})
    assert cancelled.status_code == 200 and 'id="kb-confirm"' not in cancelled.text
    assert _reply_box(cancelled.text) == typed
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "new" and _counts(db, ticket.id) == (0, 0)
    # a Cancel with an empty reply box: back to the ticket, as the old link did
    back = client.post(url, data={"csrf": token, "cancel": "1"}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/desk/tickets/{ticket.id}#kb-title"

    done = client.post(url, data={"csrf": token, "text": typed, "confirmed": "1"}, follow_redirects=False)
    assert done.status_code == 200  # drawn here: a redirect would drop the unsent reply
    page = html.unescape(done.text)
    assert "resolved at first contact. Your reply was not sent: it is still in the reply box." in page
    assert 'data-draft-saved="kb_fcr"' in done.text  # drafts.js: the symptom draft goes, the reply stays
    assert _reply_box(done.text) == typed and 'id="kb-confirm"' not in done.text
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "resolved"
    assert _counts(db, ticket.id) == (1, 1)  # the resolution mail only
    assert _timeline_holds(db, ticket.id, "check the gauge") is False
    # a reload sends the form again: recorded once, the reply still in its box
    again = client.post(url, data={"csrf": token, "text": typed, "confirmed": "1"})
    assert again.status_code == 200 and _reply_box(again.text) == typed
    db.expire_all()
    assert _counts(db, ticket.id) == (1, 1)
    # the agent's to send: "Send reply" puts it on the timeline
    reply = f"/desk/tickets/{ticket.id}/reply"
    assert client.post(reply, data={"csrf": token, "text": typed}, follow_redirects=False).status_code == 303
    db.expire_all()
    assert _timeline_holds(db, ticket.id, "check the gauge") is True


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
