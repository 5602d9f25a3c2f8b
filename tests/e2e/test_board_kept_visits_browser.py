"""Visits kept at a time set by hand, as the dispatcher's board draws them in a real browser (Debian
chromium through Playwright, a real uvicorn server on a temporary SQLite file, tasks inline).

Two visits kept at the same time on one engineer were drawn on top of each other: one hid the
other and could not be clicked. Each is now on its own line of the lane (`track`), visible and
opening its own detail. A kept visit the engineer reaches early says so beside its ETA ("ETA
18:30 (arrives 14:41, waits)"): the ETA is the one the route and the customer's notice give.
"""

from __future__ import annotations

import re
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.board_seed import elec_afternoon
from tests.e2e.browser import CHROMIUM, PASSWORD, collect_errors, launch, running_server, sign_in

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

DESKTOP = {"width": 1400, "height": 950}
DISPATCHER = "disp@kept.example"


def _seed(url: str) -> dict[str, Any]:
    """Three afternoon visits only the ELEC engineer can do, not planned yet."""
    return elec_afternoon(url, visits=3, dispatcher=DISPATCHER)


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed, {"PLAN_TIME_LIMIT_S": "3"}) as info:
        info["headers"] = _token(info["base"])
        yield info


def _token(base: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": DISPATCHER, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _settled(server: dict[str, Any]) -> list[dict[str, Any]]:
    """The day's plan runs once none is queued or running (newest first)."""
    params = {"region_id": server["region_id"], "date": server["today"]}
    deadline = clock.monotonic() + 60
    while True:
        runs = httpx.get(f"{server['base']}/api/v1/plans", params=params, headers=server["headers"])
        items = sorted(runs.json()["items"], key=lambda r: -r["id"])
        if not any(r["status"] in ("queued", "running") for r in items):
            return items
        assert clock.monotonic() < deadline, items
        clock.sleep(0.3)


def _planned(server: dict[str, Any]) -> None:
    """Today planned and published (planned here when this test runs first)."""
    if any(r["status"] == "published" for r in _settled(server)):
        return
    body = {"region_id": server["region_id"], "date": server["today"], "time_limit_s": 3}
    r = httpx.post(f"{server['base']}/api/v1/plans", json=body, headers=server["headers"], timeout=60)
    assert r.status_code == 202, r.text
    assert _settled(server)[0]["status"] == "published"


def _keep(server: dict[str, Any], visit: int, hour: int, minute: int = 0) -> None:
    """Schedule a visit by hand on the ELEC engineer at hour:minute today (the region's clock), as
    a dispatcher's client does; its re-plan keeps it there."""
    base, headers = server["base"], server["headers"]
    current = httpx.get(f"{base}/api/v1/work-orders/{visit}", headers=headers)
    at = datetime.combine(datetime.fromisoformat(server["today"]), time(hour, minute), ZoneInfo(server["tz"]))
    done = httpx.post(
        f"{base}/api/v1/work-orders/{visit}/schedule",
        json={"engineer_id": server["engineer"], "planned_start": at.isoformat()},
        headers={**headers, "If-Match": current.headers["ETag"]},
        timeout=60,  # its re-plan runs inline (tasks eager)
    )
    assert done.status_code == 200, done.text
    assert _settled(server)[0]["trigger"] == "scheduled"  # the re-plan that keeps it there


@contextmanager
def _board(server: dict[str, Any]) -> Iterator[Any]:
    """A dispatcher's page on today's board."""
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(
                page, server["base"], f"/board?region={server['region_id']}&day={server['today']}", DISPATCHER
            )
            yield page
        finally:
            browser.close()


# What is drawn at the middle of an element: the element itself (or inside it) when it can be clicked.
ON_TOP = """b => { const r = b.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return hit === b || b.contains(hit); }"""


def test_visits_kept_at_the_same_time_are_each_visible_and_open_their_own_detail(
    server: dict[str, Any],
) -> None:
    _planned(server)
    first, second = server["visits"][1:]
    _keep(server, first, 17)
    _keep(server, second, 17)  # the same time on the same engineer (one is at risk)
    with _board(server) as page:
        errors = collect_errors(page)
        lane = page.locator(f'.trow[data-engineer="{server["engineer"]}"] .tlane')
        boxes = []
        for visit in (first, second):
            block = lane.locator(f'.block[data-id="{visit}"]')
            sync_api.expect(block).to_be_visible()
            sync_api.expect(block).to_have_attribute("aria-label", re.compile(r", ETA 17:00[ ,]"))
            assert block.evaluate(ON_TOP), f"{visit} is hidden under another block"  # was: the later one
            boxes.append(block.bounding_box())
            number = (block.get_attribute("aria-label") or "").split(",")[0]
            block.click()
            sync_api.expect(block).to_have_class(re.compile(r"\bselected\b"))
            sync_api.expect(page.locator("#detail-body p").first).to_contain_text(f"{number} · ")
        # one under the other, both inside the lane (it is two visits high)
        a, b, edge = boxes[0], boxes[1], lane.bounding_box()
        assert a and b and edge
        assert a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"], (a, b)
        for box in (a, b):
            assert edge["y"] <= box["y"] and box["y"] + box["height"] <= edge["y"] + edge["height"], (
                box,
                edge,
            )
        assert errors == []


def test_a_kept_visit_reached_early_says_the_engineer_arrives_and_waits(server: dict[str, Any]) -> None:
    _planned(server)
    kept = server["visits"][0]
    _keep(server, kept, 18, 30)
    with _board(server) as page:
        errors = collect_errors(page)
        block = page.locator(f'.trow[data-engineer="{server["engineer"]}"] .block[data-id="{kept}"]')
        sync_api.expect(block).to_be_visible()
        told = re.compile(r"ETA 18:30 \(arrives (\d\d:\d\d), waits\)")
        sync_api.expect(block).to_have_attribute("aria-label", told)
        arrives = told.search(block.get_attribute("aria-label") or "")
        assert arrives and arrives[1] < "18:30"  # the engine's arrival, before the ETA given
        block.click()
        sync_api.expect(page.locator("#detail-body p").first).to_contain_text(
            f"ETA 18:30 (arrives {arrives[1]}, waits)"
        )
        assert errors == []
