"""A time set by hand for an engineer who goes home early that day. QA: with the engineer's
absence from 13:30 recorded, a visit scheduled by hand at 08:01 (within the hours they work) was
moved by the re-plan the schedule asked for to the engine's 11:21, with no at-risk mark, and the
customer was told 11:21: the planner released every hand-set time of an engineer going home early
(`service._engine_jobs`), as for an engineer who does not work the day at all. The time is kept
while it starts before they leave; a visit that runs past their leaving stays as set, at risk."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CustomerNotification, PlanStop, PlanUnassigned, WorkOrder
from app.planning import keys as plan_keys
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at
from tests.planning.test_out_of_order_check_in import _current
from tests.planning.test_partial_absence import _plan


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _going_home_at_17(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> tuple[pw.World, date, WorkOrder]:
    """One ELEC visit (only engineer 1 has ELEC) planned for today (about noon local); then the
    engineer is sent home sick from 17:00, through the API (its re-plan publishes)."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    visit = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60, duration_min=60)
    db.commit()
    _plan(db, w, today)
    elec = w.engineers[1]
    r = client.post(
        f"/api/v1/engineers/{elec.id}/absences",
        json={"day": today.isoformat(), "reason": "sickness", "from_time": "17:00"},
        headers=dispatcher,
    )
    assert r.status_code == 201, r.text
    assert _current(db, w, today).trigger == "sickness"
    return w, today, db.get_one(WorkOrder, visit.id)


def _schedule(
    client: TestClient, dispatcher: dict[str, str], wo: WorkOrder, engineer_id: int, at: datetime
) -> None:
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/schedule",
        json={"engineer_id": engineer_id, "planned_start": at.isoformat()},
        headers={**dispatcher, "If-Match": f'"v{wo.version}"'},
    )
    assert r.status_code == 200, r.text


def test_a_time_set_by_hand_before_the_engineer_goes_home_is_kept(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, today, wo = _going_home_at_17(client, db, dispatcher)
    elec = w.engineers[1]
    at = _at(w, today, 14, 1)  # after now (about noon), well before 17:00
    assert wo.planned_start_at != at

    _schedule(client, dispatcher, wo, elec.id, at)

    run = _current(db, w, today)
    assert (run.trigger, run.status) == ("scheduled", "published")  # the schedule's re-plan
    db.expire_all()
    kept = db.get_one(WorkOrder, wo.id)
    assert (kept.engineer_id, kept.planned_start_at, kept.eta_at) == (elec.id, at, at)  # before: moved
    assert kept.at_risk_since is None, kept.at_risk_reason  # it fits there
    stop = db.scalar(select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == wo.id))
    assert stop is not None and (stop.engineer_id, stop.start_at, stop.locked) == (elec.id, at, True)
    told = db.scalars(
        select(CustomerNotification)
        .where(CustomerNotification.work_order_id == wo.id)
        .order_by(CustomerNotification.id.desc())
    ).first()
    assert told is not None and told.eta_at == at and told.status != "skipped"  # 14:01, not another time


def test_a_visit_set_to_run_past_the_engineers_leaving_stays_as_set_at_risk(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    """16:30 for an hour, the engineer leaves at 17:00: the schedule accepts the start (within their
    hours), the day cannot fit the visit there. Not moved silently: kept as set, marked at risk."""
    w, today, wo = _going_home_at_17(client, db, dispatcher)
    elec = w.engineers[1]
    at = _at(w, today, 16, 30)

    _schedule(client, dispatcher, wo, elec.id, at)

    run = _current(db, w, today)
    assert run.trigger == "scheduled"
    db.expire_all()
    kept = db.get_one(WorkOrder, wo.id)
    assert (kept.engineer_id, kept.planned_start_at) == (elec.id, at)
    assert kept.at_risk_since is not None
    assert "kept at" in (kept.at_risk_reason or "") and "cannot fit it there" in (kept.at_risk_reason or "")
    left = db.scalars(select(PlanUnassigned.work_order_id).where(PlanUnassigned.plan_run_id == run.id)).all()
    assert wo.id not in left  # a stop on the engineer's route, not "left out"


def test_a_start_after_the_engineer_leaves_is_refused(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, today, wo = _going_home_at_17(client, db, dispatcher)
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/schedule",
        json={"engineer_id": w.engineers[1].id, "planned_start": _at(w, today, 17, 30).isoformat()},
        headers={**dispatcher, "If-Match": f'"v{wo.version}"'},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "17:30" in r.text
