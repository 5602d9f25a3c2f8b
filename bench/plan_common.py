"""Shared set-up for the planning benchmarks: a PostgreSQL database, Redis, and the real
processes (uvicorn serving the API, Celery workers) started as production runs them.

Import `configure(...)` before anything from `app`: settings are read once, at import.
"""

from __future__ import annotations

import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "bench"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_plan_bench"
DEFAULT_BROKER = "redis://127.0.0.1:6379/12"


def configure(database_url: str, broker_url: str, **extra: str) -> dict[str, str]:
    """Environment for this process and the children it starts."""
    env = {
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "SECRET_KEY": "plan-bench-secret",
        "DEMO_MODE": "0",
        "TASK_ALWAYS_EAGER": "0",
        "SCHEDULER_ENABLED": "0",
        "NOTIFY_SENDER": "log",
        **extra,
    }
    os.environ.update(env)
    return env


def fresh_database(database_url: str, broker_url: str) -> None:
    """Drop and re-create the benchmark database, migrate it, empty the broker's Redis db."""
    import psycopg
    import redis

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    from app.platform.migrations import upgrade_head

    upgrade_head()
    redis.Redis.from_url(broker_url).flushdb()


class Processes:
    """Children in their own process groups; all stopped on exit."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        LOGS.mkdir(parents=True, exist_ok=True)

    def start(
        self, name: str, cmd: list[str], ready: str | None, timeout: float = 90.0
    ) -> subprocess.Popen[bytes]:
        """Start `cmd`; with `ready`, wait until its log shows that text."""
        log = LOGS / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=dict(os.environ),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((name, proc, log))
        if ready is None:
            return proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready in log.read_text(errors="replace"):
                return proc
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"{name} not ready after {timeout:.0f} s; see {log}")

    def worker(self, name: str, queues: str, concurrency: int) -> subprocess.Popen[bytes]:
        from app.platform.worker_launch import spawn_worker, wait_ready

        log = LOGS / f"{name}.log"
        proc = spawn_worker(name, queues, log, os.environ, concurrency=concurrency)
        self.procs.append((name, proc, log))
        try:
            wait_ready(proc, log)
        except RuntimeError as exc:
            raise RuntimeError(f"{name}: {exc}") from None
        return proc

    def api(self, port: int) -> str:
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        proc = self.start("api", cmd, None)
        import httpx

        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code in (200, 503):
                    return url
            except httpx.HTTPError:
                if proc.poll() is not None:  # it crashed (an import error, the port taken): say why now
                    log = (LOGS / "api.log").read_text(errors="replace")
                    raise RuntimeError(f"the API exited with {proc.returncode}:\n{log[-3000:]}") from None
                time.sleep(0.3)
        raise RuntimeError(f"the API did not come up; see {LOGS / 'api.log'}")

    def stop(self, name: str | None = None) -> None:
        keep = []
        for n, proc, log in self.procs:
            if name is not None and n != name:
                keep.append((n, proc, log))
                continue
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs = keep


@contextmanager
def processes() -> Iterator[Processes]:
    p = Processes()
    try:
        yield p
    finally:
        p.stop()


def dispatcher_headers() -> dict[str, str]:
    """A dispatcher user written straight to the database, and its bearer token."""
    from app.models import User
    from app.platform.auth import hash_password, issue_token
    from app.platform.db import unit_of_work

    with unit_of_work() as session:
        user = User(
            email=f"bench-dispatcher-{time.time_ns()}@example.com",
            name="Bench dispatcher",
            role="dispatcher",
            password_hash=hash_password("bench-password"),
        )
        session.add(user)
        session.flush()
        token = issue_token(user)
    return {"Authorization": f"Bearer {token}"}


def midday_zone() -> str:
    """A fixed-offset zone where it is about noon now (so "today" has shift time left)."""
    from datetime import UTC, datetime

    offset = (12 - datetime.now(UTC).hour) % 24
    offset = max(-12, min(14, offset - 24 if offset > 12 else offset))
    return "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")  # Etc/GMT-2 is UTC+2


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1), linear between closest ranks."""
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s, p95 {pct(values, 0.95):.2f} s, "
        f"min {min(values):.2f} s, max {max(values):.2f} s (n={len(values)})"
    )


def machine() -> dict[str, Any]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg": os.getloadavg(),
        "python": platform.python_version(),
    }
