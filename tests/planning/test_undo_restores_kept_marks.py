"""An undone check-in puts back the plan from before it (`planning.undo.restore`), and with it that
plan's at-risk marks. QA: a visit set by hand at a time the plan could not fit was marked "kept at …
cannot fit" (the plan's `summary.kept_unfit` names it); a check-in out of order re-planned the day,
its undo made that plan current again, still naming the visit, but the visit showed `at_risk: false`,
also after the minute sweep (which only looks at visits marked or late by their ETA). And a mark
the check-in's re-plan had cleared came back on the visit only, written past `risk`: its ticket
stayed clear."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from app.field.workorders import risk, visits
from app.models import Engineer, PlanRun, Ticket, User, WorkOrder
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import _current, _planned_day


@dataclass(frozen=True)
class KeptUnfit:
    """Three visits of one engineer: the first planned early in the afternoon, the second set by
    hand at 17:00 and the third at 17:30 (45 minutes each): the plan cannot fit the third there."""

    world: pw.World
    today: date
    engineer: Engineer
    first: WorkOrder
    at_17: WorkOrder
    kept: WorkOrder
    plan: PlanRun


def _kept_unfit(db: Session) -> KeptUnfit:
    w, today, ordered, elec = _planned_day(db)
    _by_hand(db, w, ordered[1].id, elec.id, _at(w, today, 17))
    _by_hand(db, w, ordered[2].id, elec.id, _at(w, today, 17, 30))
    plan = _current(db, w, today)
    assert plan.summary[risk.KEPT_UNFIT] == {str(ordered[2].id): "no capacity"}
    kept = db.get_one(WorkOrder, ordered[2].id)
    assert "the plan cannot fit it there" in (kept.at_risk_reason or "")
    return KeptUnfit(w, today, elec, ordered[0], ordered[1], kept, plan)


def _marked(db: Session, wo_id: int) -> tuple[WorkOrder, Ticket]:
    db.expire_all()
    wo = db.get_one(WorkOrder, wo_id)
    return wo, db.get_one(Ticket, wo.ticket_id)


def _swept(db: Session) -> None:
    risk.sweep(db, at=utcnow())
    db.commit()


def test_undoing_a_check_in_at_the_kept_visit_gives_it_its_mark_back(db: Session) -> None:
    """The engineer checks in at the kept 17:30 visit first (a wrong tap, out of order): on site,
    its mark is settled. The undo makes the plan naming it current again: marked as that plan says."""
    k = _kept_unfit(db)
    said = k.kept.at_risk_reason
    actor = db.get_one(User, k.engineer.user_id)
    visits.check_in(db, work_order=k.kept, actor=actor)
    db.commit()
    assert _current(db, k.world, k.today).trigger == "out_of_order"
    assert _marked(db, k.kept.id)[0].at_risk_since is None  # on site: settled

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, k.kept.id), actor=actor)
    db.commit()

    assert _current(db, k.world, k.today).id == k.plan.id  # put back, not planned again
    wo, ticket = _marked(db, k.kept.id)
    assert wo.at_risk_since is not None and wo.at_risk_reason == said  # before: at_risk false
    assert ticket.at_risk_since is not None and said in (ticket.at_risk_reason or "")
    _swept(db)
    wo, ticket = _marked(db, k.kept.id)
    assert wo.at_risk_reason == said and ticket.at_risk_since is not None  # and after the sweep


def test_a_mark_the_check_in_s_re_plan_cleared_comes_back_on_the_ticket_too(db: Session) -> None:
    """The engineer checks in at the 17:00 visit now (out of order): its re-plan fits the kept visit
    at 17:30 and clears its mark, and its ticket's. The undo puts the mark back on both."""
    k = _kept_unfit(db)
    said = k.kept.at_risk_reason
    actor = db.get_one(User, k.engineer.user_id)
    visits.check_in(db, work_order=db.get_one(WorkOrder, k.at_17.id), actor=actor)
    db.commit()
    assert _current(db, k.world, k.today).trigger == "out_of_order"
    wo, ticket = _marked(db, k.kept.id)
    assert wo.at_risk_since is None and ticket.at_risk_since is None  # fits now

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, k.at_17.id), actor=actor)
    db.commit()

    assert _current(db, k.world, k.today).id == k.plan.id
    wo, ticket = _marked(db, k.kept.id)
    assert wo.at_risk_since is not None and wo.at_risk_reason == said
    assert ticket.at_risk_since is not None and said in (ticket.at_risk_reason or "")  # before: clear
    _swept(db)
    wo, ticket = _marked(db, k.kept.id)
    assert wo.at_risk_reason == said and ticket.at_risk_since is not None
