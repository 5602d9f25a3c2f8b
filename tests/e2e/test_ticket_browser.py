"""The ticket page on a 360 px phone: a subject made of one very long word wraps instead of
widening the page, and the description shows in the header.

Runs Debian's /usr/bin/chromium through Playwright against a real uvicorn server (see browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from tests import factories as f
from tests.e2e.browser import (
    ARGS,
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    collect_errors,
    migrated,
    running_server,
    sign_in,
)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

LONG_WORD = "Kühlmittelverdichterüberdruckabschaltungsfehlermeldung" * 3  # 162 letters, no break


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            acc = f.make_account(db, name="Brauerei Gipfelglück GmbH")
            ticket = tickets.create_ticket(
                db,
                account_id=acc.id,
                subject=f"Alarm {LONG_WORD}",
                description=f"Display shows {LONG_WORD} since 06:00.",
                priority="P2",
                channel="phone",
                actor=None,
            )
            agent = f.make_user(db, role="agent", email="agent@browser.example", password=PASSWORD)
            db.commit()
            return {"ticket_id": ticket.id, "agent_email": agent.email}
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        yield info


def test_long_subject_wraps_on_a_phone_and_the_description_is_in_the_header(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 360, "height": 780}).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/desk/tickets/{server['ticket_id']}", server["agent_email"])
            heading = page.get_by_role("heading", level=1)
            sync_api.expect(heading).to_contain_text("Alarm Kühlmittel")
            header = page.locator("section[aria-labelledby='ticket-title']")
            sync_api.expect(header.locator(".description")).to_contain_text("Display shows")
            page.screenshot(path=str(ARTIFACTS / "desk-ticket-long-subject-360.png"), full_page=True)
            box = heading.bounding_box()
            assert box is not None and box["x"] + box["width"] <= 360
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"page is {width}px wide at a 360px viewport"
            assert errors == [], f"browser console errors: {errors}"
        finally:
            browser.close()
