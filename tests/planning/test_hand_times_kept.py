"""A visit a dispatcher scheduled by hand (engineer and start) is pinned in automatic re-plans: it
keeps that engineer and that start, as a stop fixed in time the others are routed around, and the
customer told of it hears nothing else. QA found the undo of a check-in re-planning the day and
putting such a visit back at the engine's 09:45 (docs/planning.md promised it stays)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import service as workorders
from app.field.workorders import visits
from app.models import Absence, CustomerNotification, PlanStop, PlanUnassigned, User, WorkOrder
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from tests.planning import world as pw
from tests.planning.test_out_of_order_check_in import SMALL, _current, _planned_day


def _by_hand(db: Session, w: pw.World, wo_id: int, engineer_id: int, at: datetime) -> None:
    db.expire_all()  # a new request
    workorders.schedule(
        db,
        work_order=db.get_one(WorkOrder, wo_id),
        engineer_id=engineer_id,
        planned_start=at,
        eta=at,
        actor=db.get_one(User, w.users[0].id),
    )
    db.commit()


def _at(w: pw.World, day: date, hour: int, minute: int = 0) -> datetime:
    return plan_keys.local_at(day, time(hour, minute), w.region.timezone)


def _where(db: Session, wo_id: int) -> tuple[int | None, datetime | None, datetime | None]:
    db.expire_all()
    wo = db.get_one(WorkOrder, wo_id)
    return wo.engineer_id, wo.planned_start_at, wo.eta_at


def test_a_move_by_hand_after_a_check_in_stays_when_the_check_in_is_undone(db: Session) -> None:
    """The QA scenario: check-in at the last stop (its re-plan publishes), the dispatcher moves a
    waiting stop to 18:30, the check-in is undone: the day is planned again (`check_in_undone`)
    and the stop stays at 18:30 with its engineer; the customer's notice of 18:30 stands."""
    w, today, ordered, elec = _planned_day(db)
    engineer = db.get_one(User, elec.user_id)
    last, moved = ordered[-1], ordered[0]
    visits.check_in(db, work_order=last, actor=engineer)
    db.commit()
    assert _current(db, w, today).trigger == "out_of_order"

    later = _at(w, today, 18, 30)
    _by_hand(db, w, moved.id, elec.id, later)
    assert _where(db, moved.id) == (elec.id, later, later)

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=engineer)
    db.commit()

    run = _current(db, w, today)
    assert (run.trigger, run.status) == ("check_in_undone", "published")  # planned again
    assert _where(db, moved.id) == (elec.id, later, later)  # before: the engine's earlier slot
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == moved.id)
    )
    assert stop is not None and (stop.engineer_id, stop.start_at, stop.locked) == (elec.id, later, True)
    others = db.scalars(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.engineer_id == elec.id)
    ).all()
    for s in others:  # routed around it: nothing overlaps the pinned stop
        if s.work_order_id != moved.id:
            assert s.end_at <= later or s.start_at >= stop.end_at
    told = db.scalars(
        select(CustomerNotification)
        .where(CustomerNotification.work_order_id == moved.id)
        .order_by(CustomerNotification.id)
    ).all()
    assert told[-1].eta_at == later and told[-1].status != "skipped"  # the 18:30 notice stands
    assert db.get_one(WorkOrder, moved.id).at_risk_since is None


def test_automatic_re_plans_keep_a_hand_set_time_an_explicit_plan_re_times_it(db: Session) -> None:
    """An absence recorded and removed (two automatic re-plans in a row) keep the hand-set time;
    a day plan the dispatcher asks for plans it as documented (engineer kept, time chosen)."""
    w, today, ordered, elec = _planned_day(db)
    other = w.engineers[0]
    moved = ordered[0]
    later = _at(w, today, 18, 30)
    _by_hand(db, w, moved.id, elec.id, later)

    absence = Absence(engineer_id=other.id, day=today, reason="sickness")
    db.add(absence)
    db.commit()
    assert _current(db, w, today).trigger == "sickness"
    assert _where(db, moved.id) == (elec.id, later, later)

    db.delete(db.get_one(Absence, absence.id))
    db.commit()
    assert _current(db, w, today).trigger == "absence_removed"  # the second re-plan: pin still held
    assert _where(db, moved.id) == (elec.id, later, later)

    run = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, w, today).id == run.id
    engineer, start, _ = _where(db, moved.id)
    assert engineer == elec.id and start is not None and start < later  # re-timed by the planner


def test_a_hand_set_time_the_day_cannot_fit_is_kept_and_marked_at_risk(db: Session) -> None:
    """Two visits put on the same engineer at the same time by hand: an automatic re-plan cannot
    serve both there. It moves neither silently: the one it cannot fit stays as set, at risk."""
    w, today, ordered, elec = _planned_day(db)
    clash = _at(w, today, 17)
    _by_hand(db, w, ordered[0].id, elec.id, clash)
    _by_hand(db, w, ordered[1].id, elec.id, clash)

    db.add(Absence(engineer_id=w.engineers[0].id, day=today, reason="sickness"))
    db.commit()

    run = _current(db, w, today)
    assert run.trigger == "sickness"
    assert [_where(db, wo.id) for wo in ordered[:2]] == [(elec.id, clash, clash)] * 2
    marked = [db.get_one(WorkOrder, wo.id) for wo in ordered[:2]]
    at_risk = [wo for wo in marked if wo.at_risk_since is not None]
    assert len(at_risk) == 1 and "scheduled by hand" in (at_risk[0].at_risk_reason or "")
    left = db.scalars(select(PlanUnassigned.work_order_id).where(PlanUnassigned.plan_run_id == run.id)).all()
    assert at_risk[0].id not in left  # a stop on its engineer's route, not "left out"
