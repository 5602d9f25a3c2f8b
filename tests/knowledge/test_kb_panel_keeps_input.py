"""The ticket page's "Not helpful" and the knowledge box keep what the agent typed over the page load.

"Not helpful" was a form of its own, so a reply typed before the page's scripts ran (or with scripts
off) was gone once the verdict redirected; the knowledge box had no name, so its text never reached
the server and every page answering a knowledge button drew the subject again. Both are now part of
the reply form, like "This solved it": the pages answering draw the reply (unsent) and the box (with
its suggestions) as typed.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.models import KbTicketFeedback, Ticket, TicketEvent, User
from tests import factories as f
from tests.web.conftest import csrf_of

NOISE = "Compressor makes a loud rattling noise at night"


def _world(db: Session, author: User) -> tuple[Ticket, int, int]:
    """An open ticket about F.75, the F.75 article its subject finds, and one about a noise."""
    acc = f.make_account(db)
    ticket = f.open_ticket(db, acc, subject="Display shows F.75", contact_id=f.make_contact(db, acc).id)
    ids = [
        articles.create_article(
            db, values={"title": title, "body": body, "status": "published"}, actor=author
        ).id
        for title, body in (
            ("Heat pump shows F.75", "Low system pressure: refill to 1.5 bar."),
            (NOISE, "A rattling compressor at night: tighten the mounting bolts, check the dampers."),
        )
    ]
    db.commit()
    return ticket, ids[0], ids[1]


def _reply_box(page: str) -> str:
    return html.unescape(page.split('id="reply-text"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0])


def _symptom_box(page: str) -> str:
    tag = page.split('<input id="kb-symptom"', 1)[1].split(">", 1)[0]
    return html.unescape(tag.split(' value="', 1)[1].split('"', 1)[0])


def _suggested(page: str) -> list[int]:
    listed = page.split('id="kb-suggestions"', 1)[1].split("</ol>", 1)[0]
    return [int(part.split('"', 1)[0]) for part in listed.split('<li data-article="')[1:]]


def _not_helpful(db: Session, ticket_id: int) -> int:
    query = select(func.count()).where(
        KbTicketFeedback.ticket_id == ticket_id, KbTicketFeedback.verdict == "not_helpful"
    )
    return db.scalar(query) or 0


def test_not_helpful_sends_the_reply_form_and_draws_the_reply_back_unsent(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: a reply typed, then "Not helpful" clicked before the scripts ran (or without them): the
    verdict redirected and the reply box came back empty."""
    agent = sign_in("agent")
    ticket, f75, _ = _world(db, agent)
    page = client.get(f"/desk/tickets/{ticket.id}").text
    token = csrf_of(page)
    url = f"/desk/tickets/{ticket.id}/kb/{f75}/not-helpful"
    item = page.split(f'<li data-article="{f75}">', 1)[1].split("</li>", 1)[0]
    # a button of the reply form (was a form of its own, with only the CSRF token)
    assert f'<button type="submit" form="reply-form" formaction="{url}" formnovalidate' in item
    assert "<form" not in item

    typed = "Dear Ms Weber,\r\nplease refill to 1.5 bar <and> check the gauge."
    noted = client.post(url, data={"csrf": token, "text": typed, "symptom": ticket.subject})
    assert noted.status_code == 200  # drawn here: a redirect would drop the unsent reply
    assert _reply_box(noted.text) == typed
    assert "Noted: the article did not help. Your reply was not sent: it is still in the reply box." in (
        html.unescape(noted.text)
    )
    assert 'data-draft-saved="kb_not_helpful"' in noted.text  # drafts.js: the reply's draft stays
    assert _symptom_box(noted.text) == ticket.subject
    db.expire_all()
    assert _not_helpful(db, ticket.id) == 1
    bodies = db.scalars(select(TicketEvent.body).where(TicketEvent.ticket_id == ticket.id)).all()
    assert not any("check the gauge" in body for body in bodies)  # not sent
    # a reload sends the form again: recorded once
    assert client.post(url, data={"csrf": token, "text": typed}).status_code == 200
    db.expire_all()
    assert _not_helpful(db, ticket.id) == 1
    # nothing typed: the redirect, as before
    empty = client.post(
        url, data={"csrf": token, "text": "  ", "symptom": ticket.subject}, follow_redirects=False
    )
    assert empty.status_code == 303
    assert empty.headers["location"] == f"/desk/tickets/{ticket.id}?done=kb_not_helpful#kb-title"


