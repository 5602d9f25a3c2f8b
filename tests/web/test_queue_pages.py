"""The queue page: saved views, the countdown's data, keyboard labels, bulk changes with a
stale ticket reported by number while the others apply, and a readable refusal of bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.workorders import service as workorders
from app.models import ReplyDelivery, Ticket, TicketEvent, User, WorkOrder
from app.platform.db import utcnow
from app.platform.mail import set_mailer
from app.web import desk_queue
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
    # an unknown sort was ignored (sorted by SLA risk without a word), where the API answers 422
    odd = client.get("/desk/queue", params={"view": "mine", "sort": "oldest"})
    assert odd.status_code == 422 and "sort: choose a sort order from the list" in odd.text
    assert client.get("/desk/queue", params={"view": "mine", "sort": "newest"}).status_code == 200


def test_engineers_cannot_open_the_queue(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("engineer")
    assert client.get("/desk/queue").status_code == 403


def test_the_next_link_skips_nothing_when_a_listed_ticket_closes(
    client: TestClient, db: Session, sign_in: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Next link was `offset=50`: closing a ticket of the first page hid one of the second."""
    monkeypatch.setattr(desk_queue, "PAGE", 2)
    sign_in("agent")
    account = f.make_account(db)
    first, second, third = _due(db, account, 1), _due(db, account, 2), _due(db, account, 3)
    db.commit()
    html = client.get("/desk/queue", params={"view": "unassigned"}).text
    assert first.number in html and second.number in html and third.number not in html
    href = html.split('<a href="/desk/queue?')[-1].split('"')[0].replace("&amp;", "&")
    assert "cursor=" in href, href
    first.status = "closed"
    db.commit()
    assert third.number in client.get("/desk/queue?" + href).text


