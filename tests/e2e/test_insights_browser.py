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
            page.wait_for_url(f"{base}/insights")  # signed in (managers land there)
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


# Cells of the dashboard's tables whose text runs over more than one line.
BROKEN_NUMBERS = """() => Array.from(document.querySelectorAll(
    '.kpi-table td, .kpi-groups td, table.renewal-list .score')).filter(td => {
  const range = document.createRange();
  range.selectNodeContents(td);
  const tops = Array.from(range.getClientRects()).filter(b => b.width > 0).map(b => b.top);
  return tops.length && Math.max(...tops) - Math.min(...tops) > 4;
}).map(td => td.textContent.trim())"""
CHART = "Chart.getChart(document.querySelector('canvas[data-chart-for=\"t-{}\"]'))"


def _manager_page(pw: Any, server: dict[str, Any], width: int = 1280) -> tuple[Any, Any, list[str]]:
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    errors = collect_errors(page)
    page.goto(f"{server['base']}/login")
    page.get_by_label("E-mail").fill(server["manager_email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server['base']}/insights")  # signed in (managers land there)
    page.goto(f"{server['base']}/insights?{QUERY}")
    page.locator("canvas[data-drawn]").first.wait_for(timeout=15_000)
    return browser, page, errors


def test_numbers_in_the_dashboard_tables_never_break(server: dict[str, Any]) -> None:
    """Two-digit n values wrapped digit by digit ("1" over "6") at 1280 px."""
    with sync_api.sync_playwright() as pw:
        browser, page, errors = _manager_page(pw, server)
        try:
            # the fixture's engineer-days: a two-digit n (10) in the utilisation table and its groups
            assert any(len(t) >= 2 for t in page.locator(".kpi-table .n").all_inner_texts())
            for width in (1280, 1000, 900):
                page.set_viewport_size({"width": width, "height": 900})
                assert page.evaluate(BROKEN_NUMBERS) == [], width
            # partial weeks: the period column's "(only … to …)" leaves the numbers less room
            page.goto(f"{server['base']}/insights?from=2026-03-10&to=2026-03-20&period=week&group_by=region")
            page.set_viewport_size({"width": 1280, "height": 900})
            assert page.locator(".kpi-table .part").count() > 0
            assert page.evaluate(BROKEN_NUMBERS) == []
            # and the tables still fit their cards (the period's words wrap instead)
            overflow = page.evaluate(
                """() => Array.from(document.querySelectorAll('.kpi-table, .kpi-groups')).filter(t =>
                     t.getBoundingClientRect().right > t.closest('section').getBoundingClientRect().right + 1
                   ).map(t => t.id || t.className)"""
            )
            assert overflow == []
            assert errors == []
        finally:
            browser.close()


def test_trend_points_with_few_answers_are_marked(server: dict[str, Any]) -> None:
    """The weekly lines showed no uncertainty while the cards did (NPS +75 → −25 on n = 4): a period
    with a small sample is hollow, its interval a whisker, n and interval in its tooltip."""
    with sync_api.sync_playwright() as pw:
        browser, page, errors = _manager_page(pw, server)
        try:
            table = page.locator("#t-nps")
            few = int(table.get_attribute("data-few") or 0)
            assert few > 1
            rows = table.locator("tbody tr")
            fills = page.evaluate(f"{CHART.format('nps')}.data.datasets[0].pointBackgroundColor")
            marked = 0
            for i in range(rows.count()):
                n, value = (
                    int(rows.nth(i).get_attribute("data-n") or 0),
                    rows.nth(i).get_attribute("data-value"),
                )
                if value:
                    assert (fills[i] == "#fff") == (n < few), (i, n, fills)
                    marked += n < few
            assert marked >= 1
            # the legend says what a hollow point and the vertical line are
            legend = page.locator('section[data-metric="nps"] .kpi-chart-legend')
            sync_api.expect(legend).to_contain_text(f"Hollow point: fewer than {few} in its sample")
            sync_api.expect(legend).to_contain_text("95 % interval")
            # week 11: NPS 0 on 3 answers, 95 % from −92.4 to 92.4
            i = [rows.nth(k).get_attribute("data-period") for k in range(rows.count())].index("2026-W11")
            point = page.evaluate(
                f"(i => {{ const p = {CHART.format('nps')}.getDatasetMeta(0).data[i]; return [p.x, p.y]; }})",
                i,
            )
            canvas = page.locator('canvas[data-chart-for="t-nps"]')
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + point[0], box["y"] + point[1])
            tooltip = (
                f"() => ({CHART.format('nps')}.tooltip.body || [])"
                + ".flatMap(b => [...b.lines, ...b.after])"
            )
            page.wait_for_function(f"({tooltip})().length > 0")
            assert page.evaluate(tooltip) == [
                "NPS: " + rows.nth(i).locator(".value").inner_text(),  # as the table says it (+0)
                "n = 3 (few: read with care)",
                "95 % interval: −92.4 to 92.4",
            ]
            # the whisker: drawn straight above the point (where the line does not run), the tooltip gone
            page.mouse.move(0, 0)
            page.wait_for_function(f"({tooltip})().length === 0 || !{CHART.format('nps')}.tooltip.opacity")
            top = page.evaluate(f"{CHART.format('nps')}.chartArea.top")
            pixel = page.evaluate(
                f"""([x, y]) => {{ const c = document.querySelector('canvas[data-chart-for="t-nps"]');
                   const d = {CHART.format("nps")}.currentDevicePixelRatio;
                   const px = c.getContext('2d').getImageData(Math.round(x * d), Math.round(y * d), 1, 1);
                   return Array.from(px.data); }}""",
                [point[0], (point[1] + top) / 2],
            )
            assert pixel[3] > 100 and pixel[2] > pixel[0] + 40, pixel
            # durations carry no interval: hollow points only, no whisker line in the legend
            assert page.locator("#t-time_to_resolve tbody tr[data-ci-low]").count() == 0
            page.screenshot(path=str(ARTIFACTS / "kpi-dashboard-few.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
