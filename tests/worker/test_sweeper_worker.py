"""The plan-run sweeper against real workers: a whole worker killed with -9 mid-solve leaves its run
`running`; the sweeper sees its heartbeat stop and re-sends it, another worker publishes it once.

Skipped unless CELERY_BROKER_URL (a dedicated Redis db) and a PostgreSQL TEST_DATABASE_URL are set
(see tests/worker/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.planning import runs as plan_runs
from app.planning import sweeper
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.worker import celery_app
from tests.planning import world as pw
from tests.worker.test_planning_worker import (
    SOLVE_S,
    _children,
    _published_once,
    _run,
    _start_worker,
    _world,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("via_broker", "cleanup")]
CRASH_QUEUE = "plans-sweeper-test"


def test_a_run_whose_whole_worker_died_is_swept_and_published_once(
    committed_db: Session,
    broker_url: str,
    celery_worker: subprocess.Popen[bytes],
    worker_log_tail: Callable[[], str],
    tmp_path: Path,
) -> None:
    db = committed_db
    doomed_log = tmp_path / "doomed.log"
    w = _world(db, jobs=5)
    doomed = _start_worker(broker_url, doomed_log, CRASH_QUEUE, "doomed")
    try:
        run = plan_runs.create_run(
            db, region_id=w.region.id, day=pw.next_weekday(4), time_limit_s=SOLVE_S, send=False
        )
        db.commit()
        celery_app.send_task("fieldline.plan.region", kwargs={"run_id": run.id}, queue=CRASH_QUEUE)
        log = lambda: doomed_log.read_text(errors="replace")[-4000:]  # noqa: E731
        wait_until(lambda: _run(db, run.id).status == "running", "the solve to start", log)
        [pool_child] = _children(doomed.pid)
        os.killpg(doomed.pid, signal.SIGKILL)  # the whole worker: main process and pool child
        doomed.wait(timeout=10)
        wait_until(lambda: not Path(f"/proc/{pool_child}").exists() or None, "the pool child to go", log)
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
    lost = _run(db, run.id)
    assert lost.status == "running" and lost.attempts == 1  # nobody told anyone
    assert lost.heartbeat_at is not None

    # Within its deadline the sweeper leaves it alone; past it, the run is sent again (to `plans`,
    # which the fixture's worker consumes).
    grace = timedelta(seconds=lost.time_limit_s + get_settings().plan_run_grace_s)
    assert not sweeper.sweep(db, now=lost.heartbeat_at + grace - timedelta(seconds=1))
    result = sweeper.sweep(db, now=max(utcnow(), lost.heartbeat_at + grace) + timedelta(seconds=1))
    assert result.requeued == [run.id]
    db.commit()
    done = wait_until(
        lambda: (r := _run(db, run.id)).status == "published" and r, "the swept run", worker_log_tail
    )
    assert done.attempts == 2 and done.stats["lost"] == 1
    _published_once(db, done, jobs=5)
    assert not sweeper.sweep(db, now=utcnow() + timedelta(hours=1))  # nothing left to do
    db.commit()
