"""What if: the re-plan of a region's day if an engineer stopped working from a given time, or if
an emergency were inserted — computed and shown, never written.

The day is loaded as a plan run would load it (today: from now, frozen where visits started),
the engine input is changed in memory (the engineer's shift cut at that time, or one more
priority-1 job at a place), and the day is re-planned from the published routes (today) or
planned afresh (another day) with a bounded search. The answer is what would change against the
published plan. Making it real is recording the absence or opening the emergency's ticket and
visit: the automatic re-plan then publishes (or proposes, with REPLAN_PROPOSE).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import Engineer, Region, WorkOrder
from app.planning import keys as plan_keys
from app.planning import proposals
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Unprocessable

EMERGENCY_KEY = "WO0"  # no work order has id 0: the inserted emergency's engine key
SOLUTION_LIMIT = 200


@dataclass(frozen=True)
class Emergency:
    latitude_deg: float
    longitude_deg: float
    duration_min: int = 60
    skill: str = ""


def _refuse(field: str, message: str) -> None:
    raise Unprocessable(message, errors=[{"field": field, "message": message}])


def _without(problem: dispatch.Problem, key: str, cut_s: int) -> dispatch.Problem:
    """The engineer (and their on-call stretches) stops at `cut_s`: shift cut, later breaks dropped."""
    engineers = []
    found = False
    for e in problem.engineers:
        if plan_keys.key_id(e.id) != plan_keys.key_id(key):
            engineers.append(e)
            continue
        found = True
        start, end = e.shift
        if cut_s <= start:
            continue  # gone before the shift starts: not in the day at all
        breaks = tuple(b for b in e.breaks if b.window[0] + b.duration_s <= min(end, cut_s))
        engineers.append(replace(e, shift=(start, min(end, cut_s)), breaks=breaks))
    if not found:
        _refuse("engineer_id", "that engineer does not work that day (no shift, absent, or another region)")
    kept = {e.id for e in engineers}
    # Visits pinned to an engineer who is gone may go to anyone (or be left out) in the preview.
    jobs = tuple(
        replace(j, pinned_engineer=None) if j.pinned_engineer and j.pinned_engineer not in kept else j
        for j in problem.jobs
    )
    return replace(problem, engineers=tuple(engineers), jobs=jobs)


def preview(
    session: Session,
    *,
    region_id: int,
    day: date,
    absent_engineer_id: int | None = None,
    absent_from: datetime | None = None,
    emergency: Emergency | None = None,
) -> dict[str, Any]:
    region = session.get(Region, region_id)
    if region is None:
        _refuse("region", f"region {region_id} does not exist")
    assert region is not None
    now = utcnow()
    as_of = now if plan_keys.local_day(now, region.timezone) == day else None
    loaded = planning.load(
        session,
        region_id=region_id,
        day=day,
        as_of=as_of,
        settings=dispatch.Settings(workers=1, deterministic=True),
    )
    if loaded.problem is None:
        _refuse("day", f"nobody works in {region.code} on {day.isoformat()}")
    assert loaded.problem is not None
    problem = loaded.problem
    what: list[str] = []
    if absent_engineer_id is not None:
        engineer = session.get(Engineer, absent_engineer_id)
        if engineer is None or engineer.region_id != region_id:
            _refuse("engineer_id", "choose an engineer of this region")
        assert engineer is not None
        cut = absent_from or plan_keys.day_reference(day, region.timezone)
        problem = _without(problem, plan_keys.engineer_key(engineer.id), plan_keys.to_s(loaded.ref, cut))
        what.append(f"{engineer.name} absent from {cut.isoformat()}")
    new_jobs: list[dispatch.Job] = []
    if emergency is not None:
        new_jobs.append(
            dispatch.Job(
                id=EMERGENCY_KEY,
                location=(emergency.latitude_deg, emergency.longitude_deg),
                duration_s=emergency.duration_min * 60,
                skills=frozenset({emergency.skill} if emergency.skill else ()),
                priority=1,
                on_call_ok=True,
            )
        )
        what.append("an emergency inserted")
    limit = get_settings().replan_time_limit_s
    initial = plan_runs.previous_plan(session, loaded)
    present = {e.id for e in problem.engineers}
    if initial is not None:
        initial = replace(initial, routes=tuple(r for r in initial.routes if r.engineer_id in present))
    if initial is not None and as_of is not None and initial.routes:
        now_s = plan_keys.to_s_up(loaded.ref, as_of)
        plan = dispatch.replan(initial, problem, now=now_s, new_jobs=new_jobs, time_limit=limit, seed=0)
    else:
        problem = replace(problem, jobs=problem.jobs + tuple(new_jobs))
        plan = dispatch.solve(problem, time_limit=limit, seed=0, solution_limit=SOLUTION_LIMIT)
    emergency_at: dict[str, Any] | None = None
    for route in plan.routes:
        for st in route.stops:
            if st.id == EMERGENCY_KEY:
                emergency_at = {
                    "engineer_id": plan_keys.key_id(route.engineer_id),
                    "on_call": plan_keys.cover_of(route.engineer_id) is not None,
                    "start": plan_keys.from_s(loaded.ref, st.start),
                }
    left = next((u for u in plan.unassigned if u.job_id == EMERGENCY_KEY), None)
    changes = proposals.changes(session, loaded, plan)
    left_out = [plan_keys.key_id(u.job_id) for u in plan.unassigned if u.job_id != EMERGENCY_KEY]
    numbers = dict(
        session.execute(select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(left_out or [-1])))
        .tuples()
        .all()
    )
    return {
        "what": what,
        "served": sum(len(r.job_ids) for r in plan.routes) - (1 if emergency_at else 0),
        "unassigned": sorted(numbers.get(i) or str(i) for i in left_out),
        "travel_km": round(plan.travel_m / 1000, 1),
        "lateness_min": plan.lateness_s // 60,
        "changes": changes,
        "emergency": emergency_at,
        "emergency_left": left.detail or left.reason if left else None,
    }
