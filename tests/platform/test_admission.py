"""Bounded admission: a saturated process refuses at once with 503 + Retry-After, while the
health check and the sign-in page keep answering, and nothing admitted is dropped."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app.platform import metrics
from app.platform.config import get_settings

SLOTS = 2
RELEASE_AFTER_S = 20.0  # a guard only: the test releases the held requests itself


def _tiny_app(monkeypatch: pytest.MonkeyPatch, queue_ms: int) -> tuple[FastAPI, threading.Event]:
    """The real app with two slots, a short queue and a route that holds its slot until released."""
    from app.main import create_app

    settings = get_settings()
    monkeypatch.setattr(settings, "admission_max_in_flight", SLOTS)
    monkeypatch.setattr(settings, "admission_queue_ms", queue_ms)
    app = create_app()
    release = threading.Event()

    @app.get("/api/v1/_held")
    def held() -> dict[str, bool]:
        return {"released": release.wait(RELEASE_AFTER_S)}

    return app, release


@pytest.fixture
def tiny_app(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> tuple[FastAPI, threading.Event]:
    return _tiny_app(monkeypatch, queue_ms=20)


async def _until_in_flight(n: float) -> None:
    while metrics.IN_FLIGHT._value.get() < n:  # admitted and holding their slots
        await asyncio.sleep(0.01)


def _shed() -> float:
    return metrics.HTTP_SHED.labels("admission")._value.get()


async def _saturate(app: FastAPI, release: threading.Event) -> dict[str, list[httpx.Response]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        base = metrics.IN_FLIGHT._value.get()
        held = [asyncio.create_task(client.get("/api/v1/_held")) for _ in range(SLOTS)]
        await _until_in_flight(base + SLOTS)
        burst = await asyncio.gather(*(client.get("/api/v1/_held") for _ in range(12)))
        page = await client.get("/customers")
        health = await client.get("/api/v1/health")
        login = await client.get("/login")
        release.set()
        done = await asyncio.gather(*held)
        after = await client.get("/api/v1/_held")
    return {
        "burst": list(burst),
        "page": [page],
        "reserved": [health, login],
        "held": list(done),
        "after": [after],
    }


def test_a_saturated_process_refuses_at_once_and_keeps_health_and_login(tiny_app) -> None:
    app, release = tiny_app
    shed_before = _shed()
    # wait_for is a hang guard (a request left waiting would fail the test), not a timing assertion
    got = asyncio.run(asyncio.wait_for(_saturate(app, release), timeout=60))

    for r in got["burst"]:
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["instance"] == "/api/v1/_held" and "busy" in r.json()["detail"]
    assert _shed() - shed_before == len(got["burst"]) + 1  # the burst and the page
    page = got["page"][0]
    assert page.status_code == 503 and page.headers["Retry-After"] == "1"
    assert "text/html" in page.headers["content-type"] and "busy" in page.text
    health, login = got["reserved"]
    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert login.status_code == 200 and "password" in login.text.lower()
    # the admitted requests were served, not dropped, and the slots are free again
    assert [r.json() for r in got["held"]] == [{"released": True}] * SLOTS
    assert got["after"][0].status_code == 200


def test_a_queued_request_takes_the_slot_that_frees_within_its_deadline(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, release = _tiny_app(monkeypatch, queue_ms=30_000)  # a deadline the release surely beats

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            base, waiting = metrics.IN_FLIGHT._value.get(), metrics.WAITING._value.get()
            held = [asyncio.create_task(client.get("/api/v1/_held")) for _ in range(SLOTS)]
            await _until_in_flight(base + SLOTS)
            queued = asyncio.create_task(client.get("/api/v1/_held"))
            while metrics.WAITING._value.get() == waiting:  # it is in the queue now
                await asyncio.sleep(0.001)
            release.set()
            return [*(await asyncio.gather(*held)), await queued]

    answers = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert [r.status_code for r in answers] == [200] * (SLOTS + 1)


def test_pool_and_threads_are_sized_from_admission() -> None:
    from app.platform.db import get_engine

    settings = get_settings()
    pool = get_engine().pool
    assert pool.size() == (  # type: ignore[attr-defined]
        settings.admission_max_in_flight + settings.admission_survey + 2 * settings.admission_reserved + 1
    )
    assert pool._timeout == settings.db_pool_timeout_s <= 5  # type: ignore[attr-defined]
    assert settings.thread_limit >= (
        settings.admission_max_in_flight + settings.admission_survey + settings.admission_reserved
    )


def test_a_pool_timeout_is_a_503_not_a_500(tiny_app) -> None:
    """The backstop behind admission: work outside it (tasks) may still exhaust the pool."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    app, _ = tiny_app

    @app.get("/api/v1/_no_connection")
    def no_connection() -> None:
        raise PoolTimeout("QueuePool limit of size 11 overflow 0 reached, connection timed out")

    before = metrics.HTTP_SHED.labels("pool_timeout")._value.get()

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/api/v1/_no_connection")

    r = asyncio.run(call())
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert (
        r.headers["content-type"] == "application/problem+json"
        and "database connection" in r.json()["detail"]
    )
    assert metrics.HTTP_SHED.labels("pool_timeout")._value.get() == before + 1
