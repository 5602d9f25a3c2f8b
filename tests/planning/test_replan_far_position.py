"""A re-plan with an engineer who cannot get home before the shift ends publishes.

Plan run 557 (QA, 2026-12-07): an API fuzzer reported an engineer's position at (0, 0), then
removed on-call cover; the `on_call_removed` re-plan started that engineer there, where not even
an empty route gets home inside the shift, and the engine's repair crashed (`IndexError: pop from
empty list`), so the run failed. The engineer's visits are dropped and placed again instead."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.models import PlanDay, PlanRun, PlanStop, PlanUnassigned
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _job_stops(db: Session, run_id: int) -> list[PlanStop]:
    return list(db.scalars(select(PlanStop).where(PlanStop.plan_run_id == run_id, PlanStop.kind == "job")))


def test_a_replan_whose_engineer_cannot_get_home_in_time_moves_the_visits_and_publishes(
    db: Session,
) -> None:
    w = pw.build(db, jobs=4, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    first = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    assert plan_runs.execute(first.id) == "published"
    stops = _job_stops(db, first.id)
    busy = max(w.engineers, key=lambda e: sum(s.engineer_id == e.id for s in stops))
    visits = {s.work_order_id for s in stops if s.engineer_id == busy.id}
    assert visits
    zone = ZoneInfo(w.region.timezone)
    cover = engineers.add_on_call(
        db,
        engineer=busy,
        starts_at=datetime.combine(today, time(20), zone),
        ends_at=datetime.combine(today, time(23), zone),
        note="",
        actor=None,
    )
    db.commit()  # an `on_call` re-plan, from Munich
    engineers.set_position(db, engineer=busy, latitude=0.0, longitude=0.0, at=None)
    db.commit()

    engineers.remove_on_call(db, engineer=busy, on_call_id=cover.id, actor=None)
    db.commit()  # the `on_call_removed` re-plan runs now (eager tasks), from (0, 0)

    db.expire_all()
    run = db.scalars(select(PlanRun).where(PlanRun.trigger == "on_call_removed")).one()
    assert (run.kind, run.status) == ("replan", "published"), run.error
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == run.id
    now_stops = _job_stops(db, run.id)
    assert not [s for s in now_stops if s.engineer_id == busy.id]
    unassigned = set(
        db.scalars(select(PlanUnassigned.work_order_id).where(PlanUnassigned.plan_run_id == run.id))
    )
    assert visits <= {s.work_order_id for s in now_stops} | unassigned  # each placed again or explained
