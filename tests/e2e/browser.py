"""Shared pieces of the browser tests: Debian's chromium, and a real uvicorn server on a
temporary SQLite file seeded by the test (removed afterwards). `uvicorn_server` (start, wait for
/api/v1/health, stop) also serves the tests that need a real server on the test database.
`phone_page` is the phone every phone test opens: 360 × 740, map tiles blocked, signed in."""

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.platform import db as app_db
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
PHONE = {"width": 360, "height": 740}
TALL_PHONE = {**PHONE, "height": 780}  # the desk's phone screenshots were taken at 780 high
# There is no internet here: the route map's tiles are blocked on purpose, so a page that would
# wait for them shows Leaflet on a plain background at once, and their failed loads are no error.
TILES = "tile.openstreetmap.org"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Uvicorn:
    """A uvicorn subprocess serving app.main:app on `base`, its output in `log_path`."""

    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def stop(self, timeout: float = 15) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:  # a loop stuck in a database call runs no signal handler
            self.proc.kill()
            self.proc.wait()


def start_uvicorn(env: dict[str, str], log_path: Path) -> Uvicorn:
    """uvicorn on a free local port with exactly `env`; not yet answering (see `wait_healthy`)."""
    port = _free_port()
    with log_path.open("wb") as log:  # the child keeps its own copy of the file
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Uvicorn(proc, f"http://127.0.0.1:{port}", log_path)


def wait_healthy(server: Uvicorn, timeout: float = 60) -> None:
    """Until /api/v1/health answers 200; RuntimeError with the server's output if it exits first
    or takes longer than `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{server.base}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("server did not start:\n" + server.log_path.read_text(errors="replace"))
        time.sleep(0.2)


@contextmanager
def uvicorn_server(env: dict[str, str], log_path: Path, stop_timeout: float = 15) -> Iterator[str]:
    """A healthy uvicorn (`start_uvicorn`, `wait_healthy`) for the block; yields its base URL and
    stops it on the way out, whatever happened."""
    server = start_uvicorn(env, log_path)
    try:
        wait_healthy(server)
        yield server.base
    finally:
        server.stop(stop_timeout)


@contextmanager
def running_server(
    seed: Callable[[str], dict[str, Any]], env_extra: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """uvicorn in a subprocess on a fresh SQLite file that `seed(url)` migrated and filled;
    everything is removed afterwards. Yields the seed's facts plus `base` (the server's URL)."""
    tmp = Path(tempfile.mkdtemp(prefix="fieldline-e2e-"))
    try:
        url = f"sqlite:///{tmp / 'e2e.db'}"
        world = seed(url)
        env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "CELERY_BROKER_URL")}
        env.update(
            DATABASE_URL=url,
            SECRET_KEY="e2e-secret",
            DEMO_MODE="0",
            TASK_ALWAYS_EAGER="1",
            SCHEDULER_ENABLED="0",
        )
        env.update(env_extra or {})
        with uvicorn_server(env, tmp / "server.log") as base:
            yield {"base": base, **world}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def migrated(url: str) -> Engine:
    """An engine on a fresh file migrated with Alembic (the caller disposes of it)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        upgrade_head(conn)
    return engine


@contextmanager
def seed_session(engine: Engine) -> Iterator[Session]:
    """A session on the seed's database, with the app's own sessions pointed there while it is open.

    What a commit sends after it (the outbox publishing a task and deleting its row, and the task
    itself, run inline here: TASK_ALWAYS_EAGER) opens its sessions from `app.platform.db`'s factory,
    which is bound to this test process's database. Seeded through a plain `Session(engine)`, an
    article's `fieldline.kb.persist_index` therefore ran on that database (empty, or without the
    tables: "no such table kb_index_state") and its outbox row was never deleted from the seed's."""
    app_db.get_engine()  # its lazy set-up binds the factory: done now, not under the seed
    saved = dict(app_db.SessionFactory.kw)
    app_db.SessionFactory.configure(bind=engine)
    try:
        with app_db.SessionFactory() as session:
            yield session
    finally:
        app_db.SessionFactory.kw.clear()
        app_db.SessionFactory.kw.update(saved)


@contextmanager
def script_held_back(page: Any, name: str) -> Iterator[None]:
    """The page loaded again without its deferred script `static/js/<name>`, which arrives late:
    when the block ends. What the block types is what a slow phone lets a user type before the
    script runs (no listener hears it)."""
    pattern = f"**/static/js/{name}"
    page.context.route(pattern, lambda route: route.abort())
    page.reload()
    page.wait_for_load_state()
    yield
    page.context.unroute(pattern)
    page.add_script_tag(url=f"/static/js/{name}")


def collect_errors(page: Any, ignore: Callable[[str], bool] = lambda url: False) -> list[str]:
    """Console errors and uncaught exceptions of a page (those from `ignore`d URLs left out)."""
    errors: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not ignore(message.location.get("url", "")):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def sign_in(page: Any, base: str, path: str, email: str, lands: str | None = None) -> None:
    """Open `path`, sign in on the login page it redirects to, and land back on `path` (or on
    `lands`: where the role's home is, e.g. an engineer's route for "/")."""
    page.goto(f"{base}{path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}{lands or path}")


def launch(p: Any) -> Any:
    """Debian's chromium, headless, from a `sync_playwright()` handle (the caller closes it)."""
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


class Phone(NamedTuple):
    """A phone's page and the console errors it has had since it opened (tiles left out)."""

    page: Any
    errors: list[str]


def open_phone(
    browser: Any,
    base: str,
    *,
    user: str | None = None,
    path: str = "/",
    lands: str | None = None,
    viewport: dict[str, int] = PHONE,
    block: tuple[str, ...] = (),
    **context: Any,
) -> Phone:
    """A new phone in `browser`: its own context at `viewport` (one device pixel a CSS pixel: the
    screenshots are as wide as the phone), map tiles and the `block` URL patterns aborted, errors
    collected from the first page load on (a test asserting none also covers the sign-in's pages),
    and signed in as `user` from `path` when given (`lands`: where that user ends up).
    `context`: more `new_context` options (geolocation, permissions…)."""
    phone = browser.new_context(viewport=viewport, device_scale_factor=1, **context)
    for pattern in (f"**://{TILES}/**", *block):
        phone.route(pattern, lambda route: route.abort())
    page = phone.new_page()
    errors = collect_errors(page, ignore=lambda url: TILES in url)
    if user is not None:
        sign_in(page, base, path, user, lands)
    return Phone(page, errors)


@contextmanager
def phone_page(p: Any, base: str, **phone: Any) -> Iterator[Phone]:
    """`open_phone` in a browser of its own, closed when the block ends whatever happened."""
    browser = launch(p)
    try:
        yield open_phone(browser, base, **phone)
    finally:
        browser.close()
