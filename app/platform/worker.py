"""Background work: a Celery app when a broker is configured, else an in-process worker thread.

Tasks are enqueued by name with plain ids through the transactional outbox (app/platform/outbox.py),
so they are sent only after the transaction that made them commits, and sent later if the broker
was down at that moment.
Periodic jobs come from `celery_app.conf.beat_schedule`: `celery beat` runs them in production,
the in-process scheduler thread runs the same entries in the embedded mode.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from celery import Celery

from app.platform.config import get_settings
from app.platform.logs import request_id

log = logging.getLogger(__name__)

settings = get_settings()
PUBLISH_CONNECT_TIMEOUT_S = 1.0
# Task modules by name (strings, not imports: the kernel must not import the domains above it).
TASK_MODULES = [
    "app.platform.maintenance",
    "app.desk.sla.tasks",
    "app.integrations.webhooks.tasks",
    "app.integrations.inbound_email.tasks",
    "app.planning.tasks",
    "app.insights.tasks",
    "app.feedback.tasks",
    "app.knowledge.tasks",
]
celery_app = Celery("fieldline", broker=settings.celery_broker_url or "memory://", include=TASK_MODULES)
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    task_routes={"fieldline.plan.*": {"queue": "plans"}, "fieldline.replan.*": {"queue": "urgent"}},
    # Every 10 s a worker returns messages unacknowledged for longer than the visibility timeout
    # (kombu's default throttle would look only every 100 s): a lost worker's solve is retried
    # about visibility timeout + 10 s after it was taken. The timeout is set to outlast the longest
    # task (see Settings.celery_visibility_timeout_s); the plan-run sweeper finds a lost worker's
    # run sooner. Connect timeouts bound a publish to an unreachable broker (app/platform/outbox.py).
    broker_transport_options={
        "visibility_timeout": settings.celery_visibility_timeout_s,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": PUBLISH_CONNECT_TIMEOUT_S,
        # A publisher connecting (kombu's default channel) tries once instead of retrying for seconds;
        # the worker's consumer reconnects with its own retry loop (broker_connection_max_retries).
        "max_retries": 0,
    },
    broker_connection_timeout=PUBLISH_CONNECT_TIMEOUT_S,
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    # Only the fan-out's chord stores results (its region tasks set ignore_result=False).
    result_backend=(
        settings.celery_broker_url if (settings.celery_broker_url or "").startswith("redis") else None
    ),
    result_expires=24 * 3600,
    timezone="UTC",
    beat_schedule={
        "sla-check": {"task": "fieldline.sla.check_breaches", "schedule": 60.0},
        "webhook-retry": {"task": "fieldline.webhooks.deliver_due", "schedule": 30.0},
        "idempotency-purge": {"task": "fieldline.maintenance.purge", "schedule": 3600.0},
        "unmatched-mail-purge": {"task": "fieldline.unmatched.purge", "schedule": 3600.0},
        "late-visits": {"task": "fieldline.replan.check_late", "schedule": 60.0},
        "notify-retry": {"task": "fieldline.notify.deliver_due", "schedule": 60.0},
        "reply-retry": {"task": "fieldline.replies.deliver_due", "schedule": 60.0},
        "kpi-aggregates": {"task": "fieldline.insights.refresh_kpis", "schedule": 300.0},
        "survey-send": {"task": "fieldline.surveys.send_due", "schedule": 60.0},
        "outbox-drain": {"task": "fieldline.outbox.drain", "schedule": 15.0},
        "plan-run-sweep": {"task": "fieldline.sweep.plan_runs", "schedule": 30.0},
    },
)


def queues() -> list[str]:
    """Every queue a task can be routed to: what a worker must consume (`-Q`)."""
    conf = celery_app.conf
    routed = {route["queue"] for route in conf.task_routes.values()}
    return sorted({conf.task_default_queue, *routed})


class InProcessWorker:
    """A daemon thread running tasks by name from a queue, so requests return at once."""

    def __init__(self) -> None:
        # (task name, kwargs, id of the request that enqueued it)
        self._queue: queue.Queue[tuple[str, dict[str, Any], str | None] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._scheduler: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, *, scheduler: bool = True) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fieldline-worker", daemon=True)
            self._thread.start()
        if scheduler and self._scheduler is None:
            self._scheduler = threading.Thread(target=self._tick, name="fieldline-beat", daemon=True)
            self._scheduler.start()

    def stop(self) -> None:
        self._stop.set()
        self._queue.put(None)

    def submit(self, name: str, kwargs: dict[str, Any]) -> None:
        self.start(scheduler=False)
        self._queue.put((name, kwargs, request_id.get()))

    def pending(self) -> int:
        """Tasks queued and not yet started (the metrics' queue depth)."""
        return self._queue.qsize()

    def join(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far has run (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                name, kwargs, rid = item
                token = request_id.set(rid)  # as a Celery task header does on a worker
                try:
                    run_task(name, kwargs)
                finally:
                    request_id.reset(token)
            finally:
                self._queue.task_done()

    def _tick(self) -> None:
        last: dict[str, float] = {}
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for entry in celery_app.conf.beat_schedule.values():
                every = float(entry["schedule"])
                if now - last.get(entry["task"], now - every) >= every:
                    last[entry["task"]] = now
                    self._queue.put((entry["task"], dict(entry.get("kwargs", {})), None))


in_process = InProcessWorker()


def run_task(name: str, kwargs: dict[str, Any]) -> None:
    celery_app.loader.import_default_modules()
    try:
        celery_app.tasks[name](**kwargs)
    except Exception:  # a failing task must not kill the worker thread
        log.exception("task %s failed", name)


def send(name: str, **kwargs: Any) -> None:
    """Send a task now (inside a transaction use `app.platform.outbox.enqueue`). With a broker: one
    attempt, bounded by the connect/socket timeouts above; raises if the broker is unavailable."""
    current = get_settings()
    if current.celery_broker_url:
        # ignore_result: nobody here waits for it, and subscribing to the result backend would retry
        # an unreachable Redis for ~19 s (the fan-out's chord sends its members itself, with results).
        celery_app.send_task(name, kwargs=kwargs, retry=False, ignore_result=True)
    elif current.task_always_eager:
        run_task(name, kwargs)
    else:
        in_process.submit(name, kwargs)
