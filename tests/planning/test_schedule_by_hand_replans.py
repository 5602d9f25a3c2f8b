"""A dispatcher schedules a visit of today's published plan by hand (the work-order API's
`/schedule`): the day is re-planned at once (trigger `scheduled`), keeping the visit at the
hand-set time and routing its engineer's other stops around it. Before, nothing re-planned the day:
the board drew the visit at the plan's time while the engineer's route and the customer's notice
said 13:30, and the stop the plan had at 13:00 ran over it, until some other event re-planned."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CustomerNotification, WorkOrder
from app.planning import board as plan_board
from app.platform.config import get_settings
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import _current, _planned_day


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _no_overlap(spans: list[tuple[datetime, datetime]]) -> None:
    spans = sorted(spans)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end <= start, spans


def test_every_view_shows_the_hand_set_time_right_after_the_save(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, today, ordered, elec = _planned_day(db)  # three visits on one engineer, from 13:00
    published = _current(db, w, today)
    moved = ordered[-1]
    at = _at(w, today, 13, 30)
    assert moved.planned_start_at != at

    r = client.post(
        f"/api/v1/work-orders/{moved.id}/schedule",
        json={"engineer_id": elec.id, "planned_start": at.isoformat()},
        headers={**dispatcher, "If-Match": f'"v{moved.version}"'},
    )
    assert r.status_code == 200, r.text

    run = _current(db, w, today)
    assert run.id != published.id and run.trigger == "scheduled"  # the day was planned again
    # the board: the visit at 13:30 on its engineer's row, no stop over it
    row = next(
        e for e in plan_board.board(db, region_id=w.region.id, day=today)["engineers"] if e["id"] == elec.id
    )
    item = next(s for s in row["stops"] if s.get("work_order_id") == moved.id)
    assert datetime.fromisoformat(item["start"]) == at
    _no_overlap(
        [(datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in row["stops"]]
    )
    # the engineer's route: the same
    route = client.get(
        f"/api/v1/engineers/{elec.id}/route?date={today.isoformat()}", headers=dispatcher
    ).json()
    stop = next(s for s in route["stops"] if s["work_order_id"] == moved.id)
    assert datetime.fromisoformat(stop["start_at"]) == at
    _no_overlap(
        [(datetime.fromisoformat(s["start_at"]), datetime.fromisoformat(s["end_at"])) for s in route["stops"]]
    )
    # the visit and the customer's notice: 13:30
    db.expire_all()
    wo = db.get_one(WorkOrder, moved.id)
    assert (wo.engineer_id, wo.planned_start_at, wo.eta_at) == (elec.id, at, at)
    told = db.scalars(
        select(CustomerNotification)
        .where(CustomerNotification.work_order_id == moved.id)
        .order_by(CustomerNotification.id.desc())
    ).first()
    assert told is not None and told.eta_at == at and told.status != "skipped"


def test_a_visit_moved_to_another_day_leaves_today_s_plan(db: Session) -> None:
    """Moved by hand to tomorrow (no plan there yet): today's plan, which still held it, is planned
    again without it. Before, today's board kept drawing it on its engineer's row at the old time."""
    w, today, ordered, elec = _planned_day(db)
    published = _current(db, w, today)
    moved = ordered[0]
    tomorrow = _at(w, today + timedelta(days=1), 10)

    _by_hand(db, w, moved.id, elec.id, tomorrow)

    run = _current(db, w, today)
    assert run.id != published.id and run.trigger == "scheduled"
    shown = [
        s.get("work_order_id")
        for e in plan_board.board(db, region_id=w.region.id, day=today)["engineers"]
        for s in e["stops"]
    ]
    assert moved.id not in shown and {wo.id for wo in ordered[1:]} <= set(shown)


def test_the_board_draws_the_hand_set_time_while_the_re_plan_waits(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With re-plans proposed (REPLAN_PROPOSE) the re-plan waits for a dispatcher to accept it;
    meanwhile the board drew the visit at the plan's time while the route and the notice said
    13:30. It draws the hand-set time; a visit moved to another day leaves today's rows."""
    monkeypatch.setattr(get_settings(), "replan_propose", True)
    w, today, ordered, elec = _planned_day(db)
    published = _current(db, w, today)
    moved, away = ordered[-1], ordered[0]
    at = _at(w, today, 13, 30)
    assert moved.planned_start_at != at

    _by_hand(db, w, moved.id, elec.id, at)
    _by_hand(db, w, away.id, elec.id, _at(w, today + timedelta(days=1), 10))

    assert _current(db, w, today).id == published.id  # the re-plan is a proposal, not published
    stops = {
        s["work_order_id"]: s
        for e in plan_board.board(db, region_id=w.region.id, day=today)["engineers"]
        for s in e["stops"]
        if "work_order_id" in s
    }
    assert datetime.fromisoformat(stops[moved.id]["start"]) == at
    assert datetime.fromisoformat(stops[moved.id]["eta"]) == at
    assert away.id not in stops
    assert ordered[1].id in stops  # the others stand as planned
