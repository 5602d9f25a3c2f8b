"""Published plans for the demo's past days, rebuilt from the visits the seed wrote.

The seed writes months of visits (check-in and check-out times) but no plans, so every KPI read
from plans had nothing behind it in the demo: travel share counts only the days a published plan
covered (docs/kpis.md) and showed "–", and the board showed nothing on a past day. This writes, per
region and past day, the plan that the day's visits followed: each engineer's visits in check-in
order, driven from home and back at the planner's own travel model (`dispatch.matrix.GreatCircle`,
as the solver prices a route), and marks the runs `trigger = "seed"`. Only the demo calls it;
nothing here re-plans a day.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import Engineer, PlanDay, PlanRoute, PlanRun, PlanStop, Region, Site, WorkOrder
from dispatch.matrix import GreatCircle

CHUNK = 5000  # stops held before they are written (one executemany each for routes and stops)


@dataclass(frozen=True, slots=True)
class _Visit:
    work_order_id: int
    checked_in_at: datetime
    checked_out_at: datetime
    location: tuple[float, float]


@dataclass(frozen=True)
class History:
    region_days: int
    routes: int
    stops: int


def publish_history(session: Session, *, before: date) -> History:
    """A published plan for every region-day before ``before`` (a local date) whose engineers
    checked in and out of visits, unless that region-day already has one."""
    engineers = {
        e.id: (e.region_id, (e.home_latitude, e.home_longitude))
        for e in session.execute(
            select(Engineer.id, Engineer.region_id, Engineer.home_latitude, Engineer.home_longitude)
        )
    }
    zones = {rid: ZoneInfo(tz) for rid, tz in session.execute(select(Region.id, Region.timezone))}
    taken = set(session.execute(select(PlanDay.region_id, PlanDay.day)).tuples())
    days: dict[tuple[int, date], dict[int, list[_Visit]]] = defaultdict(lambda: defaultdict(list))
    stmt = (
        select(
            WorkOrder.id,
            WorkOrder.engineer_id,
            WorkOrder.checked_in_at,
            WorkOrder.checked_out_at,
            Site.latitude,
            Site.longitude,
        )
        .join(Site, Site.id == WorkOrder.site_id)
        .where(WorkOrder.checked_out_at.is_not(None), WorkOrder.engineer_id.is_not(None))
    )
    for wo_id, eid, inn, out, lat, lon in session.execute(stmt).tuples():
        if eid is None or inn is None or out is None or eid not in engineers:
            continue
        region_id = engineers[eid][0]
        day = inn.astimezone(zones[region_id]).date()  # UTC from the column type
        if day >= before or (region_id, day) in taken:
            continue
        days[(region_id, day)][eid].append(_Visit(wo_id, inn, out, (lat, lon)))

    travel = GreatCircle()
    routes: list[dict[str, Any]] = []
    stops: list[dict[str, Any]] = []
    n_routes = n_stops = 0
    for (region_id, day), by_engineer in sorted(days.items()):
        day_before = datetime.combine(day - timedelta(days=1), datetime.min.time(), zones[region_id])
        planned_at = (day_before + timedelta(hours=15)).astimezone(UTC)  # the daily run at 15:00
        run = PlanRun(
            region_id=region_id,
            day=day,
            kind="plan",
            trigger="seed",
            status="published",
            attempts=1,
            progress=100,
            created_at=planned_at,
            started_at=planned_at,
            finished_at=planned_at,
            published_at=planned_at,
        )
        session.add(run)
        session.flush()
        served = 0
        km = 0.0
        for eid, visits in sorted(by_engineer.items()):
            visits.sort(key=lambda v: (v.checked_in_at, v.work_order_id))
            home = engineers[eid][1]
            points = [home, *(v.location for v in visits), home]
            # the planner's own pricing of this order of stops: each leg is one step along the path
            matrix = travel.matrix(points)
            steps = (np.arange(len(points) - 1), np.arange(1, len(points)))
            legs_m = [int(m) for m in matrix.distance_m[steps]]
            legs_s = [int(s) for s in matrix.duration_s[steps]]
            routes.append(
                {
                    "plan_run_id": run.id,
                    "engineer_id": eid,
                    "departure_at": visits[0].checked_in_at - timedelta(seconds=legs_s[0]),
                    "return_at": visits[-1].checked_out_at + timedelta(seconds=legs_s[-1]),
                    "travel_m": sum(legs_m),
                    "travel_s": sum(legs_s),
                    "jobs": len(visits),
                    "late_s": 0,
                }
            )
            for seq, visit in enumerate(visits):
                stops.append(
                    {
                        "plan_run_id": run.id,
                        "engineer_id": eid,
                        "seq": seq,
                        "kind": "job",
                        "work_order_id": visit.work_order_id,
                        "warehouse_id": None,
                        "arrival_at": visit.checked_in_at,
                        "start_at": visit.checked_in_at,
                        "end_at": visit.checked_out_at,
                        "late_s": 0,
                        "parts": {},
                        "fixed": True,
                        "locked": False,
                        "cover": None,
                    }
                )
            served += len(visits)
            km += sum(legs_m) / 1000
        n_routes, n_stops = n_routes + len(by_engineer), n_stops + served
        run.summary = {
            "served": served,
            "unassigned": 0,
            "unassigned_by_reason": {},
            "engineers": len(by_engineer),
            "travel_km": round(km, 1),
            "history": True,  # rebuilt from the seeded visits, not solved
        }
        session.add(PlanDay(region_id=region_id, day=day, current_run_id=run.id, published_at=planned_at))
        if len(stops) >= CHUNK:  # written as they come: a large seed has hundreds of thousands
            _write(session, routes, stops)
    _write(session, routes, stops)
    session.flush()
    return History(region_days=len(days), routes=n_routes, stops=n_stops)


def _write(session: Session, routes: list[dict[str, Any]], stops: list[dict[str, Any]]) -> None:
    """Insert the buffered rows (routes first: stops follow them) and empty the buffers."""
    for table, rows in ((PlanRoute, routes), (PlanStop, stops)):
        if rows:
            session.execute(insert(table), rows)
        rows.clear()
