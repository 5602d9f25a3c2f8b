"""An undone check-in re-plans the days its check-in re-planned (`app/planning/triggers.py`:
`check_in_undone`): the plan froze a visit nobody is at and timed the other stops after it.

Each undone check-in is its own event (ref: the visit and the instant of the check-in taken back),
and a check-in made again after an undo is its own event too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import CustomerNotification, PlanRun, PlanStop, User, WorkOrder
from app.planning import notify, triggers
from app.planning import runs as plan_runs
from app.planning.publish import Moved
from app.platform.db import utcnow
from tests.planning import world as pw
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


class _Inbox:
    def __init__(self) -> None:
        self.sent: list[notify.Notice] = []

    def send(self, notice: notify.Notice) -> None:
        self.sent.append(notice)


def _deliver_due(db: Session, inbox: _Inbox, now: datetime) -> None:
    """What the beat's `deliver_due_notifications` does, at `now` (the clock injected)."""
    db.commit()
    for nid in notify.due_ids(db, now=now):
        notice = notify.claim(db, nid, now=now)
        db.commit()
        if notice is not None:
            inbox.send(notice)
            notify.record(db, nid, None)
            db.commit()


def test_a_time_moved_by_a_check_in_and_back_by_its_undo_tells_the_customer_nothing(db: Session) -> None:
    """The check-in's re-plan moves a skipped stop by an hour, the undo's re-plan puts it back a
    minute later: the customer, told 13:00 before, hears nothing (before: "new time 14:00", then
    "new time 13:00" within seconds). A time that really moves is told once the hold is over."""
    inbox = _Inbox()
    notify.set_sender(inbox)
    try:
        w = pw.build(db, jobs=2)
        first = plan_runs.create_run(db, region_id=w.region.id, day=pw.next_weekday(2), send=False)
        stay, move = (db.get_one(WorkOrder, wo.id) for wo in w.work_orders)
        told = datetime(2030, 1, 2, 12, tzinfo=UTC)
        assert (
            notify.on_published(
                db, run_id=first.id, moved=[Moved(stay.id, None, told), Moved(move.id, None, told)]
            )
            == 2
        )
        db.commit()
        assert [n.kind for n in inbox.sent] == ["planned", "planned"]  # a first notice goes at once
        inbox.sent.clear()

        check_in_run = plan_runs.create_run(db, region_id=w.region.id, day=first.day, send=False)
        later = told + timedelta(hours=1)
        moved = [Moved(stay.id, told, later), Moved(move.id, told, later)]
        assert notify.on_published(db, run_id=check_in_run.id, moved=moved) == 2
        db.commit()
        assert inbox.sent == []  # held: a change of a time told waits
        undo_run = plan_runs.create_run(db, region_id=w.region.id, day=first.day, send=False)
        back = [Moved(stay.id, later, told + timedelta(minutes=5))]  # within the margin of 12:00
        assert notify.on_published(db, run_id=undo_run.id, moved=back) == 0
        assert notify.on_published(db, run_id=undo_run.id, moved=back) == 0  # a replayed publish

        _deliver_due(db, inbox, utcnow() + notify.HOLD - timedelta(seconds=5))
        assert inbox.sent == []  # nothing before the hold is over
        _deliver_due(db, inbox, utcnow() + notify.HOLD + timedelta(seconds=1))

        assert [(n.work_order_id, n.kind) for n in inbox.sent] == [(move.id, "eta_changed")]
        assert inbox.sent[0].eta_at == later
        rows = {
            n.work_order_id: n.status
            for n in db.scalars(
                select(CustomerNotification).where(CustomerNotification.plan_run_id == check_in_run.id)
            )
        }
        assert rows == {stay.id: "skipped", move.id: "sent"}
    finally:
        notify.set_sender(None)
