"""An undone check-in re-plans the days its check-in re-planned (`app/planning/triggers.py`:
`check_in_undone`): the plan froze a visit nobody is at and timed the other stops after it.

Each undone check-in is its own event (ref: the visit and the instant of the check-in taken back),
and a check-in made again after an undo is its own event too."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import PlanRun, PlanStop, User, WorkOrder
from app.planning import triggers
from tests.planning.test_out_of_order_check_in import _current, _planned_day


def _runs(db: Session, trigger: str) -> list[PlanRun]:
    db.expire_all()
    return list(db.scalars(select(PlanRun).where(PlanRun.trigger == trigger).order_by(PlanRun.id)))


def test_undoing_an_out_of_order_check_in_re_plans_today_again(db: Session) -> None:
    w, today, ordered, elec = _planned_day(db)
    actor = db.get_one(User, elec.user_id)
    last = ordered[-1]
    visits.check_in(db, work_order=last, actor=actor)
    db.commit()
    assert _current(db, w, today).trigger == "out_of_order"

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    again = _current(db, w, today)
    assert (again.kind, again.trigger) == ("replan", "check_in_undone")
    assert again.trigger_ref.startswith(f"{last.id}.")
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == again.id, PlanStop.work_order_id == last.id)
    )
    assert stop is not None and not stop.fixed  # no longer frozen as on site

    # Tapped on the wrong stop again (the last of the new plan): its own event, and its undo too.
    db.expire_all()
    latest = max(
        (db.get_one(WorkOrder, wo.id) for wo in ordered), key=lambda wo: wo.planned_start_at or today
    )
    visits.check_in(db, work_order=latest, actor=actor)
    db.commit()
    assert _current(db, w, today).trigger == "out_of_order"
    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, latest.id), actor=actor)
    db.commit()
    undone = _runs(db, "check_in_undone")
    assert len(undone) == 2 and undone[0].trigger_ref != undone[1].trigger_ref
    assert _current(db, w, today).id == undone[1].id

    # The same visit checked in again after an undo is a new check-in event, not the first one's.
    wo = db.get_one(WorkOrder, last.id)
    visits.check_in(db, work_order=wo, actor=actor)
    assert wo.checked_in_at is not None
    assert triggers.check_in_ref(db, wo) == f"{last.id}.{wo.checked_in_at:%Y%m%dT%H%M%S%f}"
    db.rollback()


def test_undoing_a_check_in_that_re_planned_nothing_asks_for_nothing(db: Session) -> None:
    w, today, ordered, elec = _planned_day(db)
    first = _current(db, w, today)
    actor = db.get_one(User, elec.user_id)
    visits.check_in(db, work_order=ordered[0], actor=actor)  # the next stop: in order
    db.commit()

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, ordered[0].id), actor=actor)
    db.commit()

    assert _current(db, w, today).id == first.id
    assert _runs(db, "check_in_undone") == []
