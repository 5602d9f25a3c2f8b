"""/api/v1/plans and /api/v1/plan-batches: request plan runs, follow their progress.

A run is a row from the moment it is requested (202 + Location); the task runs it on a worker
(or in-process) and writes its progress and result to the same row.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanBatch, PlanDay, PlanRun
from app.planning import accept as plan_accept
from app.planning import batches as plan_batches
from app.planning import runs as plan_runs
from app.planning.schemas import FanOutCreate, PlanBatchRead, PlanCreate, PlanRunRead
from app.platform.deps import DbSession, DispatchUser
from app.platform.errors import NotFound
from app.platform.http import IDEMPOTENCY_KEY, Page, idempotent_create, paginate
from app.platform.outbox import enqueue

router = APIRouter(tags=["planning"])


def read_run(db: Session, run: PlanRun) -> PlanRunRead:
    out = PlanRunRead.model_validate(run)
    current = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == run.region_id, PlanDay.day == run.day)
    )
    out.is_current = current == run.id
    return out


def _run_or_404(db: Session, run_id: int) -> PlanRun:
    run = db.get(PlanRun, run_id)
    if run is None:
        raise NotFound(f"Plan run {run_id} does not exist.")
    return run


@router.post("/plans", status_code=202, response_model=PlanRunRead, dependencies=[IDEMPOTENCY_KEY])
def create_plan(body: PlanCreate, request: Request, db: DbSession, user: DispatchUser) -> JSONResponse:
    """Plan a region's day: answers at once with the queued run (poll its Location)."""

    def _create() -> tuple[PlanRunRead, dict[str, str]]:
        run = plan_runs.create_run(
            db,
            region_id=body.region_id,
            day=body.date,
            trigger="api",
            requested_by=user,
            time_limit_s=body.time_limit_s,
            solution_limit=body.solution_limit,
            seed=body.seed,
            propose=body.propose,
        )
        return read_run(db, run), {"Location": f"/api/v1/plans/{run.id}"}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create, status_code=202)


@router.get("/plans/{run_id}")
def get_plan(run_id: int, db: DbSession, user: DispatchUser) -> PlanRunRead:
    """Status, progress (percent, best objective so far) and, once finished, the result summary."""
    return read_run(db, _run_or_404(db, run_id))


@router.post("/plans/{run_id}/accept")
def accept_plan(run_id: int, db: DbSession, user: DispatchUser) -> PlanRunRead:
    """Publish a proposed run. A proposal whose input changed since (stale) is not published:
    it ends `superseded` and `replanned_as` names the run planning the day again."""
    done = plan_accept.accept(db, _run_or_404(db, run_id), actor=user)
    db.flush()
    out = read_run(db, done.run)
    out.replanned_as = done.replan.id if done.replan else None
    return out


@router.post("/plans/{run_id}/discard")
def discard_plan(run_id: int, db: DbSession, user: DispatchUser) -> PlanRunRead:
    run = _run_or_404(db, run_id)
    plan_accept.discard(db, run, actor=user)
    db.flush()
    return read_run(db, run)


@router.get("/plans")
def list_plans(
    db: DbSession,
    user: DispatchUser,
    region_id: int | None = None,
    day: Annotated[date | None, Query(alias="date")] = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[PlanRunRead]:
    stmt = select(PlanRun)
    if region_id is not None:
        stmt = stmt.where(PlanRun.region_id == region_id)
    if day is not None:
        stmt = stmt.where(PlanRun.day == day)
    if status is not None:
        stmt = stmt.where(PlanRun.status == status)
    rows, next_cursor = paginate(db, stmt, PlanRun.id, cursor=cursor, limit=limit)
    return Page(items=[read_run(db, r) for r in rows], next_cursor=next_cursor)


@router.post("/plan-batches", status_code=202, response_model=PlanBatchRead, dependencies=[IDEMPOTENCY_KEY])
def create_batch(body: FanOutCreate, request: Request, db: DbSession, user: DispatchUser) -> JSONResponse:
    """Plan every region (or those listed) for a day: one task per region, a chord collects."""

    def _create() -> tuple[PlanBatchRead, dict[str, str]]:
        batch, runs = plan_batches.create_batch(
            db,
            day=body.date,
            requested_by=user,
            time_limit_s=body.time_limit_s,
            solution_limit=body.solution_limit,
            region_ids=body.region_ids,
        )
        enqueue(db, "fieldline.plan.all_regions", batch_id=batch.id)
        out = PlanBatchRead.model_validate(batch)
        out.runs = [read_run(db, r) for r in runs]
        return out, {"Location": f"/api/v1/plan-batches/{batch.id}"}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create, status_code=202)


@router.get("/plan-batches/{batch_id}")
def get_batch(batch_id: int, db: DbSession, user: DispatchUser) -> PlanBatchRead:
    batch = db.get(PlanBatch, batch_id)
    if batch is None:
        raise NotFound(f"Plan batch {batch_id} does not exist.")
    out = PlanBatchRead.model_validate(batch)
    runs = db.scalars(select(PlanRun).where(PlanRun.batch_id == batch_id).order_by(PlanRun.id))
    out.runs = [read_run(db, r) for r in runs]
    return out
