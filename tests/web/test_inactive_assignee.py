"""A ticket still assigned to someone who cannot work the desk says so on the queue and the ticket
page ("Maria Lopez (inactive)"). Before, the queue showed "—" (its names came from the people one may
assign to), as if nobody had it, while no view listed it as unassigned; the ticket page showed the
bare name."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket, User
from app.platform.db import utcnow
from tests import factories as f


def _left_with(db: Session, user: User, subject: str) -> Ticket:
    """A leftover: assigned before the hand-back existed (written directly, as old data is)."""
    ticket = f.open_ticket(db, f.make_account(db), subject=subject)
    ticket.assignee_id = user.id
    ticket.first_response_due_at = utcnow() + timedelta(hours=1)  # in "Breaching soon"
    db.flush()
    return ticket


def _queue_cell(html: str, ticket: Ticket) -> str:
    row = re.search(
        rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(ticket.number or '')}(?:(?!</tr>).)*</tr>", html, re.S
    )
    assert row, f"{ticket.number} not in the queue"
    return " ".join(row.group(0).split())


def test_the_queue_marks_an_inactive_assignee_and_names_every_other(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    maria = f.make_user(db, role="agent", name="Maria Lopez", is_active=False)
    ida = f.make_user(db, role="engineer", name="Ida Iversen")
    boss = f.make_user(db, role="admin", name="Ada Admin")
    hers = _left_with(db, maria, "Cold room too warm")
    engineers = _left_with(db, ida, "Oven door stuck")
    admins = _left_with(db, boss, "Fryer oil leak")
    db.commit()

    html = client.get("/desk/queue", params={"view": "breaching_soon"}).text
    assert "<td>Maria Lopez (inactive)</td>" in _queue_cell(html, hers)
    assert "<td>Ida Iversen (not on the desk)</td>" in _queue_cell(html, engineers)
    assert "<td>Ada Admin</td>" in _queue_cell(html, admins)  # an admin works the desk: "—" before


def test_the_ticket_page_marks_an_inactive_assignee(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    maria = f.make_user(db, role="agent", name="Maria Lopez", is_active=False)
    ticket = _left_with(db, maria, "Cold room too warm")
    db.commit()

    html = client.get(f"/desk/tickets/{ticket.id}").text
    assert "<dt>Assignee</dt><dd>Maria Lopez (inactive)</dd>" in html

    maria.is_active = True  # back at the desk (the hook hands back only when the desk is lost)
    db.commit()
    html = client.get(f"/desk/tickets/{ticket.id}").text
    assert "<dt>Assignee</dt><dd>Maria Lopez</dd>" in html
