"""A visit moved by hand to another day, before its re-plan publishes (seconds with workers, or a
proposal waiting to be accepted): the engineer's route leaves it off the old day, as the board
does, and lists it on its new day. Before, today's route still listed it (at tomorrow's time)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.planning import board as plan_board
from app.platform.config import get_settings
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import _current, _planned_day


def test_the_route_drops_a_visit_moved_to_another_day_like_the_board(
    client: TestClient, db: Session, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "replan_propose", True)  # the re-plan waits: the window QA saw
    w, today, ordered, elec = _planned_day(db)
    published = _current(db, w, today)
    away, stays = ordered[0], ordered[1:]
    tomorrow = today + timedelta(days=1)
    at = _at(w, tomorrow, 10)

    _by_hand(db, w, away.id, elec.id, at)
    assert _current(db, w, today).id == published.id  # today's plan still holds it

    headers = login("dispatcher")
    url = f"/api/v1/engineers/{elec.id}/route"
    route = client.get(url, params={"date": today.isoformat()}, headers=headers).json()
    listed = [s["work_order_id"] for s in route["stops"] if s["kind"] == "job"]
    assert away.id not in listed  # was listed, at tomorrow's 10:00
    assert listed == [wo.id for wo in stays]  # the others as planned, in order
    board = [
        s.get("work_order_id")
        for e in plan_board.board(db, region_id=w.region.id, day=today)["engineers"]
        for s in e["stops"]
    ]
    assert away.id not in board  # the board and the route agree

    route = client.get(url, params={"date": tomorrow.isoformat()}, headers=headers).json()
    (moved,) = (s for s in route["stops"] if s["work_order_id"] == away.id)
    assert datetime.fromisoformat(moved["start_at"]) == at  # on its new day
