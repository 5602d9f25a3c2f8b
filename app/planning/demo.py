"""Publish plans for a few days in every region, in-process: the demo seed's last step, so a
new user sees routes (and any visit at risk) at once instead of an empty planning board."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from app.models import PlanRun, Region, WorkOrder
from app.planning import runs as plan_runs
from app.platform.db import unit_of_work

# Demo days are small: a bounded, deterministic search is plenty and keeps `fieldline seed` fast.
DEMO_TIME_LIMIT_S = 2.0
DEMO_SOLUTION_LIMIT = 50


@dataclass(frozen=True)
class Published:
    runs: int
    published: int
    served: int
    unassigned: int
    at_risk: int
    seconds: float


def publish_days(days: Sequence[date]) -> Published:
    """One plan run per region and day, executed here and now (load, solve, publish)."""
    t0 = time.perf_counter()
    with unit_of_work() as session:
        regions = list(session.scalars(select(Region.id).order_by(Region.id)))
        run_ids = [
            plan_runs.create_run(
                session,
                region_id=region_id,
                day=day,
                trigger="seed",
                time_limit_s=DEMO_TIME_LIMIT_S,
                solution_limit=DEMO_SOLUTION_LIMIT,
                send=False,
            ).id
            for day in days
            for region_id in regions
        ]
    statuses = [plan_runs.execute(run_id) for run_id in run_ids]
    with unit_of_work() as session:
        summaries = [r.summary for r in session.scalars(select(PlanRun).where(PlanRun.id.in_(run_ids)))]
        at_risk = session.scalar(
            select(func.count()).select_from(WorkOrder).where(WorkOrder.at_risk_since.is_not(None))
        )
    return Published(
        runs=len(run_ids),
        published=sum(s == "published" for s in statuses),
        served=sum(int(s.get("served", 0)) for s in summaries),
        unassigned=sum(int(s.get("unassigned", 0)) for s in summaries),
        at_risk=int(at_risk or 0),
        seconds=time.perf_counter() - t0,
    )
