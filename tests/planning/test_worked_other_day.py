"""A visit checked in on another day than planned (tomorrow's visit done today) moves to the day
it is worked on (`app/planning/triggers.py`: `worked_other_day`).

QA: engineer1 checked in today to tomorrow's WO-0000894 and filed the report; /field for today
still said "No stops planned for this day", and tomorrow's route still listed the finished visit
at its planned 08:35-10:15 with the same departure, return and kilometres. Now the check-in
re-plans the planned day (which drops the visit) and the worked day (which holds it as a fixed stop
at its real times), and the route reader shows a checked-in visit on its check-in day."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import Engineer, PlanDay, PlanRun, PlanStop, User, WorkOrder
from app.planning import keys as plan_keys
from app.planning import routes as plan_routes
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _plan(db: Session, w: pw.World, day: date) -> PlanRun:
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    got = db.get_one(PlanRun, run.id)
    assert got.status == "published", (got.status, got.error)
    return got


def _current(db: Session, w: pw.World, day: date) -> PlanRun:
    db.expire_all()
    run_id = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == day)
    )
    assert run_id is not None
    return db.get_one(PlanRun, run_id)


def _jobs(db: Session, run_id: int) -> dict[int | None, PlanStop]:
    stops = db.scalars(select(PlanStop).where(PlanStop.plan_run_id == run_id, PlanStop.kind == "job"))
    return {s.work_order_id: s for s in stops}


def _promised(db: Session, w: pw.World, day: date, hours: tuple[int, int], lat: float) -> WorkOrder:
    tz = ZoneInfo(w.region.timezone)
    return pw.add_visit(
        db,
        w,
        lat=lat,
        lon=11.55,
        appointment_start_at=datetime.combine(day, time(hours[0]), tz),
        appointment_end_at=datetime.combine(day, time(hours[1]), tz),
    )


def test_tomorrows_visit_done_today_leaves_tomorrows_plan_and_shows_on_todays_route(db: Session) -> None:
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)  # about noon now
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    tomorrow = today + timedelta(days=1)
    _promised(db, w, today, (14, 19), lat=48.13)
    early = [_promised(db, w, tomorrow, (8, 12), lat=48.12 + 0.01 * i) for i in range(3)]
    first_today, first_tomorrow = _plan(db, w, today), _plan(db, w, tomorrow)
    visit = db.get_one(WorkOrder, early[0].id)
    assert visit.id in _jobs(db, first_tomorrow.id) and visit.engineer_id is not None
    engineer = db.get_one(Engineer, visit.engineer_id)
    actor = db.get_one(User, engineer.user_id)
    assert visit.id not in {
        s.work_order_id for s in plan_routes.engineer_route(db, engineer=engineer, day=today).stops
    }

    # The engineer checks in today (the page warned "Planned for …") and files the report, as the
    # API does: each call commits on its own, and tests run the requested re-plans inline.
    visits.check_in(db, work_order=visit, actor=actor)
    db.commit()
    visit = db.get_one(WorkOrder, early[0].id)
    visits.report(
        db, work_order=visit, work_done="replaced the valve", parts_used=[], fixed=True, actor=actor
    )
    db.commit()
    db.expire_all()
    visit = db.get_one(WorkOrder, early[0].id)
    assert visit.status == "done" and visit.checked_in_at is not None and visit.checked_out_at is not None

    # Tomorrow is planned again, without the finished visit; the other visits are still served.
    again = _current(db, w, tomorrow)
    assert again.id != first_tomorrow.id and (again.kind, again.trigger) == ("replan", "worked_other_day")
    assert again.trigger_ref == str(visit.id)
    assert visit.id not in _jobs(db, again.id)
    assert {e.id for e in early[1:]} <= set(_jobs(db, again.id))
    tomorrow_route = plan_routes.engineer_route(db, engineer=engineer, day=tomorrow)
    assert visit.id not in {s.work_order_id for s in tomorrow_route.stops}

    # Today's plan holds it where it happened, and the route lists it as done at its real times.
    now_run = _current(db, w, today)
    assert now_run.id != first_today.id and now_run.trigger == "worked_other_day"
    assert _jobs(db, now_run.id)[visit.id].fixed
    route = plan_routes.engineer_route(db, engineer=engineer, day=today)
    (stop,) = [s for s in route.stops if s.work_order_id == visit.id]
    assert stop.status == "done"
    assert (stop.eta, stop.start_at, stop.end_at) == (
        visit.checked_in_at,
        visit.checked_in_at,
        visit.checked_out_at,
    )


def test_the_route_shows_a_visit_on_its_check_in_day_even_without_plans(db: Session) -> None:
    """No published plan for either day (nothing to re-plan): the route still reads what happened."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    tomorrow = today + timedelta(days=1)
    engineer = w.engineers[0]
    visit = _promised(db, w, tomorrow, (8, 12), lat=48.12)
    tz = ZoneInfo(w.region.timezone)
    visit.engineer_id, visit.status = engineer.id, "scheduled"
    visit.planned_start_at = datetime.combine(tomorrow, time(8, 35), tz)
    db.commit()
    before = len(db.scalars(select(PlanRun)).all())

    visits.check_in(db, work_order=visit, actor=None)
    db.commit()

    assert len(db.scalars(select(PlanRun)).all()) == before  # no plan, no re-plan
    db.expire_all()
    visit = db.get_one(WorkOrder, visit.id)
    today_stops = plan_routes.engineer_route(db, engineer=engineer, day=today).stops
    assert [(s.work_order_id, s.status, s.start_at) for s in today_stops] == [
        (visit.id, "on_site", visit.checked_in_at)
    ]
    assert plan_routes.engineer_route(db, engineer=engineer, day=tomorrow).stops == []
