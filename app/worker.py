"""The Celery worker's composition root: `celery -A app.worker worker` (and `beat`).

The Celery app itself lives in the kernel (`app.platform.worker`), which must not import the
domains above it; this module is where a worker process starts, so it installs what
`create_app` installs for the web process before any task runs.
"""

from __future__ import annotations

from typing import Any

from celery import signals

from app.hooks import install_domain_hooks
from app.platform import metrics
from app.platform.config import get_settings
from app.platform.logs import install_task_propagation, install_worker_logging
from app.platform.worker import celery_app

install_domain_hooks()
install_worker_logging()  # JSON lines with the request id of the request that enqueued the task
install_task_propagation()
metrics.install_task_metrics()
metrics.install_pool_metrics()

__all__ = ["celery_app"]


@signals.worker_init.connect(weak=False)
def _serve_metrics(**_: Any) -> None:
    port = get_settings().worker_metrics_port
    if port:  # in the worker's main process; its pool children write to PROMETHEUS_MULTIPROC_DIR
        metrics.serve_worker_metrics(port)


@signals.worker_process_shutdown.connect(weak=False)
def _forget_process(**_: Any) -> None:
    metrics.mark_process_dead()  # a pool child that exits (max-tasks-per-child) leaves no live gauges
