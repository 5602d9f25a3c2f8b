"""Plan runs: create, execute (load → solve → publish) and collect a fan-out.

A run is a database row from the moment it is requested, so its status and progress read the
same whether tasks run in-process or on workers. `execute` is what the Celery task calls; it is
safe to call twice for the same run (a redelivered message): a finished run is left alone, a
running one is taken over, and the publish step lets only one attempt write.

Three short transactions, none held open across the solve: claim + load, progress updates,
publish.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

import dispatch
from app.models import (
    PlanDay,
    PlanRun,
    PlanRunStatus,
    PlanStop,
    Region,
    User,
)
from app.models.planning import FINISHED_RUN
from app.planning import held, proposals
from app.planning import keys as plan_keys
from app.planning import publish as plan_publish
from app.planning import service as planning
from app.platform import metrics
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.errors import Unprocessable, refuse
from app.platform.inputs import problem_with
from app.platform.outbox import enqueue

log = logging.getLogger(__name__)
TASKS = {"plan": "fieldline.plan.region", "replan": "fieldline.replan.region"}
MAX_CONFLICT_RETRIES = 3
PROGRESS_EVERY_S = 0.5
AUTO_MIN_S, AUTO_PER_JOB_S = 2.0, 0.25


def create_run(
    session: Session,
    *,
    region_id: int,
    day: date,
    kind: str = "plan",
    trigger: str = "api",
    trigger_ref: str = "",
    requested_by: User | None = None,
    time_limit_s: float | None = None,
    solution_limit: int | None = None,
    seed: int = 0,
    batch_id: int | None = None,
    request_key: str | None = None,
    retry_of_id: int | None = None,
    send: bool = True,
    propose: bool = False,
) -> PlanRun:
    """A queued run; its task is sent after the transaction commits (`send=False`: the caller
    sends it, e.g. as part of a chord)."""
    if problem := problem_with(day):  # tasks, triggers and the CLI, not only the API's schemas
        refuse([{"field": "date", "message": f"the date {problem}"}])
    if session.get(Region, region_id) is None:
        raise Unprocessable(
            f"Region {region_id} does not exist.",
            errors=[{"field": "region_id", "message": f"region {region_id} does not exist"}],
        )
    s = get_settings()
    auto = time_limit_s is None
    if time_limit_s is None:
        time_limit_s = s.replan_time_limit_s if kind == "replan" else s.plan_time_limit_s
    run = PlanRun(
        region_id=region_id,
        day=day,
        kind=kind,
        trigger=trigger,
        trigger_ref=trigger_ref,
        requested_by_id=requested_by.id if requested_by else None,
        time_limit_s=time_limit_s,
        solution_limit=solution_limit,
        seed=seed,
        batch_id=batch_id,
        request_key=request_key,
        retry_of_id=retry_of_id,
        summary={},
        stats={"auto_time_limit": auto},
        propose=propose,
    )
    session.add(run)
    session.flush()
    if send:
        enqueue(session, TASKS[kind], run_id=run.id)
    return run


def get_run(session: Session, run_id: int) -> PlanRun | None:
    return session.get(PlanRun, run_id)


def _claim(session: Session, run_id: int) -> PlanRun | None:
    run = session.scalar(
        select(PlanRun)
        .where(PlanRun.id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if run is None or run.status in FINISHED_RUN:
        return None
    now = utcnow()
    run.status = PlanRunStatus.running.value
    run.attempts += 1
    run.started_at = run.started_at or now
    run.heartbeat_at = now
    run.stats = {**run.stats, "queue_s": round((now - run.created_at).total_seconds(), 3)}
    session.flush()
    return run


def solver_settings(run: PlanRun) -> dispatch.Settings:
    if run.solution_limit is not None:
        # A solution limit is a fixed amount of work: one deterministic search.
        return dispatch.Settings(workers=1, deterministic=True)
    return dispatch.Settings(workers=max(1, get_settings().plan_solver_workers))


class _Progress:
    """Writes percent and best objective to the run row, at most every PROGRESS_EVERY_S."""

    def __init__(self, run_id: int, time_limit: float) -> None:
        self.run_id, self.time_limit = run_id, time_limit
        self.best: int | None = None
        self.last = 0.0

    def __call__(self, elapsed: float, objective: int) -> None:
        if self.best is None or objective < self.best:
            self.best = objective
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        pct = min(99, int(100 * elapsed / max(self.time_limit, 0.001)))
        try:
            with unit_of_work() as session:
                session.execute(
                    update(PlanRun)
                    .where(PlanRun.id == self.run_id, PlanRun.status == PlanRunStatus.running)
                    .values(progress=pct, best_objective=self.best, heartbeat_at=utcnow())
                )
        except Exception:  # progress is advisory: never let it break the solve
            log.exception("plan run %s: progress update failed", self.run_id)


def execute(run_id: int) -> str:
    """Load, solve and publish one run; returns its final status.

    Whatever goes wrong ends the run `failed` with the reason on the row — except the database
    being unreachable: then nothing can be written, the run stays `running` and the sweeper
    re-runs it once its heartbeat is old (app/planning/sweeper.py)."""
    t0 = time.monotonic()
    ran: list[bool] = []  # set once the run is claimed: a finished or missing run is not timed
    try:
        status = _execute(run_id, t0, ran)
    except (OperationalError, InterfaceError):
        log.exception("plan run %s: database unavailable; left for the sweeper", run_id)
        raise
    except Exception as exc:
        log.exception("plan run %s failed", run_id)
        status = fail_unfinished(run_id, f"the run failed: {exc!r}")
    if ran:
        metrics.PLAN_RUN.labels(status).observe(time.monotonic() - t0)
    return status


def fail_unfinished(run_id: int, error: str) -> str:
    """Mark a run failed with `error` unless it already finished; returns its status."""
    with unit_of_work() as session:
        session.execute(
            update(PlanRun)
            .where(PlanRun.id == run_id, PlanRun.status.in_([PlanRunStatus.queued, PlanRunStatus.running]))
            .values(status=PlanRunStatus.failed.value, error=error[:4000], finished_at=utcnow())
        )
        status = session.scalar(select(PlanRun.status).where(PlanRun.id == run_id))
    return status or "missing"


def _execute(run_id: int, t0: float, ran: list[bool]) -> str:
    with unit_of_work() as session:
        run = _claim(session, run_id)
        if run is None:
            found = session.get(PlanRun, run_id)
            return found.status if found else "missing"
        ran.append(True)
        params = {
            "kind": run.kind,
            "time_limit_s": run.time_limit_s,
            "solution_limit": run.solution_limit,
            "seed": run.seed,
        }
        as_of = _as_of(session, run)
        try:
            loaded = planning.load(
                session,
                region_id=run.region_id,
                day=run.day,
                as_of=as_of,
                settings=solver_settings(run),
                solve_params=params,
                hold_hand_times=run.kind == "replan",  # automatic: a time set by hand stays
            )
        except (ValueError, Unprocessable) as exc:
            _fail(run, f"the day could not be turned into a plan: {exc}")
            return run.status
        run.fingerprint = loaded.fingerprint
        run.as_of = as_of
        run.heartbeat_at = utcnow()
        load_s = time.monotonic() - t0
        run.stats = {
            **run.stats,
            "load_s": round(load_s, 3),
            "jobs": len(loaded.versions),
            "engineers": len(loaded.problem.engineers) if loaded.problem else 0,
        }
        same = _same_as_published(session, run, loaded)
        if same is not None:
            run.status, run.finished_at, run.progress = PlanRunStatus.unchanged.value, utcnow(), 100
            run.summary = {**same.summary, "same_as_run": same.id}
            return run.status
        initial = previous_plan(session, loaded) if run.kind == "replan" else None
        time_limit, seed, solution_limit = run.time_limit_s, run.seed, run.solution_limit
        propose = run.propose
        if run.stats.get("auto_time_limit") and run.kind == "plan":
            # The configured limit is a cap: a small day needs less (a few seconds per 10 visits).
            time_limit = min(time_limit, max(AUTO_MIN_S, AUTO_PER_JOB_S * len(loaded.versions)))
        run.stats = {**run.stats, "time_limit_s": time_limit}

    t1 = time.monotonic()
    plan = None

    def _solve(problem: dispatch.Problem, start: dispatch.Plan | None) -> dispatch.Plan:
        if start is not None and loaded.as_of is not None:
            # During the day: keep the published order (repaired where it no longer fits),
            # insert what is new, improve in the time left.
            now_s = plan_keys.to_s_up(loaded.ref, loaded.as_of)
            return dispatch.replan(start, problem, now=now_s, time_limit=time_limit, seed=seed)
        return dispatch.solve(
            problem,
            time_limit=time_limit,
            seed=seed,
            solution_limit=solution_limit,
            progress=_Progress(run_id, time_limit),
            initial=start,
        )

    try:
        if loaded.problem is not None and loaded.problem.jobs:
            # A visit kept at a time set by hand that the day cannot fit stays there (the publish):
            # solved again with its time blocked, so no other stop of its engineer overlaps it.
            plan = held.solve(loaded.problem, {plan_keys.job_key(i) for i in loaded.held}, initial, _solve)
    except Exception as exc:  # recorded on the run, not raised: a fan-out's chord must still collect
        log.exception("plan run %s: solver failed", run_id)
        with unit_of_work() as session:
            failed = session.get(PlanRun, run_id)
            assert failed is not None
            _fail(failed, f"the solver failed: {exc!r}")
            return failed.status
    solve_s = time.monotonic() - t1

    t2 = time.monotonic()
    with unit_of_work() as session:
        if propose:
            return proposals.keep(session, run_id=run_id, loaded=loaded, plan=plan, solve_s=solve_s)
        status = plan_publish.publish(session, run_id=run_id, loaded=loaded, plan=plan)
        run = session.get(PlanRun, run_id)
        assert run is not None
        run.stats = {
            **run.stats,
            "solve_s": round(solve_s, 3),
            "publish_s": round(time.monotonic() - t2, 3),
            "total_s": round(time.monotonic() - t0, 3),
            "engine": {
                k: v
                for k, v in (plan.stats if plan else {}).items()
                if k in ("first_objective", "solve_s", "workers", "worker_objectives")
            },
        }
        if status == PlanRunStatus.conflict:
            retry_after_conflict(session, run)
    return status


def _as_of(session: Session, run: PlanRun) -> datetime | None:
    """A plan of today (a re-plan, or a day plan asked for late) freezes the day at this moment:
    nothing is put before now, started visits stay. Other days are planned whole."""
    region = session.get(Region, run.region_id)
    assert region is not None
    now = utcnow()
    return now if plan_keys.local_day(now, region.timezone) == run.day else None


def _fail(run: PlanRun, error: str) -> None:
    run.status, run.error, run.finished_at = PlanRunStatus.failed.value, error[:4000], utcnow()


def _same_as_published(session: Session, run: PlanRun, loaded: planning.Loaded) -> PlanRun | None:
    if loaded.current_run_id is None:
        return None
    current = session.get(PlanRun, loaded.current_run_id)
    if current is not None and current.fingerprint == loaded.fingerprint and current.id != run.id:
        return current
    return None


def retry_after_conflict(session: Session, run: PlanRun) -> PlanRun | None:
    """Work orders changed while the run solved: plan again on the new state (bounded)."""
    depth, cur = 0, run
    while cur.retry_of_id is not None and depth <= MAX_CONFLICT_RETRIES:
        depth += 1
        prev = session.get(PlanRun, cur.retry_of_id)
        if prev is None:
            break
        cur = prev
    if depth >= MAX_CONFLICT_RETRIES:
        log.warning("plan run %s: still conflicting after %s retries; giving up", run.id, depth)
        return None
    retry = create_run(
        session,
        region_id=run.region_id,
        day=run.day,
        kind=run.kind,
        trigger="conflict",
        trigger_ref=str(run.id),
        time_limit_s=run.time_limit_s,
        solution_limit=run.solution_limit,
        seed=run.seed,
        retry_of_id=run.id,
        propose=run.propose,
    )
    run.summary = {**run.summary, "retried_as": retry.id}
    return retry


def previous_plan(session: Session, loaded: planning.Loaded) -> dispatch.Plan | None:
    """The published routes still ahead, as an engine plan a re-plan starts from. Visits that
    started are in no route (the problem has them frozen); a pickup whose time passed is left out
    too: parts move to a van only when the engineer confirms the pickup."""
    if loaded.current_run_id is None or loaded.problem is None:
        return None
    now = loaded.as_of
    jobs = {j.id for j in loaded.problem.jobs}
    sku = {pid: key for key, pid in loaded.part_ids.items()}
    routes: dict[str, list[dispatch.Stop]] = {}
    for st in session.scalars(
        select(PlanStop)
        .where(PlanStop.plan_run_id == loaded.current_run_id, PlanStop.fixed.is_(False))
        .order_by(PlanStop.engineer_id, PlanStop.seq)
    ):
        eng = plan_keys.cover_key(st.engineer_id, st.cover)
        times = (
            plan_keys.to_s(loaded.ref, st.arrival_at),
            plan_keys.to_s(loaded.ref, st.start_at),
            plan_keys.to_s(loaded.ref, st.end_at),
        )
        if st.kind == "job" and st.work_order_id is not None and plan_keys.job_key(st.work_order_id) in jobs:
            routes.setdefault(eng, []).append(
                dispatch.Stop("job", plan_keys.job_key(st.work_order_id), *times)
            )
        elif st.kind == "pickup" and st.warehouse_id is not None and (now is None or st.start_at > now):
            parts = {sku[int(p)]: q for p, q in st.parts.items() if int(p) in sku}
            if parts:
                routes.setdefault(eng, []).append(
                    dispatch.Stop("pickup", plan_keys.warehouse_key(st.warehouse_id), *times, parts)
                )
    if not routes:
        return None
    return dispatch.Plan(
        routes=tuple(dispatch.Route(e, tuple(s), 0, 0, 0, 0) for e, s in routes.items()),
        unassigned=(),
        objective=0,
        unserved_weight=0,
        lateness_s=0,
        travel_m=0,
    )


def published_run(session: Session, region_id: int, day: date) -> PlanRun | None:
    pd = session.scalar(select(PlanDay).where(PlanDay.region_id == region_id, PlanDay.day == day))
    return session.get(PlanRun, pd.current_run_id) if pd and pd.current_run_id else None
