"""Desk pages: the no-JS search, the customer 360° page and creating a ticket from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import Ticket, TicketEvent, User
from tests import factories as f
from tests.web.conftest import csrf_of


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db, name="Bayern Süd")
    cal = f.make_calendar(db, always_open=True, name="Mo–Fr 8–17")
    acc = f.make_account(db, region=region, name="Brauerei Gipfelglück GmbH", tier="gold")
    other = f.make_account(db, region=region, name="Gipfel Logistik AG", tier="silver")
    site = f.make_site(
        db,
        acc,
        name="Sudhaus Rosenheim",
        address="Brauweg 3, 83022 Rosenheim",
        latitude=47.856,
        longitude=12.128,
    )
    contract = f.make_contract(db, acc, cal, tier="gold", number="C-GIPFEL-1")
    jana = f.make_contact(db, acc, name="Jana Weber", phone="+49 8031 2345-67", email="jana@gipfel.example")
    max_ = f.make_contact(db, acc, name="Max Huber", mobile="0171 5550123")
    covered = f.make_asset(
        db, site, contract=contract, serial="SN-KUEHL-0042", warranty_end=date.today() - timedelta(days=10)
    )
    warranty = f.make_asset(db, site, serial="SN-NEU-0001", warranty_end=date.today() + timedelta(days=200))
    open_ticket = tickets.create_ticket(
        db,
        account_id=acc.id,
        subject="Pump noise",
        priority="P3",
        channel="email",
        actor=None,
        contact_id=jana.id,
    )
    db.commit()
    return {
        "account": acc,
        "other": other,
        "site": site,
        "jana": jana,
        "max": max_,
        "covered": covered,
        "warranty": warranty,
        "open_ticket": open_ticket,
    }


def test_search_by_phone_in_another_format_finds_the_customer(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("agent")
    r = client.get("/desk/search", params={"q": "08031 234567"})
    assert r.status_code == 200
    acc, jana = world["account"], world["jana"]
    assert "Brauerei Gipfelglück GmbH" in r.text and "1 customer found" in r.text
    # the hit links to the 360 with the caller preselected
    assert f'href="/desk/customers/{acc.id}?contact={jana.id}"' in r.text
    assert "Phone: +49 8031 2345-67 · Jana Weber" in r.text


def test_search_results_are_best_first(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("agent")
    html = client.get("/", params={"q": "gipfel"}).text  # the start page takes ?q= too
    prefix, substring = html.index("Gipfel Logistik AG"), html.index("Brauerei Gipfelglück GmbH")
    assert prefix < substring  # a name starting with the query beats one containing it


def test_search_too_short_or_no_match_is_readable(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("agent")
    r = client.get("/desk/search", params={"q": "x"})
    assert r.status_code == 422 and "Type at least 2 characters" in r.text
    assert 'value="x"' in r.text  # the query stays in the box
    r = client.get("/desk/search", params={"q": "Nonexistent Brewery"})
    assert r.status_code == 200 and "No customer matches" in r.text


def test_customer_360_shows_the_account(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("agent")
    acc = world["account"]
    r = client.get(f"/desk/customers/{acc.id}")
    assert r.status_code == 200
    html = r.text
    assert "<h1" in html and "Brauerei Gipfelglück GmbH" in html
    assert "Gold" in html and "Health: green" in html and "Bayern Süd" in html
    assert 'href="tel:+498031234567"' in html and 'href="tel:01715550123"' in html  # click to call
    assert "Sudhaus Rosenheim" in html and "openstreetmap.org/?mlat=47.856&amp;mlon=12.128" in html
    assert "C-GIPFEL-1" in html and "Active" in html and "Mo–Fr 8–17" in html
    assert "SN-KUEHL-0042" in html and "Warranty ended" in html and "Contract C-GIPFEL-1" in html
    assert "SN-NEU-0001" in html and "Warranty until" in html
    assert world["open_ticket"].number in html and "Pump noise" in html
    assert "No survey answers yet." in html
    assert "Gipfel Logistik AG" not in html  # only this customer's data


def test_360_preselects_the_contact_and_asset_from_the_search_hit(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    acc, mx, asset = world["account"], world["max"], world["covered"]
    html = client.get(f"/desk/customers/{acc.id}", params={"contact": mx.id, "asset": asset.id}).text
    assert f'<option value="{mx.id}" selected>Max Huber</option>' in html
    assert f'<option value="{asset.id}" selected>' in html
    # a contact of another customer is not preselected
    stranger = f.make_contact(db, world["other"])
    db.commit()
    html = client.get(f"/desk/customers/{acc.id}", params={"contact": stranger.id}).text
    assert " selected>Max Huber" not in html and " selected>Jana Weber" not in html


def test_create_ticket_from_the_360_page(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    agent = sign_in("agent")
    acc, jana, asset = world["account"], world["jana"], world["covered"]
    page = client.get(f"/desk/customers/{acc.id}")
    assert 'name="channel"' in page.text and '<option value="phone" selected>' in page.text
    r = client.post(
        f"/desk/customers/{acc.id}/tickets",
        data={
            "contact_id": str(jana.id),
            "asset_id": str(asset.id),
            "subject": "Cooling unit alarm E42",
            "description": "Since 06:00.",
            "priority": "P1",
            "channel": "phone",
            "csrf": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    ticket = db.scalars(select(Ticket).where(Ticket.subject == "Cooling unit alarm E42")).one()
    assert r.headers["location"] == f"/desk/tickets/{ticket.id}?done=created"
    assert (ticket.account_id, ticket.contact_id, ticket.asset_id) == (acc.id, jana.id, asset.id)
    assert (ticket.priority, ticket.channel, ticket.sla_tier) == ("P1", "phone", "gold")
    created = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).first()
    assert created is not None and created.actor_id == agent.id
    follow = client.get(r.headers["location"])
    assert "Ticket created." in follow.text and "Cooling unit alarm E42" in follow.text


def test_refused_ticket_keeps_everything_typed(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    acc = world["account"]
    stranger = f.make_contact(db, world["other"])
    db.commit()
    token = csrf_of(client.get(f"/desk/customers/{acc.id}").text)
    typed = {
        "contact_id": str(stranger.id),
        "subject": "Leaking valve",
        "description": "Customer explained at length what happened.",
        "priority": "P2",
        "channel": "phone",
        "csrf": token,
    }
    r = client.post(f"/desk/customers/{acc.id}/tickets", data=typed)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "is not a contact of this customer" in r.text
    assert (
        'value="Leaking valve"' in r.text
        and ">Customer explained at length what happened.</textarea>" in r.text
    )
    assert '<option value="P2" selected>' in r.text
    r = client.post(f"/desk/customers/{acc.id}/tickets", data={**typed, "contact_id": "", "subject": "  "})
    assert r.status_code == 422 and "must not be blank" in r.text
    assert db.scalars(select(Ticket).where(Ticket.account_id == acc.id)).all() == [world["open_ticket"]]
    r = client.post(f"/desk/customers/{acc.id}/tickets", data={**typed, "contact_id": "", "csrf": "forged"})
    assert r.status_code == 403


def test_unknown_customer_is_a_readable_404(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    r = client.get("/desk/customers/987654")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html") and "987654" in r.text


def test_engineer_cannot_open_desk_pages(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("engineer")
    for path in (
        "/desk/search?q=gipfel",
        f"/desk/customers/{world['account'].id}",
        f"/desk/tickets/{world['open_ticket'].id}",
    ):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "The service desk is for agents" in r.text


def test_search_page_says_when_it_shows_fewer_than_all_matches(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    for i in range(25):
        f.make_account(db, name=f"Kühlhaus Nord {i:02d}")
    db.commit()
    sign_in("agent")
    html = client.get("/desk/search", params={"q": "kuehlhaus"}).text
    assert html.count('<span class="name">Kühlhaus Nord') == 20
    assert "Showing 20 of 25 matches" in html
    html = client.get("/desk/search", params={"q": "Nord Kuhlhaus 2"}).text  # 02, 12, 20-24
    assert "7 customers found" in html
