"""Parts catalogue, warehouses and stock: adjustments and transfers never go below zero, and two
service reports racing for the last part in a van cannot both book it."""

from __future__ import annotations

import threading
import time as clock
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.field.inventory import reservations
from app.field.inventory.stock import Shortage, StockBusy
from app.field.workorders import service as workorders
from app.field.workorders import visits as workorder_visits
from app.models import AuditLog, PartUsage, StockLevel, Warehouse, WorkOrder
from app.platform.db import Base
from app.platform.errors import Conflict
from tests import factories as f

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    eng_user, other_user = f.make_user(db, role="engineer"), f.make_user(db, role="engineer")
    eng, other = f.make_engineer(db, region, user=eng_user), f.make_engineer(db, region, user=other_user)
    depot = f.make_warehouse(db, region)
    part, part2 = f.make_part(db), f.make_part(db)
    w = {
        "region": region,
        "eng": eng,
        "other": other,
        "depot": depot,
        "part": part,
        "part2": part2,
        "van": f.location_of(db, engineer=eng),
        "other_van": f.location_of(db, engineer=other),
        "wh": f.location_of(db, warehouse=depot),
        "dispatch": f.bearer(f.make_user(db, role="dispatcher")),
        "manager": f.bearer(f.make_user(db, role="manager")),
        "agent": f.bearer(f.make_user(db, role="agent")),
        "me": f.bearer(eng_user),
        "them": f.bearer(other_user),
    }
    db.commit()
    return w


def qty(db: Session, location: Any, part: Any) -> int | None:
    db.expire_all()
    return db.scalar(
        select(StockLevel.quantity).where(
            StockLevel.location_id == location.id, StockLevel.part_id == part.id
        )
    )


# --- parts --------------------------------------------------------------------------------------


def test_part_crud_with_if_match_and_unique_sku(client: TestClient, world) -> None:
    h = world["dispatch"]
    r = client.post(
        "/api/v1/parts", json={"sku": "FLT-100", "name": "Air filter", "unit_cost": "12.50"}, headers=h
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.headers["Location"] == f"/api/v1/parts/{pid}"
    dup = client.post("/api/v1/parts", json={"sku": "flt-100", "name": "Other"}, headers=h)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "sku"
    got = client.get(f"/api/v1/parts/{pid}", headers=world["me"])  # engineers read the catalogue
    assert got.status_code == 200 and got.json()["unit_cost"] == "12.50"
    assert client.patch(f"/api/v1/parts/{pid}", json={"name": "x"}, headers=h).status_code == 428
    ok = client.patch(
        f"/api/v1/parts/{pid}", json={"name": "Air filter G4"}, headers={**h, "If-Match": got.headers["ETag"]}
    )
    assert ok.status_code == 200 and ok.json()["name"] == "Air filter G4"
    stale = client.patch(
        f"/api/v1/parts/{pid}", json={"name": "y"}, headers={**h, "If-Match": got.headers["ETag"]}
    )
    assert stale.status_code == 412
    assert [p["id"] for p in client.get("/api/v1/parts", params={"q": "g4"}, headers=h).json()["items"]] == [
        pid
    ]
    r = client.delete(f"/api/v1/parts/{pid}", headers={**h, "If-Match": ok.headers["ETag"]})
    assert r.status_code == 204 and client.get(f"/api/v1/parts/{pid}", headers=h).status_code == 404


def test_part_in_use_cannot_be_deleted_and_roles(client: TestClient, db: Session, world) -> None:
    w = world
    f.set_stock(db, w["wh"], w["part"], 1)
    db.commit()
    etag = client.get(f"/api/v1/parts/{w['part'].id}", headers=w["dispatch"]).headers["ETag"]
    r = client.delete(f"/api/v1/parts/{w['part'].id}", headers={**w["dispatch"], "If-Match": etag})
    assert r.status_code == 409 and "stock levels" in r.json()["detail"]
    assert client.post("/api/v1/parts", json={"sku": "A", "name": "A"}, headers=w["agent"]).status_code == 403
    assert client.post("/api/v1/parts", json={"sku": "A", "name": "A"}, headers=w["me"]).status_code == 403
    r = client.post("/api/v1/parts", json={"sku": "", "name": "A", "unit_cost": -1}, headers=w["dispatch"])
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"sku", "unit_cost"}


# --- warehouses ---------------------------------------------------------------------------------


