"""The KPI dashboard and drill-down pages: who may open them, and that they show the API's numbers."""

from __future__ import annotations

import html
import re

import pytest

from app.insights.metrics import METRICS, OPERATIONAL
from app.models import Engineer
from app.web.insights import _drill_text, duration_unit, interval, shown, trend
from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}


def cards(html: str) -> dict[str, tuple[str, int]]:
    """metric → (shown value, n) read from the cards."""
    found = re.findall(
        r'data-metric="([a-z_]+)">\s*<h3>.*?<span class="value"[^>]*>([^<]*)</span>'
        r'.*?<span class="n">(\d+)</span>',
        html,
        re.S,
    )
    return {m: (v, int(n)) for m, v, n in found}


@pytest.mark.parametrize("path", ["/insights", "/insights/drill?metric=backlog"])
@pytest.mark.parametrize("role", ["agent", "engineer"])
def test_agents_and_engineers_get_a_readable_403(client, sign_in, role, path):
    sign_in(role)
    r = client.get(path)
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "KPI dashboard is for managers" in r.text


def test_signed_out_goes_to_login(client):
    r = client.get("/insights", follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]


def test_manager_sees_every_card_with_the_api_numbers(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params=WEEK)
    assert page.status_code == 200, page.text
    api = {m["metric"]: m for m in client.get("/api/v1/kpis", params=WEEK).json()["metrics"]}
    on_page = cards(page.text)
    assert set(on_page) == set(METRICS)
    for name, m in api.items():
        assert on_page[name] == (shown(m["total"]["value"], m["unit"]), m["total"]["n"]), name
    assert '<script src="/vendor/chart.js/chart.umd.min.js"></script>' in page.text
    assert client.get("/vendor/chart.js/chart.umd.min.js").status_code == 200


def test_dispatcher_sees_only_the_operational_cards(client, sign_in, db):
    fixture.build(db)
    sign_in("dispatcher")
    page = client.get("/insights", params=WEEK)
    assert set(cards(page.text)) == set(OPERATIONAL)
    assert client.get("/insights", params={**WEEK, "metric": "first_time_fix"}).status_code == 403


def test_a_channel_filter_leaves_out_the_engineer_day_cards_and_says_so(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params={**WEEK, "channel": "phone"})
    assert page.status_code == 200
    assert "utilisation" not in cards(page.text) and "backlog" in cards(page.text)
    assert (
        "Not shown, as they cannot be sliced by these filters: Engineer utilisation, Travel share"
        in page.text
    )


def _errors(page: str) -> dict[str, str]:
    """field → the error shown by it."""
    return dict(re.findall(r'<p class="field-error" id="e-([a-z_]+)">([^<]*)</p>', page))


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2026-03-15", "to": "2026-03-01"}, "to", "must not be before “From”"),
        ({"from": "2099-01-01", "to": "2099-01-31"}, "from", "is after today"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "to", "the window is at most 400 days"),
        # the pages' one reading of a day (app/web/shared.py: parse_day)
        ({"from": "2026-02-30", "to": "2026-03-15"}, "from", "&#39;2026-02-30&#39; is not a date"),
        ({"from": "yesterday", "to": "2026-03-15"}, "from", "&#39;yesterday&#39; is not a date (YYYY-MM-DD)"),
        ({"from": "2026-03-01", "to": "1900-01-00"}, "to", "&#39;1900-01-00&#39; is not a date"),
        ({"from": "1899-12-01", "to": "2026-03-15"}, "from", "the day must be a date between 1900-01-01"),
        (
            {"from": "2026-03-01", "to": "2026-03-15", "region": "XX"},
            "region",
            "there is no region &#39;XX&#39;",
        ),
    ],
)
def test_a_bad_filter_shows_the_dashboard_form_as_typed_with_the_error_by_its_field(
    client, sign_in, query, field, message
):
    """It was a bare "Check your input" page with only "Start page" and "Back"."""
    sign_in("manager")
    r = client.get("/insights", params=query)
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert '<form method="get" action="/insights"' in r.text
    assert _errors(r.text)[field].startswith(message)
    for key, value in query.items():
        if key in ("from", "to"):
            assert f'name="{key}" value="{value}"' in r.text
        else:
            assert f'<option value="{value}" selected>' in r.text
    assert "Input should be" not in r.text and "outside expected range" not in r.text
    assert "Check your input" not in r.text
    assert 'class="card kpi-card"' not in r.text and "Detractors to follow up" not in r.text  # no figures
    # the API keeps its problem+json
    api = client.get("/api/v1/kpis", params=query)
    assert api.status_code == 422 and api.headers["content-type"].startswith("application/problem+json")


def test_a_blank_to_is_today_and_the_error_is_on_from(client, sign_in):
    sign_in("manager")
    r = client.get("/insights", params={"from": "2099-01-01"})
    assert r.status_code == 422
    assert set(_errors(r.text)) == {"from"}
    assert 'name="to" value=""' in r.text


def test_drill_page_lists_the_n_items(client, sign_in, db):
    world = fixture.build(db)
    sign_in("manager")
    r = client.get("/insights/drill", params={**WEEK, "metric": "repeat_visit_rate"})
    assert r.status_code == 200
    assert re.search(r'<span class="drill-n">4</span>', r.text)
    for v in world.visits.values():
        assert v.number in r.text
    # read as a person reads it: local times, names, yes/no (the API keeps ISO times and ids)
    assert "+00:00" not in r.text and "T0" not in r.text
    assert "Eva Berlin" in r.text and ">yes<" in r.text and ">False<" not in r.text


