"""Plan runs on real Celery workers through Redis: a solve survives its process being killed.

Skipped unless CELERY_BROKER_URL (a dedicated Redis db) and a PostgreSQL TEST_DATABASE_URL are set:
    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fieldline_test \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/pytest tests/worker/test_planning_worker.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import CustomerNotification, PlanDay, PlanRun, PlanStop
from app.planning import batches as plan_batches
from app.planning import runs as plan_runs
from app.platform.worker import celery_app
from app.platform.worker_launch import spawn_worker, stop_worker
from tests.planning import world as pw
from tests.procs import children as _children
from tests.worker.conftest import ready_or_fail, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("via_broker", "cleanup")]
T = TypeVar("T")
SOLVE_S = 6.0  # long enough to be killed in the middle of it
TIMEOUT_S = 90.0


def wait_until(probe: Callable[[], T | None], what: str, log: Callable[[], str]) -> T:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {TIMEOUT_S:.0f} s waiting for {what}; worker log:\n{log()}")


def _run(db: Session, run_id: int) -> PlanRun:
    db.expire_all()
    run = db.get(PlanRun, run_id)
    db.rollback()  # end the read transaction so the next poll sees the worker's commits
    assert run is not None
    return run


def _published_once(db: Session, run: PlanRun, jobs: int) -> None:
    """Exactly one publication: one published run, one copy of its stops, one notice per visit."""
    published = db.scalar(
        select(func.count())
        .select_from(PlanRun)
        .where(PlanRun.region_id == run.region_id, PlanRun.day == run.day, PlanRun.status == "published")
    )
    assert published == 1
    day = select(PlanDay.current_run_id).where(PlanDay.region_id == run.region_id, PlanDay.day == run.day)
    assert db.scalar(day) == run.id  # (the region may have other days planned: a marker run's)
    visits = list(
        db.scalars(
            select(PlanStop.work_order_id).where(PlanStop.plan_run_id == run.id, PlanStop.kind == "job")
        )
    )
    assert len(visits) == len(set(visits)) == jobs
    notices = list(db.scalars(select(CustomerNotification.work_order_id)))
    assert len(notices) == len(set(notices))
    db.rollback()


def _world(db: Session, jobs: int) -> pw.World:
    w = pw.build(db, jobs=jobs)
    db.commit()
    return w


def test_a_killed_pool_process_is_redelivered_and_publishes_once(
    committed_db: Session, celery_worker: subprocess.Popen[bytes], worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    w = _world(db, jobs=6)
    run = plan_runs.create_run(db, region_id=w.region.id, day=pw.next_weekday(0), time_limit_s=SOLVE_S)
    db.commit()  # the task goes to Redis now; the worker's pool process starts solving
    wait_until(lambda: _run(db, run.id).status == "running", "the solve to start", worker_log_tail)
    time.sleep(1.5)  # well inside the solve
    assert _run(db, run.id).status == "running"
    [child] = _children(celery_worker.pid)  # --concurrency 1: one pool process
    os.kill(child, signal.SIGKILL)
    done = wait_until(
        lambda: (r := _run(db, run.id)).status == "published" and r, "the redelivered run", worker_log_tail
    )
    assert done.attempts == 2, worker_log_tail()  # the killed attempt, then the redelivery
    assert celery_worker.poll() is None  # the worker itself lived on
    _published_once(db, done, jobs=6)
    # A duplicate of the message (as a second redelivery would be) publishes nothing.
    celery_app.send_task("fieldline.plan.region", kwargs={"run_id": run.id})
    marker = plan_runs.create_run(
        # the day after the run's, never before it (on a Tuesday next_weekday(1) is): a marker on an
        # earlier day would plan the run's visits there and take them off the run's day
        db,
        region_id=w.region.id,
        day=run.day + timedelta(days=1),
        time_limit_s=1.0,
        solution_limit=10,
    )
    db.commit()
    wait_until(lambda: _run(db, marker.id).status == "published", "a marker run behind it", worker_log_tail)
    assert _run(db, run.id).attempts == 2
    _published_once(db, _run(db, run.id), jobs=6)


@pytest.fixture
def spare_worker_log(tmp_path: Path) -> Path:
    return tmp_path / "spare.log"


def _start_worker(broker_url: str, log: Path, queue: str, name: str) -> subprocess.Popen[bytes]:
    # Short, so the test need not wait an hour; production keeps it above the longest solve.
    env = worker_env(broker_url, CELERY_VISIBILITY_TIMEOUT_S="8")
    proc = spawn_worker(name, queue, log, env, append=True)
    ready_or_fail(proc, log)
    return proc


@pytest.fixture
def crash_queue(broker_url: str) -> Iterator[str]:
    yield "plans-crash-test"


def test_a_lost_worker_is_recovered_after_the_visibility_timeout(
    committed_db: Session, broker_url: str, crash_queue: str, spare_worker_log: Path
) -> None:
    db = committed_db
    log = lambda: spare_worker_log.read_text(errors="replace")[-4000:]  # noqa: E731
    w = _world(db, jobs=5)
    first = _start_worker(broker_url, spare_worker_log, crash_queue, "doomed")
    second = None
    try:
        run = plan_runs.create_run(
            db, region_id=w.region.id, day=pw.next_weekday(2), time_limit_s=SOLVE_S, send=False
        )
        db.commit()
        celery_app.send_task("fieldline.plan.region", kwargs={"run_id": run.id}, queue=crash_queue)
        wait_until(lambda: _run(db, run.id).status == "running", "the solve to start", log)
        time.sleep(1.0)
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker: main process, pool, solvers
        first.wait(timeout=10)
        lost_at = time.monotonic()
        assert _run(db, run.id).status == "running"  # nobody told the broker
        time.sleep(2.0)
        second = _start_worker(broker_url, spare_worker_log, crash_queue, "rescuer")
        done = wait_until(
            lambda: (r := _run(db, run.id)).status == "published" and r, "the restored message", log
        )
        assert time.monotonic() - lost_at >= 8 - 1  # it came back after the visibility timeout
        assert done.attempts == 2
        _published_once(db, done, jobs=5)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        if second is not None:
            stop_worker(second)


def test_fan_out_runs_one_task_per_region_and_a_chord_collects(
    committed_db: Session, celery_worker: subprocess.Popen[bytes], worker_log_tail: Callable[[], str]
) -> None:
    from app.models import PlanBatch
    from app.platform.outbox import enqueue

    db = committed_db
    worlds = [_world(db, jobs=3), _world(db, jobs=2)]
    batch, runs = plan_batches.create_batch(
        db,
        day=pw.next_weekday(3),
        solution_limit=20,
        time_limit_s=2.0,
        region_ids=[w.region.id for w in worlds],
    )
    enqueue(db, "fieldline.plan.all_regions", batch_id=batch.id)
    db.commit()

    def collected() -> PlanBatch | None:
        db.expire_all()
        b = db.get(PlanBatch, batch.id)
        db.rollback()
        return b if b is not None and b.collected_at is not None else None

    done = wait_until(collected, "the chord's collect step", worker_log_tail)
    assert done.summary["runs"] == 2 and done.summary["by_status"] == {"published": 2}
    assert done.summary["served"] == 5
    # With a broker only the chord's body (fieldline.plan.collect) collects a batch.
    for r in runs:
        assert _run(db, r.id).status == "published"
