"""The queue page: saved views, the countdown's data, keyboard labels, bulk changes with a
stale ticket reported by number while the others apply, and a readable refusal of bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import Ticket, User
from app.platform.db import utcnow
from tests import factories as f
from tests.web.conftest import csrf_of


def _due(db: Session, account, hours: float) -> Ticket:
    t = f.open_ticket(db, account)
    t.first_response_due_at = utcnow() + timedelta(hours=hours)
    db.flush()
    return t


def test_breaching_soon_lists_by_risk_with_countdown_and_labels(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    account = f.make_account(db)
    later, first = _due(db, account, 3), _due(db, account, 0.5)
    _due(db, account, 30)  # not soon
    db.commit()
    html = client.get("/desk/queue", params={"view": "breaching_soon"}).text
    assert html.index(first.number) < html.index(later.number)
    assert html.count('class="queue-row') == 2
    assert 'data-due="' in html and "/static/js/queue.js" in html
    assert f'aria-label="Tick {first.number}"' in html
    assert '<a href="/desk/queue?view=breaching_soon" aria-current="page">Breaching soon</a>' in html
    home = client.get("/").text  # the agent's start page counts the views
    assert "Breaching soon: <strong>2</strong>" in home


def test_bulk_assign_applies_the_fresh_and_names_the_stale(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    me = sign_in("agent")
    other = f.make_user(db)
    account = f.make_account(db)
    fresh, stale = _due(db, account, 1), _due(db, account, 2)
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    form = {"ticket": [f"{fresh.id}:{fresh.version}", f"{stale.id}:{stale.version}"], "assignee": "me"}
    tickets.update_ticket(db, ticket_id=stale.id, values={"subject": "edited"}, actor=other, channel="web")
    db.commit()
    r = client.post(
        "/desk/queue/bulk", data={**form, "csrf": csrf_of(page), "back": "/desk/queue?view=unassigned"}
    )
    assert r.status_code == 200
    assert "1 ticket(s) changed. 1 not changed:" in r.text
    assert f"<strong>{stale.number}</strong>: Ticket {stale.number} was changed by someone else" in r.text
    db.expire_all()
    assert db.get(Ticket, fresh.id).assignee_id == me.id
    assert db.get(Ticket, stale.id).assignee_id is None


def test_bulk_status_change_all_fresh_redirects_with_count(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("dispatcher")
    account = f.make_account(db)
    a, b = _due(db, account, 1), _due(db, account, 2)
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    data = {"ticket": [f"{a.id}:{a.version}", f"{b.id}:{b.version}"], "status": "waiting_on_customer"}
    r = client.post(
        "/desk/queue/bulk",
        data={**data, "csrf": csrf_of(page), "back": "/desk/queue?view=unassigned"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/desk/queue?view=unassigned&done=2"
    db.expire_all()
    assert {db.get(Ticket, a.id).status, db.get(Ticket, b.id).status} == {"waiting_on_customer"}
    assert "2 ticket(s) changed." in client.get(r.headers["location"]).text


def test_bulk_refuses_without_csrf_and_names_bad_input(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    assert client.post("/desk/queue/bulk", data={"ticket": ["1:1"], "assignee": "me"}).status_code == 403
    page = client.get("/desk/queue").text
    r = client.post("/desk/queue/bulk", data={"csrf": csrf_of(page), "assignee": "me"})
    assert r.status_code == 422 and "tick at least one ticket" in r.text
    r = client.post("/desk/queue/bulk", data={"csrf": csrf_of(page), "ticket": ["x:1"], "assignee": "me"})
    assert r.status_code == 422 and "choose tickets from the list" in r.text
    bad = client.get("/desk/queue", params={"view": "mine", "sla_due_before": "tomorrow"})
    assert bad.status_code == 422 and "not a date and time" in bad.text


def test_engineers_cannot_open_the_queue(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("engineer")
    assert client.get("/desk/queue").status_code == 403


def test_a_forged_offset_is_named(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    # "²" is a digit to str.isdigit but no number to int(): a 422 that names it, never a 500
    for offset in ("-5", "²"):
        r = client.get("/desk/queue", params={"view": "mine", "offset": offset})
        assert r.status_code == 422 and "offset: a whole number of tickets to skip" in r.text, offset


def test_the_customer_filter_takes_a_name_or_a_number(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """Agents know the customer's name, not our number: part of a name that names one customer
    filters by it; one that names several, or none, says so."""
    sign_in("agent")
    haas = f.make_account(db, name="Bäckerei Haas KG")
    other = f.make_account(db, name="Zimmermann Bau GmbH")
    twin = f.make_account(db, name="Zimmermann Logistik")
    mine, theirs = _due(db, haas, 2), _due(db, other, 2)
    _due(db, twin, 2)
    db.commit()
    by_name = client.get("/desk/queue", params={"view": "unassigned", "customer": "bäckerei haas"}).text
    assert mine.number in by_name and theirs.number not in by_name
    by_number = client.get("/desk/queue", params={"view": "unassigned", "customer": str(other.id)}).text
    assert theirs.number in by_number and mine.number not in by_number
    several = client.get("/desk/queue", params={"view": "unassigned", "customer": "zimmermann"})
    assert (
        several.status_code == 422 and "2 customers match “zimmermann”: type more of the name" in several.text
    )
    none = client.get("/desk/queue", params={"view": "unassigned", "customer": "50%_off"})
    assert none.status_code == 422 and "no customer’s name contains “50%_off”" in none.text
