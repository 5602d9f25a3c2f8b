"""The at-risk sweep (every minute, with the late-visit beat) keeps a re-plan's mark of a visit kept
at a time set by hand that the day cannot fit there. QA: the plan marked three visits kept at 13:00
"… the plan cannot fit it there", and within a minute the sweep judged them by their ETA alone (the
hand-set one): it cleared the mark ("meets the due time") or put an unrelated reason in its place,
and the dispatcher's warning was gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.field.workorders import risk
from app.field.workorders import service as workorders
from app.models import User, WorkOrder
from app.planning import assign as plan_assign
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at
from tests.planning.test_held_time_blocked import kept_evening, replanned
from tests.planning.test_on_call import _due
from tests.planning.test_out_of_order_check_in import _current


def _swept(db: Session, wo_id: int) -> WorkOrder:
    db.expire_all()
    risk.sweep(db, at=utcnow())
    db.commit()
    db.expire_all()
    return db.get_one(WorkOrder, wo_id)


@pytest.mark.parametrize(
    "due_after_kept",
    [
        timedelta(hours=2),  # by its ETA it is in time: the sweep cleared the mark
        timedelta(hours=-1),  # by its ETA it is late: the sweep wrote "planned arrival … after"
    ],
    ids=["eta-meets-due", "eta-past-due"],
)
def test_the_sweep_keeps_the_mark_of_a_kept_visit_the_plan_cannot_fit(
    db: Session, due_after_kept: timedelta
) -> None:
    k = kept_evening(db)  # kept at 21:30 for an hour, the shift ends at 22:00
    _due(db, db.get_one(WorkOrder, k.late.id), k.kept_at + due_after_kept, round_the_clock=False)
    db.commit()
    planned = replanned(db, k)
    since, said = planned.at_risk_since, planned.at_risk_reason
    assert since is not None and "the plan cannot fit it there" in (said or "")

    swept = _swept(db, k.late.id)

    assert swept.at_risk_since == since  # still marked, not cleared and marked anew
    assert swept.at_risk_reason == said  # the plan's words, not the ETA's
    assert (swept.engineer_id, swept.planned_start_at) == (k.engineer.id, k.kept_at)
    swept = _swept(db, k.late.id)  # and on every later minute
    assert swept.at_risk_reason == said


def test_a_kept_visit_moved_by_hand_is_judged_by_its_new_eta(db: Session) -> None:
    """The plan's words hold while the visit stands at its kept stop. Moved by hand to 18:00, a
    time the day fits, it is judged at once by its new ETA (`risk.reassess`, in the dispatcher's
    request, before its re-plan): in time, so "kept at 21:30 …" goes rather than staying on."""
    k = kept_evening(db)
    _due(db, db.get_one(WorkOrder, k.late.id), k.kept_at + timedelta(hours=2), round_the_clock=False)
    db.commit()
    assert replanned(db, k).at_risk_since is not None

    db.expire_all()  # a new request; the schedule's re-plan runs after its commit
    moved = workorders.schedule(
        db,
        work_order=db.get_one(WorkOrder, k.late.id),
        engineer_id=k.engineer.id,
        planned_start=_at(k.world, k.today, 18),
        eta=_at(k.world, k.today, 18),
        actor=db.get_one(User, k.world.users[0].id),
    )

    assert moved.at_risk_since is None, moved.at_risk_reason
    db.commit()
    swept = _swept(db, k.late.id)  # and its re-plan, which fits it there, agrees
    assert swept.at_risk_since is None, swept.at_risk_reason


def test_an_assignment_on_another_route_keeps_the_plans_word_on_the_kept_visit(db: Session) -> None:
    """An Assign publishes a partial run that copies the other routes as they stood: the kept
    visit's stop, and with it the plan's word that it cannot fit there, which the sweep reads."""
    k = kept_evening(db)
    other = pw.add_visit(db, k.world, skill="HVAC", lat=48.14, lon=11.51, duration_min=30)
    _due(db, db.get_one(WorkOrder, k.late.id), k.kept_at + timedelta(hours=2), round_the_clock=False)
    db.commit()
    said = replanned(db, k).at_risk_reason
    assert said is not None and "the plan cannot fit it there" in said

    db.expire_all()
    plan_assign.assign(
        db,
        work_order=db.get_one(WorkOrder, other.id),
        engineer_id=k.world.engineers[0].id,  # not the kept visit's engineer: their route is copied
        day=k.today,
        dry_run=False,
        actor=db.get_one(User, k.world.users[0].id),
    )
    db.commit()
    assert _current(db, k.world, k.today).kind == "manual"

    swept = _swept(db, k.late.id)
    assert swept.at_risk_reason == said
