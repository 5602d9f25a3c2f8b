"""Prometheus metrics (prometheus-client): what the web processes and the task workers count.

`fieldline serve --workers N` sets PROMETHEUS_MULTIPROC_DIR before the workers start, so every
process writes its samples to files there and a scrape of any one of them adds them all up
(prometheus-client's multiprocess mode). One process: the default in-memory registry.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.pool import Pool

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the API's target is p95 < 100 ms, so most buckets sit below a second.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SENT_AT_HEADER = "fieldline_sent_at"

HTTP_REQUESTS = Counter(
    "fieldline_http_requests", "HTTP requests answered, by route template", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "fieldline_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
HTTP_SHED = Counter(
    "fieldline_http_shed",
    "Requests refused with 503 to shed load (admission full, or no database connection in time)",
    ["reason"],
)
IN_FLIGHT = Gauge(
    "fieldline_admission_in_flight",
    "Admitted requests running now (each holds one database connection)",
    multiprocess_mode="livesum",
)
WAITING = Gauge(
    "fieldline_admission_waiting",
    "Requests waiting (at most ADMISSION_QUEUE_MS) for a slot, i.e. for a database connection",
    multiprocess_mode="livesum",
)
POOL_IN_USE = Gauge(
    "fieldline_db_pool_in_use", "Database connections checked out of the pool", multiprocess_mode="livesum"
)
POOL_TIMEOUTS = Counter(
    "fieldline_db_pool_timeouts", "Checkouts that found no connection within DB_POOL_TIMEOUT_S"
)
TASK_WAIT = Histogram(
    "fieldline_task_wait_seconds",
    "Time a task spent queued, from publishing to a worker starting it",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0),
)
TASK_DURATION = Histogram(
    "fieldline_task_duration_seconds",
    "Task run time on a worker",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0),
)
PLAN_RUN = Histogram(
    "fieldline_plan_run_duration_seconds",
    "A plan run from claiming it to its final status (load, solve, publish)",
    ["status"],
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 300.0),
)
WEBHOOK_FAILURES = Counter(
    "fieldline_webhook_delivery_failures",
    "Webhook attempts that failed; outcome retry (will be tried again) or dead (gave up)",
    ["outcome"],
)


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def scrape_registry() -> CollectorRegistry:
    """The registry one scrape reads: every process's files in multiprocess mode."""
    if not is_multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    registry.register(TASK_QUEUES)
    return registry


def mark_process_dead() -> None:
    """Drop this process's live gauges (in-flight, pool) when it exits."""
    if is_multiprocess():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class TaskQueueCollector(Collector):
    """Task queue depth and the age of the oldest waiting task, read from the broker at scrape
    time (a gauge kept by the publishers could not see what the workers took)."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return self._families([])  # the names only: registering must not query the broker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return self._families(queue_stats())

    def _families(self, stats: Iterable[tuple[str, int, float | None]]) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("fieldline_task_queue_depth", "Tasks waiting in a queue", labels=["queue"])
        age = GaugeMetricFamily(
            "fieldline_task_queue_oldest_age_seconds",
            "Age of the oldest task waiting in a queue (0 when empty)",
            labels=["queue"],
        )
        for queue, n, oldest_s in stats:
            depth.add_metric([queue], n)
            if oldest_s is not None:
                age.add_metric([queue], oldest_s)
        yield depth
        yield age


TASK_QUEUES = TaskQueueCollector()
REGISTRY.register(TASK_QUEUES)


def queue_stats() -> Iterable[tuple[str, int, float | None]]:
    from app.platform.config import get_settings
    from app.platform.worker import in_process, queues

    url = get_settings().celery_broker_url
    if not url:
        return [("in-process", in_process.pending(), None)]  # a thread's queue: no timestamps
    if not url.startswith("redis"):
        return []
    import redis

    now = time.time()
    stats: list[tuple[str, int, float | None]] = []
    try:
        client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        for queue in queues():
            n = int(client.llen(queue))
            # kombu LPUSHes and BRPOPs: the oldest message is at the right end.
            stats.append((queue, n, _age(client.lindex(queue, -1), now) if n else 0.0))
    except redis.RedisError:
        return []  # the health check reports the broker; a scrape must not fail on it
    return stats


def _age(raw: bytes | str | None, now: float) -> float:
    try:
        sent_at = float(json.loads(raw or b"{}")["headers"][SENT_AT_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0.0
    return max(0.0, now - sent_at)


def serve_worker_metrics(port: int) -> None:
    """A Celery worker's own /metrics (its processes write to PROMETHEUS_MULTIPROC_DIR)."""
    from prometheus_client import start_http_server

    if not is_multiprocess():
        log.warning(
            "WORKER_METRICS_PORT without PROMETHEUS_MULTIPROC_DIR: the pool processes' tasks are not counted"
        )
    start_http_server(port, registry=scrape_registry())


def install_pool_metrics() -> None:
    """Count checked-out connections of every engine's pool (idempotent)."""
    if not event.contains(Pool, "checkout", _checkout):
        event.listen(Pool, "checkout", _checkout)
        event.listen(Pool, "checkin", _checkin)


def _checkout(*_: Any) -> None:
    POOL_IN_USE.inc()


def _checkin(*_: Any) -> None:
    POOL_IN_USE.dec()


def install_task_metrics() -> None:
    """Time tasks on the Celery signals: queued (publish → start) and running (start → end)."""
    from celery import signals

    signals.before_task_publish.connect(_stamp_sent_at, weak=False, dispatch_uid="fl-m-publish")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="fl-m-prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="fl-m-postrun")


def _stamp_sent_at(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers.setdefault(SENT_AT_HEADER, repr(time.time()))


_started: dict[str, float] = {}


def _task_started(task_id: str = "", task: Any = None, **_: Any) -> None:
    _started[task_id] = time.monotonic()
    sent_at = getattr(task.request, SENT_AT_HEADER, None) if task is not None else None
    if sent_at:
        TASK_WAIT.labels(task.name).observe(max(0.0, time.time() - float(sent_at)))


def _task_finished(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    if started is not None and task is not None:
        TASK_DURATION.labels(task.name, state or "UNKNOWN").observe(time.monotonic() - started)
