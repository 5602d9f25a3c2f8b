"""An undone check-in takes back the re-plans its check-in asked for (`app/planning/undo.py`): the
plan froze a visit nobody is at and may have moved other visits (other times, another day). When
nothing changed since, the plan from before the check-in is the plan again, visits and notices
included; otherwise the day is planned again (`check_in_undone`) and a change made since stays.

Each undone check-in is its own event (ref: the visit and the instant of the check-in taken back),
and a check-in made again after an undo is its own event too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import service as workorders
from app.field.workorders import visits
from app.models import CustomerNotification, PlanRun, PlanStop, User, WorkOrder
from app.planning import keys as plan_keys
from app.planning import notify, triggers
from app.planning import runs as plan_runs
from app.planning.publish import Moved
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_out_of_order_check_in import _current, _planned_day
from tests.planning.test_worked_other_day import _jobs, _plan, _promised


def _runs(db: Session, trigger: str) -> list[PlanRun]:
    db.expire_all()
    return list(db.scalars(select(PlanRun).where(PlanRun.trigger == trigger).order_by(PlanRun.id)))


def test_undoing_an_out_of_order_check_in_puts_todays_plan_back(db: Session) -> None:
    w, today, ordered, elec = _planned_day(db)
    first, starts = _current(db, w, today), [wo.planned_start_at for wo in ordered]
    actor = db.get_one(User, elec.user_id)
    last = ordered[-1]
    visits.check_in(db, work_order=last, actor=actor)
    db.commit()
    assert _current(db, w, today).trigger == "out_of_order"

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    # Nothing changed since the check-in's re-plan: the plan from before it is the plan again.
    assert _current(db, w, today).id == first.id
    stop = db.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == first.id, PlanStop.work_order_id == last.id)
    )
    assert stop is not None and not stop.fixed  # no longer frozen as on site
    assert [db.get_one(WorkOrder, wo.id).planned_start_at for wo in ordered] == starts

    # Tapped on the wrong stop again (the last one, again): its own event, and its undo too.
    db.expire_all()
    latest = max(
        (db.get_one(WorkOrder, wo.id) for wo in ordered), key=lambda wo: wo.planned_start_at or today
    )
    visits.check_in(db, work_order=latest, actor=actor)
    db.commit()
    assert _current(db, w, today).trigger == "out_of_order"
    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, latest.id), actor=actor)
    db.commit()
    assert _current(db, w, today).id == first.id
    assert _runs(db, "check_in_undone") == []  # each put back, none needed planning again

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


def _pulled_by_a_check_in(db: Session) -> tuple[pw.World, dict[str, date], WorkOrder, WorkOrder, User]:
    """Tomorrow's long ELEC visit Y fills the ELEC engineer's day, so the ELEC visit V due by
    tomorrow evening sits the day after (at risk). The engineer checks in at Y today (a wrong
    tap): tomorrow's re-plan (`worked_other_day`) has room and pulls V forward onto tomorrow."""
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    tz = ZoneInfo(w.region.timezone)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    days = {"today": today, "d2": today + timedelta(days=1), "d3": today + timedelta(days=2)}
    _promised(db, w, today, (14, 19), lat=48.13)  # today has a plan to re-plan
    y = _promised(db, w, days["d2"], (8, 9), lat=48.12)
    y.required_skills, y.duration_min = ["ELEC"], 600
    v = pw.add_visit(db, w, skill="ELEC", lat=48.15, duration_min=540)
    v.required_skills = ["ELEC"]
    v.sla_deadline_at = datetime.combine(days["d2"], time(19), tz)
    db.commit()
    for day in days.values():
        _plan(db, w, day)
    v = db.get_one(WorkOrder, v.id)
    assert plan_keys.local_day(v.planned_start_at or utcnow(), w.region.timezone) == days["d3"]
    assert v.at_risk_since is not None
    elec = w.engineers[1]
    return w, days, db.get_one(WorkOrder, y.id), v, db.get_one(User, elec.user_id)


def test_undoing_a_check_in_puts_back_a_visit_its_re_plan_moved_to_another_day(db: Session) -> None:
    inbox = _Inbox()
    notify.set_sender(inbox)
    try:
        w, days, y, v, actor = _pulled_by_a_check_in(db)
        plans = {name: _current(db, w, day).id for name, day in days.items()}
        was = (v.engineer_id, v.planned_start_at, v.eta_at, v.status)
        assert [n.kind for n in inbox.sent if n.work_order_id == v.id] == ["planned"]

        visits.check_in(db, work_order=y, actor=actor)
        db.commit()
        moved = db.get_one(WorkOrder, v.id)
        assert _current(db, w, days["d2"]).trigger == "worked_other_day"
        assert plan_keys.local_day(moved.planned_start_at or utcnow(), w.region.timezone) == days["d2"]
        assert v.id not in _jobs(db, plans["d3"])  # it left the later day's plan
        held = db.scalars(
            select(CustomerNotification).where(
                CustomerNotification.work_order_id == v.id, CustomerNotification.status == "pending"
            )
        ).all()
        assert [n.kind for n in held] == ["eta_changed"]  # held: not told yet

        visits.undo_check_in(db, work_order=db.get_one(WorkOrder, y.id), actor=actor)
        db.commit()

        db.expire_all()
        back = db.get_one(WorkOrder, v.id)
        assert (back.engineer_id, back.planned_start_at, back.eta_at, back.status) == was
        assert {name: _current(db, w, day).id for name, day in days.items()} == plans
        assert v.id in _jobs(db, plans["d3"]) and v.id not in _jobs(db, plans["d2"])
        assert _runs(db, "check_in_undone") == []  # put back, not planned again
        assert db.get_one(CustomerNotification, held[0].id).status == "skipped"
        _deliver_due(db, inbox, utcnow() + notify.HOLD + timedelta(seconds=1))
        assert [n.kind for n in inbox.sent if n.work_order_id == v.id] == ["planned"]  # nothing more
    finally:
        notify.set_sender(None)


def test_a_visit_changed_by_hand_after_the_check_in_keeps_the_change_at_the_undo(db: Session) -> None:
    """The dispatcher moved V again after the check-in's re-plan (back to the later day, at 11:00,
    the customer asked for it): the undo does not put the old plan over that. Tomorrow is
    planned again instead, and V stays where the dispatcher put it."""
    w, days, y, v, actor = _pulled_by_a_check_in(db)
    first_d2, planned_d3 = _current(db, w, days["d2"]).id, v.planned_start_at
    elec = w.engineers[1]
    visits.check_in(db, work_order=y, actor=actor)
    db.commit()
    by_hand = datetime.combine(days["d3"], time(11), ZoneInfo(w.region.timezone))
    assert by_hand != planned_d3
    db.expire_all()  # a new request: the re-plan's publish wrote V meanwhile
    workorders.schedule(
        db,
        work_order=db.get_one(WorkOrder, v.id),
        engineer_id=elec.id,
        planned_start=by_hand,
        eta=by_hand,
        actor=db.get_one(User, w.users[0].id),
    )
    db.commit()

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, y.id), actor=actor)
    db.commit()

    db.expire_all()
    kept = db.get_one(WorkOrder, v.id)
    assert (kept.engineer_id, kept.planned_start_at, kept.eta_at) == (elec.id, by_hand, by_hand)
    again = _current(db, w, days["d2"])  # tomorrow is planned again, not put back
    assert again.id != first_d2 and again.trigger == "check_in_undone"
    assert y.id in _jobs(db, again.id)
