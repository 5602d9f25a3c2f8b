"""Customers opening their survey links at the same instant are served in turn, even while the
staff API is saturated (they have slots of their own and queue for them); the staff API still
sheds load at once. A flood past the customers' queue gets a readable "busy" page, not a bare 503.

The survey page's work is held by the test (`open_form` waits for a release) so the requests meet
at the gate for sure; the page it returns is the real one, read once beforehand."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.feedback import answering, sending
from app.platform import admission, metrics
from app.platform.config import get_settings
from tests.feedback.world import Outbox, customer, later, visit

LINK = re.compile(r"http://[^\s]+(/survey/[^\s?/]+)\?csat=(\d)")
CUSTOMERS = 8
GUARD_S = 20.0  # a hang guard only: the test releases what it holds
Scene = tuple[FastAPI, "Held", threading.Event, str]  # the app, the held survey work, staff release, link


def _survey_path(db: Session, outbox: Outbox) -> str:
    case = customer(db, tier="gold")
    visit(db, case, late_min=45)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"send": 1}
    text = outbox.sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = LINK.search(text)
    assert found is not None
    return found.group(1)


class Held:
    """Survey page work held until `release`; counts the requests that got that far."""

    def __init__(self, page: answering.Page) -> None:
        self.page, self.release, self.arrived = page, threading.Event(), 0
        self.lock = threading.Lock()

    def open_form(self, session: Session, token: str) -> answering.Page:
        with self.lock:
            self.arrived += 1
        self.release.wait(GUARD_S)
        return self.page


@pytest.fixture
def app_and_held(db: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> Scene:
    from app.main import create_app

    path = _survey_path(db, outbox)
    held = Held(answering.open_form(db, path.rsplit("/", 1)[1]))
    monkeypatch.setattr(answering, "open_form", held.open_form)  # as app/web/survey.py calls it
    settings = get_settings()
    assert (settings.admission_max_in_flight, settings.admission_survey) == (3, 2)  # the defaults
    app = create_app()
    staff_release = threading.Event()

    @app.get("/api/v1/_held")
    def staff_held() -> dict[str, bool]:
        return {"released": staff_release.wait(GUARD_S)}

    return app, held, staff_release, path


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


def _run(scenario: Callable[[httpx.AsyncClient], Coroutine[Any, Any, Any]], app: FastAPI) -> Any:
    async def main() -> Any:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await scenario(client)

    return asyncio.run(asyncio.wait_for(main(), timeout=60))  # a hang guard, not a timing assertion


def test_a_burst_of_customers_is_served_while_the_staff_api_is_saturated(app_and_held: Scene) -> None:
    app, held, staff_release, path = app_and_held
    slots = get_settings().admission_max_in_flight

    async def scenario(client: httpx.AsyncClient) -> dict[str, Any]:
        base = metrics.IN_FLIGHT._value.get()
        staff = [asyncio.create_task(client.get("/api/v1/_held")) for _ in range(slots)]
        await _until(lambda: metrics.IN_FLIGHT._value.get() >= base + slots)  # the staff API is full
        waiting = metrics.WAITING._value.get()
        customers = [asyncio.create_task(client.get(path, params={"csat": "4"})) for _ in range(CUSTOMERS)]
        # Every customer is at its gate: working, queued, or (the old way) already turned away.
        await _until(
            lambda: (
                held.arrived + (metrics.WAITING._value.get() - waiting) + sum(t.done() for t in customers)
                == CUSTOMERS
            )
        )
        refused_staff = await client.get("/api/v1/_held")  # the staff API still sheds at once
        held.release.set()
        pages = await asyncio.gather(*customers)
        staff_release.set()
        return {"pages": pages, "staff": await asyncio.gather(*staff), "refused": refused_staff}

    got = _run(scenario, app)
    assert [r.status_code for r in got["pages"]] == [200] * CUSTOMERS
    assert all('id="csat-4" name="csat" value="4" checked' in r.text for r in got["pages"])
    assert held.arrived == CUSTOMERS
    assert got["refused"].status_code == 503
    assert got["refused"].headers["content-type"] == "application/problem+json"
    assert [r.json() for r in got["staff"]] == [{"released": True}] * slots


def test_past_the_customers_queue_a_readable_busy_page_with_retry_after(
    app_and_held: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admission, "SURVEY_QUEUE", 1)  # read when the first request builds the stack
    app, held, _, path = app_and_held
    # Customers take the free staff slots first, then the survey lane's own.
    survey_slots = get_settings().admission_survey + get_settings().admission_max_in_flight

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        working = [asyncio.create_task(client.get(path)) for _ in range(survey_slots)]
        await _until(lambda: held.arrived == survey_slots)
        waiting = metrics.WAITING._value.get()
        queued = asyncio.create_task(client.get(path, params={"csat": "2"}))
        await _until(lambda: metrics.WAITING._value.get() > waiting or queued.done())
        busy_get = await client.get(path, params={"csat": "2"})
        busy_post = await client.post(path, data={"csat": "5"})
        # no database to look up the account: the browser's language (app.platform.i18n)
        busy_de = await client.get(path, headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.8"})
        held.release.set()
        return [*(await asyncio.gather(*working, queued)), busy_get, busy_post, busy_de]

    *served, busy_get, busy_post, busy_de = _run(scenario, app)
    assert busy_de.status_code == 503 and "<html lang='de'>" in busy_de.text
    assert "Gerade sind wir stark ausgelastet" in busy_de.text and "Ihr Link bleibt gültig" in busy_de.text
    assert [r.status_code for r in served] == [200] * (survey_slots + 1)
    for busy in (busy_get, busy_post):
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "5"
        assert busy.headers["content-type"].startswith("text/html")
        assert "We are busy right now" in busy.text and "try again in a moment" in busy.text
    assert f"href='{path}?csat=2'" in busy_get.text  # back to the same link, rating kept
    assert "not</strong> been saved" in busy_post.text  # a posted answer: go back and send again
