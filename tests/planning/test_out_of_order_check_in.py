"""A visit checked in on its planned day before a stop planned earlier for the same engineer
re-plans today at once (`app/planning/triggers.py`: `out_of_order`).

Before, only the `late` check (15 min past each skipped stop's start) re-timed the day: meanwhile
the engineer's route, the desk and the skipped customers' notices kept times that could no longer
happen (the skipped stops now come after the visit on site)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import Engineer, PlanDay, PlanRun, PlanStop, User, WorkOrder
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _current(db: Session, w: pw.World, day: date) -> PlanRun:
    db.expire_all()
    run_id = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == day)
    )
    assert run_id is not None
    return db.get_one(PlanRun, run_id)


def _planned_day(db: Session) -> tuple[pw.World, date, list[WorkOrder], Engineer]:
    """Three afternoon visits only the ELEC engineer can do, planned for today (about noon)."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    for i in range(3):
        pw.add_visit(
            db,
            w,
            skill="ELEC",
            lat=48.12 + 0.02 * i,
            lon=11.55,
            appointment_start_at=plan_keys.local_at(today, time(13), w.region.timezone),
            appointment_end_at=plan_keys.local_at(today, time(19), w.region.timezone),
        )
    run = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, w, today).status == "published"
    elec = w.engineers[1]
    ordered = sorted(
        db.scalars(select(WorkOrder).where(WorkOrder.engineer_id == elec.id)),
        key=lambda wo: wo.planned_start_at or datetime.max,
    )
    assert len(ordered) == 3 and all(wo.planned_start_at for wo in ordered)
    return w, today, ordered, elec


def test_checking_in_at_the_last_stop_first_re_times_the_skipped_stops_now(db: Session) -> None:
    w, today, ordered, elec = _planned_day(db)
    first = _current(db, w, today)
    actor = db.get_one(User, elec.user_id)
    last = ordered[-1]

    visits.check_in(db, work_order=last, actor=actor)
    db.commit()

    again = _current(db, w, today)
    assert again.id != first.id
    assert (again.kind, again.trigger, again.trigger_ref) == ("replan", "out_of_order", str(last.id))
    stops = {
        s.work_order_id: s
        for s in db.scalars(select(PlanStop).where(PlanStop.plan_run_id == again.id, PlanStop.kind == "job"))
    }
    checked_in = db.get_one(WorkOrder, last.id).checked_in_at
    assert checked_in is not None and stops[last.id].fixed
    for skipped in ordered[:-1]:  # after the visit on site, no longer before it
        assert stops[skipped.id].start_at is not None
        assert stops[skipped.id].start_at > checked_in
        wo = db.get_one(WorkOrder, skipped.id)
        assert wo.planned_start_at is not None and wo.planned_start_at > checked_in


def test_checking_in_at_the_next_stop_plans_nothing_again(db: Session) -> None:
    w, today, ordered, elec = _planned_day(db)
    first = _current(db, w, today)

    visits.check_in(db, work_order=ordered[0], actor=db.get_one(User, elec.user_id))
    db.commit()

    assert _current(db, w, today).id == first.id
    assert db.scalar(select(PlanRun.id).where(PlanRun.trigger == "out_of_order")) is None
