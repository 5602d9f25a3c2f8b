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

Customers' survey pages (the links in the survey mails, /survey/...) take a free staff slot when
there is one, and otherwise have a lane of their own (ADMISSION_SURVEY slots with their own
connections), with a patient queue: a customer who gets an
error page may never answer, so a burst of customers is served in turn (each page takes
milliseconds) and staff load never takes their slots. Only a flood past SURVEY_QUEUE waiters, or a
wait past SURVEY_WAIT_S, is refused, with a page that tells the customer to try again in a moment.

The same 503 answers a request the database cannot serve (`install_admission`'s one handler):
no connection free within DB_POOL_TIMEOUT_S (busy: retry in a second), or the database not
answering at all — down, restarting, cut off (retry in a few seconds, with the same
Idempotency-Key, since a COMMIT cut mid-way may have saved the change). A table or column the
code needs that the database lacks is not that: it is a 500 telling the administrator to run
`fieldline migrate` (`missing_schema`), since a retry cannot succeed until they do.
"""

from __future__ import annotations

import asyncio
import logging
from html import escape

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.platform import i18n, metrics
from app.platform.config import Settings
from app.platform.db import read_only_transactions
from app.platform.errors import problem

RESERVED = ("/api/v1/health", "/login", "/metrics")
SURVEY = "/survey/"  # the customers' pages behind the survey mails' links (app/web/survey.py)
SURVEY_QUEUE = 32  # customers waiting for a survey slot at most; a page takes milliseconds
SURVEY_WAIT_S = 5.0
SURVEY_RETRY_AFTER_S = 5
UNGATED = ("/static/", "/vendor/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_S = 1
DATABASE_DOWN_RETRY_AFTER_S = 5  # an outage or a fail-over lasts seconds, not a moment

log = logging.getLogger(__name__)


class Gate:
    """At most `slots` holders; a newcomer waits up to `wait_s` behind at most `queue` others
    (as many as there are slots unless told).

    The semaphore is made on first use in the running event loop (a test client runs one loop
    per client; a server one per process)."""

    def __init__(self, slots: int, wait_s: float, *, queue: int | None = None) -> None:
        self.slots, self.wait_s = slots, wait_s
        self.queue = slots if queue is None else queue
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
        if self.waiting >= self.queue or self.wait_s <= 0:
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

    async def try_enter(self) -> bool:
        """A slot if one is free now, else False at once (no queueing)."""
        sem = self._semaphore()
        if sem.locked():
            return False
        await sem.acquire()  # not locked: returns without suspending
        return True

    def leave(self) -> None:
        assert self._sem is not None
        self._sem.release()


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, slots: int, reserved: int, survey: int, wait_ms: int) -> None:
        self.app = app
        self.main = Gate(slots, wait_ms / 1000)
        self.reserved = Gate(reserved, 1.0)  # few and short: they may wait for each other a while
        self.survey = Gate(survey, SURVEY_WAIT_S, queue=SURVEY_QUEUE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGATED):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        customer = path.startswith(SURVEY)
        if customer:
            # A free staff slot serves a customer at once (as before the lane existed); when the
            # staff side is full, the customer queues for the lane's own slots instead of a 503.
            gate = self.main if await self.main.try_enter() else self.survey
            admitted = gate is self.main or await gate.enter()
        else:
            gate = self.reserved if path in RESERVED else self.main
            admitted = await gate.enter()
        if not admitted:
            metrics.HTTP_SHED.labels("admission").inc()
            if customer:
                query = scope.get("query_string", b"").decode("latin-1")
                target = f"{path}?{query}" if query else path  # the rating clicked in the mail
                # no database to ask for the account's language: the browser's (app.platform.i18n)
                wanted = Headers(scope=scope).get("accept-language", "")
                answer = survey_busy(
                    target, posted=scope["method"] not in SAFE_METHODS, language=i18n.negotiate(wanted)
                )
            else:
                answer = refusal(path, "The service is busy right now; try again in a moment.")
            await answer(scope, receive, send)
            return
        metrics.IN_FLIGHT.inc()
        try:
            # GETs only read: on SQLite they must not queue for the write lock (db.make_engine).
            with read_only_transactions(scope["method"] in SAFE_METHODS):
                await self.app(scope, receive, send)
        finally:
            metrics.IN_FLIGHT.dec()
            gate.leave()


def refusal(path: str, detail: str, *, retry_after_s: int = RETRY_AFTER_S) -> Response:
    """503 with Retry-After: problem+json for the API, a short page for the browser."""
    headers = {"Retry-After": str(retry_after_s)}
    if path.startswith("/api/"):
        return problem(503, "Service unavailable", detail, path, headers=headers)
    page = (
        "<!doctype html><title>Busy</title><h1>Fieldline is busy</h1>"
        f"<p>{escape(detail)}</p><p><a href='{escape(path)}'>Try again</a></p>"
    )
    return HTMLResponse(page, status_code=503, headers=headers)


def survey_busy(target: str, *, posted: bool, language: str = i18n.DEFAULT) -> Response:
    """For a customer on a survey page: what happened and what to do, in plain words, in `language`;
    a GET page reloads itself after Retry-After. A posted answer was not saved: Back keeps what
    they typed."""

    def say(key: str, **params: object) -> str:
        return i18n.text(language, f"survey.busy.{key}", **params)

    if posted:
        advice = f"<p>{say('posted_html')}</p>"
        refresh = ""
    else:
        advice = f"<p>{say('retry_html', target=escape(target))}</p>"
        refresh = f"<meta http-equiv='refresh' content='{SURVEY_RETRY_AFTER_S}'>"
    # No template and no database: this page is what a saturated process can still afford. Static
    # files pass admission freely, so it keeps the survey pages' look (no inline style: the CSP).
    page = (
        f"<!doctype html><html lang='{escape(language)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='robots' content='noindex'>{refresh}<title>{escape(say('title'))}</title>"
        "<link rel='stylesheet' href='/static/css/app.css'>"
        "<link rel='stylesheet' href='/static/css/survey.css'></head>"
        f"<body><main><section class='card survey'><h1>{escape(say('heading'))}</h1>"
        f"<p role='status'>{escape(say('text'))}</p>{advice}</section></main></body></html>"
    )
    headers = {
        "Retry-After": str(SURVEY_RETRY_AFTER_S),
        "Referrer-Policy": "no-referrer",  # the token is in the URL (as on the survey pages)
        "Cache-Control": "no-store",
    }
    return HTMLResponse(page, status_code=503, headers=headers)


# A table or column the code uses is missing: the database was not migrated to this release. SQLite
# says so in the message of an OperationalError; PostgreSQL (psycopg) raises UndefinedTable /
# UndefinedColumn, ProgrammingErrors with these SQLSTATEs.
SQLITE_SCHEMA_ERRORS = ("no such table:", "no such column:")
POSTGRES_SCHEMA_ERRORS = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
SCHEMA_BEHIND = (
    "The database schema is not up to date; an administrator must run `fieldline migrate`. "
    "Retrying will not help until then."
)


def missing_schema(exc: BaseException) -> str | None:
    """What is missing ("no such table: account", 'relation "account" does not exist') when `exc`
    says the schema is older than the code, else None."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    message = (str(exc.orig).strip().splitlines() or [""])[0]
    if getattr(exc.orig, "sqlstate", None) in POSTGRES_SCHEMA_ERRORS or message.startswith(
        SQLITE_SCHEMA_ERRORS
    ):
        return message
    return None


def schema_behind(path: str) -> Response:
    """500 without Retry-After: a deploy that skipped `fieldline migrate` is not a busy database,
    and clients told to retry would retry forever."""
    if path.startswith("/api/"):
        return problem(500, "Database schema not up to date", SCHEMA_BEHIND, path)
    page = (
        "<!doctype html><title>Not available</title><h1>Fieldline is not set up completely</h1>"
        f"<p>{escape(SCHEMA_BEHIND)}</p>"
    )
    return HTMLResponse(page, status_code=500)


def install_admission(app: FastAPI, settings: Settings) -> None:
    app.add_middleware(
        AdmissionMiddleware,
        slots=settings.admission_max_in_flight,
        reserved=settings.admission_reserved,
        survey=settings.admission_survey,
        wait_ms=settings.admission_queue_ms,
    )

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse | Response:
        if missing := missing_schema(exc):
            return _schema_behind(request, missing)
        if isinstance(exc, PoolTimeout):
            # The backstop: a connection was not free within DB_POOL_TIMEOUT_S (e.g. tasks running
            # in this process held them). Nothing was written: the transaction never began.
            metrics.HTTP_SHED.labels("pool_timeout").inc()
            metrics.POOL_TIMEOUTS.inc()
            return refusal(
                request.url.path, "No database connection was free in time; try again in a moment."
            )
        # The database did not answer: a temporary condition, not a bug. If it dropped during COMMIT
        # the change may have been saved, so the client retries with the same Idempotency-Key,
        # which applies a creating request once.
        log.warning("database unavailable on %s: %s", request.url.path, exc.__class__.__name__)
        metrics.HTTP_SHED.labels("database_unavailable").inc()
        return refusal(
            request.url.path,
            "The database did not answer. Retry in a few seconds (with the same Idempotency-Key "
            "for a change: it is applied once).",
            retry_after_s=DATABASE_DOWN_RETRY_AFTER_S,
        )

    @app.exception_handler(ProgrammingError)
    async def _schema_mismatch(request: Request, exc: Exception) -> Response:
        if missing := missing_schema(exc):
            return _schema_behind(request, missing)
        raise exc  # any other: the application's handler of unexpected errors (a bug, 500)


def _schema_behind(request: Request, missing: str) -> Response:
    log.error("database schema not up to date on %s (%s): run `fieldline migrate`", request.url.path, missing)
    return schema_behind(request.url.path)


def size_thread_pool(settings: Settings) -> None:
    """Sync endpoints run on AnyIO's worker threads (40 by default): as many as may run at once,
    so a reserved request (health) always finds a thread, and no more than the pool can serve."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.thread_limit
