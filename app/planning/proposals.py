"""Proposed plan runs: solved, kept, and published only when a dispatcher accepts them.

A run with `propose` stops after the solve: the engine's plan is stored on the run (`proposal`,
the routes and unassigned visits as plain JSON) with the summary and what would change against
the published plan (visits moved, newly served, dropped). Accepting loads the day again *as of the
same moment*: if the input fingerprint is unchanged the stored plan is published through the
normal guarded publish; if anything changed the proposal is stale and the day is planned again
(app/planning/accept.py).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import PlanRun, PlanRunStatus, PlanStop, WorkOrder
from app.planning import keys as plan_keys
from app.planning import publish as plan_publish
from app.planning import service as planning
from app.platform.db import utcnow

MOVED_AFTER = timedelta(minutes=1)
LISTED = 50  # numbers listed per kind of change (the counts are complete)


def to_dict(plan: dispatch.Plan) -> dict[str, Any]:
    return {
        "routes": [
            {
                "engineer_id": r.engineer_id,
                "departure": r.departure,
                "arrival_home": r.arrival_home,
                "travel_m": r.travel_m,
                "travel_s": r.travel_s,
                "stops": [dataclasses.asdict(s) for s in r.stops],
            }
            for r in plan.routes
        ],
        "unassigned": [dataclasses.asdict(u) for u in plan.unassigned],
        "objective": plan.objective,
        "unserved_weight": plan.unserved_weight,
        "lateness_s": plan.lateness_s,
        "travel_m": plan.travel_m,
        "overtime_s": plan.overtime_s,
        "estimated": plan.estimated,
    }


def from_dict(data: dict[str, Any], problem: dispatch.Problem | None) -> dispatch.Plan:
    routes = tuple(
        dispatch.Route(
            r["engineer_id"],
            tuple(dispatch.Stop(**s) for s in r["stops"]),
            r["departure"],
            r["arrival_home"],
            r["travel_m"],
            r["travel_s"],
        )
        for r in data["routes"]
    )
    return dispatch.Plan(
        routes=routes,
        unassigned=tuple(dispatch.Unassigned(**u) for u in data["unassigned"]),
        objective=data["objective"],
        unserved_weight=data["unserved_weight"],
        lateness_s=data["lateness_s"],
        travel_m=data["travel_m"],
        overtime_s=data.get("overtime_s", 0),
        estimated=data.get("estimated", False),
        problem=problem,
    )


def changes(session: Session, loaded: planning.Loaded, plan: dispatch.Plan | None) -> dict[str, Any]:
    """What publishing `plan` would change against the published plan of the day."""
    before: dict[int, tuple[int, Any]] = {}
    if loaded.current_run_id is not None:
        for row in session.scalars(
            select(PlanStop).where(
                PlanStop.plan_run_id == loaded.current_run_id,
                PlanStop.kind == "job",
                PlanStop.work_order_id.is_not(None),
            )
        ):
            before[row.work_order_id] = (row.engineer_id, row.start_at)  # type: ignore[index]
    considered = set(loaded.versions)  # the visits this plan decided on
    after: dict[int, tuple[int, Any]] = {}
    for route in plan.routes if plan else ():
        engineer = plan_keys.key_id(route.engineer_id)
        for st in route.stops:
            if st.kind == "job" and plan_keys.key_id(st.id) in considered:
                after[plan_keys.key_id(st.id)] = (engineer, plan_keys.from_s(loaded.ref, st.start))
    # A visit kept at a time set by hand that the engine could not fit is not dropped: the publish
    # writes it where it stands (`publish._held_stop`), so it counts as there (the what-if said
    # "Dropped" of a visit the re-plan keeps at 21:30).
    for wo, (engineer, start) in loaded.held.items():
        if wo in considered:
            after.setdefault(wo, (engineer, start))
    moved = [
        wo
        for wo, (eng, start) in after.items()
        if wo in before and (before[wo][0] != eng or abs(before[wo][1] - start) > MOVED_AFTER)
    ]
    new = [wo for wo in after if wo not in before]
    dropped = [wo for wo in before if wo in considered and wo not in after]
    numbers = dict(
        session.execute(
            select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(moved + new + dropped or [-1]))
        )
        .tuples()
        .all()
    )

    def listed(ids: list[int]) -> list[str]:
        return sorted(numbers.get(i) or str(i) for i in ids)[:LISTED]

    return {
        "moved": len(moved),
        "newly_served": len(new),
        "dropped": len(dropped),
        "moved_visits": listed(moved),
        "new_visits": listed(new),
        "dropped_visits": listed(dropped),
    }


def keep(
    session: Session, *, run_id: int, loaded: planning.Loaded, plan: dispatch.Plan | None, solve_s: float
) -> str:
    """End a proposing run: store the plan and what it would change, publish nothing."""
    run = session.get_one(PlanRun, run_id)
    if run.status != PlanRunStatus.running:
        return run.status  # finished already (a redelivered task)
    run.proposal = to_dict(plan) if plan else None
    run.summary = {
        **run.summary,
        **plan_publish.plan_summary(loaded, plan),
        "changes": changes(session, loaded, plan),
    }
    run.objective = plan.objective if plan else None
    run.status, run.progress, run.finished_at = PlanRunStatus.proposed.value, 100, utcnow()
    run.stats = {**run.stats, "solve_s": round(solve_s, 3)}
    return run.status
