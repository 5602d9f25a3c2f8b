"""Two visits set by hand to 13:00 on one engineer do not push her emergency out of the empty
morning. QA (demo, runs 551-553): after WO-2043 and WO-591 were scheduled by hand at 13:00 on
Quirin, the re-plans moved his P1 from 09:19 to 14:17 (idle 08:00-12:30) and queued a 14:17 notice
to the P1's customer; a later re-plan put it back at 08:08. The engine priced only travel before a
deadline, so "before the 13:00 visit" and "after it" cost the same and the search, which inserts
the fixed visit first in line, left the P1 behind it (dispatch `Settings.urgent_cost_per_s`)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanStop, WorkOrder
from app.planning import runs as plan_runs
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import SMALL, _current


def test_visits_kept_at_13_leave_the_emergency_in_the_morning(db: Session) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    elec = w.engineers[1]  # the only one with ELEC; home at 48.16, 11.62
    # the two set by hand near her home; the P1 out west, next to an afternoon visit: serving the
    # P1 after 13:00 on the way to that one saves about 18 km of driving
    emergency = pw.add_visit(db, w, skill="ELEC", lat=48.12, lon=11.55, priority="P1")
    afternoon = [(_at(w, day, 14), _at(w, day, 17))]
    pw.add_visit(db, w, skill="ELEC", lat=48.115, lon=11.545, windows=afternoon)
    first = pw.add_visit(db, w, skill="ELEC", lat=48.17, lon=11.63)
    second = pw.add_visit(db, w, skill="ELEC", lat=48.171, lon=11.631, duration_min=60)
    # due by the day's end (the demo's P1 was not late at 14:17 either)
    emergency.sla_deadline_at = _at(w, day, 17)
    db.commit()
    plan = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(plan.id)
    db.expire_all()
    morning = db.get_one(WorkOrder, emergency.id).planned_start_at
    one_pm = _at(w, day, 13)
    assert morning is not None and morning < _at(w, day, 12)

    # both set by hand to 13:00 on her: they cannot both be there, one is kept at risk
    _by_hand(db, w, first.id, elec.id, one_pm)
    _by_hand(db, w, second.id, elec.id, one_pm)
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="replan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, w, day).id == run.id

    stops = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.engineer_id == elec.id)
    ).all()
    at = {s.work_order_id: s.start_at for s in stops if s.kind == "job"}
    assert at[first.id] == at[second.id] == one_pm  # both kept as set
    assert at[emergency.id] <= morning  # still in the morning, not behind them at 14:00 or later
    db.expire_all()
    moved = db.get_one(WorkOrder, emergency.id)
    assert moved.engineer_id == elec.id and moved.planned_start_at == at[emergency.id]
    kept_end = one_pm + timedelta(minutes=45)
    assert all(s.end_at <= one_pm or s.start_at >= kept_end for s in stops if s.work_order_id not in at)
