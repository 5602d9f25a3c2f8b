"""The drivers page ("What moves satisfaction"): who may open it, the API's numbers in its table,
and each n linked to the answers behind it."""

from __future__ import annotations

import re

import pytest

from tests.insights import drivers_fixture

BER_WEEK = {"from": "2026-03-09", "to": "2026-03-15", "region": "BER"}


def table_rows(text: str) -> list[tuple[str, str, int, str, int, str]]:
    """(fact, mean with, n with, mean without, n without, difference) read from the table."""
    found = re.findall(
        r'<tr data-fact="([a-z_]+)".*?class="mean-with">([^<]*)</td>.*?class="n-with"[^>]*>(\d+)</a>'
        r'.*?class="mean-without">([^<]*)</td>.*?class="n-without"[^>]*>(\d+)</a>.*?class="difference">([^<]*)<',
        text,
        re.S,
    )
    return [(f, w, int(nw), wo, int(nwo), d) for f, w, nw, wo, nwo, d in found]


@pytest.mark.parametrize("path", ["/insights/drivers", "/insights/drivers/drill?fact=late&side=with"])
@pytest.mark.parametrize("role", ["agent", "engineer", "dispatcher"])
def test_others_get_a_readable_403(client, sign_in, role, path):
    sign_in(role)
    r = client.get(path)
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "for managers" in r.text


def test_signed_out_goes_to_login(client):
    r = client.get("/insights/drivers", follow_redirects=False)
    assert r.status_code in (302, 303) and "/login" in r.headers["location"]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_the_table_shows_the_api_numbers_ranked(client, sign_in, db, role):
    drivers_fixture.build(db)
    sign_in(role)
    page = client.get("/insights/drivers", params=BER_WEEK)
    assert page.status_code == 200, page.text
    api = client.get("/api/v1/kpis/drivers", params=BER_WEEK).json()["facts"]
    rows = table_rows(page.text)
    assert [r[0] for r in rows] == [f["fact"] for f in api]
    for (fact, w, nw, wo, nwo, d), f in zip(rows, api, strict=True):
        assert (nw, nwo) == (f["n_with"], f["n_without"]), fact
        assert w == ("–" if f["mean_with"] is None else f"{f['mean_with']:.2f}"), fact
        assert wo == ("–" if f["mean_without"] is None else f"{f['mean_without']:.2f}"), fact
        assert d == ("–" if f["difference"] is None else f"{f['difference']:+.2f}"), fact
    assert rows[0] == ("late", "2.00", 3, "4.00", 3, "-2.00")
    assert "−4.27 to +0.27" in page.text.replace("-", "−")
    assert '<label for="f-region">Region</label>' in page.text


def test_each_n_opens_its_answers(client, sign_in, db):
    world = drivers_fixture.build(db)
    sign_in("manager")
    page = client.get("/insights/drivers", params=BER_WEEK).text
    link = re.search(r'class="n-with" href="([^"]+)"', page)
    assert link is not None
    drill = client.get(link.group(1).replace("&amp;", "&"))
    assert drill.status_code == 200
    assert '<span class="drill-n">3</span>' in drill.text
    for key in ("A1", "A2", "A3"):
        assert f"/desk/tickets/{world.answers[key].ticket_id}" in drill.text


def test_a_bad_fact_is_a_readable_page(client, sign_in, db):
    sign_in("manager")
    r = client.get("/insights/drivers/drill", params={"fact": "weather", "side": "with"})
    assert r.status_code == 422
    assert "text/html" in r.headers["content-type"]


def test_dashboard_links_to_the_drivers_for_managers_only(client, sign_in, db):
    sign_in("manager")
    assert "What moves satisfaction" in client.get("/insights").text
    client.cookies.clear()
    sign_in("dispatcher")
    assert "What moves satisfaction" not in client.get("/insights").text


def test_the_page_says_how_facts_are_ranked_and_why_n_falls_short(client, sign_in, db):
    """The ranking is by the interval's distance from zero, then the difference (docs/kpis.md), and
    a fact unknown for an answer puts it on neither side: the page says both, not "largest first"."""
    drivers_fixture.build(db)
    sign_in("manager")
    text = client.get("/insights/drivers", params=BER_WEEK).text
    assert "largest difference first" not in text and "ranked by their difference" not in text
    assert "ranked by how far their 95 % interval stays from zero, then by the difference" in text
    n = int(re.search(r'<span class="drivers-n">(\d+)</span>', text).group(1))
    assert any(nw + nwo < n for _, _, nw, _, nwo, _ in table_rows(text))  # the case the note explains
    assert "the other answers are on neither side" in text
    assert "docs/kpis.md" not in text  # a manager cannot open the repository
