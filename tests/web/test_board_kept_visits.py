"""Visits kept at a time set by hand, as the board draws them after a re-plan (dispatcher QA).
The ETA is the one the engineer's route and the customer's notice give, the kept start, not the
engine's arrival (the board said 14:41, the route and the notice 18:30); the arrival is sent apart
(`arrival`: the engineer waits from then). Visits kept at the same time on one engineer are drawn
one under the other (`track`, the row's `tracks`): drawn on top of each other, one could not be
clicked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CustomerNotification, PlanStop, User, WorkOrder
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import _current, _planned_day


def _row(data: dict[str, Any], engineer_id: int) -> dict[str, Any]:
    return next(e for e in data["engineers"] if e["id"] == engineer_id)


def _stop(row: dict[str, Any], wo_id: int) -> dict[str, Any]:
    return next(s for s in row["stops"] if s.get("work_order_id") == wo_id)


def test_a_kept_visit_s_eta_is_its_start_as_on_the_route_and_in_the_notice(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, ordered, elec = _planned_day(db)  # three afternoon visits on one engineer
    kept = ordered[0]
    at = _at(w, today, 18, 30)
    _by_hand(db, w, kept.id, elec.id, at)  # its re-plan publishes with the visit kept at 18:30
    run = _current(db, w, today)
    assert (run.trigger, run.status) == ("scheduled", "published")
    planned = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == kept.id)
    ).one()
    assert planned.start_at == at and planned.arrival_at < at  # the engine gets there early and waits

    sign_in("dispatcher")
    params = {"region": w.region.id, "day": today.isoformat()}
    row = _row(client.get("/board/data", params=params).json(), elec.id)
    stop = _stop(row, kept.id)
    assert datetime.fromisoformat(stop["eta"]) == at  # was the engine's arrival
    assert datetime.fromisoformat(stop["start"]) == at
    assert datetime.fromisoformat(stop["arrival"]) == planned.arrival_at  # the wait, said apart
    # what the route and the notice say
    route = client.get(f"/api/v1/engineers/{elec.id}/route", params={"date": today.isoformat()}).json()
    assert (
        datetime.fromisoformat(next(s for s in route["stops"] if s["work_order_id"] == kept.id)["eta"]) == at
    )
    told = db.scalars(
        select(CustomerNotification)
        .where(CustomerNotification.work_order_id == kept.id)
        .order_by(CustomerNotification.id.desc())
    ).first()
    assert told is not None and told.eta_at == at
    # the engine's visits keep their ETA, the arrival the route gives too, with no `arrival` apart
    for other in ordered[1:]:
        shown, wo = _stop(row, other.id), db.get_one(WorkOrder, other.id)
        assert wo.eta_at is not None and datetime.fromisoformat(shown["eta"]) == wo.eta_at
        assert "arrival" not in shown


def test_visits_kept_at_the_same_time_are_drawn_one_under_the_other(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, ordered, elec = _planned_day(db)
    clash = _at(w, today, 17)
    _by_hand(db, w, ordered[0].id, elec.id, clash)
    _by_hand(db, w, ordered[1].id, elec.id, clash)  # the re-plan keeps both there (one at risk)
    sign_in("dispatcher")
    params = {"region": w.region.id, "day": today.isoformat()}
    data = client.get("/board/data", params=params).json()
    row = _row(data, elec.id)
    both = [_stop(row, wo.id) for wo in ordered[:2]]
    assert [datetime.fromisoformat(s["start"]) for s in both] == [clash, clash]
    assert sorted(s["track"] for s in both) == [0, 1]  # was drawn at the same place
    assert row["tracks"] == 2  # the lane is two visits high
    # the third visit is on a free line at its own time; nothing else on the row overlaps its track
    drawn = [s for s in row["stops"] if s["kind"] != "break"]
    for a in drawn:
        for b in drawn:
            if a is not b and a["track"] == b["track"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    assert all(e["tracks"] == 1 for e in data["engineers"] if e["id"] != elec.id)
    # the page embeds the same data its script draws the lanes from
    page = client.get("/board", params=params).text
    embedded = json.loads(
        re.search(r'<script type="application/json" id="board-data"[^>]*>(.*?)</script>', page, re.S)[1]
    )  # type: ignore[index]
    assert _row(embedded, elec.id)["tracks"] == 2
