"""The planning bridge: database state → engine input, plan → assignments, published once and
all at once; dispatcher edits made during a solve are never overwritten."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import dispatch
from app.models import PlanDay, PlanRun, PlanStop, StockLevel, StockReservation, WorkOrder
from app.planning import keys as plan_keys
from app.planning import publish as plan_publish
from app.planning import runs as plan_runs
from app.planning import service as planning
from tests import factories as f
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def run_plan(db: Session, w: pw.World, day: date, **kw: object) -> PlanRun:
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **{**SMALL, **kw})  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    return db.get(PlanRun, run.id)  # type: ignore[return-value]


def test_day_reference_follows_dst() -> None:
    # 29 March 2026: clocks go 02:00 → 03:00 in Berlin, so 08:00 is only 7 hours after midnight.
    spring, autumn, plain = date(2026, 3, 29), date(2026, 10, 25), date(2026, 6, 1)
    for day, hours in ((spring, 7), (autumn, 9), (plain, 8)):
        ref = plan_keys.day_reference(day, "Europe/Berlin")
        assert plan_keys.to_s(ref, plan_keys.local_at(day, time(8), "Europe/Berlin")) == hours * 3600
        assert plan_keys.from_s(ref, hours * 3600) == plan_keys.local_at(day, time(8), "Europe/Berlin")


def test_load_turns_rows_into_an_engine_problem(db: Session) -> None:
    w = pw.build(db, jobs=2)
    wo_part = pw.add_visit(db, w, parts=[(w.parts[0].id, 1), (w.parts[1].id, 1)])
    extra = f.make_engineer(db, w.region, skills=["HVAC"])  # works Mon-Fri 8-17 by the factory
    absent = w.engineers[1]
    day = pw.next_weekday(0)
    db.add(f.m.Absence(engineer_id=absent.id, day=day, reason="sick"))
    db.flush()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    p = loaded.problem
    assert p is not None
    assert {e.id for e in p.engineers} == {plan_keys.engineer_key(i) for i in (w.engineers[0].id, extra.id)}
    assert loaded.skipped_engineers[absent.id] == "absent"
    e0 = next(e for e in p.engineers if e.id == plan_keys.engineer_key(w.engineers[0].id))
    assert e0.shift == (8 * 3600, 17 * 3600)
    assert e0.stock == {w.parts[1].sku: 2}
    assert e0.skills == frozenset({"HVAC"})
    job = next(j for j in p.jobs if j.id == plan_keys.job_key(wo_part.id))
    assert job.parts == {w.parts[0].sku: 1, w.parts[1].sku: 1}
    assert job.duration_s == 45 * 60 and job.priority == 3 and job.skills == frozenset({"HVAC"})
    assert p.warehouses[0].stock == {w.parts[0].sku: 3}
    assert set(loaded.versions) == {wo.id for wo in w.work_orders}


def test_fingerprint_changes_with_the_input_only(db: Session) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(1)
    a = planning.load(db, region_id=w.region.id, day=day).fingerprint
    assert planning.load(db, region_id=w.region.id, day=day).fingerprint == a
    w.work_orders[0].duration_min = 90
    db.flush()
    assert planning.load(db, region_id=w.region.id, day=day).fingerprint != a


def test_a_plan_run_publishes_assignments_and_reservations(db: Session) -> None:
    w = pw.build(db, jobs=3)
    needs_pickup = pw.add_visit(db, w, parts=[(w.parts[0].id, 2)])
    from_van = pw.add_visit(db, w, parts=[(w.parts[1].id, 1)])
    day = pw.next_weekday(0)
    run = run_plan(db, w, day)
    assert run.status == "published", run.error
    assert run.summary["served"] == 5 and run.progress == 100
    assert run.stats["load_s"] >= 0 and "solve_s" in run.stats and "publish_s" in run.stats
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == run.id
    ref = plan_keys.day_reference(day, "Europe/Berlin")
    for wo in w.work_orders:
        db.refresh(wo)
        assert wo.status == "scheduled" and wo.engineer_id is not None
        assert wo.eta_at is not None and wo.eta_at <= wo.planned_start_at  # type: ignore[operator]
        assert 8 * 3600 <= plan_keys.to_s(ref, wo.planned_start_at) <= 17 * 3600  # type: ignore[arg-type]
    held = {(r.work_order_id, r.part_id): r for r in db.scalars(select(StockReservation))}
    van0 = f.location_of(db, engineer=w.engineers[0]).id
    wh = f.location_of(db, warehouse=w.warehouse).id
    assert held[(from_van.id, w.parts[1].id)].location_id == van0  # only engineer 0 carries it
    pick = held[(needs_pickup.id, w.parts[0].id)]
    assert pick.location_id == wh and pick.pickup_engineer_id == needs_pickup.engineer_id
    assert db.scalar(select(StockLevel.reserved).where(StockLevel.location_id == wh)) == 2
    stops = list(
        db.scalars(select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.kind == "pickup"))
    )
    assert [s.engineer_id for s in stops] == [needs_pickup.engineer_id]


def test_same_input_is_not_published_again(db: Session) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(2)
    first = run_plan(db, w, day)
    versions = {wo.id: wo.version for wo in w.work_orders}
    second = run_plan(db, w, day)
    assert first.status == "published" and second.status == "unchanged"
    assert second.fingerprint == first.fingerprint and second.summary["same_as_run"] == first.id
    assert db.scalar(select(func.count()).select_from(PlanStop).where(PlanStop.plan_run_id == second.id)) == 0
    for wo in w.work_orders:
        db.refresh(wo)
        assert wo.version == versions[wo.id]


def test_executing_a_run_twice_publishes_once(db: Session) -> None:
    w = pw.build(db, jobs=2)
    run = run_plan(db, w, pw.next_weekday(3))
    stops = db.scalar(select(func.count()).select_from(PlanStop).where(PlanStop.plan_run_id == run.id))
    assert plan_runs.execute(run.id) == "published"  # a redelivered task: nothing happens
    db.expire_all()
    assert (
        db.scalar(select(func.count()).select_from(PlanStop).where(PlanStop.plan_run_id == run.id)) == stops
    )
    assert db.get(PlanRun, run.id).attempts == 1  # type: ignore[union-attr]


def _solve(loaded: planning.Loaded) -> dispatch.Plan:
    assert loaded.problem is not None
    return dispatch.solve(loaded.problem, time_limit=1, solution_limit=20)


def _running(db: Session, w: pw.World, day: date) -> PlanRun:
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **SMALL)  # type: ignore[arg-type]
    run.status = "running"
    db.flush()
    return run


def test_a_work_order_edited_during_the_solve_is_not_overwritten(db: Session) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(0)
    run = _running(db, w, day)
    loaded = planning.load(db, region_id=w.region.id, day=day)
    plan = _solve(loaded)
    edited = w.work_orders[1]
    edited.notes = "customer asks for the afternoon"  # a dispatcher's edit while the solver ran
    db.flush()
    status = plan_publish.publish(db, run_id=run.id, loaded=loaded, plan=plan)
    assert status == "conflict" and run.summary["conflicts"] == [edited.id]
    assert db.scalar(select(func.count()).select_from(PlanStop).where(PlanStop.plan_run_id == run.id)) == 0
    for wo in w.work_orders:
        assert wo.status == "unscheduled" and wo.engineer_id is None
    retry = plan_runs.retry_after_conflict(db, run)
    assert retry is not None and retry.retry_of_id == run.id and retry.status == "queued"


def test_publish_is_all_or_nothing(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(1)
    old = run_plan(db, w, day)
    before = {wo.id: (wo.engineer_id, wo.planned_start_at) for wo in w.work_orders}
    w.work_orders[0].duration_min = 120  # new input, so a new plan
    db.commit()
    run = _running(db, w, day)
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    plan = _solve(loaded)

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("database went away half-way")

    monkeypatch.setattr(plan_publish, "_reserve", boom)
    with pytest.raises(RuntimeError), plan_runs.unit_of_work() as s:
        plan_publish.publish(s, run_id=run.id, loaded=loaded, plan=plan)
    db.expire_all()
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == old.id
    assert db.scalar(select(func.count()).select_from(PlanStop).where(PlanStop.plan_run_id == run.id)) == 0
    assert db.get(PlanRun, run.id).status == "running"  # type: ignore[union-attr]
    for wo in db.scalars(select(WorkOrder).where(WorkOrder.id.in_(before))):
        assert (wo.engineer_id, wo.planned_start_at) == before[wo.id]


def test_an_older_run_does_not_replace_a_newer_plan(db: Session) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(4)
    slow = _running(db, w, day)
    slow_input = planning.load(db, region_id=w.region.id, day=day)
    w.work_orders[0].duration_min = 30
    db.flush()
    newer = run_plan(db, w, day)  # started later, published first
    assert newer.status == "published"
    status = plan_publish.publish(db, run_id=slow.id, loaded=slow_input, plan=_solve(slow_input))
    assert status in ("superseded", "conflict")
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == newer.id


def test_no_engineer_working_leaves_every_visit_open(db: Session) -> None:
    w = pw.build(db, jobs=2)
    saturday = pw.next_weekday(5)
    run = run_plan(db, w, saturday)
    assert run.status == "published"
    assert run.summary["served"] == 0 and run.summary["unassigned"] == 2
    assert all(wo.status == "unscheduled" for wo in w.work_orders)


def test_stock_is_reserved_at_most_once(db: Session) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(0)
    # Three units in the warehouse, four wanted: one visit cannot get its part.
    wos = [pw.add_visit(db, w, parts=[(w.parts[0].id, 1)], lat=48.12 + i * 0.01) for i in range(3)]
    big = pw.add_visit(db, w, parts=[(w.parts[0].id, 2)], lat=48.2)
    run = run_plan(db, w, day)
    assert run.status == "published"
    level = db.scalar(
        select(StockLevel).where(StockLevel.location_id == f.location_of(db, warehouse=w.warehouse).id)
    )
    assert level is not None and 0 <= level.reserved <= level.quantity == 3
    held = db.scalar(
        select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(StockReservation.status == "held")
    )
    assert held == level.reserved
    served = [wo for wo in [*wos, big] if (db.refresh(wo) or wo.status == "scheduled")]
    assert sum(2 if wo is big else 1 for wo in served) <= 3


def test_the_configured_time_limit_is_a_cap_for_small_days(db: Session) -> None:
    w = pw.build(db, jobs=3)
    run = plan_runs.create_run(db, region_id=w.region.id, day=pw.next_weekday(2), send=False)
    db.commit()
    assert run.time_limit_s == 30.0  # the setting
    plan_runs.execute(run.id)
    db.expire_all()
    done = db.get(PlanRun, run.id)
    assert done is not None and done.status == "published"
    assert done.stats["time_limit_s"] == plan_runs.AUTO_MIN_S  # 3 visits: the floor, not 30 s
    given = run_plan(db, w, pw.next_weekday(3), time_limit_s=1.5, solution_limit=None)
    assert given.stats["time_limit_s"] == 1.5
