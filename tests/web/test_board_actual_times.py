"""A started visit on the board where it happened, and a confirmed pickup gone (field QA on the
demo): WO-352 checked in at 01:35 and reported at 01:36 was drawn at its planned 08:44-09:24,
"ETA 08:44, done", while the engineer's route and the ticket said "01:35 - 01:36 Done"; the
"Pick up at Lager Aubing" block stayed after the engineer confirmed "Picked up", which the route
drops. Now the visit is drawn from check-in to check-out (on the way: from the ETA given), its
`progress` saying what happened and the plan's slot kept apart (`planned`); a pickup with nothing
left to fetch is gone, as on the route. The data's ETag follows; its query count does not grow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.field.inventory import reservations
from app.field.workorders import service as workorders
from app.field.workorders import visits
from app.models import Engineer, PlanStop, User, WorkOrder
from app.planning import board as plan_board
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_out_of_order_check_in import SMALL, _current


def _day_with_a_pickup(db: Session) -> tuple[pw.World, Any, list[WorkOrder], Engineer]:
    """Three afternoon visits only the ELEC engineer can do, planned for today (about noon); the
    first needs a part from the warehouse, so the plan has a pickup stop before it."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    for i in range(3):
        pw.add_visit(
            db,
            w,
            skill="ELEC",
            lat=48.12 + 0.02 * i,
            lon=11.55,
            parts=[(w.parts[0].id, 1)] if i == 0 else None,
            appointment_start_at=plan_keys.local_at(today, time(13), w.region.timezone),
            appointment_end_at=plan_keys.local_at(today, time(19), w.region.timezone),
        )
    run = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, w, today).status == "published"
    elec = w.engineers[1]
    ordered = sorted(
        db.scalars(select(WorkOrder).where(WorkOrder.engineer_id == elec.id)),
        key=lambda wo: wo.planned_start_at or datetime.max,
    )
    assert len(ordered) == 3
    return w, today, ordered, elec


def _row(data: dict[str, Any], engineer_id: int) -> dict[str, Any]:
    return next(e for e in data["engineers"] if e["id"] == engineer_id)


def _stop(row: dict[str, Any], wo_id: int) -> dict[str, Any]:
    return next(s for s in row["stops"] if s.get("work_order_id") == wo_id)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@contextmanager
def _counted(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        if not args[2].lstrip().upper().startswith(("SAVEPOINT", "RELEASE")):  # the test's own nesting
            seen.append(args[2])

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_visit_checked_in_and_reported_is_drawn_when_it_happened(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, ordered, elec = _day_with_a_pickup(db)
    visit = ordered[0]
    run = _current(db, w, today)
    plan = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == visit.id)
    ).one()
    with _counted(db) as before:
        plan_board.board(db, region_id=w.region.id, day=today)
    sign_in("dispatcher")
    params = {"region": w.region.id, "day": today.isoformat()}
    first = client.get("/board/data", params=params)
    untouched = _stop(_row(first.json(), elec.id), visit.id)
    assert _at(untouched["start"]) == plan.start_at and "progress" not in untouched

    engineer = db.get_one(User, elec.user_id)
    wo = db.get_one(WorkOrder, visit.id)
    visits.check_in(db, work_order=wo, actor=engineer)
    db.commit()
    # the report filed a few minutes later: the times the board draws are the recorded ones
    wo.checked_in_at = plan.start_at - timedelta(hours=3)
    db.commit()
    visits.report(db, work_order=wo, work_done="Replaced the fuse", parts_used=[], fixed=True, actor=engineer)
    db.commit()
    arrived, left = wo.checked_in_at, wo.checked_out_at
    assert arrived is not None and left is not None and wo.status == "done"

    again = client.get("/board/data", params=params, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]  # not a 304
    stop = _stop(_row(again.json(), elec.id), visit.id)
    # was drawn at the plan's slot, "ETA <planned arrival>, done"
    assert (_at(stop["start"]), _at(stop["end"]), _at(stop["eta"])) == (arrived, left, arrived)
    zone = ZoneInfo(w.region.timezone)
    assert stop["progress"] == (
        f"arrived {arrived.astimezone(zone):%H:%M}, done {left.astimezone(zone):%H:%M}"
    )
    assert (_at(stop["planned"]["start"]), _at(stop["planned"]["end"])) == (plan.start_at, plan.end_at)
    assert stop["travel_start"] is None and stop["late_s"] == 0  # the plan's travel and lateness are moot
    # the engineer's route says the same times
    route = client.get(f"/api/v1/engineers/{elec.id}/route", params={"date": today.isoformat()}).json()
    on_route = next(s for s in route["stops"] if s["work_order_id"] == visit.id)
    assert (_at(on_route["start_at"]), _at(on_route["end_at"])) == (arrived, left)
    # the same data, the same tag: the poll is a 304 again
    tag = again.headers["ETag"]
    assert client.get("/board/data", params=params, headers={"If-None-Match": tag}).status_code == 304
    # no query per started visit: the build reads as many statements as before
    with _counted(db) as after:
        plan_board.board(db, region_id=w.region.id, day=today)
    assert len(after) == len(before)


