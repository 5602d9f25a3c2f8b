"""The drivers view in a real browser: a manager signs in, filters by region with the keyboard,
and every number of the ranked table — and every bar of its chart — equals what
GET /api/v1/kpis/drivers answers for the same filters; each n opens the answers behind it.
Each bar carries whiskers for its 95 % interval, the numbers in its tooltip and in a text
equivalent; a fact whose interval spans 0 is drawn lighter and marked "uncertain".

Seeded with the hand-computed answers of tests/insights/drivers_fixture.py, plus a second Berlin
week (`SURE_WEEK`) where first-time fix has an interval clear of 0. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories as f
from tests.e2e.browser import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    collect_errors,
    launch,
    migrated,
    running_server,
    sign_in,
)
from tests.insights import drivers_fixture
from tests.insights.fixture import at

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

WEEK = "from=2026-03-09&to=2026-03-15"
SURE_WEEK = "from=2026-03-16&to=2026-03-22&region=BER"
# The week after: (CSAT, first_time_fix, late) per answer. Fixed at the first visit: 5 5 4 5 4 against
# 1 2 1 2 2 (and the base fixture's Monday 00:30 answer, 1): an interval far from 0. Late: 5 1 (and
# that 1) against the rest: an interval across 0.
SURE_ROWS = [
    (5, True, True), (5, True, False), (4, True, False), (5, True, False), (4, True, False),
    (1, False, True), (2, False, False), (1, False, False), (2, False, False), (2, False, False),
]  # fmt: skip

# A third Berlin week where the only fact known is an SLA breach, on one answer (CSAT 4) against
# four (5 5 4 5): −0.75 with no interval. The chart scaled its axis to that bar, filling the width.
FEW_WEEK = "from=2026-03-23&to=2026-03-29&region=BER"
FEW_ROWS = [(4, True), (5, False), (5, False), (4, False), (5, False)]
EMPTY_WEEK = "from=2026-04-06&to=2026-04-12"

SOLID = {"lowers": (0xB3, 0x41, 0x2E), "raises": (0x2E, 0x7D, 0x4F)}
LIGHT = {"lowers": (0xE8, 0xBC, 0xB3), "raises": (0xB5, 0xD8, 0xC2)}

# Where bar i is drawn, and the canvas pixels that show its fill and its whisker: the fill halfway
# along the bar, a quarter of its height off the middle (where the whisker runs); the whisker halfway
# between the bar's end and the interval's end beyond it (cut at the axis), where only it is drawn.
PROBE = """([i, low, high]) => {
  const canvas = document.querySelector('canvas[data-drivers-for]');
  const chart = Chart.getChart(canvas), bar = chart.getDatasetMeta(0).data[i], x = chart.scales.x;
  const ctx = canvas.getContext('2d'), dpr = chart.currentDevicePixelRatio;
  const px = (u, v) => Array.from(ctx.getImageData(Math.round(u * dpr), Math.round(v * dpr), 1, 1).data);
  const out = {x: (bar.x + bar.base) / 2, y: bar.y, fill: px((bar.x + bar.base) / 2, bar.y + bar.height / 4)};
  if (low !== null) {
    const beyond = bar.x < bar.base ? low : high;
    const end = Math.min(chart.chartArea.right, Math.max(chart.chartArea.left, x.getPixelForValue(beyond)));
    const wx = (bar.x + end) / 2;
    // the most opaque, then darkest, of the three rows the 2 px line may cover
    const order = (a, b) => (b[3] - a[3]) * 1000 + (a[0] + a[1] + a[2]) - (b[0] + b[1] + b[2]);
    out.whisker = [-1, 0, 1].map(d => px(wx, bar.y + d)).sort(order)[0];
  }
  return out;
}"""
CHART = "Chart.getChart(document.querySelector('canvas[data-drivers-for]'))"
TOOLTIP = f"() => {CHART}.tooltip.body.flatMap(b => b.lines)"


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            world = drivers_fixture.build(db)
            visit, berlin = world.base.visits["W5"], world.base.berlin
            for i, (csat, fixed, late) in enumerate(SURE_ROWS):
                facts = {"first_time_fix": fixed, "late": late}
                drivers_fixture._answer(
                    db, f"sure{i}", visit, berlin, at(17 + i // 5, 9 + i % 5), csat, facts
                )
            for i, (csat, breached) in enumerate(FEW_ROWS):
                drivers_fixture._answer(
                    db, f"few{i}", visit, berlin, at(24 + i % 3, 9 + i), csat, {"sla_breach": breached}
                )
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


def _near(got: list[int], want: tuple[int, int, int]) -> bool:
    return got[3] == 255 and all(abs(g - w) <= 3 for g, w in zip(got, want, strict=False))


def _check_bars(page: Any, api: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every bar in its shade (solid when its interval stays clear of 0, light otherwise), with its
    whisker drawn where the interval reaches past the bar; the same in the table and in words."""
    drawn = [fact for fact in api["facts"] if fact["difference"] is not None]
    items = page.locator("#drivers-chart-text li")
    assert items.count() == len(drawn)
    assert page.locator("canvas[data-drivers-for]").get_attribute("aria-describedby") == "drivers-chart-text"
    probes = {}
    for i, fact in enumerate(drawn):
        row = page.locator(f'#drivers-table tr[data-fact="{fact["fact"]}"]')
        assert row.get_attribute("data-uncertain") == ("1" if fact["uncertain"] else "0")
        assert row.locator(".drivers-flag").count() == (1 if fact["uncertain"] else 0)
        text = items.nth(i).inner_text()
        assert text.startswith(f"{fact['label']}: {fact['difference']:+.2f} CSAT points, "), text
        if fact["ci_low"] is not None:
            assert f"95 % interval {fact['ci_low']:+.2f} to {fact['ci_high']:+.2f}" in text
        if not fact["uncertain"]:
            ending = ": clear of 0."
        elif fact["ci_low"] is not None:
            ending = ": uncertain, the interval spans 0."
        else:
            ending = "no 95 % interval (fewer than 2 answers on a side, or no spread): uncertain."
        assert text.endswith(ending), text
        probe = page.evaluate(PROBE, [i, fact["ci_low"], fact["ci_high"]])
        side = "lowers" if fact["difference"] < 0 else "raises"
        assert _near(probe["fill"], (LIGHT if fact["uncertain"] else SOLID)[side]), (fact["fact"], probe)
        if fact["ci_low"] is not None:
            # off the bar, where only the whisker is drawn (grid lines are translucent)
            whisker = probe["whisker"]
            assert whisker[3] == 255 and max(whisker[:3]) < 90, (fact["fact"], probe)
        probes[fact["fact"]] = probe
    return probes


