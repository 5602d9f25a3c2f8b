"""Team management and the what-if publish in a real browser (Debian chromium through Playwright,
a real uvicorn server on a temporary SQLite file, tasks inline).

A manager creates a team from the menu and adds an agent with the keyboard-usable form; that
agent's "My team's" queue then lists the tickets of the team's other member. A dispatcher
previews "Ada goes home from a minute from now", publishes it, and the board shows Ada absent
from that time with the re-plan published.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.orm import Session

from app.platform.auth import hash_password
from tests.e2e.browser import ARGS, CHROMIUM, PASSWORD, collect_errors, migrated, running_server, sign_in
from tests.planning import world as pw

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

DESKTOP = {"width": 1300, "height": 900}


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            tz = pw.midday_zone()
            w = pw.build(db, jobs=4, tz=tz, shift=(0, 23), all_week=True)
            for user, engineer, name in zip(w.users, w.engineers, ["Ada Field", "Ben Field"], strict=True):
                user.name = engineer.name = name
                user.password_hash = hash_password(PASSWORD)
            pw.f.make_user(db, role="manager", email="boss@browser.example", password=PASSWORD)
            pw.f.make_user(db, role="dispatcher", email="disp@browser.example", password=PASSWORD)
            pw.f.make_user(
                db, role="agent", email="alma@browser.example", password=PASSWORD, name="Alma Agent"
            )
            colleague = pw.f.make_user(
                db, role="agent", email="carl@browser.example", password=PASSWORD, name="Carl Colleague"
            )
            ticket = pw.f.open_ticket(db, w.account, subject="Boiler knocks at night")
            ticket.assignee_id = colleague.id
            db.commit()
            return {
                "tz": tz,
                "region_id": w.region.id,
                "today": datetime.now(ZoneInfo(tz)).date().isoformat(),
                "ticket": ticket.number,
                "ada": w.engineers[0].id,
            }
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed, {"PLAN_TIME_LIMIT_S": "3", "REPLAN_TIME_LIMIT_S": "2"}) as info:
        yield info


def _browser(p: Any) -> Any:
    return p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


def test_manager_builds_a_team_and_the_agent_sees_the_teams_tickets(server: dict[str, Any]) -> None:
    base = server["base"]
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            errors = collect_errors(page)
            sign_in(page, base, "/desk/queue", "boss@browser.example")
            page.get_by_role("link", name="Teams").click()
            page.wait_for_url(f"{base}/desk/teams")
            page.get_by_label("Team name").fill("Heating desk")
            page.get_by_label("Team name").press("Enter")  # keyboard: submit the form
            page.wait_for_url(f"{base}/desk/teams/*?done=created")
            sync_api.expect(page.get_by_role("heading", name="Team Heating desk")).to_be_visible()
            for person in ("Alma Agent", "Carl Colleague"):
                page.get_by_label("Person to add").select_option(label=f"{person} (agent)")
                page.get_by_role("button", name="Add to the team").click()
                page.wait_for_url(f"{base}/desk/teams/*?done=added")
            sync_api.expect(page.locator("#members li")).to_have_count(2)
            sync_api.expect(
                page.get_by_role("button", name="Remove Alma Agent from Heating desk")
            ).to_be_visible()
            assert errors == []

            agent = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(agent, base, "/desk/queue?view=team", "alma@browser.example")
            sync_api.expect(agent.get_by_role("heading", name="Tickets: My team's")).to_be_visible()
            sync_api.expect(agent.locator(".queue-row")).to_contain_text(server["ticket"])
            assert agent.get_by_role("link", name="Teams").count() == 0  # agents do not manage teams
            assert agent.goto(f"{base}/desk/teams").status == 403
        finally:
            browser.close()


def test_dispatcher_previews_and_publishes_a_what_if_absence(server: dict[str, Any]) -> None:
    base = server["base"]
    r = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "disp@browser.example", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    plan = httpx.post(
        f"{base}/api/v1/plans",
        json={"region_id": server["region_id"], "date": server["today"], "time_limit_s": 2.0},
        headers=headers,
        timeout=60,
    )
    assert plan.status_code in (201, 202), plan.text
    leaves = (datetime.now(ZoneInfo(server["tz"])) + timedelta(minutes=2)).strftime("%H:%M")
    with sync_api.sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/board?region={server['region_id']}", "disp@browser.example")
            form = page.get_by_role("form", name="What if an engineer is absent")
            form.get_by_label("Engineer").select_option(label="Ada Field")
            form.get_by_label("absent from").fill(leaves)
            form.get_by_role("button", name="Preview the re-plan").click()
            page.wait_for_url(f"{base}/board/what-if?*")
            sync_api.expect(
                page.get_by_role(
                    "heading",  # the day too: a what-if is for one day
                    name=re.compile(
                        rf"^What if Ada Field were absent from {leaves} on \w{{3}} \d\d \w{{3}} \d{{4}}\?$"
                    ),
                )
            ).to_be_visible()
            sync_api.expect(page.get_by_role("status")).to_contain_text("nothing has been saved")
            page.get_by_role("button", name="Record the absence and publish this plan").click()
            page.wait_for_url(f"{base}/board?*done=whatif*")
            sync_api.expect(page.get_by_role("status").first).to_contain_text("The absence is recorded")
            sync_api.expect(page.locator(f'.trow[data-engineer="{server["ada"]}"]')).to_contain_text(
                f"Absent (sickness from {leaves})"
            )
            assert errors == []
        finally:
            browser.close()