def test_each_series_point_drills_down_to_its_n_items(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params={**WEEK, "from": "2026-03-02", "period": "day"}).text
    row = (
        r'<tr data-period="([^"]+)"[^>]*>\s*<th scope="row">[^<]*</th>'
        r'<td class="value">[^<]*</td><td><a class="n" href="([^"]+)"[^>]*>(\d+)</a>'
    )
    links = re.findall(row, page)
    assert len(links) >= 14 * 4  # every day of every series
    checked = 0
    for _, href, n in links:
        if int(n) == 0 and checked > 20:
            continue
        drill = client.get(html.unescape(href))
        assert drill.status_code == 200
        assert re.search(rf'<span class="drill-n">{n}</span>', drill.text), href
        checked += 1
    assert checked > 20


def test_durations_read_in_the_unit_their_size_asks_for() -> None:
    assert shown(89, "minutes") == "89 min"
    assert shown(150, "minutes") == "2.5 h"
    assert shown(2865, "minutes") == "47.8 h"  # the demo's median time to arrive, once "2865 min"
    assert shown(4289, "minutes") == "3.0 d"
    # a card writes all its figures in its total's unit: the p90 of an 89-minute median stays in minutes
    assert shown(1346, "minutes", duration_unit(89)) == "1346 min"
    assert shown(11771, "minutes", duration_unit(4289)) == "8.2 d"
    assert shown(None, "minutes") == "–"


def test_a_change_too_small_to_show_reads_same_as_before() -> None:
    same = {"arrow": "→", "text": "same as before", "tone": "muted"}
    assert trend("first_response_time", {"value": 89.2}, {"value": 89.0}) == same  # once "up 0 min"
    assert trend("sla_resolution", {"value": 92.74}, {"value": 92.76}) == same  # once "down 0.0 pts"
    days = duration_unit(4289)
    assert trend("time_to_resolve", {"value": 4289}, {"value": 4270}, days) == same  # 19 min of 3 days
    assert trend("time_to_arrive", {"value": 2865}, {"value": 2847}, duration_unit(2865)) == {
        "arrow": "▲",
        "text": "up 0.3 h on the previous period",
        "tone": "warn",  # slower to arrive is worse
    }
    assert trend("csat", {"value": 76.7}, {"value": 77.4})["text"] == "down 0.7 pts on the previous period"


def test_a_card_without_a_previous_figure_says_no_comparison_once(client, sign_in, db):
    """No published plan in the fixture: travel share is "–" now and before, and the card says "no
    comparison" without a "(before: –, n = 0)" beside it."""
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params=WEEK).text
    card = page[page.index('data-metric="travel_share"') :]
    card = card[: card.index("</li>")]
    assert "no comparison" in card and "before:" not in card
    utilisation = page[page.index('data-metric="utilisation"') :]
    assert "before:" in utilisation[: utilisation.index("</li>")]  # a figure with a previous one keeps it


def test_groups_are_in_the_order_of_their_names(client, sign_in, db):
    """Grouped by engineer the rows came in the order of their ids as text (1, 10, 11, 2…)."""
    world = fixture.build(db)
    first = db.get(Engineer, min(e.id for e in db.query(Engineer)))
    first.name = "Zara Berlin"  # the lower id, the later name
    db.commit()
    sign_in("manager")
    page = client.get("/insights", params={**WEEK, "metric": "csat", "group_by": "engineer"}).text
    table = page[page.index('<table class="kpi-groups">') :].split("</table>")[0]
    names = re.findall(r"<th scope=\"row\"><a [^>]*>([^<]*)</a>", table)
    assert names[-1] == "(none)" and names[:-1] == ["Ned York", "Zara Berlin"], names
    assert world
    api = client.get("/api/v1/kpis", params={**WEEK, "metric": "csat", "group_by": "engineer"}).json()
    assert {g["label"] for g in api["metrics"][0]["groups"]} == set(names)


def test_an_interval_reads_as_words() -> None:
    assert interval(-17.4, 20.2) == "95 % from −17.4 to 20.2"
    assert interval(None, 3.0) == ""


def test_the_cards_write_the_interval_as_words(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params=WEEK).text
    shown_ci = re.findall(r'<span class="muted ci">· ([^<]*)</span>', page)
    assert shown_ci and all(re.fullmatch(r"95 % from −?\d+\.\d to −?\d+\.\d", t) for t in shown_ci), shown_ci
    assert not re.search(r"95 % -?\d+\.\d–", page)


def test_the_utilisation_drill_down_shows_whole_minutes(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    assert _drill_text("on_site_min", 279.32, {}) == "279"  # the API keeps 279.32
    assert _drill_text("minutes_late", 12.5, {}) == "12"
    page = client.get("/insights/drill", params={**WEEK, "metric": "utilisation"}).text
    cells = re.findall(r'<td data-label="(?:on site|travel|shift) min">([^<]*)</td>', page)
    assert cells and all(c == "" or c.isdecimal() for c in cells), cells