def _tooltip(page: Any, probe: dict[str, Any]) -> list[str]:
    box = page.locator("canvas[data-drivers-for]").bounding_box()
    page.mouse.move(box["x"] + probe["x"], box["y"] + probe["y"])
    page.wait_for_function(f"({TOOLTIP})().length > 0")
    lines: list[str] = page.evaluate(TOOLTIP)
    page.mouse.move(0, 0)
    return lines


def test_drivers_on_screen_equal_the_api(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
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
                ci = row.locator(".ci .ci-range").inner_text()
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

            # each bar: its shade, its whisker, the words; in this week every interval spans 0
            probes = _check_bars(page, api)
            late = api["facts"][0]
            assert (
                late["fact"] == "late"
                and late["uncertain"]
                and (late["ci_low"], late["ci_high"])
                == (
                    pytest.approx(-4.27, abs=0.005),
                    pytest.approx(0.27, abs=0.005),
                )
            )
            legend = page.locator(".drivers-legend")
            assert legend.is_visible() and "whiskers: its 95 % interval" in legend.inner_text()
            assert "Lighter bar, “uncertain” in the table: the interval spans 0" in legend.inner_text()
            assert _tooltip(page, probes["late"]) == [
                "Difference: -2.00 CSAT points (with − without)",
                "95 % interval: -4.27 to +0.27",
                "Uncertain: the interval spans 0",
            ]
            assert _tooltip(page, probes["repeat_visit"])[1:] == [
                "No 95 % interval (fewer than 2 answers on a side, or no spread): uncertain"
            ]
            page.screenshot(path=str(ARTIFACTS / "kpi-drivers.png"), full_page=True)

            # a side's n opens the answers behind it (focus the link, press Enter)
            page.locator('tr[data-fact="late"] a.n-with').focus()
            page.keyboard.press("Enter")
            page.wait_for_url("**/insights/drivers/drill**")
            assert int(page.locator(".drill-n").inner_text()) == api["facts"][0]["n_with"] == 3
            assert page.locator("table.drill-items tbody tr").count() == 3

            # a week where one fact is sure: its bar solid, the uncertain one beside it light
            page.goto(f"{base}/insights/drivers?{SURE_WEEK}")
            page.locator("canvas[data-drawn]").wait_for(timeout=15_000)
            api = page.evaluate(f"fetch('/api/v1/kpis/drivers?{SURE_WEEK}').then(r => r.json())")
            facts = {x["fact"]: x for x in api["facts"]}
            assert not facts["first_time_fix"]["uncertain"] and facts["late"]["uncertain"]
            assert api["facts"][0]["fact"] == "first_time_fix"
            assert (
                facts["first_time_fix"]["ci_low"] > 0
                and facts["late"]["ci_low"] < 0 < facts["late"]["ci_high"]
            )
            probes = _check_bars(page, api)
            fixed = facts["first_time_fix"]
            assert _tooltip(page, probes["first_time_fix"]) == [
                f"Difference: {fixed['difference']:+.2f} CSAT points (with − without)",
                f"95 % interval: {fixed['ci_low']:+.2f} to {fixed['ci_high']:+.2f}",
                "The interval stays clear of 0",
            ]
            page.screenshot(path=str(ARTIFACTS / "kpi-drivers-sure.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()


# Where a bar's label lines are drawn: the leftmost x any of them reaches (below 0: cut off).
LABELS_LEFT = f"""() => {{
  const chart = {CHART}, y = chart.scales.y, ctx = chart.ctx;
  return Math.min(...y.getLabelItems().map(item => {{
    ctx.save(); ctx.font = item.font.string;
    const lines = [].concat(item.label), wide = Math.max(...lines.map(l => ctx.measureText(l).width));
    ctx.restore();
    const x = item.options.translation[0], align = item.options.textAlign;
    return align === 'right' ? x - wide : align === 'center' ? x - wide / 2 : x;
  }}));
}}"""
# Dark pixels (text) in bar i's row, on the far side of the zero line from the bar.
NOTE_PIXELS = """i => {
  const canvas = document.querySelector('canvas[data-drivers-for]');
  const chart = Chart.getChart(canvas), bar = chart.getDatasetMeta(0).data[i];
  const d = chart.currentDevicePixelRatio;
  const ctx = canvas.getContext('2d'), left = bar.x < bar.base;
  const x0 = left ? bar.base + 4 : chart.chartArea.left, x1 = left ? chart.chartArea.right : bar.base - 4;
  const img = ctx.getImageData(Math.round(x0 * d), Math.round((bar.y - 6) * d),
                               Math.round((x1 - x0) * d), Math.round(12 * d));
  let dark = 0;
  for (let k = 0; k < img.data.length; k += 4) {
    if (img.data[k + 3] > 200 && Math.max(img.data[k], img.data[k + 1], img.data[k + 2]) < 90) dark++;
  }
  return dark;
}"""


def test_drivers_without_intervals_answers_or_room(server: dict[str, Any]) -> None:
    """A fact without an interval filled the chart (the axis scaled to it) with no mark on the bar;
    no answers at all drew an empty grid ("fewer than 0"); at 360 px the labels were cut on the left;
    the drill-down's heads were field names ("ticket id", "answered at", "csat")."""
    base = server["base"]
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/insights/drivers?{FEW_WEEK}", server["manager_email"])
            page.locator("canvas[data-drawn]").wait_for(timeout=15_000)
            api = page.evaluate(f"fetch('/api/v1/kpis/drivers?{FEW_WEEK}').then(r => r.json())")
            drawn = [x for x in api["facts"] if x["difference"] is not None]
            assert [(x["fact"], x["difference"], x["ci_low"]) for x in drawn] == [
                ("sla_breach", pytest.approx(-0.75), None)
            ]
            # (a) the axis is not magnified to it: ±1 at least, the bar a small part of the width
            scale = page.evaluate(f"(() => {{ const x = {CHART}.scales.x; return [x.min, x.max]; }})()")
            assert scale[0] <= -1 and scale[1] >= 1, scale
            bar = page.evaluate(
                f"(() => {{ const c = {CHART}, b = c.getDatasetMeta(0).data[0];"
                " return Math.abs(b.x - b.base) / (c.chartArea.right - c.chartArea.left); })()"
            )
            assert bar < 0.5, bar
            # ... and the bar itself says why it is uncertain (text beside it, across the zero line)
            assert page.evaluate(NOTE_PIXELS, 0) > 20
            # the facts that have an interval get no such note (the sure week)
            page.goto(f"{base}/insights/drivers?{SURE_WEEK}")
            page.locator("canvas[data-drawn]").wait_for(timeout=15_000)
            facts = page.evaluate(f"fetch('/api/v1/kpis/drivers?{SURE_WEEK}').then(r => r.json())")["facts"]
            assert facts[0]["fact"] == "first_time_fix" and facts[0]["ci_low"] > 0
            assert page.evaluate(NOTE_PIXELS, 0) == 0

            # (b) no answers at all: said plainly, no empty chart
            page.goto(f"{base}/insights/drivers?{EMPTY_WEEK}")
            sync_api.expect(page.locator(".drivers-none")).to_have_text(
                re.compile("^No survey answers for this selection")
            )
            assert page.locator("canvas").count() == 0
            assert "fewer than 0" not in page.locator("main").inner_text()

            # (c) on a phone every label is drawn whole, inside the canvas
            page.set_viewport_size({"width": 360, "height": 800})
            page.goto(f"{base}/insights/drivers?{WEEK}&region=BER")
            page.locator("canvas[data-drawn]").wait_for(timeout=15_000)
            assert page.evaluate(LABELS_LEFT) >= 0
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.screenshot(path=str(ARTIFACTS / "kpi-drivers-360.png"), full_page=True)

            # (d) the answers behind a bar, under readable heads
            page.set_viewport_size({"width": 1280, "height": 900})
            page.goto(f"{base}/insights/drivers/drill?{WEEK}&region=BER&fact=late&side=with")
            heads = page.locator("table.drill-items thead th").all_inner_texts()
            assert heads[:3] == ["Ticket", "Answered", "CSAT (1–5)"], heads
            assert "Late" in heads and not any(
                h != h.strip() or h[:1].islower() or "_" in h for h in heads
            ), heads
            assert page.locator("table.drill-items tbody tr").count() == 3
            assert errors == []
        finally:
            browser.close()
