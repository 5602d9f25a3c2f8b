"""The ticket desk: lifecycle, first response, idempotency, ETags, bad input and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.desk.tickets import queries as ticket_queries
from app.desk.tickets import service as tickets
from app.models import AuditLog, SlaEvent, Ticket, TicketEvent, WebhookDelivery, WebhookSubscription
from app.platform.db import utcnow
from tests import factories as f

API = "/api/v1/tickets"


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    acc = f.make_account(db)
    site = f.make_site(db, acc)
    cal = f.make_calendar(db, always_open=True)
    contract = f.make_contract(db, acc, cal, tier="gold")
    other = f.make_account(db)
    w = {
        "account": acc,
        "contact": f.make_contact(db, acc),
        "asset": f.make_asset(db, site, contract=contract),
        "other": other,
        "other_contact": f.make_contact(db, other),
        "other_asset": f.make_asset(db, f.make_site(db, other)),
    }
    db.commit()
    return w


def body(w: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "customer_id": w["account"].id,
        "contact_id": w["contact"].id,
        "asset_id": w["asset"].id,
        "subject": "Chiller alarm E42",
        "description": "Unit 3 shows E42 since this morning.",
        "priority": "P2",
        "channel": "phone",
        **kw,
    }


def create(client: TestClient, h: dict[str, str], w: dict[str, Any], **kw: Any) -> dict:
    r = client.post(API, json=body(w, **kw), headers=h)
    assert r.status_code == 201, r.text
    return r.json()


def move(client: TestClient, h: dict[str, str], tid: int, to: str, **kw: Any):  # type: ignore[no-untyped-def]
    etag = client.get(f"{API}/{tid}", headers=h).headers["ETag"]
    return client.post(f"{API}/{tid}/transitions", json={"to": to, **kw}, headers={**h, "If-Match": etag})


def count(db: Session, model: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


# --- create, read, idempotency -----------------------------------------------------------------


def test_create_returns_location_etag_number_and_sla(client: TestClient, login, world) -> None:
    h = login("agent")
    r = client.post(API, json=body(world), headers=h)
    assert r.status_code == 201, r.text
    t = r.json()
    assert r.headers["Location"] == f"{API}/{t['id']}"
    assert r.headers["ETag"] == f'"v{t["version"]}"'
    assert t["number"] == f"T-{t['id']:07d}" and t["status"] == "new"
    assert t["customer_id"] == world["account"].id and t["sla_tier"] == "gold"
    assert t["resolution_due_at"] and t["first_response_due_at"]
    assert "open" in t["allowed_transitions"] and "resolved" not in t["allowed_transitions"]
    got = client.get(r.headers["Location"], headers=h)
    assert got.status_code == 200 and got.headers["ETag"] == r.headers["ETag"]
    assert got.json()["subject"] == "Chiller alarm E42"


def test_created_event_is_emitted_and_audited(client: TestClient, login, world, db) -> None:
    sub = WebhookSubscription(url="http://hooks.example/x", secret="s", events=["ticket.created"])
    db.add(sub)
    db.commit()
    t = create(client, login("agent"), world)
    events = db.scalars(select(WebhookDelivery.event).where(WebhookDelivery.subscription_id == sub.id)).all()
    assert events == ["ticket.created"]
    assert (
        db.scalar(select(AuditLog).where(AuditLog.entity == "ticket", AuditLog.entity_id == t["id"]))
        is not None
    )


def test_idempotent_retry_returns_the_same_ticket(client: TestClient, login, world, db) -> None:
    h = {**login("agent"), "Idempotency-Key": "call-4711"}
    first = client.post(API, json=body(world), headers=h)
    again = client.post(API, json=body(world), headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert count(db, Ticket) == 1
    changed = client.post(API, json=body(world, subject="Another fault"), headers=h)
    assert changed.status_code == 422
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert count(db, Ticket) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"contact_id": "other_contact"}, "contact_id"),
        ({"asset_id": "other_asset"}, "asset_id"),
        ({"customer_id": 999999}, "customer_id"),
        ({"priority": "P5"}, "priority"),
        ({"channel": "fax"}, "channel"),
        ({"subject": ""}, "subject"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_problem_json_with_field_and_writes_nothing(
    client: TestClient, login, world, db, change: dict[str, Any], field: str
) -> None:
    h = login("agent")
    before = (count(db, Ticket), count(db, TicketEvent), count(db, SlaEvent))
    values = {k: (world[v].id if isinstance(v, str) and v in world else v) for k, v in change.items()}
    r = client.post(API, json=body(world, **values), headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]
    assert (count(db, Ticket), count(db, TicketEvent), count(db, SlaEvent)) == before


def test_list_filters_and_cursor(client: TestClient, login, world, db) -> None:
    h = login("agent")
    ids = [
        create(client, h, world, subject=f"Leak {i}", priority="P3" if i % 2 else "P1")["id"]
        for i in range(5)
    ]
    create(
        client,
        h,
        world,
        subject="Other customer",
        customer_id=world["other"].id,
        contact_id=None,
        asset_id=world["other_asset"].id,
    )
    cid = world["account"].id
    page1 = client.get(API, params={"customer_id": cid, "limit": 2}, headers=h).json()
    page2 = client.get(
        API, params={"customer_id": cid, "limit": 2, "cursor": page1["next_cursor"]}, headers=h
    ).json()
    page3 = client.get(
        API, params={"customer_id": cid, "limit": 2, "cursor": page2["next_cursor"]}, headers=h
    ).json()
    got = [t["id"] for p in (page1, page2, page3) for t in p["items"]]
    assert got == sorted(ids, reverse=True) and page3["next_cursor"] is None
    p1 = client.get(API, params={"customer_id": cid, "priority": "P1"}, headers=h).json()
    assert {t["id"] for t in p1["items"]} == {ids[0], ids[2], ids[4]}
    q = client.get(API, params={"q": "leak 3", "customer_id": cid}, headers=h).json()
    assert [t["id"] for t in q["items"]] == [ids[3]]
    by_number = client.get(API, params={"q": f"T-{ids[1]:07d}"}, headers=h).json()
    assert [t["id"] for t in by_number["items"]] == [ids[1]]
    assert client.get(API, params={"status": "bogus"}, headers=h).status_code == 422
    assert client.get(API, params={"breached": True, "customer_id": cid}, headers=h).json()["items"] == []
    assert (
        client.get(API, params={"asset_id": world["other_asset"].id}, headers=h).json()["items"][0]["subject"]
        == "Other customer"
    )


# --- ETag / If-Match ---------------------------------------------------------------------------


def test_patch_needs_if_match_and_refuses_stale(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world)
    url = f"{API}/{t['id']}"
    assert client.patch(url, json={"subject": "x"}, headers=h).status_code == 428
    etag = client.get(url, headers=h).headers["ETag"]
    ok = client.patch(
        url,
        json={"subject": "Chiller alarm E42 (unit 3)", "category": "HVAC"},
        headers={**h, "If-Match": etag},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["subject"] == "Chiller alarm E42 (unit 3)"
    assert ok.headers["ETag"] != etag
    stale = client.patch(url, json={"subject": "lost update"}, headers={**h, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert client.get(url, headers=h).json()["subject"] == "Chiller alarm E42 (unit 3)"
    bad = client.patch(
        url, json={"contact_id": world["other_contact"].id}, headers={**h, "If-Match": ok.headers["ETag"]}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "contact_id"
    null = client.patch(url, json={"priority": None}, headers={**h, "If-Match": ok.headers["ETag"]})
    assert null.status_code == 422


def test_patch_priority_retargets_and_is_on_the_timeline(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world, priority="P4")
    etag = client.get(f"{API}/{t['id']}", headers=h).headers["ETag"]
    r = client.patch(f"{API}/{t['id']}", json={"priority": "P1"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200
    assert r.json()["resolution_due_at"] < t["resolution_due_at"]
    kinds = [i["kind"] for i in client.get(f"{API}/{t['id']}/timeline", headers=h).json()["items"]]
    assert "priority" in kinds and "sla_retarget" in kinds


def test_assignee_must_be_a_desk_user(client: TestClient, login, world, db) -> None:
    h = login("dispatcher")
    t = create(client, h, world)
    engineer = f.make_user(db, role="engineer")
    agent = f.make_user(db, role="agent")
    db.commit()
    url = f"{API}/{t['id']}"
    etag = client.get(url, headers=h).headers["ETag"]
    bad = client.patch(url, json={"assignee_id": engineer.id}, headers={**h, "If-Match": etag})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "assignee_id"
    ok = client.patch(url, json={"assignee_id": agent.id}, headers={**h, "If-Match": etag})
    assert ok.status_code == 200 and ok.json()["assignee_id"] == agent.id


def test_patch_may_send_back_an_assignee_who_left_the_desk(client: TestClient, login, world, db) -> None:
    """A client that GETs the ticket and PATCHes it whole sends the assignee back unchanged: one
    made inactive since (a plain SQL UPDATE, unseen by the hand-back hook) must not make every other
    change a 422. Assigning someone inactive anew stays refused."""
    h = login("dispatcher")
    t = create(client, h, world)
    franziska = f.make_user(db, role="agent", name="Franziska Koch")
    maria = f.make_user(db, role="agent", name="Maria Lopez", is_active=False)
    db.commit()
    url = f"{API}/{t['id']}"
    etag = client.get(url, headers=h).headers["ETag"]
    r = client.patch(url, json={"assignee_id": franziska.id}, headers={**h, "If-Match": etag})
    assert r.status_code == 200, r.text
    db.execute(text('UPDATE "user" SET is_active = false WHERE id = :id'), {"id": franziska.id})
    db.commit()

    got = client.get(url, headers=h)
    fields = ("subject", "description", "category", "priority", "contact_id", "asset_id", "assignee_id")
    whole = {k: got.json()[k] for k in fields}
    r = client.patch(url, json={**whole, "priority": "P1"}, headers={**h, "If-Match": got.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert (r.json()["priority"], r.json()["assignee_id"]) == ("P1", franziska.id)

    etag = r.headers["ETag"]
    for who in (maria, franziska):  # new to this ticket: refused, whoever it is
        other = create(client, h, world)
        bad = client.patch(
            f"{API}/{other['id']}",
            json={"assignee_id": who.id},
            headers={**h, "If-Match": client.get(f"{API}/{other['id']}", headers=h).headers["ETag"]},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "assignee_id"
    bad = client.patch(url, json={"assignee_id": maria.id}, headers={**h, "If-Match": etag})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "assignee_id"
    assert client.get(url, headers=h).json()["assignee_id"] == franziska.id


# --- lifecycle ---------------------------------------------------------------------------------


def test_first_call_fix_goes_from_open_straight_to_resolved(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world)
    assert move(client, h, t["id"], "open").status_code == 200
    r = move(client, h, t["id"], "resolved", reason="reset the controller on the phone")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "resolved" and done["resolved_at"]
    assert done["first_response_at"] == done["resolved_at"]  # the call answered the customer
    assert done["allowed_transitions"] == ["open", "closed"]
    closed = move(client, h, t["id"], "closed").json()
    assert closed["status"] == "closed" and closed["closed_at"]
    sla = client.get(f"{API}/{t['id']}/sla", headers=h).json()
    states = {m["metric"]: m["state"] for m in sla["metrics"]}
    assert states == {"first_response": "met", "arrival": "not_applicable", "resolution": "met"}


def test_illegal_transition_is_409_naming_allowed_states(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world)
    r = move(client, h, t["id"], "resolved")
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    # scheduled and in progress follow the work orders: not offered to a person
    assert problem["allowed"] == ["open", "waiting_on_customer", "closed"]
    assert "allowed next: Open," in problem["detail"]  # words for people; `allowed` keeps codes
    assert client.get(f"{API}/{t['id']}", headers=h).json()["status"] == "new"
    assert move(client, h, t["id"], "nonsense").status_code == 422
    # transitions need If-Match too
    r = client.post(f"{API}/{t['id']}/transitions", json={"to": "open"}, headers=h)
    assert r.status_code == 428


def _resolved_ticket(db: Session, world: dict[str, Any], *, days_ago: int) -> Ticket:
    agent = f.make_user(db)
    start = utcnow() - timedelta(days=days_ago, hours=2)
    t = tickets.create_ticket(
        db,
        account_id=world["account"].id,
        subject="Door sensor",
        priority="P3",
        channel="web",
        actor=agent,
        opened_at=start,
    )
    tickets.transition(
        db, ticket_id=t.id, to="open", actor=agent, channel="web", at=start + timedelta(minutes=5)
    )
    tickets.transition(
        db,
        ticket_id=t.id,
        to="resolved",
        reason="sensor realigned",
        actor=agent,
        channel="web",
        at=start + timedelta(hours=1),
    )
    db.commit()
    return t


def test_reopen_within_the_window(client: TestClient, login, world, db) -> None:
    t = _resolved_ticket(db, world, days_ago=3)
    h = login("agent")
    r = move(client, h, t.id, "open", reason="fault is back")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open" and r.json()["resolved_at"] is None
    ledger = [
        (i["kind"], i["data"].get("reopened"))
        for i in client.get(f"{API}/{t.id}/timeline", headers=h).json()["items"]
        if i["source"] == "sla"
    ]
    assert ("sla_resume", True) in ledger
    # resolution must be met again; the time while resolved is not counted
    sla = client.get(f"{API}/{t.id}/sla", headers=h).json()
    res = next(m for m in sla["metrics"] if m["metric"] == "resolution")
    assert res["achieved_at"] is None and res["elapsed_seconds"] < 2 * 3600
    assert sla["paused_seconds"] >= 3 * 86400 - 3600


def test_reopen_after_the_window_is_refused(client: TestClient, login, world, db) -> None:
    t = _resolved_ticket(db, world, days_ago=15)  # reopen_days defaults to 14
    h = login("agent")
    r = move(client, h, t.id, "open")
    assert r.status_code == 409
    assert "reopen window" in r.json()["detail"] and r.json()["allowed"] == ["closed"]
    assert move(client, h, t.id, "closed").status_code == 200
    assert move(client, h, t.id, "open").json()["allowed"] == []


def test_waiting_on_customer_pauses_via_the_api(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world)
    move(client, h, t["id"], "open")
    r = move(client, h, t["id"], "waiting_on_customer", reason="need serial number")
    assert r.json()["sla_paused"] is True and r.json()["resolution_due_at"] is None
    r = move(client, h, t["id"], "open")
    assert r.json()["sla_paused"] is False and r.json()["resolution_due_at"]
    kinds = [i["kind"] for i in client.get(f"{API}/{t['id']}/timeline", headers=h).json()["items"]]
    assert kinds.count("status") == 3 and "sla_pause" in kinds and "sla_resume" in kinds


# --- first response --------------------------------------------------------------------------


def test_reply_is_first_response_and_opens_a_new_ticket(client: TestClient, login, world) -> None:
    h = login("agent")
    t = create(client, h, world)
    r = client.post(f"{API}/{t['id']}/replies", json={"text": "We are looking into it."}, headers=h)
    assert r.status_code == 201, r.text
    reply = r.json()
    assert reply["kind"] == "reply" and reply["message_id"].startswith("<T-")
    after = client.get(f"{API}/{t['id']}", headers=h).json()
    assert after["status"] == "open" and after["first_response_at"] == reply["at"]
    note = client.post(f"{API}/{t['id']}/notes", json={"text": "Customer sounds annoyed"}, headers=h)
    assert note.status_code == 201 and note.json()["kind"] == "note"
    assert client.get(f"{API}/{t['id']}", headers=h).json()["first_response_at"] == reply["at"]
    blank = client.post(f"{API}/{t['id']}/replies", json={"text": ""}, headers=h)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "text"


def _fresh(db: Session, world: dict[str, Any]) -> tuple[Ticket, Any]:
    agent = f.make_user(db)
    t0 = utcnow() - timedelta(hours=3)
    t = tickets.create_ticket(
        db,
        account_id=world["account"].id,
        asset_id=world["asset"].id,
        subject="Leak",
        priority="P2",
        channel="phone",
        actor=agent,
        opened_at=t0,
    )
    return t, agent


def test_first_response_by_reply_when_reply_is_earlier(db: Session, world) -> None:
    t, agent = _fresh(db, world)
    reply_at = t.opened_at + timedelta(minutes=10)
    tickets.add_reply(db, ticket_id=t.id, body="Hello", actor=agent, channel="api", at=reply_at)
    tickets.on_visit_scheduled(db, ticket_id=t.id, at=reply_at + timedelta(hours=1), actor=agent)
    assert t.first_response_at == reply_at and t.status == "scheduled"


def test_a_planned_visit_is_not_a_first_response(db: Session, world) -> None:
    """Failed before: scheduling a visit (the planner, no person) settled first response."""
    t, agent = _fresh(db, world)
    visit_at = t.opened_at + timedelta(minutes=20)
    tickets.on_visit_scheduled(db, ticket_id=t.id, at=visit_at, actor=None)
    assert t.first_response_at is None and t.first_visit_at == visit_at
    ledger = db.scalars(select(SlaEvent.kind).where(SlaEvent.ticket_id == t.id, SlaEvent.kind == "met"))
    assert list(ledger) == []
    reply_at = visit_at + timedelta(minutes=30)
    tickets.add_reply(db, ticket_id=t.id, body="Engineer booked", actor=agent, channel="api", at=reply_at)
    assert t.first_response_at == reply_at and t.first_response_via == "reply"
    assert t.first_contact_channel == "email"


def test_visit_hooks_drive_the_status(db: Session, world) -> None:
    t, agent = _fresh(db, world)
    at = t.opened_at
    tickets.on_visit_scheduled(db, ticket_id=t.id, at=at + timedelta(minutes=5), actor=agent)
    assert t.status == "scheduled"
    tickets.on_visit_arrived(db, ticket_id=t.id, at=at + timedelta(hours=1), actor=None)
    assert t.status == "in_progress" and t.arrived_at == at + timedelta(hours=1)
    tickets.on_visit_finished(db, ticket_id=t.id, at=at + timedelta(hours=2), fixed=False, actor=None)
    assert t.status == "in_progress" and t.resolved_at is None
    tickets.on_visit_scheduled(
        db, ticket_id=t.id, at=at + timedelta(hours=2, minutes=5), actor=None
    )  # follow-up visit
    assert t.status == "scheduled"
    tickets.on_visit_arrived(db, ticket_id=t.id, at=at + timedelta(hours=2, minutes=30), actor=None)
    assert t.arrived_at == at + timedelta(hours=1)  # the SLA counts the first arrival
    tickets.on_visit_finished(
        db, ticket_id=t.id, at=at + timedelta(hours=2, minutes=50), fixed=True, actor=None
    )
    assert t.status == "resolved" and t.resolved_at == at + timedelta(hours=2, minutes=50)
    kinds = [e["kind"] for e in ticket_queries.timeline(db, t.id)]
    assert kinds.count("visit_arrived") == 2 and kinds.count("visit_finished") == 2
    # a late hook on a resolved ticket is recorded but changes nothing
    tickets.on_visit_arrived(db, ticket_id=t.id, at=utcnow(), actor=None)
    assert t.status == "resolved"


# --- roles -----------------------------------------------------------------------------------


def test_engineers_are_refused_and_anonymous_must_sign_in(client: TestClient, login, world) -> None:
    t = create(client, login("manager"), world)
    eng = login("engineer")
    assert client.get(API, headers=eng).status_code == 403
    assert client.get(f"{API}/{t['id']}", headers=eng).status_code == 403
    assert client.post(API, json=body(world), headers=eng).status_code == 403
    assert client.get(f"{API}/{t['id']}/timeline", headers=eng).status_code == 403
    assert client.post(f"{API}/{t['id']}/notes", json={"text": "x"}, headers=eng).status_code == 403
    assert client.get(API).status_code == 401
    for role in ("agent", "dispatcher", "manager", "admin"):
        assert client.get(f"{API}/{t['id']}/sla", headers=login(role)).status_code == 200
    assert client.get(f"{API}/999999", headers=login("agent")).status_code == 404
