"""Hostile values on the KPI routes are a 422 naming the parameter, never a 500.

- the drill-down cursor `after`: an id past the database's integers overflowed the driver
  (SQLite: OverflowError; PostgreSQL: an integer out of range), a time in year 1 or 9999 with a
  UTC offset overflowed converting to UTC; the API answers problem+json naming `after`, the page
  "Check your input" with the message;
- the filters of /kpis/detractors and /kpis/renewal-risk: an engineer id past 2^63 was a 500,
  an unknown region or tier an empty list as if it had nothing; they are now checked as /kpis
  checks them (`records.unknown_values`).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.insights import aggregates, lists
from app.insights.drill import cursor_text
from app.insights.records import Filters, engineer_id
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories
from tests.insights import fixture

Login = Callable[..., dict[str, str]]
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WINDOW = {"from": "2026-03-02", "to": "2026-03-22"}
BAD_CURSORS = [
    "2026-09-09T05:31:48+00:00~99999999999999999999",  # past int8: the driver overflowed
    "2026-09-09T05:31:48+00:00~9223372036854775808",  # 2^63
    "2026-03-10T05:31:48+00:00~2147483648",  # past int4, the ids' column type
    "2026-03-10T05:31:48+00:00~0",
    "2026-03-10T05:31:48+00:00~-1",
    "2026-03-10T05:31:48+00:00~ 1",
    "2026-03-10T05:31:48+00:00~١",  # an Arabic-Indic digit: int() reads it, cursor_text never writes it
    "0001-01-01T00:30:00+01:00~1",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00~1",  # after year 9999 in UTC
    "0001-01-02T00:00:00+00:00~1",  # the engineer-day list steps a day back from it
    "2026-03-10T05:31:48~1",  # no zone
    "yesterday",
]
# Every kind of drill-down list read by keyset: by id (backlog, a dispatcher's), by time and id
# (CSAT answers), engineer-days by day.
METRICS = [("backlog", "dispatcher"), ("csat", "manager"), ("utilisation", "manager")]


@pytest.fixture
def world(db: Session) -> fixture.World:
    w = fixture.build(db)
    # kpi_day answers the window: the drill-down reads its lists by keyset, where `after` is read
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    return w


def sign_in(client: TestClient, db: Session, role: str) -> None:
    user = factories.make_user(db, role=role)
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))


def assert_problem(r: httpx.Response, field: str) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert field in {e["field"] for e in body["errors"]}, body
    return body


@pytest.mark.parametrize("metric,role", METRICS)
def test_a_valid_cursor_still_reads_the_next_page(
    client: TestClient, login: Login, world: fixture.World, metric: str, role: str
) -> None:
    headers = login(role)
    first = client.get("/api/v1/kpis/drill", params={**WINDOW, "metric": metric, "limit": 1}, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["keyset"] is True and body["items"]
    # the fixture's backlog has one ticket: a cursor after it, as cursor_text writes one
    after = body["next_after"] or cursor_text(NOW, body["items"][0]["id"])
    r = client.get(
        "/api/v1/kpis/drill", params={**WINDOW, "metric": metric, "limit": 1, "after": after}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["items"] != body["items"]


@pytest.mark.parametrize("after", BAD_CURSORS)
@pytest.mark.parametrize("metric,role", METRICS)
def test_a_forged_cursor_is_a_422_naming_after(
    client: TestClient, login: Login, world: fixture.World, metric: str, role: str, after: str
) -> None:
    r = client.get(
        "/api/v1/kpis/drill", params={**WINDOW, "metric": metric, "after": after}, headers=login(role)
    )
    body = assert_problem(r, "after")
    assert "not one this list gave" in body["detail"]


@pytest.mark.parametrize("after", BAD_CURSORS[:3] + BAD_CURSORS[7:9])
def test_a_forged_cursor_is_refused_on_a_list_read_in_memory_too(
    client: TestClient, login: Login, world: fixture.World, after: str
) -> None:
    """An offset list (no keyset) ignored `after`: a forged one is refused on every list alike."""
    params = {**WINDOW, "metric": "backlog", "offset": 1, "after": after}
    assert_problem(client.get("/api/v1/kpis/drill", params=params, headers=login("dispatcher")), "after")


@pytest.mark.parametrize("after", BAD_CURSORS[:3] + BAD_CURSORS[7:9])
def test_the_drill_page_says_the_cursor_is_not_one_it_gave(
    client: TestClient, db: Session, world: fixture.World, after: str
) -> None:
    sign_in(client, db, "dispatcher")
    r = client.get("/insights/drill", params={**WINDOW, "metric": "backlog", "after": after})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert "Check your input" in r.text
    assert "not one this list gave" in html.unescape(r.text)


BAD_FILTERS = [
    ("engineer", "9223372036854775808"),  # 2^63: SQLite's driver overflowed
    ("engineer", "99999999999999999999"),
    ("engineer", "2147483648"),  # past int4
    ("engineer", "x"),
    ("region", "NOPE"),
    ("tier", "NOPE"),
    ("product_model", "NOPE"),
    ("channel", "NOPE"),
]


@pytest.mark.parametrize("path", ["/api/v1/kpis/detractors", "/api/v1/kpis/renewal-risk"])
@pytest.mark.parametrize("field,value", BAD_FILTERS)
def test_the_lists_refuse_a_filter_value_that_names_nothing(
    client: TestClient, login: Login, world: fixture.World, path: str, field: str, value: str
) -> None:
    r = client.get(path, params={**WINDOW, field: value}, headers=login("manager"))
    body = assert_problem(r, field)
    # the same check and words as /kpis
    kpis = client.get("/api/v1/kpis", params={**WINDOW, field: value}, headers=login("manager"))
    assert assert_problem(kpis, field)["errors"] == body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/kpis/detractors", "/api/v1/kpis/renewal-risk"])
def test_the_lists_still_take_known_filters_and_empty_ones(
    client: TestClient, login: Login, world: fixture.World, path: str
) -> None:
    headers = login("manager")
    for params in (
        {"region": world.berlin.code, "engineer": str(world.e1.id), "tier": ""},
        {"region": "", "engineer": ""},
    ):
        r = client.get(path, params={**WINDOW, **params}, headers=headers)
        assert r.status_code == 200, r.text
        assert isinstance(r.json()["items"], list)


@pytest.mark.parametrize("value", ["9223372036854775808", "99999999999999999999"])
def test_the_dashboard_refuses_an_engineer_id_past_the_integers(
    client: TestClient, db: Session, world: fixture.World, value: str
) -> None:
    """The page with the lists checks the filters before reading them: a readable 422."""
    sign_in(client, db, "manager")
    r = client.get("/insights", params={**WINDOW, "engineer": value})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    assert f"there is no engineer '{value}'" in html.unescape(r.text)


def test_the_lists_read_with_an_engineer_id_past_the_integers_match_nobody(
    db: Session, world: fixture.World
) -> None:
    """Called directly (unchecked), an id past int4 matches nobody instead of overflowing."""
    for value in ("9223372036854775808", "2147483648"):
        assert engineer_id(value) == -1
        found = lists.detractor_follow_ups(
            db, start=date(2026, 3, 2), end=date(2026, 3, 22), filters=Filters(engineer=value)
        )
        assert found == []
    assert engineer_id(str(world.e1.id)) == world.e1.id
