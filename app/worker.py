"""The Celery worker's composition root: `celery -A app.worker worker` (and `beat`).

The Celery app itself lives in the kernel (`app.platform.worker`), which must not import the
domains above it; this module is where a worker process starts, so it installs what
`create_app` installs for the web process before any task runs.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals
from sqlalchemy.exc import SQLAlchemyError

from app.hooks import install_domain_hooks
from app.platform import metrics
from app.platform.config import get_settings
from app.platform.logs import install_task_propagation, install_worker_logging
from app.platform.migrations import schema_problem_at_start
from app.platform.worker import celery_app

install_domain_hooks()
install_worker_logging()  # JSON lines with the request id of the request that enqueued the task
install_task_propagation()
metrics.install_task_metrics()
metrics.install_pool_metrics()

__all__ = ["celery_app"]

log = logging.getLogger(__name__)


@signals.worker_init.connect(weak=False)
def refuse_an_old_schema(**_: Any) -> None:
    """Exit 2 before taking a task when the database is not at the latest migration, as `fieldline
    worker` does (app/cli.py): `celery -A app.worker worker` (docker-compose) skips that command, and
    a worker on an old schema failed every task on the first column it lacks. Same rules: a database
    a newer release migrated passes (a roll-back), and so does one that cannot be read now (an
    outage: tasks retry). Only real workers send worker_init, not the in-process worker thread.

    worker_init runs in the parent before the prefork pool forks: the check reads on a NullPool
    engine it disposes (schema_problem_at_start), never the app's pooled one, whose connection the
    children would inherit and share. SystemExit, not an exception: Celery logs a handler's
    exception and starts anyway."""
    try:
        problem = schema_problem_at_start(get_settings().database_url, newer_ok=True)
    except SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        log.warning("cannot check the database's migration now: %s", message)
        return
    if problem:
        log.error("worker not started: %s", problem)
        raise SystemExit(2)


@signals.worker_init.connect(weak=False)
def _serve_metrics(**_: Any) -> None:
    port = get_settings().worker_metrics_port
    if port:  # in the worker's main process; its pool children write to PROMETHEUS_MULTIPROC_DIR
        metrics.serve_worker_metrics(port)


@signals.worker_process_shutdown.connect(weak=False)
def _forget_process(**_: Any) -> None:
    metrics.mark_process_dead()  # a pool child that exits (max-tasks-per-child) leaves no live gauges
