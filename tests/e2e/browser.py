"""Shared pieces of the browser tests: Debian's chromium, and a real uvicorn server on a
temporary SQLite file seeded by the test (removed afterwards)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from app.platform.db import make_engine
from app.platform.migrations import upgrade_head

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    seed: Callable[[str], dict[str, Any]], env_extra: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """uvicorn in a subprocess on a fresh SQLite file that `seed(url)` migrated and filled;
    everything is removed afterwards. Yields the seed's facts plus `base` (the server's URL)."""
    tmp = Path(tempfile.mkdtemp(prefix="fieldline-e2e-"))
    url = f"sqlite:///{tmp / 'e2e.db'}"
    world = seed(url)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DATABASE_URL=url, SECRET_KEY="e2e-secret", DEMO_MODE="0", TASK_ALWAYS_EAGER="1", SCHEDULER_ENABLED="0"
    )
    env.update(env_extra or {})
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" + (tmp / "server.log").read_text())
            time.sleep(0.2)
        yield {"base": base, **world}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def migrated(url: str) -> Engine:
    """An engine on a fresh file migrated with Alembic (the caller disposes of it)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        upgrade_head(conn)
    return engine


def collect_errors(page: Any, ignore: Callable[[str], bool] = lambda url: False) -> list[str]:
    """Console errors and uncaught exceptions of a page (those from `ignore`d URLs left out)."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not ignore(message.location.get("url", "")):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def sign_in(page: Any, base: str, path: str, email: str) -> None:
    """Open `path`, sign in on the login page it redirects to, and land back on `path`."""
    page.goto(f"{base}{path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{path}")
