"""The FastAPI application: API under /api/v1, pages at /, OpenAPI at /docs."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm.exc import StaleDataError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.api import api_router
from app.hooks import install_domain_hooks
from app.platform import metrics
from app.platform.admission import install_admission, size_thread_pool
from app.platform.api_contract import install_api_contract
from app.platform.api_docs import install_api_docs
from app.platform.body_limit import BodyLimitMiddleware
from app.platform.config import get_settings
from app.platform.errors import install_error_handlers, problem
from app.platform.logs import configure_logging, install_task_propagation
from app.platform.metrics_api import router as metrics_router
from app.platform.observe import ObserveMiddleware
from app.platform.worker import in_process
from app.web import pages_router
from app.web.shared import page_for_a_form_address, page_not_found

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"
# Front-end libraries installed from package.json (`make install` runs `npm ci`).
LEAFLET = Path(__file__).parent.parent / "node_modules" / "leaflet" / "dist"
CHARTJS = Path(__file__).parent.parent / "node_modules" / "chart.js" / "dist"


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    size_thread_pool(settings)
    if not settings.celery_broker_url and not settings.task_always_eager:
        in_process.start(scheduler=settings.scheduler_enabled)
    # What the imports built (~270 000 objects: SQLAlchemy's mappers, FastAPI's routes, the
    # engine's bindings) lives as long as the process. Every full collection walked it all, about
    # 150 ms that stalled whichever request set it off: the board data's p95 was twice its p50.
    # Frozen into the permanent generation it is no longer walked (docs/board.md, "Speed").
    gc.collect()
    gc.freeze()
    yield
    metrics.mark_process_dead()


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    install_task_propagation()  # the request id rides along with the tasks a request enqueues
    metrics.install_task_metrics()
    metrics.install_pool_metrics()
    install_domain_hooks()  # re-plans, visit endings and surveys follow whatever requests change
    app = FastAPI(
        title="Fieldline",
        version="0.1.0",
        lifespan=lifespan,
        description="Service desk and field dispatch API.",
        docs_url=None,  # served by install_api_docs with local assets
        redoc_url=None,
    )
    install_error_handlers(
        app, page_not_found=page_not_found, page_for_a_form_address=page_for_a_form_address
    )
    install_admission(app, settings)
    app.add_middleware(ObserveMiddleware)  # outside admission: it sees the refusals too

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem(
            409,
            "Conflict",
            "Someone else changed this record at the same time; reload and retry.",
            request.url.path,
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

    # Outermost first: the proxy decides the client address and scheme, then the body limit
    # refuses an oversized request before routing, authentication or parsing.
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=get_settings().forwarded_allow_ips)
    app.include_router(api_router)
    install_api_contract(app)  # every error response a route can give, as problem+json
    install_api_docs(app)
    app.include_router(metrics_router)
    app.include_router(pages_router)
    if STATIC.exists():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if LEAFLET.exists():
        app.mount("/vendor/leaflet", StaticFiles(directory=LEAFLET), name="leaflet")
    if CHARTJS.exists():
        app.mount("/vendor/chart.js", StaticFiles(directory=CHARTJS), name="chartjs")
    return app


app = create_app()
