"""QA: a service report of two zero-width spaces closed the visit and resolved the ticket; plain
spaces were refused. Text with no visible character is blank for every required text field: one
rule (`app.platform.text.is_blank`) behind the API's schemas (`InputModel`) and the services the
pages call."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.desk.teams import service as teams
from app.desk.tickets import service as tickets
from app.knowledge import articles
from app.models import Ticket
from app.platform.errors import Unprocessable
from app.platform.text import is_blank
from tests import factories as f

# zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen, Hangul filler, blank braille,
# a variation selector, a right-to-left mark, ideographic space: each draws nothing
INVISIBLE = ["\u200b\u200b", "  \u200b ", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", "\u3164",
             "\u2800", "\ufe0f", "\u200f", "\u3000", "\t\u200b\n"]  # fmt: skip


@pytest.mark.parametrize("text", ["", " ", "\n\t", *INVISIBLE])
def test_text_without_a_visible_character_is_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", ["x", "\u200bok\u200b", "中", "👍", "👍\ufe0f", "👨\u200d🔧", "·", "é", "0"])
def test_text_with_a_visible_character_is_not(text: str) -> None:
    assert not is_blank(text)


SERVICES = ["subject", "edited subject", "reply", "note", "call", "article title", "team name", "user name"]


@pytest.mark.parametrize("what", SERVICES)
def test_required_texts_of_the_services_refuse_invisible_text(db: Session, what: str) -> None:
    """What the pages call: ticket subject (new and edited), reply, note, call summary, article
    title, team name, user name."""
    account = f.make_account(db)
    ticket = f.open_ticket(db, account)
    agent = f.make_user(db, role="agent")
    db.commit()
    blank = "\u200b\u200b"
    attempts: dict[str, Any] = {
        "subject": lambda: tickets.create_ticket(
            db, account_id=account.id, subject=blank, priority="P3", channel="phone", actor=agent
        ),
        "edited subject": lambda: tickets.update_ticket(
            db, ticket_id=ticket.id, values={"subject": blank}, actor=agent, channel="web"
        ),
        "reply": lambda: tickets.add_reply(db, ticket_id=ticket.id, body=blank, actor=agent, channel="web"),
        "note": lambda: tickets.add_note(db, ticket_id=ticket.id, body="\u2060 ", actor=agent, channel="web"),
        "call": lambda: tickets.log_call(
            db,
            ticket_id=ticket.id,
            direction="inbound",
            summary=blank,
            duration_min=3,
            actor=agent,
            channel="web",
        ),
        "article title": lambda: articles.create_article(
            db, values={"title": blank, "body": "x"}, actor=agent
        ),
        "team name": lambda: teams.create_team(db, name="\ufeff\u200b", member_ids=[]),
        "user name": lambda: accounts.create(
            db, email="zw@example.com", name=blank, role="agent", password="Correct-Horse-7", actor=agent
        ),
    }
    with pytest.raises(Unprocessable) as refused:
        attempts[what]()
    assert refused.value.errors and refused.value.errors[0]["field"] in (
        "subject",
        "text",
        "summary",
        "title",
        "name",
    )
    db.rollback()
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).subject != blank


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/tickets/{t}/replies", {"text": "  \u200b "}, "text"),
        ("/api/v1/tickets/{t}/notes", {"text": "\u200c\u200d"}, "text"),
        ("/api/v1/kb/articles", {"title": "\ufeff", "body": "Refill to 1.5 bar."}, "title"),
    ],
)
def test_the_api_refuses_invisible_required_text_naming_the_field(
    client: TestClient, db: Session, login: Any, path: str, body: dict[str, str], field: str
) -> None:
    ticket = f.open_ticket(db, f.make_account(db))
    db.commit()
    r = client.post(path.format(t=ticket.id), json=body, headers=login("manager"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]
