"""The drivers view in a real browser: a manager signs in, filters by region with the keyboard,
and every number of the ranked table — and every bar of its chart — equals what
GET /api/v1/kpis/drivers answers for the same filters; each n opens the answers behind it.

Seeded with the hand-computed answers of tests/insights/drivers_fixture.py. Screenshot goes to
test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

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
from tests.insights import drivers_fixture

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

WEEK = "from=2026-03-09&to=2026-03-15"


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            drivers_fixture.build(db)
            manager = f.make_user(db, role="manager", email="lead@drivers.example", password=PASSWORD)
            db.commit()
            return {"manager_email": manager.email}
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        yield info


def _mean(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def test_drivers_on_screen_equal_the_api(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/insights/drivers?{WEEK}", server["manager_email"])

            # keyboard only: the region filter is reached by its label, chosen, and submitted
            page.get_by_label("Region").focus()
            page.keyboard.press("ArrowDown")  # "all" → Berlin (options in name order)
            assert page.get_by_label("Region").input_value() == "BER"
            page.get_by_role("button", name="Show").focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**region=BER**")
            page.locator("canvas[data-drawn]").wait_for(timeout=15_000)

            api = page.evaluate(f"fetch('/api/v1/kpis/drivers?{WEEK}&region=BER').then(r => r.json())")
            assert page.locator(".drivers-n").inner_text() == str(api["n"]) == "8"
            rows = page.locator("#drivers-table tbody tr")
            assert rows.count() == len(api["facts"])
            for i, fact in enumerate(api["facts"]):
                row = rows.nth(i)
                assert row.get_attribute("data-fact") == fact["fact"]
                assert row.locator("th").inner_text() == fact["label"]
                assert row.locator(".mean-with").inner_text() == _mean(fact["mean_with"])
                assert row.locator(".mean-without").inner_text() == _mean(fact["mean_without"])
                assert int(row.locator(".n-with").inner_text()) == fact["n_with"]
                assert int(row.locator(".n-without").inner_text()) == fact["n_without"]
                diff = fact["difference"]
                assert row.locator(".difference").inner_text() == ("–" if diff is None else f"{diff:+.2f}")
                ci = row.locator(".ci").inner_text()
                if fact["ci_low"] is None:
                    assert ci == "–"
                else:
                    assert ci == f"{fact['ci_low']:+.2f} to {fact['ci_high']:+.2f}"
            assert rows.first.locator(".difference").inner_text() == "-2.00"  # late, by hand

            # the bars are the API's differences, unrounded, in rank order (facts with one)
            drawn = page.evaluate(
                "Chart.getChart(document.querySelector('canvas[data-drivers-for]')).data.datasets[0].data"
            )
            ranked = [x["difference"] for x in api["facts"] if x["difference"] is not None]
            assert drawn == pytest.approx(ranked)
            page.screenshot(path=str(ARTIFACTS / "kpi-drivers.png"), full_page=True)

            # a side's n opens the answers behind it (focus the link, press Enter)
            page.locator('tr[data-fact="late"] a.n-with').focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**/insights/drivers/drill**")
            assert int(page.locator(".drill-n").inner_text()) == api["facts"][0]["n_with"] == 3
            assert page.locator("table.drill-items tbody tr").count() == 3
            assert errors == []
        finally:
            browser.close()
