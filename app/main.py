"""The FastAPI application: API under /api/v1, pages at /, OpenAPI at /docs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app.api import api_router
from app.planning.triggers import install_session_hooks
from app.platform.config import get_settings
from app.platform.errors import install_error_handlers, problem
from app.platform.worker import in_process
from app.web import pages_router

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"
# Front-end libraries installed from package.json (`make install` runs `npm ci`).
LEAFLET = Path(__file__).parent.parent / "node_modules" / "leaflet" / "dist"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    if not settings.celery_broker_url and not settings.task_always_eager:
        in_process.start(scheduler=settings.scheduler_enabled)
    yield


def create_app() -> FastAPI:
    install_session_hooks()  # re-plans and reservations follow whatever the requests change
    app = FastAPI(
        title="Fieldline",
        version="0.1.0",
        lifespan=lifespan,
        description="Service desk and field dispatch API.",
    )
    install_error_handlers(app)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem(
            409,
            "Conflict",
            "Someone else changed this record at the same time; reload and retry.",
            request.url.path,
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database did not answer (down, restarting, unreachable): a temporary condition, not a
        # bug. If it dropped during COMMIT the change may have been saved, so the client is told to
        # retry with the same Idempotency-Key, which applies a creating request once.
        log.warning("database unavailable on %s: %s", request.url.path, exc.__class__.__name__)
        return problem(
            503,
            "Service unavailable",
            "The database did not answer. Retry in a few seconds (with the same Idempotency-Key "
            "for a change: it is applied once).",
            request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(
            500,
            "Internal error",
            "Something went wrong on our side; nothing was saved. Try again or contact support.",
            request.url.path,
        )

    app.include_router(api_router)
    app.include_router(pages_router)
    if STATIC.exists():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if LEAFLET.exists():
        app.mount("/vendor/leaflet", StaticFiles(directory=LEAFLET), name="leaflet")
    return app


app = create_app()
