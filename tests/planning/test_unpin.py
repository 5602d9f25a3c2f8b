"""Unpin: a visit scheduled by hand (engineer and start) is kept there by every automatic re-plan;
the board marks it (who set the time, and when) and "Unpin" lets the planner choose engineer and
time again. Before, the board showed no mark for it and its Unpin only cleared the published
stop's `locked` flag, so the next re-plan still kept the visit where it was put."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanStop, WorkOrder
from app.planning import service as planning
from app.planning.keys import job_key
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import _current, _planned_day


def _replan_inputs(db: Session, w: pw.World, day: date, wo_id: int) -> tuple[bool, Any]:
    """Whether the next automatic re-plan holds the visit where it stands, and its engine job."""
    db.expire_all()
    loaded = planning.load(db, region_id=w.region.id, day=day, hold_hand_times=True)
    job = next(j for j in loaded.problem.jobs if j.id == job_key(wo_id))
    return wo_id in loaded.held, job


def _pinned_by_hand(db: Session) -> tuple[pw.World, date, WorkOrder, Any]:
    w, today, ordered, elec = _planned_day(db)
    moved = ordered[0]
    _by_hand(db, w, moved.id, elec.id, _at(w, today, 18, 30))
    return w, today, db.get_one(WorkOrder, moved.id), elec


@pytest.mark.parametrize("role", ["dispatcher", "manager", "admin"])
def test_the_api_unpins_with_if_match_and_the_next_re_plan_may_move_the_visit(
    client: TestClient, db: Session, login: Callable[..., dict[str, str]], role: str
) -> None:
    w, today, moved, elec = _pinned_by_hand(db)
    held, job = _replan_inputs(db, w, today, moved.id)
    at = _at(w, today, 18, 30)
    assert held and job.pinned_engineer is not None and job.windows[0][0] == job.windows[0][1]

    headers = login(role)
    before = moved.version
    url = f"/api/v1/work-orders/{moved.id}/unpin"
    assert client.post(url, headers=headers).status_code == 428  # If-Match is required
    stale = client.post(url, headers={**headers, "If-Match": f'"v{before - 1}"'})
    assert stale.status_code == 412
    db.expire_all()
    assert _replan_inputs(db, w, today, moved.id)[0]  # a refused unpin changes nothing

    done = client.post(url, headers={**headers, "If-Match": f'"v{before}"'})
    assert done.status_code == 200, done.text
    db.expire_all()
    now = db.get_one(WorkOrder, moved.id)
    assert done.headers["ETag"] == f'"v{now.version}"' and now.version == before + 1
    assert (now.engineer_id, now.planned_start_at) == (elec.id, at)  # stays until a plan moves it
    held, job = _replan_inputs(db, w, today, moved.id)
    assert not held and job.pinned_engineer is None  # the planner chooses again
    assert not any(a == b for a, b in job.windows)  # no longer fixed at 18:30

    again = client.post(url, headers={**headers, "If-Match": done.headers["ETag"]})
    assert again.status_code == 422 and "not pinned" in again.text


@pytest.mark.parametrize("role", ["engineer", "agent"])
def test_engineers_and_agents_may_not_unpin(
    client: TestClient, db: Session, login: Callable[..., dict[str, str]], role: str
) -> None:
    w, today, moved, _ = _pinned_by_hand(db)
    r = client.post(
        f"/api/v1/work-orders/{moved.id}/unpin", headers={**login(role), "If-Match": f'"v{moved.version}"'}
    )
    assert r.status_code == 403
    assert _replan_inputs(db, w, today, moved.id)[0]


def test_a_new_schedule_by_hand_after_unpin_pins_again(
    client: TestClient, db: Session, login: Callable[..., dict[str, str]]
) -> None:
    w, today, moved, elec = _pinned_by_hand(db)
    r = client.post(
        f"/api/v1/work-orders/{moved.id}/unpin",
        headers={**login("dispatcher"), "If-Match": f'"v{moved.version}"'},
    )
    assert r.status_code == 200, r.text
    assert not _replan_inputs(db, w, today, moved.id)[0]
    _by_hand(db, w, moved.id, elec.id, _at(w, today, 17))
    assert _replan_inputs(db, w, today, moved.id)[0]


def test_a_visit_that_is_not_pinned_is_refused_when_another_of_its_plan_is(
    client: TestClient, db: Session, login: Callable[..., dict[str, str]]
) -> None:
    """QA: Unpin answered 200 (a new version, another `unpinned` event) for any visit of a plan
    holding one pinned stop: the check asked whether the plan had a pinned stop, not this visit."""
    w, today, ordered, _ = _planned_day(db)
    run = _current(db, w, today)
    pinned, free = ordered[0], ordered[1]
    stop = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == pinned.id)
    ).one()
    stop.locked = True  # the board's Pin on the first visit
    db.commit()
    free = db.get_one(WorkOrder, free.id)
    before = free.version
    r = client.post(
        f"/api/v1/work-orders/{free.id}/unpin",
        headers={**login("dispatcher"), "If-Match": f'"v{before}"'},
    )
    assert r.status_code == 422 and "not pinned" in r.text
    db.expire_all()
    assert db.get_one(WorkOrder, free.id).version == before  # nothing written
