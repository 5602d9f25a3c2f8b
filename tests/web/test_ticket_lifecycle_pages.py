"""The ticket page for issue 10: log a call, pick the asset, readable refusals (field statuses,
closing without a reason, a visit under way, an appointment in the past)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.workorders import service as workorders
from app.field.workorders.visits import check_in
from app.models import Ticket, TicketEvent, User, WorkOrder
from app.platform.auth import csrf_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.web.conftest import csrf_of

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region, name="Brauhaus Nord GmbH")
    site = f.make_site(db, acc, region=region, name="Sudhaus")
    cal = f.make_calendar(db, always_open=True)
    contract = f.make_contract(db, acc, cal, tier="platinum")
    asset = f.make_asset(db, site, serial="SN-BRAU-7", product_model=f.make_product_model(db, skill="HVAC"))
    asset.contract_id = contract.id
    contact = f.make_contact(db, acc, email="jana@brauhaus.example")
    ticket = f.open_ticket(db, acc, contact_id=contact.id, subject="Cooling fails")  # no asset
    db.commit()
    return {"region": region, "account": acc, "asset": asset, "ticket": ticket, "contract": contract}


def _page(client: TestClient, ticket_id: int) -> str:
    r = client.get(f"/desk/tickets/{ticket_id}")
    assert r.status_code == 200, r.text
    return r.text


def test_log_a_call_from_the_page(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent", name="Agent Alma")
    t = world["ticket"]
    html = _page(client, t.id)
    assert "Log a call" in html and f'action="/desk/tickets/{t.id}/call"' in html
    token = csrf_of(html)
    r = client.post(
        f"/desk/tickets/{t.id}/call",
        data={
            "direction": "inbound",
            "duration_min": "4",
            "summary": "Customer reports a leak.",
            "csrf": token,
        },
    )
    assert r.status_code == 200 and "Call logged." in r.text
    assert "Call from the customer (4 min)" in r.text and "Customer reports a leak." in r.text
    db.expire_all()
    current = db.get_one(Ticket, t.id)
    assert current.first_response_via == "call" and current.first_contact_channel == "phone"


def test_a_call_without_a_summary_keeps_the_input_and_says_why(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    token = csrf_of(_page(client, t.id))
    r = client.post(
        f"/desk/tickets/{t.id}/call",
        data={"direction": "outbound", "duration_min": "", "summary": "", "csrf": token},
    )
    assert r.status_code == 422
    assert "minutes as a whole number" in r.text
    r = client.post(
        f"/desk/tickets/{t.id}/call",
        data={"direction": "outbound", "duration_min": "3", "summary": " ", "csrf": token},
    )
    assert r.status_code == 422 and "say what was discussed" in r.text
    assert db.scalars(select(TicketEvent).where(TicketEvent.kind == "call")).all() == []


def test_an_engineer_cannot_log_calls_or_pick_assets(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("engineer")
    token = csrf_token(client.cookies[SESSION_COOKIE])  # a valid form: the role alone refuses
    t = world["ticket"]
    for path, data in (
        ("call", {"direction": "inbound", "duration_min": "1", "summary": "x"}),
        ("asset", {"asset_id": str(world["asset"].id)}),
    ):
        r = client.post(f"/desk/tickets/{t.id}/{path}", data={**data, "csrf": token})
        assert r.status_code == 403 and "cannot open it" in r.text, path
    db.expire_all()
    assert db.get_one(Ticket, t.id).asset_id is None
    assert db.scalars(select(TicketEvent).where(TicketEvent.kind == "call")).all() == []


def test_the_page_prompts_for_the_asset_and_the_sla_follows_it(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    assert t.sla_tier == "platinum"  # the account's contract while the asset is unknown
    html = _page(client, t.id)
    assert "Which machine is it?" in html and "SN-BRAU-7" in html
    r = client.post(
        f"/desk/tickets/{t.id}/asset",
        data={"asset_id": "", "version": str(t.version), "csrf": csrf_of(html)},
    )
    assert r.status_code == 422 and "choose the asset" in r.text
    r = client.post(
        f"/desk/tickets/{t.id}/asset",
        data={"asset_id": str(world["asset"].id), "version": str(t.version), "csrf": csrf_of(html)},
    )
    assert r.status_code == 200 and "Asset set" in r.text
    assert "Which machine is it?" not in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).asset_id == world["asset"].id


def test_status_refusals_are_readable(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    html = _page(client, t.id)
    assert 'name="to" value="scheduled"' not in html and 'name="to" value="in_progress"' not in html
    token = csrf_of(html)
    r = client.post(
        f"/desk/tickets/{t.id}/status", data={"to": "closed", "version": str(t.version), "csrf": token}
    )
    assert r.status_code == 422 and "needs a reason" in r.text
    r = client.post(
        f"/desk/tickets/{t.id}/status", data={"to": "scheduled", "version": str(t.version), "csrf": token}
    )
    assert r.status_code == 409 and "follows the work orders" in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).status == "new"


def test_resolving_with_the_engineer_on_site_names_the_visit(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    w = world
    tickets.update_ticket(
        db, ticket_id=w["ticket"].id, values={"asset_id": w["asset"].id}, actor=None, channel="api"
    )
    eng_user = f.make_user(db, role="engineer")
    eng = f.make_engineer(db, w["region"], skills=["HVAC"], user=eng_user)
    wo = f.make_work_order(db, w["ticket"])
    today = datetime.now(BERLIN).date()
    monday = today + timedelta(days=(0 - today.weekday()) % 7 + 7)
    start = datetime.combine(monday, time(10), tzinfo=BERLIN).astimezone(UTC)
    workorders.schedule(db, work_order=wo, engineer_id=eng.id, planned_start=start, eta=None, actor=None)
    check_in(db, work_order=wo, actor=eng_user)
    db.commit()
    sign_in("agent")
    t = db.get_one(Ticket, w["ticket"].id)
    html = _page(client, t.id)
    r = client.post(
        f"/desk/tickets/{t.id}/status",
        data={"to": "resolved", "reason": "fixed", "version": str(t.version), "csrf": csrf_of(html)},
    )
    assert r.status_code == 409
    assert wo.number in r.text and "engineer on site" in r.text
    db.expire_all()
    assert db.get_one(WorkOrder, wo.id).status == "on_site"


def test_a_past_appointment_gets_a_readable_message(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    w = world
    tickets.update_ticket(
        db, ticket_id=w["ticket"].id, values={"asset_id": w["asset"].id}, actor=None, channel="api"
    )
    db.commit()
    sign_in("agent")
    html = _page(client, w["ticket"].id)
    r = client.post(
        f"/desk/tickets/{w['ticket'].id}/work-orders",
        data={
            "duration_min": "60",
            "appointment_start": "2020-01-15T09:00",
            "appointment_end": "2020-01-15T11:00",
            "csrf": csrf_of(html),
        },
    )
    assert r.status_code == 422
    assert "The work order was not saved: Appointment from: the appointment 2020-01-15 09:00" in r.text
    assert "is in the past" in r.text and "appointment_start_at:" not in r.text
    assert db.scalars(select(WorkOrder)).all() == []