def test_a_visit_on_the_way_is_drawn_from_the_eta_the_engineer_gave(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, ordered, elec = _day_with_a_pickup(db)
    visit = ordered[0]
    plan = db.scalars(
        select(PlanStop).where(
            PlanStop.plan_run_id == _current(db, w, today).id, PlanStop.work_order_id == visit.id
        )
    ).one()
    eta = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=20)
    wo = db.get_one(WorkOrder, visit.id)
    workorders.transition(db, work_order=wo, to="en_route", actor=db.get_one(User, elec.user_id), eta=eta)
    db.commit()

    sign_in("dispatcher")
    stop = _stop(
        _row(
            client.get("/board/data", params={"region": w.region.id, "day": today.isoformat()}).json(),
            elec.id,
        ),
        visit.id,
    )
    length = plan.end_at - plan.start_at
    assert (_at(stop["eta"]), _at(stop["start"]), _at(stop["end"])) == (eta, eta, eta + length)
    assert stop["progress"] == f"on the way, ETA {eta.astimezone(ZoneInfo(w.region.timezone)):%H:%M}"
    assert _at(stop["planned"]["start"]) == plan.start_at
    assert stop["status"] == "en_route"


def test_a_confirmed_pickup_leaves_the_board_as_it_leaves_the_route(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, ordered, elec = _day_with_a_pickup(db)
    sign_in("dispatcher")
    params = {"region": w.region.id, "day": today.isoformat()}
    route_params = {"date": today.isoformat()}

    def pickups() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        row = _row(client.get("/board/data", params=params).json(), elec.id)
        route = client.get(f"/api/v1/engineers/{elec.id}/route", params=route_params).json()
        return (
            [s for s in row["stops"] if s["kind"] == "pickup"],
            [s for s in route["stops"] if s["kind"] == "pickup"],
        )

    on_board, on_route = pickups()
    assert len(on_board) == len(on_route) == 1 and on_board[0]["warehouse"] == w.warehouse.name
    with _counted(db) as before:
        plan_board.board(db, region_id=w.region.id, day=today)

    wo = db.get_one(WorkOrder, w.work_orders[0].id)  # the visit needing the part
    assert reservations.confirm_pickup(db, work_order=wo, engineer_id=elec.id, actor=None)
    db.commit()

    on_board, on_route = pickups()
    assert on_board == on_route == []  # the board kept "Pick up at …" after "Picked up"
    row = _row(client.get("/board/data", params=params).json(), elec.id)
    assert {s.get("work_order_id") for s in row["stops"] if s["kind"] == "job"} == {o.id for o in ordered}
    with _counted(db) as after:
        plan_board.board(db, region_id=w.region.id, day=today)
    assert len(after) == len(before)
