"""The plan-run sweeper (beat `fieldline.sweep.plan_runs`): no run stays queued or running forever.

A run's `heartbeat_at` is its last sign of life: when its task was (re-)sent, claimed, loaded,
and each solver progress write. The sweeper looks at unfinished runs:

- **running** with a heartbeat older than the run's time limit + PLAN_RUN_GRACE_S: the worker
  that took it is gone (killed, lost its host). Under PLAN_RUN_MAX_ATTEMPTS it is put back to
  `queued` and its task sent again; after that it ends `failed` with the reason.
- **queued** with a heartbeat (or creation) older than PLAN_QUEUED_RESEND_S: its message may be
  lost (a broker restarted without persistence, a publish that never happened): the task is sent
  again. A run no worker took within PLAN_QUEUED_FAIL_S ends `failed` with the reason.

Idempotent: candidates are locked (`SKIP LOCKED` on PostgreSQL) and re-checked under the lock, so
two sweepers never act on the same run twice; a re-sent task for a run that meanwhile started or
finished is harmless (`runs.execute` claims the row; publishing happens once). The run keeps its
id: nothing is duplicated, only re-sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanRun, PlanRunStatus
from app.planning.runs import TASKS
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.outbox import enqueue

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    resent: list[int] = field(default_factory=list)  # queued runs whose task was sent again
    requeued: list[int] = field(default_factory=list)  # running runs whose worker was lost
    failed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.resent or self.requeued or self.failed)


def sweep(session: Session, now: datetime | None = None) -> SweepResult:
    """Act on stale runs in the caller's transaction (tasks go out after its commit)."""
    s = get_settings()
    now = now or utcnow()
    result = SweepResult()
    candidates = session.scalars(
        select(PlanRun)
        .where(PlanRun.status.in_([PlanRunStatus.queued, PlanRunStatus.running]))
        .order_by(PlanRun.id)
        .with_for_update(skip_locked=True)
    ).all()
    for run in candidates:
        last = run.heartbeat_at or run.created_at
        if run.status == PlanRunStatus.running:
            if now - last <= timedelta(seconds=run.time_limit_s + s.plan_run_grace_s):
                continue
            reason = f"its worker was lost (no sign of life since {last.isoformat(timespec='seconds')})"
            if run.attempts >= s.plan_run_max_attempts or run.kind not in TASKS:
                _fail(run, now, f"{reason}, after {run.attempts} attempts")
                result.failed.append(run.id)
            else:
                run.status = PlanRunStatus.queued.value
                run.progress = 0
                _resend(session, run, now, "lost")
                result.requeued.append(run.id)
        elif run.kind in TASKS:  # queued ("manual" runs are published in the request)
            if now - run.created_at > timedelta(seconds=s.plan_queued_fail_s):
                _fail(run, now, f"no worker took the run within {s.plan_queued_fail_s:.0f} s")
                result.failed.append(run.id)
            elif now - last > timedelta(seconds=s.plan_queued_resend_s):
                _resend(session, run, now, "resent")
                result.resent.append(run.id)
    if result:
        log.warning("plan-run sweep: %s", result)
    return result


def _resend(session: Session, run: PlanRun, now: datetime, counter: str) -> None:
    run.heartbeat_at = now
    run.stats = {**run.stats, counter: int(run.stats.get(counter, 0)) + 1}
    enqueue(session, TASKS[run.kind], run_id=run.id)


def _fail(run: PlanRun, now: datetime, error: str) -> None:
    run.status, run.error, run.finished_at = PlanRunStatus.failed.value, error[:4000], now
