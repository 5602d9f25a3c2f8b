"""Fixtures for tests against a real `celery -A app.worker worker` process.

They run only when the environment names a broker (CELERY_BROKER_URL, which tests/conftest.py
moves to TEST_BROKER_URL) and the test database is a server the worker process can share
(PostgreSQL). The Redis db is flushed before and after, so it must be a dedicated db number.
Data is committed for real; `cleanup` deletes every row the test (or the worker) added.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from app.platform.worker_launch import spawn_worker, stop_worker, wait_ready
from tests.conftest import TEST_BROKER_URL, TEST_DATABASE_URL

QUEUES = "default,plans,urgent"
READY_TIMEOUT_S = 90.0


def _redis_db_number(url: str) -> int:
    from redis.connection import parse_url

    return int(parse_url(url).get("db", 0))


@pytest.fixture(scope="module")
def broker_url(engine: Engine) -> Iterator[str]:
    """The test broker, flushed before and after; skips when the environment has none."""
    if TEST_BROKER_URL is None:
        pytest.skip(
            "no broker: run with CELERY_BROKER_URL=redis://127.0.0.1:6379/15 (and a "
            "PostgreSQL TEST_DATABASE_URL) to test against a real Celery worker"
        )
    if engine.dialect.name == "sqlite":
        pytest.skip(
            "a real worker is another process and needs a shared database server; "
            "set TEST_DATABASE_URL to a PostgreSQL database"
        )
    if not TEST_BROKER_URL.startswith("redis"):
        pytest.skip(f"the real-worker tests flush a Redis db; broker {TEST_BROKER_URL!r} is not Redis")
    if _redis_db_number(TEST_BROKER_URL) == 0:
        pytest.skip(
            "the real-worker tests flush the broker's Redis db: use a dedicated db number "
            "such as redis://127.0.0.1:6379/15, not db 0"
        )
    import redis

    client = redis.Redis.from_url(TEST_BROKER_URL)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        pytest.fail(f"the test broker {TEST_BROKER_URL} is not reachable: {exc}")
    try:
        yield TEST_BROKER_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="module")
def worker_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery") / "worker.log"


@pytest.fixture(scope="module")
def celery_worker(broker_url: str, worker_log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A app.worker worker` as production runs it (prefork), one process, all queues."""
    proc = spawn_worker("fieldline-test", QUEUES, worker_log, worker_env(broker_url))
    try:
        ready_or_fail(proc, worker_log)
        yield proc
    finally:
        stop_worker(proc)


def worker_env(broker_url: str, **extra: str) -> dict[str, str]:
    """What a test worker sees: the test database, the test broker, tasks for real."""
    return {
        **os.environ,
        "DATABASE_URL": TEST_DATABASE_URL,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": "test-secret",
        "TASK_ALWAYS_EAGER": "0",
        "SCHEDULER_ENABLED": "0",
        "DEMO_MODE": "0",
        **extra,
    }


def ready_or_fail(proc: subprocess.Popen[bytes], log: Path) -> None:
    try:
        wait_ready(proc, log, READY_TIMEOUT_S)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def worker_log_tail(worker_log: Path) -> object:
    """Call it in an assertion message to see what the worker said."""
    return lambda: worker_log.read_text(errors="replace")[-4000:]


@pytest.fixture
def cleanup(engine: Engine) -> Iterator[None]:
    """Delete every row added during the test (by it or by the worker), children first — also
    when the test fails. Tables are keyed by integer `id`; rows above the starting maximum go."""
    import app.models  # noqa: F401 - registers every table
    from app.platform.db import Base

    tables = [t for t in Base.metadata.sorted_tables if "id" in t.c]
    with engine.connect() as conn:
        start = {t.name: conn.scalar(select(func.coalesce(func.max(t.c.id), 0))) for t in tables}
    try:
        yield
    finally:
        with engine.begin() as conn:
            for t in reversed(tables):
                conn.execute(delete(t).where(t.c.id > start[t.name]))


@pytest.fixture
def via_broker(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make this process send tasks through the test broker (as the web service does in
    production) instead of running them inline."""
    from app.platform.config import get_settings
    from app.platform.worker import celery_app

    monkeypatch.setattr(get_settings(), "celery_broker_url", broker_url)
    monkeypatch.setattr(celery_app.conf, "broker_url", broker_url)
    # An earlier test may have published through kombu's in-memory transport (test_request_id):
    # its pooled producer would keep sending there, where no worker listens.
    celery_app.close()
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        celery_app.close()  # drop the pooled Redis connections
        celery_app.amqp._producer_pool = None
