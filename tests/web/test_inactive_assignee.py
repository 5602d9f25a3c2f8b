"""A ticket still assigned to someone who cannot work the desk says so on the queue and the ticket
page ("Maria Lopez (inactive)"). Before, the queue showed "—" (its names came from the people one may
assign to), as if nobody had it, while no view listed it as unassigned; the ticket page showed the
bare name. The edit form keeps such an assignee when other fields are saved (before, its select had no
option for them, so saving unassigned the ticket), and still refuses them as a new assignee."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import Ticket, TicketEvent, User
from app.platform.db import utcnow
from tests import factories as f
from tests.web.test_ticket_pages import _edit_form


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


def _assigned_then_deactivated_in_sql(db: Session, name: str, sql: str) -> tuple[Ticket, User]:
    """A ticket assigned to an agent whom a plain SQL UPDATE then took off the desk: a leftover the
    hand-back hook (which watches ORM flushes) never sees."""
    agent = f.make_user(db, role="agent", name=name)
    ticket = f.open_ticket(db, f.make_account(db), subject="Cold room too warm")
    tickets.update_ticket(
        db, ticket_id=ticket.id, values={"assignee_id": agent.id}, actor=None, channel="desk"
    )
    db.commit()
    db.execute(text(f'UPDATE "user" SET {sql} WHERE id = :id'), {"id": agent.id})
    db.commit()
    db.expire_all()
    return ticket, agent


@pytest.mark.parametrize(
    ("sql", "label"),
    [("is_active = false", "(inactive)"), ("role = 'engineer'", "(not on the desk)")],
)
def test_editing_another_field_keeps_an_assignee_who_left_the_desk(
    client: TestClient, db: Session, sign_in: Callable[..., User], sql: str, label: str
) -> None:
    ticket, franziska = _assigned_then_deactivated_in_sql(db, "Franziska Koch", sql)
    sign_in("agent", name="Otto Editor")
    html = client.get(f"/desk/tickets/{ticket.id}").text
    # The select shows her as chosen, named as the page names her; before, it had no option for
    # her, so the browser chose "— nobody —" and the save below unassigned the ticket.
    assert f'<option value="{franziska.id}" selected>Franziska Koch {label}</option>' in html
    form = _edit_form(html, ticket)
    assert form["assignee_id"] == form["base_assignee_id"] == str(franziska.id)

    r = client.post(f"/desk/tickets/{ticket.id}/edit", data={**form, "priority": "P1"})
    assert r.status_code == 200 and "Ticket saved." in r.text
    db.expire_all()
    saved = db.get_one(Ticket, ticket.id)
    assert (saved.priority, saved.assignee_id) == ("P1", franziska.id)
    assigned = db.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "assigned")
    ).all()
    assert [e.actor_id for e in assigned] == [None]  # only the first assignment; the editor did none


def test_the_page_still_refuses_a_new_assignee_who_left_the_desk(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    ticket, franziska = _assigned_then_deactivated_in_sql(db, "Franziska Koch", "is_active = false")
    maria = f.make_user(db, role="agent", name="Maria Lopez", is_active=False)
    unassigned = f.open_ticket(db, f.make_account(db), subject="Oven door stuck")
    db.commit()
    sign_in("agent")
    html = client.get(f"/desk/tickets/{unassigned.id}").text
    assert "Franziska Koch" not in html and "Maria Lopez" not in html  # only her own ticket lists her
    form = _edit_form(html, unassigned)
    for who in (franziska, maria):
        r = client.post(f"/desk/tickets/{unassigned.id}/edit", data={**form, "assignee_id": str(who.id)})
        assert r.status_code == 422 and "is not an active desk user" in r.text
    db.expire_all()
    assert db.get_one(Ticket, unassigned.id).assignee_id is None
