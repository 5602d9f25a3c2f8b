"""Field visits: created from a ticket, scheduled, driven through their lifecycle by dispatch and
the engineer, closed by a service report that books parts out of the van."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.inventory import reservations
from app.models import (
    Absence,
    AuditLog,
    Engineer,
    PartUsage,
    SlaEvent,
    StockLevel,
    StockReservation,
    Ticket,
    WebhookDelivery,
    WorkOrder,
    WorkOrderEvent,
)
from tests import factories as f
from tests.field.workorders.world import (
    API,
    BERLIN,
    count,
    create,
    etag_of,
    move,
    next_local,
    on_site,
    on_the_day,
    report,
    schedule,
    van_level,
)

# --- create -------------------------------------------------------------------------------------


def test_create_copies_from_ticket_asset_site_and_product_model(
    client: TestClient, db: Session, world
) -> None:
    w = world
    r = client.post(API, json={"ticket_id": w["ticket"].id}, headers=w["agent"])
    assert r.status_code == 201, r.text
    wo = r.json()
    assert r.headers["Location"] == f"{API}/{wo['id']}" and r.headers["ETag"] == f'"v{wo["version"]}"'
    assert wo["number"] == f"WO-{wo['id']:07d}" and wo["status"] == "unscheduled"
    assert (wo["customer_id"], wo["site_id"], wo["asset_id"], wo["region_id"]) == (
        w["account"].id,
        w["site"].id,
        w["asset"].id,
        w["region"].id,
    )
    assert wo["priority"] == "P2" and wo["required_skills"] == ["HVAC"]
    ticket = db.get(Ticket, w["ticket"].id)
    assert ticket is not None and ticket.arrival_due_at is not None
    assert datetime.fromisoformat(wo["sla_deadline_at"]) == ticket.arrival_due_at
    assert wo["allowed_transitions"] == ["scheduled", "cancelled"]
    assert count(db, AuditLog, AuditLog.entity == "work_order", AuditLog.entity_id == wo["id"]) == 1


def test_create_with_windows_parts_and_explicit_skills(client: TestClient, world) -> None:
    w = world
    start = next_local(1, 8)
    wo = create(
        client,
        w,
        required_skills=["ELEC", "HVAC"],
        duration_min=90,
        required_parts=[{"part_id": w["part"].id, "quantity": 2}],
        windows=[{"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=4)).isoformat()}],
        notes="Key at reception",
    )
    assert wo["required_skills"] == ["ELEC", "HVAC"] and wo["duration_min"] == 90
    assert wo["required_parts"] == [{"part_id": w["part"].id, "quantity": 2}]
    assert datetime.fromisoformat(wo["windows"][0]["starts_at"]) == start


def test_create_emits_webhook_event(client: TestClient, db: Session, world) -> None:
    f.make_webhook_subscription(db, "https://hooks.example/x", events=["workorder.created"])
    db.commit()
    wo = create(client, world)
    rows = db.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "workorder.created")).all()
    assert [d.payload["data"]["work_order_id"] for d in rows] == [wo["id"]]


def test_idempotent_create_replays_and_refuses_a_different_body(
    client: TestClient, db: Session, world
) -> None:
    w = world
    h = {**w["agent"], "Idempotency-Key": "wo-1"}
    first = client.post(API, json={"ticket_id": w["ticket"].id}, headers=h)
    again = client.post(API, json={"ticket_id": w["ticket"].id}, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert count(db, WorkOrder, WorkOrder.ticket_id == w["ticket"].id) == 1
    other = client.post(API, json={"ticket_id": w["ticket"].id, "duration_min": 30}, headers=h)
    assert other.status_code == 422


def test_bad_input_is_problem_json_with_field_paths(client: TestClient, world) -> None:
    w = world
    naive = datetime(2030, 1, 1, 9).isoformat()
    r = client.post(
        API,
        headers=w["agent"],
        json={
            "ticket_id": w["ticket"].id,
            "required_parts": [{"part_id": w["part"].id, "quantity": 0}],
            "windows": [{"starts_at": naive, "ends_at": naive}],
            "colour": "red",
        },
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"required_parts.0.quantity", "windows.0.starts_at", "colour"} <= fields
    start = next_local(0, 9)
    r = client.post(
        API,
        headers=w["agent"],
        json={
            "ticket_id": w["ticket"].id,
            "required_parts": [{"part_id": 999999, "quantity": 1}],
            "windows": [{"starts_at": start.isoformat(), "ends_at": start.isoformat()}],
        },
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"required_parts.0.part_id", "windows.0.ends_at"}
    r = client.post(API, headers=w["agent"], json={"ticket_id": 999999})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ticket_id"


def test_ticket_without_asset_or_site_cannot_get_a_visit(client: TestClient, db: Session, world) -> None:
    ticket = f.open_ticket(db, world["account"])
    db.commit()
    r = client.post(API, json={"ticket_id": ticket.id}, headers=world["agent"])
    assert r.status_code == 422 and "no asset or site" in r.json()["detail"]


# --- lifecycle ----------------------------------------------------------------------------------


def test_full_visit_lifecycle_drives_the_ticket(client: TestClient, db: Session, world) -> None:
    w = world
    wo = create(client, w)
    r = schedule(client, w, wo["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["engineer_id"] == w["eng"].id
    assert r.json()["eta_at"] == r.json()["planned_start_at"]
    db.expire_all()
    assert db.get(Ticket, w["ticket"].id).status == "scheduled"  # type: ignore[union-attr]

    with on_the_day(next_local(0, 9)):
        r = move(client, w["me"], wo["id"], "en_route")
    assert r.status_code == 200 and r.json()["status"] == "en_route"
    r = client.post(f"{API}/{wo['id']}/check-in", headers=w["me"], json={"latitude": 48.1, "longitude": 11.5})
    assert r.status_code == 200 and r.json()["status"] == "on_site" and r.json()["checked_in_at"]
    db.expire_all()
    ticket = db.get(Ticket, w["ticket"].id)
    assert ticket is not None and ticket.status == "in_progress" and ticket.arrived_at is not None
    assert w["eng"].current_latitude == 48.1

    r = report(
        client, w, wo["id"], "Replaced the fan relay", parts=[{"part_id": w["part"].id, "quantity": 2}]
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done" and done["fixed_first_time"] is True and done["checked_out_at"]
    assert [(u["part_id"], u["quantity"], u["location_id"]) for u in done["parts_used"]] == [
        (w["part"].id, 2, w["van"].id)
    ]
    assert done["allowed_transitions"] == []
    db.expire_all()
    assert db.get(Ticket, w["ticket"].id).status == "resolved"  # type: ignore[union-attr]
    assert van_level(db, w).quantity == 3
    kinds = db.scalars(
        select(WorkOrderEvent.kind)
        .where(WorkOrderEvent.work_order_id == wo["id"])
        .order_by(WorkOrderEvent.id)
    ).all()
    assert kinds == ["created", "scheduled", "status", "status", "check_in", "status", "report", "status"]


def test_not_fixed_needs_follow_up_and_ticket_stays_open(client: TestClient, db: Session, world) -> None:
    w = world
    wo = on_site(client, w)
    r = report(client, w, wo["id"], "Compressor seized; needs a new one", fixed=False)
    assert r.status_code == 200 and r.json()["status"] == "needs_follow_up"
    assert r.json()["fixed_first_time"] is False
    db.expire_all()
    assert db.get(Ticket, w["ticket"].id).status == "in_progress"  # type: ignore[union-attr]
    # the return visit fixes it, but it is not a first-time fix
    second = on_site(client, w)
    r = report(client, w, second["id"], "New compressor fitted")
    assert r.json()["status"] == "done" and r.json()["fixed_first_time"] is False


@pytest.mark.parametrize(
    ("path", "to", "allowed"),
    [
        ([], "on_site", ["scheduled", "cancelled"]),
        ([], "en_route", ["scheduled", "cancelled"]),
        (["cancelled"], "unscheduled", []),
        (["schedule", "en_route"], "unscheduled", ["scheduled", "on_site", "cancelled"]),
    ],
)
def test_illegal_transitions_answer_409_naming_allowed_states(
    client: TestClient, world, path: list[str], to: str, allowed: list[str]
) -> None:
    w = world
    wo = create(client, w)
    for step in path:
        with on_the_day(next_local(0, 9)):  # schedule() plans next Monday
            r = (
                schedule(client, w, wo["id"])
                if step == "schedule"
                else move(client, w["dispatch"], wo["id"], step)
            )
        assert r.status_code == 200, r.text
    r = move(client, w["dispatch"], wo["id"], to)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["allowed"] == allowed and problem["requested"] == to
    for state in allowed:
        assert state in problem["detail"]


def test_done_is_final_and_report_only_finishes_a_visit(client: TestClient, world) -> None:
    w = world
    wo = on_site(client, w)
    r = move(client, w["dispatch"], wo["id"], "done")
    assert r.status_code == 422 and "report" in r.json()["detail"]
    report(client, w, wo["id"], "ok")
    r = move(client, w["dispatch"], wo["id"], "cancelled")
    assert r.status_code == 409 and r.json()["allowed"] == []
    again = report(client, w, wo["id"], "ok")
    assert again.status_code == 409 and "already has its service report" in again.json()["detail"]


def test_unscheduled_to_scheduled_needs_the_schedule_action(client: TestClient, world) -> None:
    wo = create(client, world)
    r = move(client, world["dispatch"], wo["id"], "scheduled")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"


def test_unschedule_clears_the_assignment_and_cancel_records_reason(client: TestClient, db, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = move(client, w["dispatch"], wo["id"], "unscheduled")
    assert r.status_code == 200 and r.json()["engineer_id"] is None and r.json()["planned_start_at"] is None
    r = move(client, w["dispatch"], wo["id"], "cancelled", reason="customer fixed it")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    ev = db.scalars(
        select(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == wo["id"], WorkOrderEvent.kind == "status"
        )
    ).all()[-1]
    assert ev.data == {"from": "unscheduled", "to": "cancelled", "reason": "customer fixed it"}


def test_status_change_emits_webhooks(client: TestClient, db: Session, world) -> None:
    f.make_webhook_subscription(db, "https://hooks.example/y")
    db.commit()
    w = world
    wo = on_site(client, w)
    report(client, w, wo["id"], "ok")
    events = db.scalars(
        select(WebhookDelivery.event)
        .where(WebhookDelivery.event.like("workorder.%"))
        .order_by(WebhookDelivery.id)
    ).all()
    assert events == [
        "workorder.created",
        "workorder.status_changed",
        "workorder.scheduled",
        "workorder.status_changed",
        "workorder.status_changed",
        "workorder.completed",
    ]


# --- scheduling validation ----------------------------------------------------------------------


def test_schedule_refuses_an_engineer_without_the_skill(client: TestClient, world) -> None:
    w = world
    wo = create(client, w, required_skills=["HVAC", "ELEC"])
    r = schedule(client, w, wo["id"])
    assert r.status_code == 422
    assert "lacks skill(s) ELEC" in r.json()["detail"] and r.json()["errors"][0]["field"] == "engineer_id"
    assert schedule(client, w, wo["id"], eng=w["other"]).status_code == 200


@pytest.mark.parametrize(
    ("weekday", "hour", "minute", "phrase"),
    [
        (5, 10, 0, "no shift on Saturdays"),
        (0, 18, 30, "outside"),
        (0, 7, 0, "outside"),
        (0, 12, 10, "break 12:00–12:30"),
    ],
)
def test_schedule_refuses_a_start_outside_the_shift(
    client: TestClient, world, weekday: int, hour: int, minute: int, phrase: str
) -> None:
    w = world
    wo = create(client, w)
    r = schedule(client, w, wo["id"], at=next_local(weekday, hour, minute))
    assert r.status_code == 422 and phrase in r.json()["detail"], r.text
    assert r.json()["errors"][0]["field"] == "planned_start"


def test_schedule_refuses_absent_inactive_and_outside_windows(client: TestClient, db: Session, world) -> None:
    w = world
    monday = next_local(0, 10)
    db.add(Absence(engineer_id=w["eng"].id, day=monday.astimezone(BERLIN).date(), reason="sick"))
    db.commit()
    wo = create(client, w)
    r = schedule(client, w, wo["id"], at=monday)
    assert r.status_code == 422 and "absent" in r.json()["detail"] and "sick" in r.json()["detail"]
    w["other"].active = False
    db.commit()
    r = schedule(client, w, wo["id"], eng=w["other"], at=next_local(1, 10))
    assert r.status_code == 422 and "inactive" in r.json()["detail"]
    tuesday = next_local(1, 8)
    win = create(
        client,
        w,
        windows=[{"starts_at": tuesday.isoformat(), "ends_at": (tuesday + timedelta(hours=2)).isoformat()}],
    )
    r = schedule(client, w, win["id"], at=next_local(1, 14))
    assert r.status_code == 422 and "time windows" in r.json()["detail"]
    assert schedule(client, w, win["id"], at=next_local(1, 9)).status_code == 200


def test_schedule_is_dispatch_only_and_needs_if_match(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    body = {"engineer_id": w["eng"].id, "planned_start": next_local(0, 10).isoformat()}
    assert client.post(f"{API}/{wo['id']}/schedule", json=body, headers=w["dispatch"]).status_code == 428
    r = client.post(f"{API}/{wo['id']}/schedule", json=body, headers={**w["agent"], "If-Match": '"v1"'})
    assert r.status_code == 403


def test_repeating_the_same_schedule_changes_nothing(client: TestClient, db: Session, world) -> None:
    w = world
    wo = create(client, w)
    first = schedule(client, w, wo["id"]).json()
    again = schedule(client, w, wo["id"])
    assert again.status_code == 200 and again.json()["version"] == first["version"]
    kinds = db.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo["id"])).all()
    assert kinds.count("scheduled") == 1


def test_reschedule_to_another_engineer_moves_the_visit(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = schedule(client, w, wo["id"], eng=w["other"], at=next_local(2, 9))
    assert r.status_code == 200 and r.json()["engineer_id"] == w["other"].id
    assert client.get(f"{API}/{wo['id']}", headers=w["me"]).status_code == 404
    assert client.get(f"{API}/{wo['id']}", headers=w["them"]).status_code == 200


# --- engineer isolation and roles ---------------------------------------------------------------


def test_engineer_sees_only_own_work_orders(client: TestClient, world) -> None:
    w = world
    mine, theirs, unassigned = create(client, w), create(client, w), create(client, w)
    schedule(client, w, mine["id"])
    schedule(client, w, theirs["id"], eng=w["other"])
    listed = client.get(API, headers=w["me"]).json()["items"]
    assert [x["id"] for x in listed] == [mine["id"]]
    # a filter for someone else's visits does not widen what an engineer sees
    assert client.get(API, params={"engineer_id": w["other"].id}, headers=w["me"]).json()["items"] == []
    for wid in (theirs["id"], unassigned["id"]):
        r = client.get(f"{API}/{wid}", headers=w["me"])
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
        assert client.post(f"{API}/{wid}/check-in", headers=w["me"]).status_code == 404
        assert report(client, w, wid).status_code == 404
    assert len(client.get(API, headers=w["agent"]).json()["items"]) == 3


def test_engineer_without_profile_sees_nothing(client: TestClient, db: Session, world) -> None:
    wo = create(client, world)
    h = f.bearer(f.make_user(db, role="engineer"))
    db.commit()
    assert client.get(API, headers=h).json()["items"] == []
    assert client.get(f"{API}/{wo['id']}", headers=h).status_code == 404


def test_roles_engineers_cannot_cancel_agents_cannot_check_in(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    assert move(client, w["me"], wo["id"], "cancelled").status_code == 403
    assert client.post(f"{API}/{wo['id']}/check-in", headers=w["agent"]).status_code == 403
    r = client.patch(f"{API}/{wo['id']}", json={"notes": "x"}, headers={**w["agent"], "If-Match": '"v1"'})
    assert r.status_code == 403
    assert client.post(API, json={"ticket_id": w["ticket"].id}, headers=w["me"]).status_code == 403


# --- on-site actions ----------------------------------------------------------------------------


def test_check_in_and_out_are_idempotent(client: TestClient, db: Session, world) -> None:
    w = world
    wo = on_site(client, w)
    again = client.post(f"{API}/{wo['id']}/check-in", headers=w["me"])
    assert again.status_code == 200 and again.json()["checked_in_at"] == wo["checked_in_at"]
    assert again.json()["version"] == wo["version"]
    out = client.post(f"{API}/{wo['id']}/check-out", headers=w["me"])
    out2 = client.post(f"{API}/{wo['id']}/check-out", headers=w["me"])
    assert out.status_code == out2.status_code == 200
    assert out.json()["checked_out_at"] == out2.json()["checked_out_at"] and out.json()["status"] == "on_site"
    kinds = db.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo["id"])).all()
    assert kinds.count("check_in") == 1 and kinds.count("check_out") == 1
    # the report keeps the earlier check-out time
    r = report(client, w, wo["id"], "ok")
    assert r.json()["checked_out_at"] == out.json()["checked_out_at"]


def test_check_in_honours_idempotency_key(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    h = {**w["me"], "Idempotency-Key": "arrive-1"}
    first = client.post(f"{API}/{wo['id']}/check-in", headers=h)
    again = client.post(f"{API}/{wo['id']}/check-in", headers=h)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.headers["ETag"] == f'"v{first.json()["version"]}"'


def test_check_out_before_check_in_is_refused(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = client.post(f"{API}/{wo['id']}/check-out", headers=w["me"])
    assert r.status_code == 409 and "check in" in r.json()["detail"]


def test_stale_if_match_on_field_action_is_412(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = client.post(f"{API}/{wo['id']}/check-in", headers={**w["me"], "If-Match": '"v1"'})
    assert r.status_code == 412


def test_dispatch_checks_in_on_behalf(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = client.post(f"{API}/{wo['id']}/check-in", headers=w["dispatch"])
    assert r.status_code == 200 and r.json()["status"] == "on_site"


def test_report_shortage_is_409_and_writes_nothing(client: TestClient, db: Session, world) -> None:
    w = world
    wo = on_site(client, w)
    before = {
        "usage": count(db, PartUsage),
        "audit": count(db, AuditLog),
        "events": count(db, WorkOrderEvent, WorkOrderEvent.work_order_id == wo["id"]),
    }
    r = report(
        client,
        w,
        wo["id"],
        "Replaced relay and filter",
        parts=[{"part_id": w["part"].id, "quantity": 2}, {"part_id": w["part2"].id, "quantity": 3}],
    )
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["shortages"] == [
        {
            "part_id": w["part2"].id,
            "sku": w["part2"].sku,
            "location_id": w["van"].id,
            "requested": 3,
            "available": 1,
            "in_stock": 1,
            "reserved": 0,
        }
    ]
    assert problem["errors"][0]["field"] == "parts_used.1"
    db.expire_all()
    stock = dict(
        db.execute(
            select(StockLevel.part_id, StockLevel.quantity).where(StockLevel.location_id == w["van"].id)
        )
        .tuples()
        .all()
    )
    assert stock == {w["part"].id: 5, w["part2"].id: 1}  # the first line was not booked either
    after = {
        "usage": count(db, PartUsage),
        "audit": count(db, AuditLog),
        "events": count(db, WorkOrderEvent, WorkOrderEvent.work_order_id == wo["id"]),
    }
    assert after == before
    got = client.get(f"{API}/{wo['id']}", headers=w["me"]).json()
    assert got["status"] == "on_site" and got["report_work_done"] is None and got["checked_out_at"] is None
    assert db.get(Ticket, w["ticket"].id).status == "in_progress"  # type: ignore[union-attr]


def test_report_merges_lines_and_checks_locations(client: TestClient, db: Session, world) -> None:
    w = world
    wo = on_site(client, w)
    other_van = f.location_of(db, engineer=w["other"])
    db.commit()
    r = report(
        client,
        w,
        wo["id"],
        parts=[
            {"part_id": w["part"].id, "quantity": 1, "location_id": other_van.id},
            {"part_id": 999999, "quantity": 1},
        ],
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"parts_used.0.location_id", "parts_used.1.part_id"}
    # two lines of the same part add up; 3 + 3 > 5 is a shortage, 3 + 2 is fine
    part = w["part"].id
    twice = [{"part_id": part, "quantity": 3}, {"part_id": part, "quantity": 3}]
    assert report(client, w, wo["id"], parts=twice).status_code == 409
    r = report(client, w, wo["id"], parts=[twice[0], {"part_id": part, "quantity": 2}])
    assert r.status_code == 200 and len(r.json()["parts_used"]) == 2
    db.expire_all()
    assert van_level(db, w).quantity == 0


def test_report_from_a_warehouse_and_idempotent_retry(client: TestClient, db: Session, world) -> None:
    w = world
    depot = f.make_warehouse(db, w["region"])
    loc = f.location_of(db, warehouse=depot)
    f.set_stock(db, loc, w["part"], 4)
    db.commit()
    wo = on_site(client, w)
    h = {**w["me"], "Idempotency-Key": "report-1"}
    parts = [{"part_id": w["part"].id, "quantity": 4, "location_id": loc.id}]
    first = report(client, w, wo["id"], parts=parts, h=h)
    retry = report(client, w, wo["id"], parts=parts, h=h)
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    assert count(db, PartUsage, PartUsage.work_order_id == wo["id"]) == 1
    assert db.scalar(select(StockLevel.quantity).where(StockLevel.location_id == loc.id)) == 0


def test_report_consumes_and_cancel_releases_reservations(client: TestClient, db: Session, world) -> None:
    w = world
    wo = on_site(client, w)
    spare = create(client, w)
    assert reservations.reserve(
        db, work_order_id=wo["id"], part_id=w["part"].id, location_id=w["van"].id, quantity=2
    )
    assert reservations.reserve(
        db, work_order_id=spare["id"], part_id=w["part"].id, location_id=w["van"].id, quantity=3
    )
    db.commit()
    # not fixed: a fixed visit resolves the ticket, which cancels its other visit
    r = report(client, w, wo["id"], fixed=False, parts=[{"part_id": w["part"].id, "quantity": 2}])
    assert r.status_code == 200, r.text
    db.expire_all()
    level = van_level(db, w)
    assert (level.quantity, level.reserved) == (3, 3)  # the other visit's 3 stay held
    assert (
        client.post(
            f"{API}/{spare['id']}/transitions",
            json={"to": "cancelled"},
            headers={**w["dispatch"], "If-Match": etag_of(client, w["dispatch"], spare["id"])},
        ).status_code
        == 200
    )
    db.expire_all()
    assert db.scalar(select(StockLevel.reserved).where(StockLevel.id == level.id)) == 0
    statuses = db.scalars(select(StockReservation.status).order_by(StockReservation.id)).all()
    assert statuses == ["consumed", "released"]


def test_a_report_using_fewer_parts_than_held_consumes_only_those(
    client: TestClient, db: Session, world
) -> None:
    """3 held, 1 used: before, the whole reservation was marked consumed (3), so the visit's route
    and page said 3 used; now 1 is consumed and the unused 2 are released, each audited as such."""
    w = world
    wo = on_site(client, w)
    held = reservations.reserve(
        db, work_order_id=wo["id"], part_id=w["part"].id, location_id=w["van"].id, quantity=3
    )
    assert held is not None
    db.commit()
    r = report(client, w, wo["id"], parts=[{"part_id": w["part"].id, "quantity": 1}])
    assert r.status_code == 200, r.text
    db.expire_all()
    level = van_level(db, w)
    assert (level.quantity, level.reserved) == (4, 0)  # 5 - 1 used; nothing held any more
    rows = db.execute(
        select(StockReservation.id, StockReservation.status, StockReservation.quantity)
        .where(StockReservation.work_order_id == wo["id"])
        .order_by(StockReservation.id)
    ).all()
    assert [(s, q) for _, s, q in rows] == [("consumed", 1), ("released", 2)]
    assert rows[0][0] == held.id
    audits = db.scalars(
        select(AuditLog).where(AuditLog.entity == "stock_reservation").order_by(AuditLog.id)
    ).all()
    assert [(a.entity_id, a.action, a.changes["quantity"]) for a in audits] == [
        (held.id, "consumed", [3, 1]),
        (rows[1][0], "released", [None, 2]),
    ]
    # The visit on the engineer's route (its page reads the same) shows the 1 used, not the 3 held.
    day = datetime.fromisoformat(r.json()["checked_in_at"]).astimezone(BERLIN).date()
    route = client.get("/api/v1/me/route", params={"date": day.isoformat()}, headers=w["me"])
    assert route.status_code == 200, route.text
    stop = next(s for s in route.json()["stops"] if s.get("work_order_id") == wo["id"])
    assert [(p["part_id"], p["quantity"]) for p in stop["parts"]] == [(w["part"].id, 1)]


def test_a_report_using_none_of_the_held_parts_shows_none_used(
    client: TestClient, db: Session, world
) -> None:
    """2 held (and needed), none used: before, the route and the visit page showed 2 consumed."""
    w = world
    wo = on_site(client, w, required_parts=[{"part_id": w["part"].id, "quantity": 2}])
    assert reservations.reserve(
        db, work_order_id=wo["id"], part_id=w["part"].id, location_id=w["van"].id, quantity=2
    )
    db.commit()
    r = report(client, w, wo["id"])
    assert r.status_code == 200, r.text
    db.expire_all()
    assert db.scalars(select(StockReservation.status)).all() == ["released"]
    level = van_level(db, w)
    assert (level.quantity, level.reserved) == (5, 0)
    day = datetime.fromisoformat(r.json()["checked_in_at"]).astimezone(BERLIN).date()
    route = client.get("/api/v1/me/route", params={"date": day.isoformat()}, headers=w["me"])
    stop = next(s for s in route.json()["stops"] if s.get("work_order_id") == wo["id"])
    assert stop["parts"] == []  # not the 2 it needed, nor the 2 it held


def test_a_report_from_the_van_leaves_the_warehouse_hold_unconsumed(
    client: TestClient, db: Session, world
) -> None:
    """Held at a warehouse (not picked up), used from the van: the warehouse's units never left its
    shelf, so that hold is released, not consumed."""
    w = world
    depot = f.location_of(db, warehouse=f.make_warehouse(db, w["region"]))
    f.set_stock(db, depot, w["part"], 2)
    db.commit()
    wo = on_site(client, w)
    assert reservations.reserve(
        db, work_order_id=wo["id"], part_id=w["part"].id, location_id=depot.id, quantity=2
    )
    db.commit()
    r = report(client, w, wo["id"], parts=[{"part_id": w["part"].id, "quantity": 2}])
    assert r.status_code == 200, r.text
    db.expire_all()
    assert db.execute(
        select(StockLevel.quantity, StockLevel.reserved).where(StockLevel.location_id == depot.id)
    ).one() == (2, 0)
    assert db.scalars(select(StockReservation.status)).all() == ["released"]


def test_report_before_check_in_is_409(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    r = report(client, w, wo["id"])
    assert r.status_code == 409 and "on_site" in r.json()["detail"]


# --- update, If-Match, list ---------------------------------------------------------------------


def test_patch_needs_if_match(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    url = f"{API}/{wo['id']}"
    assert client.patch(url, json={"notes": "a"}, headers=w["dispatch"]).status_code == 428
    etag = etag_of(client, w["dispatch"], wo["id"])
    ok = client.patch(url, json={"notes": "a"}, headers={**w["dispatch"], "If-Match": etag})
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = client.patch(url, json={"notes": "b"}, headers={**w["dispatch"], "If-Match": etag})
    assert stale.status_code == 412 and stale.json()["current_etag"] == ok.headers["ETag"]
    assert (
        client.post(f"{url}/transitions", json={"to": "cancelled"}, headers=w["dispatch"]).status_code == 428
    )


def test_patch_replaces_windows_parts_and_audits(client: TestClient, db: Session, world) -> None:
    w = world
    wo = create(client, w)
    start = next_local(2, 8)
    h = {**w["dispatch"], "If-Match": etag_of(client, w["dispatch"], wo["id"])}
    r = client.patch(
        f"{API}/{wo['id']}",
        headers=h,
        json={
            "windows": [
                {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=3)).isoformat()}
            ],
            "required_parts": [{"part_id": w["part2"].id, "quantity": 1}],
            "duration_min": 45,
            "appointment_start_at": start.isoformat(),
            "appointment_end_at": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert len(got["windows"]) == 1 and got["required_parts"] == [{"part_id": w["part2"].id, "quantity": 1}]
    assert got["duration_min"] == 45 and got["version"] == wo["version"] + 1
    log = db.scalars(
        select(AuditLog).where(AuditLog.entity == "work_order", AuditLog.action == "update")
    ).one()
    assert {"windows", "required_parts", "duration_min", "appointment_start_at"} <= set(log.changes)
    h = {**w["dispatch"], "If-Match": r.headers["ETag"]}
    r = client.patch(f"{API}/{wo['id']}", headers=h, json={"appointment_start_at": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "appointment_end_at"
    r = client.patch(f"{API}/{wo['id']}", headers=h, json={"notes": None})
    assert r.status_code == 422


def test_patch_cannot_invalidate_the_assignment_or_edit_a_finished_visit(client: TestClient, world) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    h = {**w["dispatch"], "If-Match": etag_of(client, w["dispatch"], wo["id"])}
    # ELEC is known (the other engineer has it; an unknown skill is refused before the assignment)
    r = client.patch(f"{API}/{wo['id']}", headers=h, json={"required_skills": ["HVAC", "ELEC"]})
    assert r.status_code == 422 and "lacks skill(s) ELEC" in r.json()["detail"]
    move(client, w["dispatch"], wo["id"], "cancelled")
    h = {**w["dispatch"], "If-Match": etag_of(client, w["dispatch"], wo["id"])}
    assert client.patch(f"{API}/{wo['id']}", headers=h, json={"notes": "x"}).status_code == 409


def test_list_filters_and_cursor(client: TestClient, db: Session, world) -> None:
    w = world
    ids = [create(client, w)["id"] for _ in range(5)]
    schedule(client, w, ids[0], at=next_local(0, 10))
    schedule(client, w, ids[1], at=next_local(1, 10))
    h = w["dispatch"]
    day = next_local(0, 10).astimezone(BERLIN).date().isoformat()
    assert [x["id"] for x in client.get(API, params={"date": day}, headers=h).json()["items"]] == [ids[0]]
    got = client.get(API, params={"status": "scheduled", "engineer_id": w["eng"].id}, headers=h).json()
    assert [x["id"] for x in got["items"]] == [ids[1], ids[0]]
    got = client.get(
        API,
        params={"status": ["unscheduled"], "ticket_id": w["ticket"].id, "region_id": w["region"].id},
        headers=h,
    ).json()
    assert [x["id"] for x in got["items"]] == ids[:1:-1]
    page1 = client.get(API, params={"limit": 2}, headers=h).json()
    page2 = client.get(API, params={"limit": 2, "cursor": page1["next_cursor"]}, headers=h).json()
    page3 = client.get(API, params={"limit": 2, "cursor": page2["next_cursor"]}, headers=h).json()
    seen = [x["id"] for p in (page1, page2, page3) for x in p["items"]]
    assert seen == sorted(ids, reverse=True) and page3["next_cursor"] is None
    r = client.get(API, params={"status": "bogus"}, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status.0"


# --- one site at a time, finished visits, out-of-order actions ---------------------------------


def test_check_in_while_on_site_elsewhere_is_409_naming_that_visit(
    client: TestClient, db: Session, world
) -> None:
    """QA: engineer7 checked in at two customers 3 km apart; both tickets' arrival SLA became
    "met" and both went in progress, and nothing could take that back."""
    w = world
    first = on_site(client, w)
    second_ticket = f.open_ticket(db, w["account"], asset=w["asset"])
    db.commit()
    second = create(client, w, ticket_id=second_ticket.id)
    assert schedule(client, w, second["id"], at=next_local(0, 14)).status_code == 200
    r = client.post(f"{API}/{second['id']}/check-in", headers=w["me"])
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["on_site_work_order_id"] == first["id"]
    assert problem["detail"].startswith(f"You are still checked in at {first['number']} ({w['account'].name}")
    # Dispatch checking in on the engineer's behalf hears the engineer's name.
    by_dispatch = client.post(f"{API}/{second['id']}/check-in", headers=w["dispatch"])
    assert by_dispatch.status_code == 409
    assert by_dispatch.json()["detail"].startswith(
        f"{w['eng'].name} is still checked in at {first['number']}"
    )
    # Nothing of the refused check-in happened: no arrival, no SLA stamp, ticket not in progress.
    db.expire_all()
    visit, ticket = db.get(WorkOrder, second["id"]), db.get(Ticket, second_ticket.id)
    assert visit is not None and visit.status == "scheduled" and visit.checked_in_at is None
    assert ticket is not None and ticket.arrived_at is None and ticket.status != "in_progress"
    assert count(db, SlaEvent, SlaEvent.ticket_id == second_ticket.id, SlaEvent.metric == "arrival") == 0
    # Once the engineer has left the first site, the second check-in goes through.
    assert client.post(f"{API}/{first['id']}/check-out", headers=w["me"]).status_code == 200
    r = client.post(f"{API}/{second['id']}/check-in", headers=w["me"])
    assert r.status_code == 200 and r.json()["status"] == "on_site"


def test_field_actions_on_a_finished_visit_are_refused_not_reported_as_done(
    client: TestClient, db: Session, world
) -> None:
    w = world
    wo = on_site(client, w)
    report(client, w, wo["id"], "ok")
    for action in ("check-in", "check-out"):
        r = client.post(f"{API}/{wo['id']}/{action}", headers=w["me"])
        assert r.status_code == 409, action
        assert r.json()["hint"] == "This visit is already finished: its service report was filed."
        assert (
            r.json()["detail"].startswith("This visit is already finished")
            and "is done" in r.json()["detail"]
        )
    again = report(client, w, wo["id"], "ok")
    assert again.status_code == 409 and again.json()["hint"].startswith("This visit is already finished")
    db.expire_all()
    kinds = db.scalars(select(WorkOrderEvent.kind).where(WorkOrderEvent.work_order_id == wo["id"])).all()
    assert kinds.count("check_in") == 1 and kinds.count("report") == 1


def test_out_of_order_actions_say_check_in_first_and_keep_the_precise_detail(
    client: TestClient, world
) -> None:
    w = world
    wo = create(client, w)
    schedule(client, w, wo["id"])
    refused = report(client, w, wo["id"]).json()
    assert refused["hint"] == "Check in first: the service report is filed on site, after checking in."
    assert refused["detail"].startswith(refused["hint"]) and "allowed next" in refused["detail"]
    assert (refused["current"], refused["requested"]) == ("scheduled", "done")
    out = client.post(f"{API}/{wo['id']}/check-out", headers=w["me"]).json()
    assert out["hint"].startswith("Check in first") and "check in before checking out" in out["detail"]


def test_a_check_in_without_a_gps_fix_stands_and_keeps_the_last_position(
    client: TestClient, db: Session, world
) -> None:
    """0, 0 is what a device without a fix sends: the engineer on site is not refused, and the
    position (the start of the next re-plan) is not moved to the Gulf of Guinea."""
    w = world
    wo = create(client, w)
    assert schedule(client, w, wo["id"]).status_code == 200
    eng_id = w["eng"].id
    before = (w["eng"].current_latitude, w["eng"].current_longitude)
    r = client.post(f"{API}/{wo['id']}/check-in", headers=w["me"], json={"latitude": 0, "longitude": 0})
    assert r.status_code == 200 and r.json()["status"] == "on_site"
    db.expire_all()
    eng = db.get(Engineer, eng_id)
    assert eng is not None and (eng.current_latitude, eng.current_longitude) == before
