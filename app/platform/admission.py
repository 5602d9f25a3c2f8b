"""Bounded admission: shed load with an immediate 503 instead of letting requests pile up.

Without it, a burst larger than the database pool queued every request on the pool for 30 s
(SQLAlchemy's pool_timeout) while the health check starved with them. Here each web process
admits at most ADMISSION_MAX_IN_FLIGHT requests at once; the pool holds a connection for each
of them (config.Settings.db_pool_size_total), so an admitted request never waits for one. A
request that finds every slot taken waits at most ADMISSION_QUEUE_MS, in a queue no longer
than the number of slots, and is then refused with 503 and Retry-After: a client hears "busy"
within tens of milliseconds and can retry, the requests already admitted stay fast.

Health, the pages' sign-in and /metrics pass through a small gate of their own
(ADMISSION_RESERVED slots with their own connections), so operators can still see and sign in
while the API is saturated. Static files use no connection and pass freely.
"""

from __future__ import annotations

import asyncio
from html import escape

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from app.platform import metrics
from app.platform.config import Settings
from app.platform.db import read_only_transactions
from app.platform.errors import problem

RESERVED = ("/api/v1/health", "/login", "/metrics")
UNGATED = ("/static/", "/vendor/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_S = 1


class Gate:
    """At most `slots` holders; a newcomer waits up to `wait_s` behind at most `slots` others.

    The semaphore is made on first use in the running event loop (a test client runs one loop
    per client; a server one per process)."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self.slots, self.wait_s = slots, wait_s
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.waiting = 0

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop, self.waiting = asyncio.Semaphore(self.slots), loop, 0
        return self._sem

    async def enter(self) -> bool:
        sem = self._semaphore()
        if not sem.locked():
            await sem.acquire()
            return True
        if self.waiting >= self.slots or self.wait_s <= 0:
            return False  # the queue is full: refuse now rather than after the wait
        self.waiting += 1
        metrics.WAITING.inc()
        try:
            await asyncio.wait_for(sem.acquire(), self.wait_s)
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
            metrics.WAITING.dec()

    def leave(self) -> None:
        assert self._sem is not None
        self._sem.release()


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, slots: int, reserved: int, wait_ms: int) -> None:
        self.app = app
        self.main = Gate(slots, wait_ms / 1000)
        self.reserved = Gate(reserved, 1.0)  # few and short: they may wait for each other a while

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        gate = self.reserved if path in RESERVED else self.main
        if not await gate.enter():
            metrics.HTTP_SHED.labels("admission").inc()
            await refusal(path, "The service is busy right now; try again in a moment.")(scope, receive, send)
            return
        metrics.IN_FLIGHT.inc()
        try:
            # GETs only read: on SQLite they must not queue for the write lock (db.make_engine).
            with read_only_transactions(scope["method"] in SAFE_METHODS):
                await self.app(scope, receive, send)
        finally:
            metrics.IN_FLIGHT.dec()
            gate.leave()


def refusal(path: str, detail: str) -> Response:
    """503 with Retry-After: problem+json for the API, a short page for the browser."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    if path.startswith("/api/"):
        return problem(503, "Service unavailable", detail, path, headers=headers)
    page = (
        "<!doctype html><title>Busy</title><h1>Fieldline is busy</h1>"
        f"<p>{escape(detail)}</p><p><a href='{escape(path)}'>Try again</a></p>"
    )
    return HTMLResponse(page, status_code=503, headers=headers)


def install_admission(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        AdmissionMiddleware,
        slots=settings.admission_max_in_flight,
        reserved=settings.admission_reserved,
        wait_ms=settings.admission_queue_ms,
    )

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse | Response:
        # The backstop: a connection was not free within DB_POOL_TIMEOUT_S (e.g. tasks running
        # in this process held them). Nothing was written: the transaction never began.
        metrics.HTTP_SHED.labels("pool_timeout").inc()
        metrics.POOL_TIMEOUTS.inc()
        return refusal(request.url.path, "No database connection was free in time; try again in a moment.")


def size_thread_pool(settings: Settings) -> None:
    """Sync endpoints run on AnyIO's worker threads (40 by default): as many as may run at once,
    so a reserved request (health) always finds a thread, and no more than the pool can serve."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.thread_limit
