"""On-call cover in the planner: a P1 on a 24x7 contract due on Saturday evening is served on
Saturday by the engineer on call, not on Monday after routine work (issue 10)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import OnCallShift, PlanRoute, PlanStop, PlanUnassigned, Ticket, WorkOrder
from app.planning import runs as plan_runs
from app.planning import service as planning
from tests import factories as f
from tests.planning import world as pw
from tests.planning.test_planning import run_plan

TZ = ZoneInfo("Europe/Berlin")


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ)


def _due(db: Session, wo: WorkOrder, at: datetime, *, round_the_clock: bool) -> None:
    """The ticket's arrival due time and calendar as the SLA service would set them."""
    ticket = db.get(Ticket, wo.ticket_id)
    assert ticket is not None
    if round_the_clock:
        ticket.sla_calendar_id = f.make_calendar(db, always_open=True).id
    ticket.arrival_due_at = at
    wo.sla_deadline_at = at
    db.flush()


def _saturday_world(db: Session) -> tuple[pw.World, date, WorkOrder, WorkOrder]:
    w = pw.build(db, jobs=0)  # engineers work Monday to Friday, 08:00-17:00
    saturday = pw.next_weekday(5)
    on_call = w.engineers[1]
    db.add(
        OnCallShift(
            engineer_id=on_call.id,
            starts_at=_at(saturday, 8),
            ends_at=_at(saturday + timedelta(days=1), 8),
        )
    )
    routine = pw.add_visit(db, w, priority="P3", lat=48.13, lon=11.55)
    _due(db, routine, _at(saturday + timedelta(days=5), 17), round_the_clock=True)
    urgent = pw.add_visit(db, w, priority="P1", lat=48.15, lon=11.58)
    _due(db, urgent, _at(saturday, 20), round_the_clock=True)
    db.commit()
    return w, saturday, urgent, routine


def test_p1_due_saturday_evening_is_served_by_on_call_cover_on_saturday(
    client: TestClient, db: Session, login: Any
) -> None:
    w, saturday, urgent, routine = _saturday_world(db)
    run = run_plan(db, w, saturday)
    assert run.status == "published", run.error
    urgent, routine = db.get(WorkOrder, urgent.id), db.get(WorkOrder, routine.id)
    assert urgent.status == "scheduled" and urgent.engineer_id == w.engineers[1].id
    assert urgent.planned_start_at.astimezone(TZ).date() == saturday
    assert urgent.eta_at <= urgent.sla_deadline_at
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == urgent.id)
    )
    assert stop.cover and stop.cover.startswith("oc")
    route = db.scalar(select(PlanRoute).where(PlanRoute.plan_run_id == run.id))
    assert route.engineer_id == w.engineers[1].id and route.jobs == 1
    # Routine work on the same 24x7 contract, due next week, waits for a regular shift.
    assert routine.status == "unscheduled"
    left = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == routine.id
        )
    )
    assert left.reason == "off_shift"
    # Explain names the engineer and says it is their on-call cover.
    why = client.get(f"/api/v1/work-orders/{urgent.id}/explain", headers=login("dispatcher")).json()
    assert why["reason"].startswith(f"{w.engineers[1].name} (on call)"), why["reason"]
    # Monday's plan takes the routine visit and leaves the P1 where it is.
    monday = run_plan(db, w, saturday + timedelta(days=2))
    assert monday.status == "published"
    assert db.get(WorkOrder, routine.id).status == "scheduled"
    assert db.get(WorkOrder, urgent.id).planned_start_at.astimezone(TZ).date() == saturday


def test_on_call_cover_is_not_used_when_the_shift_can_do_it(db: Session) -> None:
    w = pw.build(db, jobs=0)
    monday = pw.next_weekday(0)
    # Engineer 0 is on call all Monday evening and night; engineer 1 works the day.
    db.add(OnCallShift(engineer_id=w.engineers[0].id, starts_at=_at(monday, 17), ends_at=_at(monday, 23)))
    urgent = pw.add_visit(db, w, priority="P1")
    _due(db, urgent, _at(monday, 16), round_the_clock=True)
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=monday)
    assert loaded.problem is not None
    cover = [e for e in loaded.problem.engineers if e.on_call]
    assert len(cover) == 1 and cover[0].shift[0] == 17 * 3600  # after the regular shift, never inside it
    run = run_plan(db, w, monday)
    urgent = db.get(WorkOrder, urgent.id)
    assert urgent.status == "scheduled"
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == urgent.id)
    )
    assert stop.cover is None  # served in a regular shift: the call-out cost kept standby free
    # A re-plan rebuilds the published routes with the same engine keys.
    loaded = planning.load(db, region_id=w.region.id, day=monday)
    previous = plan_runs.previous_plan(db, loaded)
    assert previous is not None
    assert {r.engineer_id for r in previous.routes} <= {e.id for e in loaded.problem.engineers}
