"""The planner's Assign plans around the engineer's visits set by hand: they keep their time.

QA: assigning a visit to an engineer re-planned her day with her other visits free in time, so a
visit a dispatcher had set by hand (engineer and start) moved, the answer's `appointments_moved`
did not list it (it had no promised appointment), the customer's notice of the hand-set time was
wrong, and the board's pin turned into "pinned to …": the hand-set time lost. Assign now loads the
day as an automatic re-plan does (`hold_hand_times`) and solves through `held.solve`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import PlanStop, User, WorkOrder
from app.planning import assign as plan_assign
from app.planning import keys as plan_keys
from app.planning import pins as plan_pins
from app.planning import runs as plan_runs
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _by_hand
from tests.planning.test_out_of_order_check_in import _current

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _day_with_a_hand_set_visit(db: Session) -> tuple[pw.World, date, WorkOrder, WorkOrder, datetime]:
    """Two ELEC visits (no promised appointment) planned for the ELEC engineer next Tuesday; one
    moved by hand to 15:30, late in her day. A third ELEC visit waits, unscheduled."""
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    kept, other = (pw.add_visit(db, w, skill="ELEC", lat=48.12 + 0.02 * i, lon=11.55) for i in range(2))
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    elec = w.engineers[1]
    at = plan_keys.local_at(day, time(15, 30), w.region.timezone)
    db.expire_all()
    assert db.get_one(WorkOrder, kept.id).planned_start_at != at
    _by_hand(db, w, kept.id, elec.id, at)  # its re-plan (`scheduled`) keeps it at 15:30
    assert _current(db, w, day).trigger == "scheduled"
    new = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60)
    db.commit()
    return w, day, db.get_one(WorkOrder, kept.id), db.get_one(WorkOrder, new.id), at


def _note(db: Session, w: pw.World, day: date, wo: WorkOrder) -> str:
    names = {e.id: e.name for e in w.engineers}
    return plan_pins.notes(db, [wo], _current(db, w, day).id, names, ZoneInfo(w.region.timezone))[wo.id]


def test_assign_keeps_a_visit_set_by_hand_at_its_time(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, day, kept, new, at = _day_with_a_hand_set_visit(db)
    elec = w.engineers[1]
    url = f"/api/v1/work-orders/{new.id}/assign"
    body = {"engineer_id": elec.id, "date": day.isoformat()}

    preview = client.post(url + "?dry_run=true", json=body, headers=dispatcher)
    assert preview.status_code == 200, preview.text
    done = client.post(url, json=body, headers={**dispatcher, "If-Match": f'"v{new.version}"'})
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["appointments_moved"] == preview.json()["appointments_moved"]  # the preview told it

    db.expire_all()
    wo = db.get_one(WorkOrder, kept.id)
    # before: the engine's earlier slot, unreported, the hand-set 15:30 gone
    assert (wo.engineer_id, wo.planned_start_at, wo.eta_at) == (elec.id, at, at)
    assert kept.id not in {m["work_order_id"] for m in answer["appointments_moved"]}
    assert kept.id not in {d["work_order_id"] for d in answer["visits_dropped"]}
    stops = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == answer["plan_run_id"], PlanStop.engineer_id == elec.id)
    ).all()
    mine = next(s for s in stops if s.work_order_id == kept.id)
    assert (mine.start_at, mine.locked) == (at, True)
    for s in stops:  # routed around it: nothing of hers overlaps the kept visit
        if s.work_order_id != kept.id:
            assert s.end_at <= mine.start_at or s.start_at >= mine.end_at, (s.work_order_id, s.start_at)
    # the pin stays honest: still the hand-set time, not "pinned to …"
    assert _note(db, w, day, wo).startswith("scheduled by hand at 15:30")
    assert db.get_one(WorkOrder, new.id).engineer_id == elec.id


def test_the_dry_run_previews_the_day_with_the_hand_set_time_kept(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The preview is the plan the Assign would publish: the visit set by hand stands at 15:30 in
    it (before, the preview's engineer day had it re-timed, and said nothing), nothing is written."""
    w, day, kept, new, at = _day_with_a_hand_set_visit(db)
    elec = w.engineers[1]
    seen: list[dispatch.Plan] = []
    consequences = plan_assign._consequences

    def spy(*args: Any) -> Any:
        seen.append(args[2])  # the plan the answer is made from
        return consequences(*args)

    monkeypatch.setattr(plan_assign, "_consequences", spy)
    version = kept.version
    result = plan_assign.assign(
        db, work_order=new, engineer_id=elec.id, day=day, dry_run=True, actor=db.get_one(User, w.users[0].id)
    )
    route = seen[0].route_of(plan_keys.engineer_key(elec.id))
    assert route is not None
    stop = next(s for s in route.stops if s.id == plan_keys.job_key(kept.id))
    ref = plan_keys.day_reference(day, w.region.timezone)
    assert plan_keys.from_s(ref, stop.start) == at
    assert kept.id not in {m.work_order_id for m in result.appointments_moved}
    db.rollback()
    db.expire_all()
    assert db.get_one(WorkOrder, kept.id).version == version  # a dry run writes nothing