def test_the_knowledge_box_is_a_reply_form_field_drawn_back_with_its_suggestions(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """QA: the knowledge box had no name, so without scripts its text was lost over "Not helpful" and
    the "This solved it" question. It is a field of the reply form now; the pages answering the
    panel's buttons draw it as typed, and their suggestions are for it (the script does not ask
    again for the text the box is drawn with)."""
    agent = sign_in("agent")
    ticket, f75, noise = _world(db, agent)
    page = client.get(f"/desk/tickets/{ticket.id}").text
    token = csrf_of(page)
    box = page.split('<input id="kb-symptom"', 1)[1].split(">", 1)[0]
    assert 'name="symptom" form="reply-form"' in box
    assert _suggested(page)[0] == f75  # the subject's suggestions
    typed = "compressor rattling noise at night"

    noted = client.post(
        f"/desk/tickets/{ticket.id}/kb/{f75}/not-helpful", data={"csrf": token, "text": "", "symptom": typed}
    )
    assert noted.status_code == 200 and _symptom_box(noted.text) == typed
    assert _suggested(noted.text)[0] == noise
    assert "Noted: the article did not help." in noted.text and "reply box" not in noted.text
    assert _reply_box(noted.text) == ""

    solved = f"/desk/tickets/{ticket.id}/kb/{noise}/solved"
    asked = client.post(solved, data={"csrf": token, "symptom": typed})
    assert 'id="kb-confirm"' in asked.text and _symptom_box(asked.text) == typed
    cancelled = client.post(
        solved, data={"csrf": token, "symptom": typed, "cancel": "1"}, follow_redirects=False
    )
    assert cancelled.status_code == 200 and _symptom_box(cancelled.text) == typed
    assert _suggested(cancelled.text)[0] == noise
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == "new"

    # a forged box longer than its maxlength: clipped (a search hint), no 500
    forged = client.post(solved, data={"csrf": token, "symptom": typed + " x" * 400, "cancel": "1"})
    assert forged.status_code == 200 and _symptom_box(forged.text) == (typed + " x" * 400)[:300]
    # solved: the box's work is done (its draft goes), so the usual redirect, reload-safe
    done = client.post(
        solved, data={"csrf": token, "symptom": typed, "confirmed": "1"}, follow_redirects=False
    )
    assert done.status_code == 303 and "done=kb_" in done.headers["location"]


def test_enter_in_the_knowledge_box_presses_no_button_of_the_reply_form(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """The knowledge box is a field of the reply form, so Enter in it submits that form with its
    default button: the first of its submit buttons in the page, which would be Confirm or a "This
    solved it". A disabled one comes first, so Enter sends nothing (as before the box had a form)."""
    agent = sign_in("agent")
    ticket, f75, _ = _world(db, agent)
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    asked = client.post(f"/desk/tickets/{ticket.id}/kb/{f75}/solved", data={"csrf": token, "symptom": "F.75"})
    assert 'id="kb-confirm"' in asked.text  # Confirm is a button of the reply form too
    for page in (client.get(f"/desk/tickets/{ticket.id}").text, asked.text):
        buttons = [
            b.split(">", 1)[0] for b in page.split("<button")[1:] if 'form="reply-form"' in b.split(">", 1)[0]
        ]
        assert buttons and " disabled" in buttons[0] and "formaction" not in buttons[0]
        assert all(" disabled" not in b for b in buttons[1:])
