"""The KPI dashboard in a real browser: a manager signs in, and every number on screen — cards,
tables and the chart's points — equals what GET /api/v1/kpis answers for the same filters.

Runs Debian's chromium through Playwright against uvicorn on a temporary SQLite file seeded with
the hand-computed history of tests/insights/fixture.py. Screenshot goes to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.insights.metrics import METRICS
from app.models import Account
from app.web.insights import duration_unit, shown
from tests import factories as f
from tests.e2e.browser import ARGS, ARTIFACTS, CHROMIUM, PASSWORD, collect_errors, migrated, running_server
from tests.insights import fixture

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

QUERY = "from=2026-03-09&to=2026-03-22&period=week&group_by=region"


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            world = fixture.build(db)
            for ticket in world.tickets.values():  # both customers renew soon: the risk list shows them
                db.get(Account, ticket.account_id).renewal_date = date.today() + timedelta(days=30)
            manager = f.make_user(
                db, role="manager", email="boss@browser.example", password=PASSWORD, name="Mia"
            )
            db.commit()
            return {"manager_email": manager.email}
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        yield info


def test_dashboard_numbers_equal_the_api(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors = collect_errors(page)
            page.goto(f"{base}/login")
            page.get_by_label("E-mail").fill(server["manager_email"])
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            page.goto(f"{base}/insights?{QUERY}")
            page.locator("canvas[data-drawn]").first.wait_for(timeout=15_000)
            api = page.evaluate(f"fetch('/api/v1/kpis?{QUERY}').then(r => r.json())")
            metrics = {m["metric"]: m for m in api["metrics"]}
            assert set(metrics) == set(METRICS)

            flat_lines = 0
            for name, m in metrics.items():
                card = page.locator(f'li.kpi-card[data-metric="{name}"]')
                assert card.locator(".value").inner_text() == shown(m["total"]["value"], m["unit"]), name
                # every figure of a duration's card is in the unit its total asks for
                unit = duration_unit(m["total"]["value"]) if m["unit"] == "minutes" else None
                assert int(card.locator(".n").inner_text()) == m["total"]["n"], name
                if not m["series"]:
                    continue
                rows = page.locator(f"#t-{name} tbody tr")
                assert rows.count() == len(m["series"])
                for i, p in enumerate(m["series"]):
                    row = rows.nth(i)
                    assert row.get_attribute("data-period") == p["period"]
                    assert row.locator("th").inner_text().startswith(p["period"])
                    assert row.locator(".value").inner_text() == shown(p["value"], m["unit"], unit), (name, p)
                    assert int(row.locator(".n").inner_text()) == p["n"]
                # the chart's points are the API's series values, unrounded, in the table's unit
                drawn = page.evaluate(
                    f"Chart.getChart(document.querySelector('canvas[data-chart-for=\"t-{name}\"]')).data.datasets[0].data"
                )
                per = unit.per_min if unit else 1
                assert drawn == pytest.approx(
                    [None if p["value"] is None else p["value"] / per for p in m["series"]]
                ), name
                # the dashed line: flat at the whole window before (the card's "before"), not each
                # period's own previous (that was the first line shifted one step)
                datasets = page.evaluate(
                    f"Chart.getChart(document.querySelector('canvas[data-chart-for=\"t-{name}\"]')).data.datasets"
                )
                before = (m["total"].get("previous") or {}).get("value")
                if before is None:
                    assert len(datasets) == 1, name
                else:
                    assert datasets[1]["data"] == pytest.approx([before / per] * len(m["series"])), name
                    flat_lines += 1
                for g in m["groups"]:
                    cell = page.locator(f'section[data-metric="{name}"] tr[data-group="{g["key"]}"]')
                    assert cell.locator(".value").inner_text() == shown(g["total"]["value"], m["unit"], unit)

            assert flat_lines >= 2, flat_lines  # metrics the fixture has a window before for
            # the 23:30 New York visit: week 11 has three promised arrivals, week 12 none
            assert page.locator('#t-on_time_arrival tr[data-period="2026-W11"] .n').inner_text() == "3"
            page.screenshot(path=str(ARTIFACTS / "kpi-dashboard.png"), full_page=True)

            # drill-down from a card lists as many items as the card's n
            page.locator('li.kpi-card[data-metric="repeat_visit_rate"] a').click()
            page.wait_for_url("**/insights/drill**")
            assert int(page.locator(".drill-n").inner_text()) == metrics["repeat_visit_rate"]["total"]["n"]
            assert (
                page.locator("table.drill-items tbody tr").count()
                == metrics["repeat_visit_rate"]["total"]["n"]
            )
            assert errors == []

            # the renewal-risk list shows the API's scores, lowest first
            page.go_back()
            risk = page.evaluate("fetch('/api/v1/kpis/renewal-risk').then(r => r.json())")["items"]
            assert len(risk) == 2
            rows = page.locator("table.renewal-list tbody tr")
            assert rows.count() == len(risk)
            for i, item in enumerate(risk):
                assert rows.nth(i).get_attribute("data-account") == str(item["account_id"])
                assert int(rows.nth(i).locator(".score").inner_text()) == item["score"]
                assert rows.nth(i).locator(".owner").inner_text() == (item["owner"] or "no owner")

            # on a phone the manager's menu wraps instead of running off the screen
            page.set_viewport_size({"width": 360, "height": 780})
            page.reload()
            assert page.evaluate("document.querySelector('.topbar').scrollWidth") <= 360
            last_link = page.get_by_role("navigation", name="Main").get_by_role("link").last
            assert last_link.bounding_box()["x"] < 360
        finally:
            browser.close()
