"""A visit scheduled by hand onto an engineer of another region is refused, naming both regions.

Every plan is a region's (its engineers, its visits) and an engineer works in one region, so no
plan can keep such a visit there: QA saw the schedule answer 200 without a word, then the visit's
own region re-planned the day (trigger `scheduled`) and gave it back to one of its engineers about
3 s later; its customer was told the old engineer's time. The planner's Assign refused another
region's engineer already; the work-order API's `/schedule` now does too, before anything changes.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.field.workorders import service as workorders
from app.models import CustomerNotification, PlanRun, User, WorkOrder
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.errors import Unprocessable
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _two_regions(db: Session) -> tuple[pw.World, pw.World, date, WorkOrder]:
    """Region `home` with its day planned, region `away` next to it; a visit of `home` planned."""
    home, away = pw.build(db, jobs=2), pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    run = plan_runs.create_run(db, region_id=home.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    visit = db.get_one(WorkOrder, home.work_orders[0].id)
    assert visit.engineer_id in {e.id for e in home.engineers} and visit.planned_start_at is not None
    return home, away, day, visit


def _state(db: Session, wo_id: int) -> tuple[int | None, Any, Any, int]:
    db.expire_all()
    wo = db.get_one(WorkOrder, wo_id)
    return wo.engineer_id, wo.planned_start_at, wo.eta_at, wo.version


def _names_both(message: str, home: pw.World, away: pw.World) -> None:
    for region in (home.region, away.region):
        assert f"{region.name} ({region.code})" in message, message


def test_the_api_refuses_another_region_s_engineer_and_changes_nothing(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    home, away, day, visit = _two_regions(db)
    before = _state(db, visit.id)
    runs = db.scalar(select(func.count()).select_from(PlanRun))
    told = db.scalar(select(func.count()).select_from(CustomerNotification))
    at = plan_keys.local_at(day, time(11), away.region.timezone)  # within the engineer's shift

    r = client.post(
        f"/api/v1/work-orders/{visit.id}/schedule",
        json={"engineer_id": away.engineers[1].id, "planned_start": at.isoformat()},
        headers={**dispatcher, "If-Match": f'"v{visit.version}"'},
    )

    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert [e["field"] for e in problem["errors"]] == ["engineer_id"]
    _names_both(problem["errors"][0]["message"], home, away)
    _names_both(problem["detail"], home, away)
    # nothing saved, nothing re-planned, nobody told
    assert _state(db, visit.id) == before
    assert db.scalar(select(func.count()).select_from(PlanRun)) == runs
    assert db.scalar(select(func.count()).select_from(CustomerNotification)) == told


def test_the_service_refuses_it_for_every_caller(db: Session) -> None:
    home, away, day, visit = _two_regions(db)
    before = _state(db, visit.id)
    at = plan_keys.local_at(day, time(11), away.region.timezone)
    with pytest.raises(Unprocessable) as refused:
        workorders.schedule(
            db,
            work_order=db.get_one(WorkOrder, visit.id),
            engineer_id=away.engineers[0].id,
            planned_start=at,
            eta=at,
            actor=db.get_one(User, home.users[0].id),
        )
    db.rollback()
    _names_both(refused.value.errors[0]["message"], home, away)
    assert _state(db, visit.id) == before


def test_an_engineer_of_the_visit_s_region_is_still_scheduled_and_kept(db: Session) -> None:
    """The refusal is about the region only: the same move onto the region's own other engineer
    is saved and its re-plan keeps it there (the pinned time, docs/planning.md)."""
    home, _, day, visit = _two_regions(db)
    other = next(e for e in home.engineers if e.id != visit.engineer_id)
    at = plan_keys.local_at(day, time(11), home.region.timezone)
    workorders.schedule(
        db,
        work_order=db.get_one(WorkOrder, visit.id),
        engineer_id=other.id,
        planned_start=at,
        eta=at,
        actor=db.get_one(User, home.users[0].id),
    )
    db.commit()
    engineer, start, eta, _ = _state(db, visit.id)
    assert (engineer, start, eta) == (other.id, at, at)
    latest = db.scalars(select(PlanRun).order_by(PlanRun.id.desc())).first()
    assert latest is not None and (latest.trigger, latest.status) == ("scheduled", "published")


def test_the_planner_s_assign_names_both_regions_too(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    home, away, day, visit = _two_regions(db)
    r = client.post(
        f"/api/v1/work-orders/{visit.id}/assign?dry_run=true",
        json={"engineer_id": away.engineers[0].id, "date": day.isoformat()},
        headers=dispatcher,
    )
    assert r.status_code == 422, r.text
    _names_both(r.json()["detail"], home, away)
