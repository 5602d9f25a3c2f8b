"""Celery tasks of dispatch planning: thin wrappers around app/planning/runs.py and app/planning/notify.py.

Queues (app/platform/worker.py routes): `fieldline.plan.*` → `plans` (day plans, fan-out),
`fieldline.replan.*` → `urgent` (event re-plans; a worker on `urgent` alone means an emergency
never waits behind a day plan), the rest → `default`.

Every task is idempotent and acknowledged late (`acks_late`, `reject_on_worker_lost`): a pool
process killed mid-solve puts the message back, the redelivery re-runs the same plan run, and
the publish step writes it once. A lost whole worker's run is re-sent by the sweeper once its
heartbeat is older than its time limit + PLAN_RUN_GRACE_S (app/planning/sweeper.py), and Redis
redelivers the message after the visibility timeout (`CELERY_VISIBILITY_TIMEOUT_S`, longer than
the longest task).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, chord

from app.field.workorders import risk
from app.planning import batches as plan_batches
from app.planning import notify, sweeper
from app.planning import runs as plan_runs
from app.planning import triggers as plan_triggers
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.worker import celery_app

log = logging.getLogger(__name__)
RELIABLE: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


@celery_app.task(name="fieldline.plan.region", ignore_result=False, **RELIABLE)
def plan_region(run_id: int) -> str:
    """Plan one region's day (a queued PlanRun)."""
    return plan_runs.execute(run_id)


@celery_app.task(name="fieldline.replan.region", ignore_result=False, **RELIABLE)
def replan_region(run_id: int) -> str:
    """Re-plan a region's day after an event (emergency, sickness, lateness, cancellation, a
    removed absence or cover)."""
    return plan_runs.execute(run_id)


@celery_app.task(name="fieldline.plan.all_regions", **RELIABLE)
def plan_all_regions(batch_id: int) -> None:
    """Fan-out: one `plan.region` task per run of the batch, a chord to collect them. Without a
    broker (in-process or eager) the runs execute one after the other, then the collect."""
    from sqlalchemy import select

    from app.models import PlanBatch, PlanRun

    with unit_of_work() as session:
        if session.get(PlanBatch, batch_id) is None:
            return
        run_ids = list(
            session.scalars(select(PlanRun.id).where(PlanRun.batch_id == batch_id).order_by(PlanRun.id))
        )
    if get_settings().celery_broker_url and celery_app.conf.result_backend:
        chord(plan_region.si(r) for r in run_ids)(collect_batch.si(batch_id))
        return
    for r in run_ids:
        plan_runs.execute(r)
    plan_batches.maybe_collect(batch_id)


@celery_app.task(name="fieldline.plan.collect", bind=True, max_retries=60, **RELIABLE)
def collect_batch(self: Task[Any, Any], batch_id: int) -> dict[str, Any] | None:
    """The chord's body: totals over the batch, written once. Should a duplicated header task
    fire it early, it waits for the runs still going."""
    with unit_of_work() as session:
        pending = plan_batches.batch_summary(session, batch_id) is None
    if pending:
        raise self.retry(countdown=5)
    return plan_batches.maybe_collect(batch_id)


@celery_app.task(name="fieldline.replan.check_late", **RELIABLE)
def check_late() -> int:
    """Beat (every minute): re-plan regions whose visits run behind the clock, and mark visits
    whose ETA has slipped past their arrival due time at risk."""
    with unit_of_work() as session:
        runs = plan_triggers.check_late(session)
        risk.sweep(session, at=utcnow())
    if runs:
        log.info("late visits: re-plan runs %s", runs)
    return len(runs)


@celery_app.task(name="fieldline.notify.deliver", **RELIABLE)
def deliver_notification(notification_id: int) -> str | None:
    """Send one customer notification (claimed first, so duplicates send nothing twice)."""
    with unit_of_work() as session:
        notice = notify.claim(session, notification_id)
    if notice is None:
        return None
    error = None
    try:
        notify.get_sender().send(notice)
    except Exception as exc:  # retried by deliver_due
        log.warning("notification %s failed: %r", notification_id, exc)
        error = repr(exc)
    with unit_of_work() as session:
        return notify.record(session, notification_id, error)


@celery_app.task(name="fieldline.notify.deliver_due", **RELIABLE)
def deliver_due_notifications() -> int:
    """Beat: retry failed sends and claims left by a lost worker."""
    with unit_of_work() as session:
        ids = notify.due_ids(session)
    for i in ids:
        deliver_notification(i)
    return len(ids)


@celery_app.task(name="fieldline.sweep.plan_runs")
def sweep_plan_runs() -> dict[str, list[int]]:
    """Beat (every 30 s): re-send runs left queued, re-run or fail runs whose worker is gone."""
    with unit_of_work() as session:
        result = sweeper.sweep(session)
    return {"resent": result.resent, "requeued": result.requeued, "failed": result.failed}
