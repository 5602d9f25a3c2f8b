"""A visit the engineer has done, on the dispatcher's board in a real browser (Debian chromium
through Playwright, a real uvicorn server on a temporary SQLite file, tasks inline).

The board drew a visit checked in and reported before its planned slot at that slot, "ETA …,
done". The block is now where it happened, its accessible name and the detail panel say what
happened ("arrived 12:05, done 12:05 (planned 13:15–14:00)"), and the planned slot is drawn
faintly beside it. Writes no screenshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.board_seed import elec_afternoon
from tests.e2e.browser import CHROMIUM, PASSWORD, collect_errors, launch, running_server, sign_in
from tests.e2e.test_board_kept_visits_browser import DESKTOP, _settled

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

DISPATCHER = "disp@actual.example"
ENGINEER = "elec@actual.example"


def _seed(url: str) -> dict[str, Any]:
    """Two afternoon visits (13:00–19:00) only the ELEC engineer (`ENGINEER`) can do, not planned yet."""
    return elec_afternoon(url, visits=2, dispatcher=DISPATCHER, engineer=ENGINEER)


def _token(base: str, email: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed, {"PLAN_TIME_LIMIT_S": "3"}) as info:
        info["headers"] = _token(info["base"], DISPATCHER)
        yield info


def _done_before_its_slot(server: dict[str, Any]) -> dict[str, Any]:
    """Plan today, then the engineer checks in at the first visit now (before its afternoon slot)
    and files the report: the visit as the API returns it."""
    base = server["base"]
    body = {"region_id": server["region_id"], "date": server["today"], "time_limit_s": 3}
    r = httpx.post(f"{base}/api/v1/plans", json=body, headers=server["headers"], timeout=60)
    assert r.status_code == 202, r.text
    assert _settled(server)[0]["status"] == "published"
    me = _token(base, ENGINEER)
    route = httpx.get(f"{base}/api/v1/me/route", params={"date": server["today"]}, headers=me).json()
    first = next(s for s in route["stops"] if s["kind"] == "job")
    visit = first["work_order_id"]
    assert (
        httpx.post(f"{base}/api/v1/work-orders/{visit}/check-in", headers=me, timeout=60).status_code == 200
    )
    filed = httpx.post(
        f"{base}/api/v1/work-orders/{visit}/report",
        json={"work_done": "Replaced the fuse", "fixed_first_time": True},
        headers=me,
        timeout=60,
    )
    assert filed.status_code == 200, filed.text
    return {**filed.json(), "planned_start": first["start_at"], "planned_end": first["end_at"]}


def test_a_visit_done_before_its_slot_is_drawn_when_it_happened_with_the_plan_faint(
    server: dict[str, Any],
) -> None:
    visit = _done_before_its_slot(server)
    zone = ZoneInfo(server["tz"])

    def hhmm(value: str) -> str:
        return datetime.fromisoformat(value).astimezone(zone).strftime("%H:%M")

    said = (
        f"arrived {hhmm(visit['checked_in_at'])}, done {hhmm(visit['checked_out_at'])} "
        f"(planned {hhmm(visit['planned_start'])}–{hhmm(visit['planned_end'])})"
    )
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            errors = collect_errors(page)
            sign_in(
                page, server["base"], f"/board?region={server['region_id']}&day={server['today']}", DISPATCHER
            )
            lane = page.locator(f'.trow[data-engineer="{server["engineer"]}"] .tlane')
            block = lane.locator(f'.block[data-id="{visit["id"]}"]')
            sync_api.expect(block).to_be_visible()
            # was "ETA <planned arrival>, done", drawn at the planned slot
            sync_api.expect(block).to_have_attribute("aria-label", re.compile(re.escape(said)))
            slot = lane.locator(".planned-slot")
            sync_api.expect(slot).to_have_count(1)
            assert slot.get_attribute("aria-hidden") == "true"
            drawn, planned = block.bounding_box(), slot.bounding_box()
            assert drawn and planned
            assert drawn["x"] + drawn["width"] <= planned["x"] + 1, (drawn, planned)  # done before the slot
            block.click()
            sync_api.expect(page.locator("#detail-body p").first).to_contain_text(said)
            assert errors == []
        finally:
            browser.close()
