"""First response is a human contact (docs/tickets.md "First response"): a reply, a logged call,
an appointment a person confirmed, a person's resolution. Automatic planning never counts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import SlaEvent, Ticket, WebhookDelivery
from app.platform.db import utcnow
from tests import factories as f

API = "/api/v1/tickets"
BERLIN = ZoneInfo("Europe/Berlin")
CALL = {"direction": "outbound", "summary": "Agreed to reset the controller together.", "duration_min": 6}


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region)
    site = f.make_site(db, acc, region=region)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill="HVAC"))
    contact = f.make_contact(db, acc, email="jana@kunde.example")
    ticket = f.open_ticket(db, acc, asset=asset, contact_id=contact.id)
    db.commit()
    return {"account": acc, "asset": asset, "ticket": ticket, "contact": contact}


def test_a_logged_call_is_the_first_response_on_the_phone(
    client: TestClient, db: Session, login, world: dict[str, Any]
) -> None:
    h = login("agent")
    tid = world["ticket"].id
    sub = f.make_webhook_subscription(db, "https://hooks.example/in", events=["ticket.call_logged"])
    db.commit()
    r = client.post(f"{API}/{tid}/calls", json=CALL, headers=h)
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["kind"] == "call" and call["body"] == CALL["summary"]
    assert call["data"] == {"direction": "outbound", "duration_min": 6, "contact_channel": "phone"}
    assert r.headers["Location"] == f"{API}/{tid}/timeline#{call['id']}"
    got = client.get(f"{API}/{tid}", headers=h).json()
    assert got["first_response_at"] == call["at"] and got["first_response_via"] == "call"
    assert got["first_contact_channel"] == "phone" and got["status"] == "open"
    met = db.scalars(select(SlaEvent).where(SlaEvent.ticket_id == tid, SlaEvent.kind == "met")).all()
    assert [m.metric for m in met] == ["first_response"]
    timeline = client.get(f"{API}/{tid}/timeline", headers=h).json()["items"]
    assert any(i["kind"] == "call" and i["id"] == call["id"] for i in timeline)
    hooks = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)).all()
    assert [d.event for d in hooks] == ["ticket.call_logged"]
    # a second call is logged but the first response stays the first contact
    later = client.post(f"{API}/{tid}/calls", json={**CALL, "direction": "inbound"}, headers=h)
    assert later.status_code == 201
    assert client.get(f"{API}/{tid}", headers=h).json()["first_response_at"] == call["at"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("agent", 201), ("dispatcher", 201), ("manager", 201), ("admin", 201), ("engineer", 403)],
)
def test_who_may_log_a_call(
    client: TestClient, db: Session, login, world: dict[str, Any], role: str, status: int
) -> None:
    r = client.post(f"{API}/{world['ticket'].id}/calls", json=CALL, headers=login(role))
    assert r.status_code == status, r.text
    db.expire_all()
    assert (db.get_one(Ticket, world["ticket"].id).first_response_via == "call") is (status == 201)


def test_log_a_call_refuses_bad_input_naming_the_field(client: TestClient, login, world) -> None:
    h = login("agent")
    tid = world["ticket"].id
    cases = [
        ({**CALL, "direction": "sideways"}, "direction"),
        ({**CALL, "duration_min": -1}, "duration_min"),
        ({**CALL, "summary": ""}, "summary"),
    ]
    for body, field in cases:
        r = client.post(f"{API}/{tid}/calls", json=body, headers=h)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert client.post(f"{API}/999999/calls", json=CALL, headers=h).status_code == 404
    assert client.post(f"{API}/{tid}/calls", json=CALL).status_code == 401


def test_a_call_on_a_closed_ticket_is_refused(client: TestClient, db: Session, login, world) -> None:
    tickets.transition(db, ticket_id=world["ticket"].id, to="closed", reason="dup", actor=None, channel="api")
    db.commit()
    r = client.post(f"{API}/{world['ticket'].id}/calls", json=CALL, headers=login("agent"))
    assert r.status_code == 409 and "reopen it" in r.json()["detail"]


def _next_week(hour: int) -> datetime:
    today = datetime.now(BERLIN).date()
    return datetime.combine(today + timedelta(days=7), time(hour), tzinfo=BERLIN).astimezone(UTC)


def test_an_appointment_a_person_agreed_counts_the_planner_does_not(
    client: TestClient, db: Session, login, world: dict[str, Any]
) -> None:
    # the planner (no actor) scheduling or an import creating an appointment: no contact
    quiet = f.make_work_order(
        db, world["ticket"], appointment_start_at=_next_week(9), appointment_end_at=_next_week(11)
    )
    tickets.on_visit_scheduled(db, ticket_id=world["ticket"].id, at=utcnow(), actor=None)
    db.commit()
    assert quiet.id and world["ticket"].first_response_at is None
    # an agent booking the time with the customer
    h = login("agent")
    body = {
        "ticket_id": world["ticket"].id,
        "appointment_start_at": _next_week(13).isoformat(),
        "appointment_end_at": _next_week(15).isoformat(),
    }
    r = client.post("/api/v1/work-orders", json=body, headers=h)
    assert r.status_code == 201, r.text
    got = client.get(f"{API}/{world['ticket'].id}", headers=h).json()
    assert got["first_response_via"] == "appointment" and got["first_response_at"]
    kinds = [i["kind"] for i in client.get(f"{API}/{world['ticket'].id}/timeline", headers=h).json()["items"]]
    assert "appointment_confirmed" in kinds


def test_a_person_resolving_counts_an_automatic_resolution_does_not(db: Session, world) -> None:
    t = world["ticket"]
    at = t.opened_at + timedelta(minutes=30)
    tickets.on_visit_scheduled(db, ticket_id=t.id, at=at, actor=None)
    tickets.on_visit_arrived(db, ticket_id=t.id, at=at + timedelta(minutes=20), actor=None)
    tickets.on_visit_finished(db, ticket_id=t.id, at=at + timedelta(minutes=50), fixed=True, actor=None)
    assert t.status == "resolved" and t.first_response_at is None
    # an engineer (a person) who fixes it on site hands the customer the report: a contact
    other = f.open_ticket(db, world["account"], asset=world["asset"])
    engineer = f.make_user(db, role="engineer")
    at = other.opened_at + timedelta(minutes=30)
    tickets.on_visit_arrived(db, ticket_id=other.id, at=at, actor=engineer)
    assert other.first_response_at is None  # arriving is not yet the contact the rule names
    tickets.on_visit_finished(db, ticket_id=other.id, at=at + timedelta(hours=1), fixed=True, actor=engineer)
    assert other.first_response_via == "resolution" and other.first_contact_channel == "on_site"
    assert other.first_response_at == at + timedelta(hours=1)
