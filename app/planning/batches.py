"""Fan-out: one plan run per region for a day, collected once when the last one finishes.

With a broker, `fieldline.plan.all_regions` sends the runs as a Celery chord whose body
(`fieldline.plan.collect`) calls `maybe_collect`; in-process they run one after the other.
Collecting is a conditional UPDATE, so it happens exactly once however often it is attempted.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import PlanBatch, PlanRun, Region, User
from app.models.planning import FINISHED_RUN
from app.planning.runs import create_run
from app.platform.db import unit_of_work, utcnow


def create_batch(
    session: Session,
    *,
    day: date,
    requested_by: User | None = None,
    time_limit_s: float | None = None,
    solution_limit: int | None = None,
    region_ids: list[int] | None = None,
) -> tuple[PlanBatch, list[PlanRun]]:
    """One queued run per region (not sent: the fan-out task sends them as a chord)."""
    batch = PlanBatch(day=day, requested_by_id=requested_by.id if requested_by else None, summary={})
    session.add(batch)
    session.flush()
    ids = region_ids or list(session.scalars(select(Region.id).order_by(Region.id)))
    runs = [
        create_run(
            session,
            region_id=r,
            day=day,
            trigger="fanout",
            requested_by=requested_by,
            time_limit_s=time_limit_s,
            solution_limit=solution_limit,
            batch_id=batch.id,
            send=False,
        )
        for r in ids
    ]
    return batch, runs


def batch_summary(session: Session, batch_id: int) -> dict[str, Any] | None:
    """Totals over the batch's runs; None while one is still queued or running."""
    runs = list(session.scalars(select(PlanRun).where(PlanRun.batch_id == batch_id)))
    if any(r.status not in FINISHED_RUN for r in runs):
        return None
    by_status: dict[str, int] = {}
    for r in runs:
        by_status[r.status] = by_status.get(r.status, 0) + 1
    return {
        "runs": len(runs),
        "by_status": by_status,
        "served": sum(int(r.summary.get("served", 0)) for r in runs),
        "unassigned": sum(int(r.summary.get("unassigned", 0)) for r in runs),
        "solve_s": round(sum(float(r.stats.get("solve_s", 0.0)) for r in runs), 3),
    }


def maybe_collect(batch_id: int) -> dict[str, Any] | None:
    """Mark the batch collected once every run has finished (exactly once: a conditional
    UPDATE); returns its summary when this call collected it."""
    with unit_of_work() as session:
        summary = batch_summary(session, batch_id)
        if summary is None:
            return None
        done = session.execute(
            update(PlanBatch)
            .where(PlanBatch.id == batch_id, PlanBatch.collected_at.is_(None))
            .values(collected_at=utcnow(), summary=summary)
        ).rowcount  # type: ignore[attr-defined]
        return summary if done == 1 else None
