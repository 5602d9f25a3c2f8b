"""GET /api/v1/kpis/detractors checks its [from, to] window as /kpis, /kpis/drill and
/kpis/drivers do (`service.window_errors`): a reversed window, one over 400 days and one wholly in
the future answered 200 with an empty list, as if no customer had been unhappy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.insights.api import local_today
from tests.insights import fixture


@pytest.fixture
def world(db: Session) -> fixture.World:
    return fixture.build(db)


def windows() -> list[tuple[dict[str, str], str, str]]:
    today = local_today()
    return [
        ({"from": "2026-03-15", "to": "2026-03-09"}, "to", "must not be before `from`"),
        ({"from": "2025-01-01", "to": "2026-03-15"}, "to", "at most 400 days"),
        (
            {
                "from": (today + timedelta(days=30)).isoformat(),
                "to": (today + timedelta(days=60)).isoformat(),
            },
            "from",
            "after today",
        ),
    ]


@pytest.mark.parametrize("case", range(3))
def test_a_bad_window_is_a_422_naming_the_field_as_on_kpis(client, login, world, case: int) -> None:
    params, field, words = windows()[case]
    headers = login("manager")
    r = client.get("/api/v1/kpis/detractors", params=params, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field] and words in errors[0]["message"], errors
    # the same words as the figures' route
    kpis = client.get("/api/v1/kpis", params={**params, "metric": "csat"}, headers=headers)
    assert kpis.status_code == 422 and kpis.json()["errors"] == errors


def test_a_bad_window_and_a_bad_filter_are_named_at_once(client, login, world) -> None:
    params = {"from": "2026-03-15", "to": "2026-03-09", "region": "NOPE"}
    r = client.get("/api/v1/kpis/detractors", params=params, headers=login("manager"))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"region", "to"}


def test_a_good_window_still_lists_and_the_default_window_too(client, login, world) -> None:
    headers = login("manager")
    for params in ({"from": "2026-03-09", "to": "2026-03-15"}, {}, {"to": local_today().isoformat()}):
        r = client.get("/api/v1/kpis/detractors", params=params, headers=headers)
        assert r.status_code == 200, (params, r.text)
