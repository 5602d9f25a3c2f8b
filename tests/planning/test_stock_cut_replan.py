"""A planned visit whose parts a stock count takes away is planned again at once
(`app/planning/triggers.py`: `stock_cut`). Before, the count cut the visit's reservation (so the
database keeps reserved <= quantity) but the published plan still sent the engineer to the
warehouse for parts no longer held for them."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.inventory import stock
from app.models import PlanDay, PlanRun, StockReservation
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests import factories as f
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _current(db: Session, w: pw.World, day: date) -> PlanRun:
    db.expire_all()
    run_id = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == day)
    )
    assert run_id is not None
    return db.get_one(PlanRun, run_id)


def _planned(db: Session) -> tuple[pw.World, date, PlanRun, StockReservation]:
    """One afternoon visit today needing 2 of the part only the warehouse holds (3 there)."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    pw.add_visit(
        db,
        w,
        parts=[(w.parts[0].id, 2)],
        appointment_start_at=plan_keys.local_at(today, time(14), w.region.timezone),
        appointment_end_at=plan_keys.local_at(today, time(19), w.region.timezone),
    )
    run = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    first = _current(db, w, today)
    assert first.status == "published"
    held = db.scalars(select(StockReservation).where(StockReservation.status == "held")).one()
    assert held.quantity == 2
    return w, today, first, held


def _count(db: Session, w: pw.World, delta: int) -> None:
    """A stock count at the warehouse correcting the part's quantity by `delta`."""
    warehouse = f.location_of(db, warehouse=w.warehouse)
    stock.adjust(
        db,
        kind="adjust",
        location_id=warehouse.id,
        part_id=w.parts[0].id,
        quantity=delta,
        reason="count",
        actor=None,
    )
    db.commit()


def test_a_count_that_takes_a_planned_visits_parts_plans_its_day_again(db: Session) -> None:
    w, today, first, held = _planned(db)
    _count(db, w, -2)  # 2 of the 3 gone: 1 left, the visit's 2 no longer fit

    again = _current(db, w, today)
    assert again.id != first.id
    assert (again.kind, again.trigger) == ("replan", "stock_cut")
    assert again.trigger_ref is not None and again.trigger_ref.startswith(f"{held.id}.")


def test_a_count_that_leaves_the_held_parts_plans_nothing_again(db: Session) -> None:
    w, today, first, _ = _planned(db)
    _count(db, w, -1)  # 3 → 2: the 2 held still fit

    assert _current(db, w, today).id == first.id
    assert db.scalar(select(PlanRun.id).where(PlanRun.trigger == "stock_cut")) is None


def test_a_visit_the_stock_cut_replan_leaves_out_is_listed_in_its_shortages(db: Session) -> None:
    """The re-plan leaves the visit out (`no_part`): before, its summary said `shortages: []`
    (only planned visits short of a part were listed), so the dispatcher saw no part to order."""
    w, today, _, held = _planned(db)
    _count(db, w, -2)  # 1 left at the warehouse, the visit needs 2

    again = _current(db, w, today)
    assert again.trigger == "stock_cut"
    assert again.summary["unassigned_by_reason"] == {"no_part": 1}
    assert again.summary["shortages"] == [
        {"work_order_id": held.work_order_id, "part_id": w.parts[0].id, "missing": 1, "left_out": True}
    ]
    # Nothing stays held for a visit the plan does not send anyone to.
    assert db.scalar(select(StockReservation.id).where(StockReservation.status == "held")) is None
