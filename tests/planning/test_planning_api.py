"""The planning API: a dispatcher requests a plan and follows it; an engineer reads their route,
confirms a pickup, asks why; a dispatcher assigns by hand with a preview of the consequences."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import PlanDay, PlanRun, PlanStop, StockLevel, StockReservation, WorkOrder
from tests import factories as f
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def plan(client: TestClient, headers: dict[str, str], w: pw.World, day: Any, **kw: Any) -> dict[str, Any]:
    r = client.post(
        "/api/v1/plans",
        json={"region_id": w.region.id, "date": day.isoformat(), **SMALL, **kw},
        headers=headers,
    )
    assert r.status_code == 202, r.text
    got = client.get(r.headers["Location"], headers=headers)
    assert got.status_code == 200
    return got.json()


def test_request_a_plan_and_follow_it(client: TestClient, db: Session, dispatcher: dict[str, str]) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(0)
    db.commit()
    r = client.post(
        "/api/v1/plans", json={"region_id": w.region.id, "date": day.isoformat(), **SMALL}, headers=dispatcher
    )
    assert r.status_code == 202
    body = r.json()
    assert r.headers["Location"] == f"/api/v1/plans/{body['id']}"
    assert body["status"] == "queued" and body["progress"] == 0
    run = client.get(r.headers["Location"], headers=dispatcher).json()
    assert run["status"] == "published" and run["progress"] == 100 and run["is_current"]
    assert run["summary"]["served"] == 3 and run["best_objective"] is not None
    assert {"load_s", "solve_s", "publish_s"} <= set(run["stats"])
    listed = client.get(f"/api/v1/plans?region_id={w.region.id}&date={day.isoformat()}", headers=dispatcher)
    assert [x["id"] for x in listed.json()["items"]] == [run["id"]]


def test_plan_requests_are_idempotent_and_validated(
    client: TestClient, db: Session, dispatcher: dict[str, str], login: Any
) -> None:
    w = pw.build(db, jobs=1)
    db.commit()
    body = {"region_id": w.region.id, "date": pw.next_weekday(1).isoformat(), **SMALL}
    key = {**dispatcher, "Idempotency-Key": "plan-monday-1"}
    a = client.post("/api/v1/plans", json=body, headers=key)
    b = client.post("/api/v1/plans", json=body, headers=key)
    assert a.status_code == b.status_code == 202 and a.json()["id"] == b.json()["id"]
    assert b.headers["Idempotent-Replayed"] == "true"
    assert db.scalar(select(func.count()).select_from(PlanRun).where(PlanRun.region_id == w.region.id)) == 1
    bad = client.post("/api/v1/plans", json={**body, "region_id": 999999}, headers=dispatcher)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "region_id"
    assert client.post("/api/v1/plans", json=body, headers=login("agent")).status_code == 403
    assert client.get("/api/v1/plans/999999", headers=dispatcher).status_code == 404


def test_engineer_route_has_everything_for_the_day(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=2)
    pickup_visit = pw.add_visit(db, w, parts=[(w.parts[0].id, 1)], skill="ELEC")  # only engineer 1 has ELEC
    day = pw.next_weekday(2)
    db.commit()
    assert plan(client, dispatcher, w, day)["status"] == "published"
    me = f.bearer(w.users[1])
    r = client.get(f"/api/v1/me/route?date={day.isoformat()}", headers=me)
    assert r.status_code == 200, r.text
    route = r.json()
    assert route["engineer_id"] == w.engineers[1].id and route["timezone"] == "Europe/Berlin"
    visits = [s for s in route["stops"] if s["kind"] == "job"]
    assert pickup_visit.id in {s["work_order_id"] for s in visits}
    etas = [s["eta"] for s in route["stops"]]
    assert etas == sorted(etas) and [s["seq"] for s in route["stops"]] == list(range(len(route["stops"])))
    v = next(s for s in visits if s["work_order_id"] == pickup_visit.id)
    assert v["address"] and v["latitude"] is not None and v["customer"]["name"] and v["asset"]["serial"]
    assert v["navigation"]["geo"].startswith(f"geo:{v['latitude']:.6f},")
    assert "destination=" in v["navigation"]["maps_url"]
    assert v["parts"] == [
        {
            **v["parts"][0],
            "part_id": w.parts[0].id,
            "quantity": 1,
            "source": "warehouse",
            "warehouse_id": w.warehouse.id,
            "picked_up": False,
        }
    ]
    pick = [s for s in route["stops"] if s["kind"] == "pickup"]
    assert len(pick) == 1 and pick[0]["warehouse_id"] == w.warehouse.id
    assert pick[0]["seq"] < v["seq"]
    assert route["pickups"][0]["part_id"] == w.parts[0].id


def test_routes_are_only_for_dispatch_and_the_engineer_themself(
    client: TestClient, db: Session, dispatcher: dict[str, str], login: Any
) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(3)
    db.commit()
    plan(client, dispatcher, w, day)
    a, b = w.engineers
    as_a = f.bearer(w.users[0])
    assert client.get(f"/api/v1/engineers/{a.id}/route?date={day}", headers=as_a).status_code == 200
    assert client.get(f"/api/v1/engineers/{b.id}/route?date={day}", headers=as_a).status_code == 404
    assert client.get(f"/api/v1/engineers/{b.id}/route?date={day}", headers=dispatcher).status_code == 200
    assert client.get(f"/api/v1/engineers/{b.id}/route?date={day}", headers=login("agent")).status_code == 403
    assert client.get("/api/v1/me/route", headers=login("agent")).status_code == 404  # no engineer profile
    db.expire_all()
    theirs = db.scalar(select(WorkOrder).where(WorkOrder.engineer_id == b.id))
    assert theirs is not None
    for path in (f"/api/v1/work-orders/{theirs.id}/explain",):
        assert client.get(path, headers=as_a).status_code == 404
    assert client.post(f"/api/v1/work-orders/{theirs.id}/pickup", headers=as_a).status_code == 404
    assert (
        client.post(
            f"/api/v1/work-orders/{theirs.id}/assign?dry_run=true", json={"engineer_id": a.id}, headers=as_a
        ).status_code
        == 403
    )


def test_pickup_moves_reserved_parts_to_the_van_once(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=0)
    wo = pw.add_visit(db, w, parts=[(w.parts[0].id, 2)], skill="ELEC")
    day = pw.next_weekday(0)
    db.commit()
    plan(client, dispatcher, w, day)
    wh, van = f.location_of(db, warehouse=w.warehouse).id, f.location_of(db, engineer=w.engineers[1]).id

    def level(loc: int) -> tuple[int, int]:
        row = db.execute(
            select(StockLevel.quantity, StockLevel.reserved).where(
                StockLevel.location_id == loc, StockLevel.part_id == w.parts[0].id
            )
        ).first()
        return (row[0], row[1]) if row else (0, 0)

    assert level(wh) == (3, 2) and level(van) == (0, 0)
    me = {**f.bearer(w.users[1]), "Idempotency-Key": "pickup-1"}
    first = client.post(f"/api/v1/work-orders/{wo.id}/pickup", headers=me)
    again = client.post(f"/api/v1/work-orders/{wo.id}/pickup", headers=me)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["moved"][0]["quantity"] == 2
    db.expire_all()
    assert level(wh) == (1, 0) and level(van) == (2, 2)
    # A retry without the key moves nothing either: the parts are in the van already.
    third = client.post(f"/api/v1/work-orders/{wo.id}/pickup", headers=f.bearer(w.users[1]))
    assert third.json()["moved"] == [] and third.json()["already_in_van"][0]["quantity"] == 2
    db.expire_all()
    assert level(wh) == (1, 0) and level(van) == (2, 2)
    route = client.get(f"/api/v1/me/route?date={day}", headers=f.bearer(w.users[1])).json()
    assert [s["kind"] for s in route["stops"]] == ["job"] and route["pickups"] == []


def test_explain_gives_the_engines_reasons(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=2)
    nobody = pw.add_visit(db, w, skill="PLUMBING")
    fetched = pw.add_visit(db, w, skill="ELEC", parts=[(w.parts[0].id, 1)])
    day = pw.next_weekday(4)
    db.commit()
    plan(client, dispatcher, w, day)
    db.expire_all()
    served = db.get(WorkOrder, w.work_orders[0].id)
    assert served is not None and served.engineer_id is not None
    r = client.get(f"/api/v1/work-orders/{served.id}/explain", headers=dispatcher)
    assert r.status_code == 200
    why = r.json()
    assert why["engineer_id"] == served.engineer_id and why["plan_run_id"] is not None
    name = next(e.name for e in w.engineers if e.id == served.engineer_id)
    other = next(e for e in w.engineers if e.id != served.engineer_id)
    assert why["reason"].startswith(name) and "HVAC" in why["reason"]  # engine keys became names
    # both engineers have HVAC: the other one is the costed alternative
    assert [(a["engineer_id"], a["feasible"]) for a in why["alternatives"]] == [(other.id, True)]
    assert why["alternatives"][0]["extra_cost"] > 0
    pick = client.get(f"/api/v1/work-orders/{fetched.id}/explain", headers=dispatcher).json()
    assert pick["parts_picked_up"] == {w.parts[0].sku: w.warehouse.name}
    # only the second engineer has ELEC: the first is an alternative that says why not, at no cost
    hvac_only = w.engineers[0]
    assert [(a["engineer_id"], a["feasible"], a["extra_cost"], a["note"]) for a in pick["alternatives"]] == [
        (hvac_only.id, False, None, "lacks the skill ELEC")
    ]
    left = client.get(f"/api/v1/work-orders/{nobody.id}/explain", headers=dispatcher).json()
    assert left["unassigned_reason"] == "no_skill" and left["engineer_id"] is None
    assert "skill" in left["reason"]


def test_assign_previews_then_publishes(client: TestClient, db: Session, dispatcher: dict[str, str]) -> None:
    w = pw.build(db, jobs=4)
    elec = pw.add_visit(db, w, skill="ELEC")
    day = pw.next_weekday(0)
    db.commit()
    first = plan(client, dispatcher, w, day)
    db.expire_all()
    wo = db.get(WorkOrder, w.work_orders[0].id)
    assert wo is not None
    target = next(e for e in w.engineers if e.id != wo.engineer_id)
    url = f"/api/v1/work-orders/{wo.id}/assign"
    body = {"engineer_id": target.id, "date": day.isoformat()}
    version = wo.version
    preview = client.post(url + "?dry_run=true", json=body, headers=dispatcher)
    assert preview.status_code == 200, preview.text
    p = preview.json()
    assert p["dry_run"] and p["engineer_id"] == target.id and p["plan_run_id"] is None
    assert p["planned_start_at"] and isinstance(p["travel_added_m"], int) and p["visits_dropped"] == []
    db.expire_all()
    assert db.get(WorkOrder, wo.id).version == version  # type: ignore[union-attr]  # nothing written
    assert client.post(url, json=body, headers=dispatcher).status_code == 428
    stale = client.post(url, json=body, headers={**dispatcher, "If-Match": f'"v{version - 1}"'})
    assert stale.status_code == 412
    wrong = client.post(
        f"/api/v1/work-orders/{elec.id}/assign?dry_run=true",
        json={"engineer_id": w.engineers[0].id, "date": day.isoformat()},
        headers=dispatcher,
    )
    assert wrong.status_code == 422 and "ELEC" in wrong.json()["detail"]
    done = client.post(url, json=body, headers={**dispatcher, "If-Match": f'"v{version}"'})
    assert done.status_code == 200, done.text
    run_id = done.json()["plan_run_id"]
    db.expire_all()
    wo = db.get(WorkOrder, wo.id)
    assert wo is not None and wo.engineer_id == target.id and done.headers["ETag"] == f'"v{wo.version}"'
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == run_id
    stops = {s.work_order_id: s for s in db.scalars(select(PlanStop).where(PlanStop.plan_run_id == run_id))}
    assert stops[wo.id].engineer_id == target.id and stops[wo.id].locked
    # every other visit of the published plan is still in the new one
    assert set(stops) >= {
        x.work_order_id
        for x in db.scalars(
            select(PlanStop).where(PlanStop.plan_run_id == first["id"], PlanStop.kind == "job")
        )
    }
    # a later full plan keeps the dispatcher's choice
    wo.duration_min = 50
    db.commit()
    again = plan(client, dispatcher, w, day)
    assert again["status"] == "published"
    db.expire_all()
    assert db.get(WorkOrder, wo.id).engineer_id == target.id  # type: ignore[union-attr]


def test_cancelling_a_visit_releases_its_parts(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=1)
    wo = pw.add_visit(db, w, parts=[(w.parts[0].id, 1)])
    day = pw.next_weekday(1)
    db.commit()
    plan(client, dispatcher, w, day)
    db.expire_all()
    wh = f.location_of(db, warehouse=w.warehouse).id
    assert db.scalar(select(StockLevel.reserved).where(StockLevel.location_id == wh)) == 1
    version = db.get(WorkOrder, wo.id).version  # type: ignore[union-attr]
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/transitions",
        json={"to": "cancelled", "reason": "fixed by phone"},
        headers={**dispatcher, "If-Match": f'"v{version}"'},
    )
    assert r.status_code == 200, r.text
    db.expire_all()
    assert db.scalar(select(StockLevel.reserved).where(StockLevel.location_id == wh)) == 0
    res = db.scalar(select(StockReservation).where(StockReservation.work_order_id == wo.id))
    assert res is not None and res.status == "released"
    # the cancellation re-planned the day: the visit is off the published plan
    current = db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    latest = db.get(PlanRun, current)
    assert latest is not None and latest.trigger == "cancellation"
    assert wo.id not in set(db.scalars(select(PlanStop.work_order_id).where(PlanStop.plan_run_id == current)))


def test_fan_out_plans_every_region_and_collects(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    a, b = pw.build(db, jobs=2), pw.build(db, jobs=3)
    day = pw.next_weekday(2)
    db.commit()
    r = client.post(
        "/api/v1/plan-batches",
        json={"date": day.isoformat(), "region_ids": [a.region.id, b.region.id], **SMALL},
        headers=dispatcher,
    )
    assert r.status_code == 202, r.text
    batch = client.get(r.headers["Location"], headers=dispatcher).json()
    assert batch["collected_at"] is not None
    assert [x["status"] for x in batch["runs"]] == ["published", "published"]
    assert batch["summary"]["served"] == 5 and batch["summary"]["by_status"] == {"published": 2}


def test_a_visit_scheduled_by_hand_stays_with_its_engineer(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=4)
    day = pw.next_weekday(1)
    db.commit()
    plan(client, dispatcher, w, day)
    db.expire_all()
    wo = db.get(WorkOrder, w.work_orders[0].id)
    assert wo is not None and wo.planned_start_at is not None
    other = next(e for e in w.engineers if e.id != wo.engineer_id)
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/schedule",
        json={"engineer_id": other.id, "planned_start": wo.planned_start_at.isoformat()},
        headers={**dispatcher, "If-Match": f'"v{wo.version}"'},
    )
    assert r.status_code == 200, r.text
    # new input (a longer visit elsewhere), so the day is planned again from scratch
    longer = db.get(WorkOrder, w.work_orders[1].id)
    assert longer is not None
    longer.duration_min = 75
    db.commit()
    again = plan(client, dispatcher, w, day)
    assert again["status"] == "published"
    db.expire_all()
    assert db.get(WorkOrder, wo.id).engineer_id == other.id  # type: ignore[union-attr]
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == again["id"], PlanStop.work_order_id == wo.id)
    )
    assert stop is not None and stop.locked and stop.engineer_id == other.id
