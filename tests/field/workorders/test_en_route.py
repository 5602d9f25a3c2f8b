"""Field engineer "On my way" (`→ en_route`): not before the visit's planned day (QA: Tuesday's visit
went en route on Monday), and a mistaken one is taken back to scheduled with the ETA it had."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from tests.field.workorders.world import API, create, move, next_local, on_the_day, schedule


def test_on_my_way_to_another_days_visit_is_refused_naming_the_day(client: TestClient, world: Any) -> None:
    w = world
    wid = create(client, w)["id"]
    assert schedule(client, w, wid).status_code == 200  # next Monday 10:00 Berlin
    r = move(client, w["me"], wid, "en_route")
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    monday = next_local(0, 10).astimezone(ZoneInfo("Europe/Berlin")).date()
    problem = r.json()
    assert problem["planned_day"] == monday.isoformat()
    assert problem["hint"].startswith(f"This visit is planned for {monday:%a %d %b}, not today")
    assert client.get(f"{API}/{wid}", headers=w["me"]).json()["status"] == "scheduled"


def test_a_mistaken_on_my_way_is_taken_back_with_the_planned_eta(client: TestClient, world: Any) -> None:
    w = world
    wid = create(client, w)["id"]
    assert schedule(client, w, wid).status_code == 200
    planned = client.get(f"{API}/{wid}", headers=w["me"]).json()["eta_at"]
    on_the_way = next_local(0, 10, 25)
    with on_the_day(next_local(0, 9)):
        r = move(client, w["me"], wid, "en_route", eta=on_the_way.isoformat())
        assert r.status_code == 200 and r.json()["eta_at"] == on_the_way.isoformat().replace("+00:00", "Z")
        back = move(client, w["me"], wid, "scheduled", reason="tapped by mistake")
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "scheduled" and back.json()["eta_at"] == planned


def test_on_my_way_to_a_visit_left_from_an_earlier_day_is_allowed(client: TestClient, world: Any) -> None:
    """Overdue, not early: Monday's visit still scheduled on Tuesday may be gone to."""
    w = world
    wid = create(client, w)["id"]
    assert schedule(client, w, wid).status_code == 200  # next Monday 10:00 Berlin
    with on_the_day(next_local(0, 10) + timedelta(days=1)):
        r = move(client, w["me"], wid, "en_route")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "en_route"