def test_warehouse_create_and_list(client: TestClient, world) -> None:
    w = world
    body = {
        "name": "North depot",
        "region_id": w["region"].id,
        "latitude": 48.3,
        "longitude": 11.7,
        "opens": "06:30",
        "closes": "19:00",
    }
    r = client.post("/api/v1/warehouses", json=body, headers=w["dispatch"])
    assert r.status_code == 201, r.text
    assert r.json()["location_id"] is not None and r.json()["opens"] == "06:30:00"
    listed = client.get("/api/v1/warehouses", params={"region_id": w["region"].id}, headers=w["me"]).json()
    assert {x["name"] for x in listed} == {"North depot", w["depot"].name}
    assert client.post("/api/v1/warehouses", json=body, headers=w["dispatch"]).status_code == 409
    r = client.post(
        "/api/v1/warehouses",
        json={**body, "name": "B", "opens": "20:00", "region_id": 999999},
        headers=w["dispatch"],
    )
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"region_id", "closes"}


def test_warehouse_hours_with_a_utc_offset_are_refused(client: TestClient, db: Session, world) -> None:
    """Found while fuzzing: "06:30+05:00" against "19:00" compared an aware with a naive time (a 500);
    an offset on both was dropped silently. Opening hours are local times: 422 naming the field."""
    w = world
    body = {"name": "East depot", "region_id": w["region"].id, "latitude": 48.1, "longitude": 11.9}
    for opens, closes, bad in (
        ("06:30+05:00", "19:00", {"opens"}),
        ("06:30Z", "19:00-02:00", {"opens", "closes"}),
    ):
        r = client.post(
            "/api/v1/warehouses", json={**body, "opens": opens, "closes": closes}, headers=w["dispatch"]
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert {e["field"] for e in r.json()["errors"]} == bad
    assert db.scalar(select(func.count()).select_from(Warehouse).where(Warehouse.name == "East depot")) == 0


# --- stock list, adjustments --------------------------------------------------------------------


def test_stock_list_filters_and_engineer_visibility(client: TestClient, db: Session, world) -> None:
    w = world
    for loc in ("van", "other_van", "wh"):
        f.set_stock(db, w[loc], w["part"], 3)
    f.set_stock(db, w["wh"], w["part2"], 7)
    db.commit()
    items = client.get("/api/v1/stock", params={"location_id": w["wh"].id}, headers=w["dispatch"]).json()[
        "items"
    ]
    assert {(i["part_id"], i["quantity"], i["location_kind"]) for i in items} == {
        (w["part"].id, 3, "warehouse"),
        (w["part2"].id, 7, "warehouse"),
    }
    items = client.get("/api/v1/stock", params={"part_id": w["part"].id}, headers=w["me"]).json()["items"]
    assert {i["location_id"] for i in items} == {w["van"].id, w["wh"].id}  # not the other van
    r = client.get("/api/v1/stock", params={"location_id": w["other_van"].id}, headers=w["me"])
    assert r.status_code == 404


def test_receive_and_adjust_never_below_zero_and_audited(client: TestClient, db: Session, world) -> None:
    w = world
    url = "/api/v1/stock/adjustments"
    body = {
        "kind": "receive",
        "location_id": w["wh"].id,
        "part_id": w["part"].id,
        "quantity": 10,
        "reason": "PO 4711 delivered",
    }
    r = client.post(url, json=body, headers=w["manager"])
    assert r.status_code == 201 and r.json()["quantity"] == 10
    r = client.post(
        url, json={**body, "kind": "adjust", "quantity": -4, "reason": "stocktake"}, headers=w["dispatch"]
    )
    assert r.status_code == 201 and r.json()["quantity"] == 6 and r.json()["delta"] == -4
    r = client.post(
        url, json={**body, "kind": "adjust", "quantity": -7, "reason": "stocktake"}, headers=w["dispatch"]
    )
    assert r.status_code == 409 and r.json()["shortages"][0]["available"] == 6
    assert qty(db, w["wh"], w["part"]) == 6
    logs = db.scalars(select(AuditLog).where(AuditLog.entity == "stock_level").order_by(AuditLog.id)).all()
    assert [(a.action, a.changes["quantity"], a.changes["reason"][1]) for a in logs] == [
        ("receive", [0, 10], "PO 4711 delivered"),
        ("adjust", [10, 6], "stocktake"),
    ]


def test_adjustment_input_roles_and_idempotency(client: TestClient, db: Session, world) -> None:
    w = world
    url = "/api/v1/stock/adjustments"
    body = {
        "kind": "receive",
        "location_id": w["wh"].id,
        "part_id": w["part"].id,
        "quantity": 2,
        "reason": "PO 1",
    }
    assert client.post(url, json=body, headers=w["agent"]).status_code == 403
    assert client.post(url, json=body, headers=w["me"]).status_code == 403
    r = client.post(url, json={**body, "quantity": -2}, headers=w["dispatch"])
    assert r.status_code == 422 and "positive" in r.json()["detail"]
    r = client.post(url, json={**body, "part_id": 999999, "reason": ""}, headers=w["dispatch"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = client.post(url, json={**body, "part_id": 999999}, headers=w["dispatch"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "part_id"
    h = {**w["dispatch"], "Idempotency-Key": "po-1"}
    client.post(url, json=body, headers=h)
    replay = client.post(url, json=body, headers=h)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert qty(db, w["wh"], w["part"]) == 2  # booked once


# --- transfers ----------------------------------------------------------------------------------


def test_transfer_moves_all_lines_or_none(client: TestClient, db: Session, world) -> None:
    w = world
    f.set_stock(db, w["wh"], w["part"], 5)
    f.set_stock(db, w["wh"], w["part2"], 1)
    db.commit()
    url = "/api/v1/stock/transfers"
    lines = [{"part_id": w["part"].id, "quantity": 3}, {"part_id": w["part2"].id, "quantity": 2}]
    body = {"from_location_id": w["wh"].id, "to_location_id": w["van"].id, "lines": lines}
    r = client.post(url, json=body, headers=w["dispatch"])
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "lines.1"
    assert (qty(db, w["wh"], w["part"]), qty(db, w["van"], w["part"])) == (5, None)
    lines[1]["quantity"] = 1
    r = client.post(url, json=body, headers=w["dispatch"])
    assert r.status_code == 201, r.text
    assert {(x["part_id"], x["from_quantity"], x["to_quantity"]) for x in r.json()["lines"]} == {
        (w["part"].id, 2, 3),
        (w["part2"].id, 0, 1),
    }
    assert (qty(db, w["wh"], w["part"]), qty(db, w["van"], w["part"])) == (2, 3)
    actions = db.scalars(select(AuditLog.action).where(AuditLog.entity == "stock_level")).all()
    assert sorted(actions) == ["transfer_in"] * 2 + ["transfer_out"] * 2


def test_engineer_picks_up_into_own_van_only(client: TestClient, db: Session, world) -> None:
    w = world
    f.set_stock(db, w["wh"], w["part"], 5)
    db.commit()
    url = "/api/v1/stock/transfers"
    pickup = {
        "from_location_id": w["wh"].id,
        "to_location_id": w["van"].id,
        "lines": [{"part_id": w["part"].id, "quantity": 2}],
    }
    assert client.post(url, json=pickup, headers=w["me"]).status_code == 201
    assert client.post(url, json=pickup, headers=w["them"]).status_code == 403
    van_to_van = {**pickup, "from_location_id": w["van"].id, "to_location_id": w["other_van"].id}
    assert client.post(url, json=van_to_van, headers=w["me"]).status_code == 403
    assert client.post(url, json=pickup, headers=w["agent"]).status_code == 403
    same = {**pickup, "to_location_id": w["wh"].id}
    r = client.post(url, json=same, headers=w["dispatch"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to_location_id"
    assert qty(db, w["van"], w["part"]) == 2


# --- concurrent service reports on committed data -----------------------------------------------


@pytest.fixture
def committed_world(engine: Engine) -> Iterator[dict[str, Any]]:
    """Visits on site, committed for real so separate sessions/threads see them. Everything the
    test adds is deleted afterwards (rows above each table's id high-water mark)."""
    tables = [t for t in Base.metadata.sorted_tables if "id" in t.c]
    with engine.connect() as conn:
        marks = {t.name: conn.scalar(select(func.coalesce(func.max(t.c.id), 0))) for t in tables}
    try:
        with Session(engine) as s:
            region = f.make_region(s)
            acc = f.make_account(s, region=region)
            site = f.make_site(s, acc, region=region)
            model = f.make_product_model(s, skill="HVAC")
            user = f.make_user(s, role="engineer")
            eng = f.make_engineer(s, region, skills=["HVAC"], user=user)
            part = f.make_part(s)
            van = f.location_of(s, engineer=eng)
            f.set_stock(s, van, part, 2)
            today = datetime.now(BERLIN).date()
            monday = today + timedelta(days=(0 - today.weekday()) % 7 + 7)
            start = datetime.combine(monday, time(9), tzinfo=BERLIN).astimezone(UTC)
            ids = []
            for i in range(4):  # one ticket each: only the stock is shared
                ticket = f.open_ticket(s, acc, asset=f.make_asset(s, site, product_model=model))
                wo = f.make_work_order(s, ticket)
                workorders.schedule(
                    s,
                    work_order=wo,
                    engineer_id=eng.id,
                    planned_start=start + timedelta(hours=2 * i),
                    eta=None,
                    actor=None,
                )
                workorder_visits.check_in(s, work_order=wo, actor=None)
                # left the site: the next check-in is allowed, the report is still to file
                workorder_visits.check_out(s, work_order=wo, actor=None)
                ids.append(wo.id)
            world = {"engine": engine, "work_orders": ids, "part_id": part.id, "van_id": van.id}
            s.commit()
        # Outside the session: an idle open transaction would hold SQLite's write lock.
        yield world
    finally:
        with engine.begin() as conn:
            for t in reversed(tables):
                conn.execute(t.delete().where(t.c.id > marks[t.name]))


def _report(
    engine: Engine,
    wo_id: int,
    part_id: int,
    hold: tuple[threading.Event, threading.Event] | None = None,
    start: threading.Barrier | None = None,
) -> str:
    """One engineer device filing a report in its own session; returns ok / shortage.

    Like a real client it retries a 409 StockBusy (SQLite only: a writer that lost the lock race
    must start a fresh transaction); any other error escapes and the result goes missing."""
    if start is not None:
        start.wait(timeout=10)
    for _ in range(50):
        with Session(engine) as s:
            try:
                wo = s.get_one(WorkOrder, wo_id)
                workorder_visits.report(
                    s,
                    work_order=wo,
                    work_done="swap",
                    parts_used=[(part_id, 1, None)],
                    fixed=True,
                    actor=None,
                )
                if hold is not None:  # booked and flushed, not committed: keep the row lock for a while
                    hold[0].set()
                    hold[1].wait(timeout=30)
                s.commit()
                return "ok"
            except Shortage:
                s.rollback()
                return "shortage"
            except StockBusy:
                s.rollback()
                clock.sleep(0.01)
    return "gave up"


def _outcome(engine: Engine, data: dict[str, Any]) -> tuple[int, int, list[str]]:
    with Session(engine) as s:
        stock = s.scalar(
            select(StockLevel.quantity).where(
                StockLevel.location_id == data["van_id"], StockLevel.part_id == data["part_id"]
            )
        )
        used = s.scalar(
            select(func.coalesce(func.sum(PartUsage.quantity), 0)).where(
                PartUsage.work_order_id.in_(data["work_orders"])
            )
        )
        statuses = list(
            s.scalars(
                select(WorkOrder.status).where(WorkOrder.id.in_(data["work_orders"])).order_by(WorkOrder.id)
            )
        )
    return int(stock or 0), int(used or 0), statuses


def test_concurrent_reports_never_oversell(committed_world: dict[str, Any]) -> None:
    """Four devices report at once against a van holding 2: exactly 2 are booked."""
    data, engine = committed_world, committed_world["engine"]
    start = threading.Barrier(len(data["work_orders"]))
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(_report(engine, i, data["part_id"], start=start)))
        for i in data["work_orders"]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stock, used, statuses = _outcome(engine, data)
    assert stock == 0 and used == 2, results
    assert sorted(results) == ["ok", "ok", "shortage", "shortage"]
    assert sorted(statuses) == ["done", "done", "on_site", "on_site"]


def test_second_report_waits_for_the_first_and_then_sees_the_shortage(
    committed_world: dict[str, Any],
) -> None:
    """PostgreSQL: B's decrement provably overlaps A's open transaction (B waits on A's row
    lock), and after A commits B re-checks the guard and books nothing."""
    data, engine = committed_world, committed_world["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("row-lock waits are observable on PostgreSQL only (SQLite serialises writers)")
    a, b, *_ = data["work_orders"]
    with Session(engine) as s:  # leave exactly one part in the van
        s.execute(text("UPDATE stock_level SET quantity = 1 WHERE location_id = :l"), {"l": data["van_id"]})
        s.commit()
    booked, release = threading.Event(), threading.Event()
    results: dict[str, str] = {}
    ta = threading.Thread(
        target=lambda: results.__setitem__("a", _report(engine, a, data["part_id"], hold=(booked, release)))
    )
    ta.start()
    assert booked.wait(timeout=30)
    tb = threading.Thread(target=lambda: results.__setitem__("b", _report(engine, b, data["part_id"])))
    tb.start()
    waiting = 0
    with engine.connect() as conn:
        for _ in range(500):  # until B's UPDATE is blocked behind A's row lock
            waiting = (
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                )
                or 0
            )
            if waiting:
                break
            clock.sleep(0.02)
    release.set()
    ta.join(timeout=30)
    tb.join(timeout=30)
    assert waiting >= 1, "B never waited on A's lock, so the race was not exercised"
    assert results == {"a": "ok", "b": "shortage"}
    stock, used, _ = _outcome(engine, data)
    assert (stock, used) == (0, 1)


# --- reserved stock stays put ---------------------------------------------------------------------


def _reserved_for_pickup(db: Session, w: dict[str, Any], quantity: int, reserved: int) -> Any:
    """The warehouse holds `quantity` of a named part, `reserved` of them held for a visit of the
    other engineer, who will fetch them (as planning publishes a pickup)."""
    w["part"].name, w["part"].sku = "Druckschalter", "PMP-5005"
    f.set_stock(db, w["wh"], w["part"], quantity)
    account = f.make_account(db, region=w["region"])
    asset = f.make_asset(db, f.make_site(db, account, region=w["region"]))
    wo = f.make_work_order(db, f.open_ticket(db, account, asset=asset))
    reservations.reserve(
        db,
        work_order_id=wo.id,
        part_id=w["part"].id,
        location_id=w["wh"].id,
        quantity=reserved,
        pickup_engineer_id=w["other"].id,
    )
    db.commit()
    return wo


def test_transfers_take_only_free_stock_and_name_the_visits_holding_the_rest(
    client: TestClient, db: Session, world
) -> None:
    """QA: a transfer of all 32 units took the 1 reserved for another engineer's pickup (row left at
    quantity 0, reserved 1), and that pickup then failed naming "part 33"."""
    w = world
    wo = _reserved_for_pickup(db, w, quantity=32, reserved=1)
    url = "/api/v1/stock/transfers"
    body = {
        "from_location_id": w["wh"].id,
        "to_location_id": w["van"].id,
        "lines": [{"part_id": w["part"].id, "quantity": 32}],
    }
    r = client.post(url, json=body, headers=w["me"])
    assert r.status_code == 409, r.text
    problem = r.json()
    assert "32 × PMP-5005 (Druckschalter) requested from warehouse" in problem["detail"]
    assert "32 in stock but 1 reserved for planned visits, so 31 free" in problem["detail"]
    # ... and which visit holds it: the dispatcher re-plans or cancels that one to free the unit.
    assert f"so 31 free (reserved for {wo.number} × 1)" in problem["detail"]
    assert f"part {w['part'].id}" not in problem["detail"]
    assert problem["shortages"][0] == {
        "part_id": w["part"].id,
        "sku": "PMP-5005",
        "location_id": w["wh"].id,
        "requested": 32,
        "available": 31,
        "in_stock": 32,
        "reserved": 1,
        "held_by": [{"work_order_id": wo.id, "number": wo.number, "quantity": 1}],
    }
    assert (qty(db, w["wh"], w["part"]), qty(db, w["van"], w["part"])) == (32, None)
    # The free 31 move; the reserved unit stays for the pickup, which then succeeds.
    body["lines"][0]["quantity"] = 31
    assert client.post(url, json=body, headers=w["me"]).status_code == 201
    db.expire_all()
    level = db.scalars(
        select(StockLevel).where(StockLevel.location_id == w["wh"].id, StockLevel.part_id == w["part"].id)
    ).one()
    assert (level.quantity, level.reserved) == (1, 1)
    moved = reservations.confirm_pickup(db, work_order=wo, engineer_id=w["other"].id, actor=None)
    assert [(m.part_id, m.quantity) for m in moved] == [(w["part"].id, 1)]
    db.commit()
    assert (qty(db, w["wh"], w["part"]), qty(db, w["other_van"], w["part"])) == (0, 1)


def test_a_pickup_whose_units_are_gone_names_the_part_not_its_id(db: Session, world) -> None:
    w = world
    wo = _reserved_for_pickup(db, w, quantity=1, reserved=1)
    # The unit and its hold were taken off the level by hand (the reservation row still says held):
    # `reserved <= quantity` forbids 0 in stock with 1 reserved, so that is how a pickup finds nothing.
    db.execute(
        update(StockLevel)
        .where(StockLevel.location_id == w["wh"].id, StockLevel.part_id == w["part"].id)
        .values(quantity=0, reserved=0)
    )
    with pytest.raises(Conflict) as refused:
        reservations.confirm_pickup(db, work_order=wo, engineer_id=w["other"].id, actor=None)
    detail = refused.value.detail
    assert detail.startswith(f"Warehouse {w['depot'].name} no longer holds the 1 × Druckschalter (PMP-5005)")
    assert f"part {w['part'].id}" not in detail
