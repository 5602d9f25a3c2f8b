"""The engineer's service report on the desk: the ticket page's work orders and the 360° visits.

An agent taking the customer's call-back must see per visit who went, when, the outcome, the work
done and the parts used, without opening the API (QA: the card showed only "Done · 70 min").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.workorders import visits
from app.models import Ticket, User, WorkOrder
from app.platform.db import utcnow
from app.web.shared import iso
from tests import factories as f


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region, name="Bäckerei Sonne KG")
    site = f.make_site(db, acc, region=region, name="Backstube")
    contract = f.make_contract(db, acc, f.make_calendar(db, always_open=True), tier="gold")
    asset = f.make_asset(db, site, contract=contract, serial="SN-OFEN-7")
    engineer = f.make_engineer(db, region, name="Eva Engel")
    van = f.location_of(db, engineer=engineer)
    fan = f.make_part(db, name="Lüftermodul")
    seal = f.make_part(db, name="Türdichtung")
    f.set_stock(db, van, fan, 5)
    f.set_stock(db, van, seal, 5)
    ticket = tickets.create_ticket(
        db,
        account_id=acc.id,
        asset_id=asset.id,
        subject="Ofen heizt nicht",
        priority="P2",
        channel="phone",
        actor=None,
    )
    db.commit()
    return {"account": acc, "engineer": engineer, "fan": fan, "seal": seal, "ticket": ticket}


def _visit(
    db: Session,
    w: dict[str, Any],
    *,
    work_done: str,
    parts: list[tuple[int, int]],
    fixed: bool,
    notes: str = "",
) -> WorkOrder:
    """A visit of the world's engineer that arrives and files its service report."""
    wo = f.make_work_order(db, w["ticket"], notes=notes)
    wo.status, wo.engineer_id = "scheduled", w["engineer"].id
    wo.planned_start_at = utcnow() - timedelta(hours=2)
    db.flush()
    visits.check_in(db, work_order=wo, actor=None)
    visits.report(
        db,
        work_order=wo,
        work_done=work_done,
        parts_used=[(part_id, qty, None) for part_id, qty in parts],
        fixed=fixed,
        actor=None,
    )
    db.commit()
    return wo


def _item(html: str, work_order: WorkOrder) -> str:
    """The work order's entry in the ticket page's Work orders card."""
    match = re.search(rf'<li id="visit-{work_order.id}">(.*?)</li>', html, re.S)
    assert match, f"{work_order.number} is not listed"
    return match.group(1)


def test_the_ticket_page_shows_each_visits_service_report(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    w = world
    first = _visit(
        db,
        w,
        work_done="Dichtung bestellt, <b>Tür</b> schließt nicht\nzweiter Besuch nötig",
        parts=[(w["seal"].id, 1)],
        fixed=False,
        notes="Schlüssel beim Hausmeister",
    )
    second = _visit(
        db,
        w,
        work_done="Filter gewechselt, Lüftermodul getauscht",
        parts=[(w["fan"].id, 1), (w["seal"].id, 2)],
        fixed=True,
    )
    sign_in("agent")
    html = client.get(f"/desk/tickets/{w['ticket'].id}").text

    old = _item(html, first)
    assert "Eva Engel" in old and "arrived" in old and "finished" in old
    assert "not fixed: needs a follow-up visit" in old
    # the engineer's text is escaped, its line breaks kept
    assert "Dichtung bestellt, &lt;b&gt;Tür&lt;/b&gt; schließt nicht<br>zweiter Besuch nötig" in old
    assert "<b>Tür</b>" not in html
    assert "1 × Türdichtung" in old and "Lüftermodul" not in old
    assert "Schlüssel beim Hausmeister" in old

    new = _item(html, second)
    assert "Eva Engel" in new and "<strong>fixed</strong>" in new
    assert "Filter gewechselt, Lüftermodul getauscht" in new
    assert "1 × Lüftermodul, 2 × Türdichtung" in new  # by name, alphabetical
    assert second.checked_out_at is not None and f'datetime="{iso(second.checked_out_at)}"' in new


def test_a_visit_not_yet_made_says_so(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    wo = f.make_work_order(db, world["ticket"])
    db.commit()
    sign_in("agent")
    item = _item(client.get(f"/desk/tickets/{world['ticket'].id}").text, wo)
    assert "No engineer yet" in item and "Work done" not in item and "Parts used" not in item


def test_the_ticket_page_loads_the_reports_without_a_query_per_visit(
    client: TestClient,
    sign_in: Callable[..., User],
    world: dict[str, Any],
    db: Session,
    connection: Connection,
) -> None:
    w = world
    sign_in("agent")

    def queries() -> tuple[int, str]:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(connection, "before_cursor_execute", listener)
        try:
            html = client.get(f"/desk/tickets/{w['ticket'].id}").text
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        return len(seen), html

    _visit(db, w, work_done="erster Besuch", parts=[(w["seal"].id, 1)], fixed=False)
    one, _ = queries()
    for i in range(3):
        _visit(db, w, work_done=f"Besuch {i + 2}", parts=[(w["fan"].id, 1), (w["seal"].id, 1)], fixed=False)
    four, html = queries()
    assert four == one
    assert html.count("Parts used:") == 4 and html.count("Eva Engel") >= 4


def test_the_360_page_shows_what_the_engineer_did_and_links_to_the_visit(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    w = world
    wo = _visit(
        db,
        w,
        work_done="Filter gewechselt <script>alert(1)</script> " + "x" * 600,
        parts=[(w["fan"].id, 1)],
        fixed=True,
    )
    sign_in("agent")
    html = client.get(f"/desk/customers/{w['account'].id}").text
    visits_card = html[html.index('id="visits-title"') :]
    visits_card = visits_card[: visits_card.index("</section>")]
    assert f'href="/desk/tickets/{w["ticket"].id}#visit-{wo.id}"' in visits_card
    assert "Eva Engel" in visits_card and "<strong>fixed</strong>" in visits_card
    assert "Filter gewechselt &lt;script&gt;" in visits_card and "<script>alert" not in html
    assert "1 × Lüftermodul" in visits_card
    assert "x" * 600 not in visits_card  # the history stays short: the full text is on the ticket
    db.expire_all()
    assert db.get_one(Ticket, w["ticket"].id).status == "resolved"  # the fixed visit resolved it


def test_the_timelines_visit_finished_line_leads_to_that_visits_report(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    """ "Visit finished — not fixed yet" said nothing of which visit or what was done: it links to the
    report in the Work orders card."""
    first = _visit(db, world, work_done="Dichtung bestellt", parts=[], fixed=False)
    sign_in("agent")
    html = client.get(f"/desk/tickets/{world['ticket'].id}").text
    line = re.search(r'<li class="visit_finished" id="[^"]+">(.*?)</li>', html, re.S)
    assert line, "no visit_finished line in the timeline"
    assert f'<a href="#visit-{first.id}">Visit finished — not fixed yet</a>' in line.group(1)
    assert f'<li id="visit-{first.id}">' in html  # the target is on the page