def test_a_forged_cursor_is_named(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    # The Next link carries a keyset cursor (desk/tickets/queue.py), no offset to type: a forged
    # one is a readable 422, never a 500
    for cursor in ("-5", "²", "eyJzIjoibmV3ZXN0IiwiaSI6MX0"):  # the last: a cursor of sort=newest
        r = client.get("/desk/queue", params={"view": "mine", "cursor": cursor})
        assert r.status_code == 422 and "The cursor is not valid for this list" in r.text, cursor


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
    _due(db, f.make_account(db, name="500 Coffee"), 2)  # "%50%_off%" unescaped: "50" "0 " "c" "off" "ee"
    db.commit()
    by_name = client.get("/desk/queue", params={"view": "unassigned", "customer": "bäckerei haas"}).text
    assert mine.number in by_name and theirs.number not in by_name
    # spelled without the umlaut, as the customer search takes it
    for typed in ("Baeckerei Haas", "backerei"):
        folded = client.get("/desk/queue", params={"view": "unassigned", "customer": typed}).text
        assert mine.number in folded and theirs.number not in folded, typed
    by_number = client.get("/desk/queue", params={"view": "unassigned", "customer": str(other.id)}).text
    assert theirs.number in by_number and mine.number not in by_number
    # A name matching several customers lists all their tickets and says so (it used to say
    # "type more of the name" above the whole queue, unfiltered).
    several = client.get("/desk/queue", params={"view": "unassigned", "customer": "zimmermann"})
    assert several.status_code == 200
    assert "2 customers match “zimmermann”: showing the tickets of all of them." in several.text
    assert theirs.number in several.text and mine.number not in several.text
    assert several.text.count('class="queue-row') == 2
    none = client.get("/desk/queue", params={"view": "unassigned", "customer": "50%_off"})
    assert none.status_code == 422 and "no customer’s name contains “50%_off”" in none.text
    assert 'class="queue-row' not in none.text and "No tickets listed: correct the filter above." in none.text


def test_a_filter_it_cannot_understand_lists_no_tickets_rather_than_all(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    for i in range(52):
        f.make_account(db, name=f"Fischer {i}")
    _due(db, f.make_account(db, name="Other"), 2)
    db.commit()
    r = client.get("/desk/queue", params={"view": "unassigned", "customer": "fischer"})
    assert r.status_code == 422 and "more than 50 customers match “fischer”: type more of the name" in r.text
    assert 'class="queue-row' not in r.text


def test_a_ticket_number_in_the_customer_box_finds_its_customer(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """The box says "name or number": agents type the ticket number from the customer's e-mail,
    in any spelling. It lists that customer's tickets and links the ticket itself."""
    sign_in("agent")
    fischer = f.make_account(db, name="Fischer Kältetechnik")
    target, sibling = _due(db, fischer, 1), _due(db, fischer, 2)
    other = _due(db, f.make_account(db, name="Other GmbH"), 3)
    # A number far beyond any customer number, so that the bare digits can only mean the ticket.
    target.number = "T-0098765"
    db.commit()
    for typed in ("T-0098765", "t-0098765", "T-98765", "98765"):
        r = client.get("/desk/queue", params={"view": "unassigned", "customer": typed})
        assert r.status_code == 200, typed
        assert "T-0098765 is a ticket of Fischer Kältetechnik: showing that customer’s tickets." in r.text
        assert f'<a href="/desk/tickets/{target.id}">Open the ticket</a>' in r.text
        assert sibling.number in r.text and other.number not in r.text, typed
    missing = client.get("/desk/queue", params={"view": "unassigned", "customer": "T-0099999"})
    assert missing.status_code == 422 and "no ticket T-0099999" in missing.text
    digits = client.get("/desk/queue", params={"view": "unassigned", "customer": "99999"})
    assert digits.status_code == 422 and "no customer number 99999 and no ticket T-0099999" in digits.text


def test_the_customer_box_is_styled_like_the_other_filters(
    client: TestClient, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    html = client.get("/desk/queue").text
    # app.css styles inputs by type: one without a type was the small, misaligned box
    assert '<input type="search" name="customer"' in html and 'size="14"' not in html


# --- bulk resolve with scheduled visits ---------------------------------------------------------


def _scheduled(db: Session, dispatcher: User) -> tuple[Ticket, WorkOrder]:
    region = f.make_region(db)
    account = f.make_account(db, region=region)
    site = f.make_site(db, account, region=region)
    contact = f.make_contact(db, account, email="kunde@example.org")
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill="HVAC"))
    engineer = f.make_engineer(db, region, skills=["HVAC"])
    ticket = f.open_ticket(db, account, asset=asset, contact_id=contact.id)
    wo = f.make_work_order(db, ticket)
    start = datetime.combine(utcnow().date() + timedelta(days=9), time(9), tzinfo=UTC)
    workorders.schedule(
        db, work_order=wo, engineer_id=engineer.id, planned_start=start, eta=None, actor=dispatcher
    )
    db.flush()
    return ticket, wo


def _opened(db: Session, account) -> Ticket:  # type: ignore[no-untyped-def]
    t = _due(db, account, 2)
    tickets.transition(db, ticket_id=t.id, to="open", actor=None, channel="web")
    db.flush()
    return t


def test_bulk_resolve_names_the_visits_it_cancels_and_asks_first(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    me = sign_in("agent")
    ticket, wo = _scheduled(db, me)
    plain = _opened(db, f.make_account(db))
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    form = {
        "ticket": [f"{ticket.id}:{ticket.version}", f"{plain.id}:{plain.version}"],
        "status": "resolved",
        "reason": "Replaced the fuse",
        "csrf": csrf_of(page),
        "back": "/desk/queue?view=unassigned",
    }
    asked = client.post("/desk/queue/bulk", data=form, follow_redirects=False)
    # Nothing is done yet: the page names the visit and where the resolution goes (no mail yet).
    assert asked.status_code == 200
    assert "Resolved: 2 ticket(s) — this cancels 1 visit(s)" in asked.text
    assert f"<strong>{wo.number}</strong> ({ticket.number}, Scheduled," in asked.text
    assert "Each ticket keeps the resolution on its timeline, and it is e-mailed to the" in asked.text
    assert db.scalar(select(func.count()).select_from(ReplyDelivery)) == 0
    assert f'name="confirm" value="{wo.number}"' in asked.text
    db.expire_all()
    assert db.get_one(WorkOrder, wo.id).status == "scheduled"
    assert {db.get_one(Ticket, ticket.id).status, db.get_one(Ticket, plain.id).status} == {
        "scheduled",
        "open",
    }

    done = client.post("/desk/queue/bulk", data={**form, "confirm": wo.number}, follow_redirects=False)
    assert done.status_code == 303 and f"cancelled={wo.number}" in done.headers["location"]
    db.expire_all()
    assert db.get_one(WorkOrder, wo.id).status == "cancelled"
    result = client.get(done.headers["location"]).text
    assert f"2 ticket(s) changed. Visits cancelled: {wo.number} ({ticket.number}, " in result
    # A hand-made link cannot claim a visit was cancelled that was not.
    forged = client.get("/desk/queue", params={"done": "1", "cancelled": "WO-9999999"}).text
    assert "1 ticket(s) changed." in forged and "Visits cancelled" not in forged


def test_bulk_resolve_without_visits_needs_no_extra_step(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    plain = _opened(db, f.make_account(db))
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    form = {"ticket": [f"{plain.id}:{plain.version}"], "status": "resolved", "csrf": csrf_of(page)}
    r = client.post("/desk/queue/bulk", data={**form, "reason": "Reset"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk/queue?done=1"
    # a resolution is asked for before anything is done
    r = client.post("/desk/queue/bulk", data=form)
    assert r.status_code == 422 and "write the resolution: it is kept on each ticket’s timeline" in r.text


def test_bulk_resolve_mails_the_resolution_where_the_page_says_it_does(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """The bulk bar's promise, checked against what a bulk resolve records: a resolution reply
    queued for mailing to a contact with an e-mail address, nothing mailed without one."""
    sign_in("agent")
    account = f.make_account(db)
    mailed = _opened(db, account)
    mailed.contact_id = f.make_contact(db, account, email="kunde@example.org").id
    silent = _opened(db, account)
    silent.contact_id = f.make_contact(db, account, email=None).id
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    assert (
        "Resolving e-mails the resolution to each ticket’s contact; a ticket\n"
        "        whose contact has no e-mail address (or that has no contact) keeps it on its timeline only."
    ) in page
    form = {
        "ticket": [f"{t.id}:{t.version}" for t in (mailed, silent)],
        "status": "resolved",
        "reason": "Replaced the fuse",
        "csrf": csrf_of(page),
    }
    sent: list[EmailMessage] = []
    set_mailer(SimpleNamespace(send=sent.append))  # the delivery task runs eagerly in tests
    try:
        assert client.post("/desk/queue/bulk", data=form, follow_redirects=False).status_code == 303
    finally:
        set_mailer(None)
    assert [m["To"] for m in sent] == ["kunde@example.org"]
    assert "\n\nReplaced the fuse\n\n" in sent[0].get_content()
    db.expire_all()
    deliveries = db.scalars(select(ReplyDelivery)).all()
    assert [(d.ticket_id, d.status) for d in deliveries] == [(mailed.id, "sent")]
    event = db.get_one(TicketEvent, deliveries[0].event_id)
    assert (event.kind, event.body, event.data["resolution"]) == ("reply", "Replaced the fuse", True)
    kinds = db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == silent.id)).all()
    assert db.get_one(Ticket, silent.id).status == "resolved" and "reply" not in kinds


def test_bulk_refusals_name_states_by_their_labels(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    sign_in("agent")
    new = _due(db, f.make_account(db), 1)  # new → resolved is refused: open it first
    db.commit()
    page = client.get("/desk/queue", params={"view": "unassigned"}).text
    data = {
        "ticket": [f"{new.id}:{new.version}"],
        "status": "resolved",
        "reason": "Fixed",
        "csrf": csrf_of(page),
    }
    r = client.post("/desk/queue/bulk", data=data)
    assert r.status_code == 200
    assert (
        f"<strong>{new.number}</strong>: a ticket that is New cannot move to Resolved; "
        "allowed next: Open, Waiting on customer, Closed." in r.text
    )
    assert "waiting_on_customer" not in r.text.split('aria-label="Tickets not changed"')[1].split("</ul>")[0]
