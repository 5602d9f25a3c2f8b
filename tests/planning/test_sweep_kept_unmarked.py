"""The minute sweep marks again a visit the current plan keeps but cannot fit, though it is unmarked.

QA: the sweep only looked at visits already marked or late by their ETA. A visit the published plan
names in `summary.kept_unfit` ("kept at 21:30 … the plan cannot fit it there") whose mark some path
took off stayed unmarked until the next re-plan: its hand-set ETA meets the due time, so by its ETA
it was never picked up. The sweep now also reads the current plans of today and later days.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.field.workorders import risk
from app.models import PlanDay, PlanRun, Ticket, WorkOrder
from app.platform.db import utcnow
from tests.planning.test_held_time_blocked import kept_evening, replanned
from tests.planning.test_on_call import _due
from tests.planning.test_out_of_order_check_in import _current


def _lose_the_mark(db: Session, wo_id: int) -> None:
    """A path that took the mark off past `risk` (the ticket's timeline is not the point here)."""
    wo = db.get_one(WorkOrder, wo_id)
    wo.at_risk_since, wo.at_risk_reason = None, None
    db.commit()


def _swept(db: Session, wo_id: int) -> tuple[int, WorkOrder]:
    db.expire_all()
    changed = risk.sweep(db, at=utcnow())
    db.commit()
    db.expire_all()
    return changed, db.get_one(WorkOrder, wo_id)


def _kept_and_unmarked(db: Session, *, with_due_time: bool) -> tuple[WorkOrder, str]:
    k = kept_evening(db)  # kept at 21:30 for an hour, the shift ends at 22:00
    late = db.get_one(WorkOrder, k.late.id)
    if with_due_time:  # due two hours after the kept start: by its ETA it is in time
        _due(db, late, k.kept_at + timedelta(hours=2), round_the_clock=False)
    else:  # no arrival SLA at all
        late.sla_deadline_at = None
        db.get_one(Ticket, late.ticket_id).arrival_due_at = None
    db.commit()
    planned = replanned(db, k)
    said = planned.at_risk_reason
    assert planned.at_risk_since is not None and "the plan cannot fit it there" in (said or "")
    assert str(k.late.id) in _current(db, k.world, k.today).summary[risk.KEPT_UNFIT]
    _lose_the_mark(db, k.late.id)
    return db.get_one(WorkOrder, k.late.id), said or ""


def test_the_sweep_puts_back_a_lost_mark_of_a_visit_the_plan_keeps_but_cannot_fit(db: Session) -> None:
    wo, said = _kept_and_unmarked(db, with_due_time=True)

    changed, swept = _swept(db, wo.id)

    assert swept.at_risk_since is not None, "the mark stayed lost"
    assert swept.at_risk_reason == said  # the plan's words, not the ETA's
    assert changed >= 1
    changed, again = _swept(db, wo.id)  # the next minute: nothing new, the same words
    assert (changed, again.at_risk_since, again.at_risk_reason) == (0, swept.at_risk_since, said)


def test_a_kept_visit_without_an_arrival_due_time_is_marked_again_too(db: Session) -> None:
    """The plan marks it whatever its SLA (`publish._risks`); the sweep agrees."""
    wo, said = _kept_and_unmarked(db, with_due_time=False)
    assert wo.sla_deadline_at is None

    _changed, swept = _swept(db, wo.id)

    assert swept.at_risk_reason == said


def test_a_past_day_s_plan_is_not_read(db: Session) -> None:
    """Only today's and later days' current plans speak for their visits now: the same plan moved to
    yesterday leaves the lost mark lost."""
    wo, _said = _kept_and_unmarked(db, with_due_time=True)
    day = db.query(PlanDay).join(PlanRun, PlanRun.id == PlanDay.current_run_id).one()
    day.day = day.day - timedelta(days=1)
    db.commit()

    _changed, swept = _swept(db, wo.id)

    assert swept.at_risk_since is None, swept.at_risk_reason
