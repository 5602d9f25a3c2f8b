"""Phone numbers on pages are links a phone can dial, whatever way the CRM wrote them down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import User
from app.web.shared import tel_href
from tests import factories as f

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"


@pytest.mark.parametrize(
    ("written", "dialled"),
    [
        ("+49 (0)89 71381-100", "+498971381100"),
        ("+49(0)8031 2345-67", "+498031234567"),
        ("0049 (0) 89 123456", "004989123456"),
        ("+43 (0)1 5880", "+4315880"),
        ("(089) 123 456", "089123456"),  # national: the bracketed area code keeps its 0
        ("0171 5550123", "01715550123"),
    ],
)
def test_trunk_zero_is_dropped_after_a_country_code(written: str, dialled: str) -> None:
    assert tel_href(written) == dialled


def test_pages_link_trunk_zero_numbers_dialably(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    acc = f.make_account(db, name="Trunk GmbH")
    contact = f.make_contact(db, acc, name="Eva Trunk", phone="+49 (0)89 71381-100", mobile="+49 (0)171 555")
    ticket = tickets.create_ticket(
        db,
        account_id=acc.id,
        subject="Leak",
        priority="P3",
        channel="phone",
        actor=None,
        contact_id=contact.id,
    )
    db.commit()
    sign_in("agent")
    for url in (f"/desk/customers/{acc.id}", f"/desk/tickets/{ticket.id}"):
        html = client.get(url).text
        assert 'href="tel:+498971381100"' in html, url
        assert 'href="tel:+49171555"' in html, url
        assert "+49 (0)89 71381-100" in html  # shown as written


def test_every_template_builds_tel_links_through_the_one_macro() -> None:
    # The field visit page, the ticket and the customer page all call m.tel, so one fix covers them.
    users = [
        p.name for p in TEMPLATES.rglob("*.html") if "tel:" in p.read_text() and p.name != "_macros.html"
    ]
    assert users == []
    assert any("m.tel(" in p.read_text() for p in (TEMPLATES / "field").glob("*.html"))
