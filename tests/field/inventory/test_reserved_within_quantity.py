"""`reserved <= quantity` on every stock level: what each path that lowers stock does when the units
it removes are held for planned visits (docs/workorders.md "Stock"), and the CHECK constraint that
backs it on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.field.inventory import reservations
from app.field.workorders import visits as workorder_visits
from app.models import AuditLog, StockLevel, StockReservation, WorkOrder
from tests import factories as f


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    eng_user = f.make_user(db, role="engineer")
    eng, other = f.make_engineer(db, region, user=eng_user), f.make_engineer(db, region)
    depot = f.make_warehouse(db, region)
    part = f.make_part(db)
    part.name, part.sku = "Druckschalter", "PMP-5005"
    w = {
        "region": region,
        "eng": eng,
        "other": other,
        "part": part,
        "van": f.location_of(db, engineer=eng),
        "wh": f.location_of(db, warehouse=depot),
        "dispatch": f.bearer(f.make_user(db, role="dispatcher")),
        "me": f.bearer(eng_user),
    }
    db.commit()
    return w


def _visit(db: Session, w: dict[str, Any], *, days_ahead: int | None, engineer: Any = None) -> WorkOrder:
    """A visit of `engineer` (default: the other one) planned `days_ahead` from now (None: unscheduled)."""
    account = f.make_account(db, region=w["region"])
    asset = f.make_asset(db, f.make_site(db, account, region=w["region"]))
    wo = f.make_work_order(db, f.open_ticket(db, account, asset=asset))
    if days_ahead is not None:
        # Set as a plan publishes it, not through `workorders.schedule`: the time is the clock's,
        # and the schedule refused one in the engineer's break (12:24) or outside the shift (an
        # evening run); these tests are about stock, not shifts.
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days_ahead)
        wo.engineer_id, wo.status = (engineer or w["other"]).id, "scheduled"
        wo.planned_start_at = wo.eta_at = start
        db.flush()
    return wo


def _hold(db: Session, w: dict[str, Any], wo: WorkOrder, location: Any, quantity: int) -> StockReservation:
    res = reservations.reserve(
        db, work_order_id=wo.id, part_id=w["part"].id, location_id=location.id, quantity=quantity
    )
    assert res is not None
    return res


def _level(db: Session, location: Any, part: Any) -> tuple[int, int]:
    db.expire_all()
    row = db.execute(
        select(StockLevel.quantity, StockLevel.reserved).where(
            StockLevel.location_id == location.id, StockLevel.part_id == part.id
        )
    ).one()
    return row[0], row[1]


def _state(db: Session, res: StockReservation) -> tuple[str, int]:
    db.expire_all()
    row = db.get_one(StockReservation, res.id)
    return row.status, row.quantity


def test_a_stock_count_below_the_reservations_cuts_the_latest_visits_and_says_which(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    """The shelf holds 2 where the system says 5, of which 4 are held (tomorrow 2, in three days 1,
    unscheduled 1). The count is a fact: it is booked, and the 2 units that no longer exist come
    off the visits with the most time left: the unscheduled one, then the one in three days."""
    w = world
    f.set_stock(db, w["wh"], w["part"], 5)
    soon, later, unplanned = (_visit(db, w, days_ahead=d) for d in (1, 3, None))
    held_soon, held_later, held_unplanned = (
        _hold(db, w, soon, w["wh"], 2),
        _hold(db, w, later, w["wh"], 1),
        _hold(db, w, unplanned, w["wh"], 1),
    )
    db.commit()
    body = {"kind": "adjust", "location_id": w["wh"].id, "part_id": w["part"].id, "quantity": -3}
    r = client.post("/api/v1/stock/adjustments", json={**body, "reason": "stocktake"}, headers=w["dispatch"])
    assert r.status_code == 201, r.text  # before: 409 "so 1 free", the phantom units stayed planned
    answer = r.json()
    assert (answer["quantity"], answer["reserved"]) == (2, 2)
    assert [(c["number"], c["held_before"], c["held_after"]) for c in answer["released"]] == [
        (unplanned.number, 1, 0),
        (later.number, 1, 0),
    ]
    assert _level(db, w["wh"], w["part"]) == (2, 2)
    assert _state(db, held_soon) == ("held", 2)
    assert _state(db, held_later)[0] == _state(db, held_unplanned)[0] == "released"
    # Recorded why, on each reservation and on the level.
    cut = db.scalars(
        select(AuditLog).where(AuditLog.entity == "stock_reservation", AuditLog.action == "released")
    ).all()
    assert {a.entity_id for a in cut} == {held_later.id, held_unplanned.id}
    assert all(a.changes["reason"] == [None, "stock count: stocktake"] for a in cut)
    count = db.scalars(
        select(AuditLog).where(AuditLog.entity == "stock_level", AuditLog.action == "adjust")
    ).one()
    assert count.changes["quantity"] == [5, 2] and count.changes["reserved"] == [4, 2]
    # A count that leaves room for every hold cuts nothing; one below zero is still refused.
    r = client.post(
        "/api/v1/stock/adjustments", json={**body, "quantity": -3, "reason": "recount"}, headers=w["dispatch"]
    )
    assert r.status_code == 409 and r.json()["shortages"][0]["in_stock"] == 2
    assert _level(db, w["wh"], w["part"]) == (2, 2)


def test_a_count_that_shrinks_a_reservation_keeps_the_rest_held(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    f.set_stock(db, w["wh"], w["part"], 4)
    wo = _visit(db, w, days_ahead=2)
    held = _hold(db, w, wo, w["wh"], 3)
    db.commit()
    body = {
        "kind": "adjust",
        "location_id": w["wh"].id,
        "part_id": w["part"].id,
        "quantity": -2,
        "reason": "broken",
    }
    r = client.post("/api/v1/stock/adjustments", json=body, headers=w["dispatch"])
    assert r.status_code == 201, r.text
    assert [(c["work_order_id"], c["held_before"], c["held_after"]) for c in r.json()["released"]] == [
        (wo.id, 3, 2)
    ]
    assert _level(db, w["wh"], w["part"]) == (2, 2)
    assert _state(db, held) == ("held", 2)
    shrunk = db.scalars(select(AuditLog).where(AuditLog.entity == "stock_reservation")).one()
    assert (shrunk.action, shrunk.changes["quantity"]) == ("shrunk", [3, 2])


def test_a_report_consumes_its_own_hold_and_cuts_the_other_visit_it_took_from(
    db: Session, world: dict[str, Any]
) -> None:
    """The van holds 2: one for this visit, one for the engineer's visit tomorrow. On site the
    engineer needs both. The report is never refused for that (the parts are fitted): its own hold
    is consumed, tomorrow's is released with the reason, and the level stays consistent."""
    w = world
    f.set_stock(db, w["van"], w["part"], 2)
    today = _visit(db, w, days_ahead=0, engineer=w["eng"])
    tomorrow = _visit(db, w, days_ahead=1, engineer=w["eng"])
    own, theirs = _hold(db, w, today, w["van"], 1), _hold(db, w, tomorrow, w["van"], 1)
    workorder_visits.check_in(db, work_order=today, actor=None)
    workorder_visits.report(
        db,
        work_order=today,
        work_done="two switches",
        parts_used=[(w["part"].id, 2, None)],
        fixed=True,
        actor=None,
    )
    db.commit()
    assert _level(db, w["van"], w["part"]) == (0, 0)  # before: (0, 1), tomorrow's phantom hold
    assert _state(db, own)[0] == "consumed"
    assert _state(db, theirs) == ("released", 1)
    cut = db.scalars(
        select(AuditLog).where(AuditLog.entity == "stock_reservation", AuditLog.entity_id == theirs.id)
    ).one()
    assert cut.changes["reason"] == [None, f"used on site by {today.number}"]
    assert cut.changes["work_order_id"] == [None, tomorrow.id]


def test_the_database_refuses_more_reserved_than_in_stock(db: Session, world: dict[str, Any]) -> None:
    """The CHECK constraint, on whichever database the suite runs (SQLite, or PostgreSQL with
    TEST_DATABASE_URL): a direct UPDATE that skips the services is refused."""
    w = world
    f.set_stock(db, w["wh"], w["part"], 2)
    db.commit()
    where = (StockLevel.location_id == w["wh"].id, StockLevel.part_id == w["part"].id)
    with pytest.raises(IntegrityError, match="reserved_within_quantity"), db.begin_nested():
        db.execute(update(StockLevel).where(*where).values(reserved=3))
    with pytest.raises(IntegrityError, match="reserved_within_quantity"), db.begin_nested():
        db.execute(update(StockLevel).where(*where).values(reserved=2, quantity=1))
    db.execute(update(StockLevel).where(*where).values(reserved=2))  # equal is fine
    assert _level(db, w["wh"], w["part"]) == (2, 2)
