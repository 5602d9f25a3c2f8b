"""The drill-down page: a group it names, a page past the end, a refusal by role in the cards' words."""

from __future__ import annotations

import html
import re

from app.insights.metrics import METRICS
from app.models import Engineer
from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}


def test_a_group_without_group_by_or_naming_nothing_is_a_readable_422(client, sign_in, db):
    """ "?metric=csat&group=MUC-N" listed every answer under "in group “MUC-N”"; group=NOPE 0 items."""
    fixture.build(db)
    sign_in("manager")
    for params, words in (
        ({"group": "BER"}, "group_by"),
        ({"group_by": "region", "group": "NOPE"}, "there is no region &#39;NOPE&#39;"),
    ):
        r = client.get("/insights/drill", params={**WEEK, "metric": "csat", **params})
        assert r.status_code == 422, r.text
        assert "text/html" in r.headers["content-type"]
        assert "Group:" in r.text and words in r.text, r.text
        assert "drill-n" not in r.text


def test_the_dashboard_group_links_list_their_group_by_name(client, sign_in, db):
    fixture.build(db)
    sign_in("manager")
    page = client.get("/insights", params={**WEEK, "metric": "csat", "group_by": "engineer"}).text
    table = page[page.index('<table class="kpi-groups">') :].split("</table>")[0]
    links = re.findall(r'<th scope="row"><a href="([^"]+)"[^>]*>([^<]*)</a>', table)
    assert len(links) >= 3 and links[-1][1] == "(none)"
    names = {e.name for e in db.query(Engineer)}
    for href, label in links:
        drill = client.get(html.unescape(href))
        assert drill.status_code == 200, (href, drill.text)
        if label == "(none)":
            assert "with no engineer" in drill.text
        else:
            assert label in names and f"for engineer “{label}”" in drill.text


def test_a_page_past_the_end_says_so_with_links_to_the_first_and_last_page(client, sign_in, db):
    """It said "Nothing: the figure has no sample" beside the figure's n."""
    fixture.build(db)
    sign_in("manager")
    whole = client.get("/insights/drill", params={**WEEK, "metric": "csat"}).text
    n = int(re.search(r'<span class="drill-n">(\d+)</span>', whole)[1])
    assert n > 0
    r = client.get("/insights/drill", params={**WEEK, "metric": "csat", "offset": "999999"})
    assert r.status_code == 200
    assert "no sample" not in r.text
    assert f"No items on this page ({n} in all)" in r.text
    first, last = re.findall(r'href="([^"]+)">(?:first|last) page</a>', r.text)
    assert "offset=0" in first and f"offset={(n - 1) // 50 * 50}" in last
    for href in (first, last):
        page = client.get(html.unescape(href)).text
        assert "<table" in page and "No items on this page" not in page
    # a list with no items at all still says that (the fixture's history starts in March)
    quiet = {**WEEK, "from": "2026-01-05", "to": "2026-01-11", "metric": "csat", "offset": "50"}
    empty = client.get("/insights/drill", params=quiet).text
    assert '<span class="drill-n">0</span>' in empty and "the figure has no sample" in empty


def test_a_dispatcher_refused_a_kpi_reads_the_cards_names(client, sign_in, db):
    fixture.build(db)
    sign_in("dispatcher")
    r = client.get("/insights/drill", params={**WEEK, "metric": "csat"})
    assert r.status_code == 403
    text = html.unescape(r.text)
    assert f"may not see {METRICS['csat'].label};" in text
    assert METRICS["sla_arrival"].label in text and "sla_arrival" not in text and "sla_at_risk" not in text
