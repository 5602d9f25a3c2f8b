"""Re-planning during the day: an emergency comes in, an engineer calls in sick, a visit runs
late. Started and finished visits never move; the re-plan starts from where people are now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits as workorder_visits
from app.models import Absence, CustomerNotification, PlanDay, PlanRun, PlanStop, StockReservation, WorkOrder
from app.planning import keys as plan_keys
from app.planning import notify
from app.planning import runs as plan_runs
from app.planning import triggers as plan_triggers
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


@pytest.fixture
def today_world(db: Session) -> pw.World:
    """A region where it is about noon now, engineers on shift 06:00-20:00 every day."""
    return pw.build(db, jobs=4, tz=pw.midday_zone(), shift=(6, 20), all_week=True)


def _today(w: pw.World):  # type: ignore[no-untyped-def]
    return plan_keys.local_day(utcnow(), w.region.timezone)


def _plan(db: Session, w: pw.World, day, kind: str = "plan") -> PlanRun:  # type: ignore[no-untyped-def]
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind=kind, send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    got = db.get(PlanRun, run.id)
    assert got is not None and got.status == "published", got and (got.status, got.error)
    return got


def _current(db: Session, w: pw.World) -> PlanRun:
    db.expire_all()
    run_id = db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    run = db.get(PlanRun, run_id)
    assert run is not None
    return run


def test_an_emergency_is_inserted_with_a_qualified_engineer_and_the_part(
    db: Session, today_world: pw.World
) -> None:
    w = today_world
    first = _plan(db, w, _today(w))
    # P1 needing ELEC (only engineer 1) and a part kept in the warehouse only.
    p1 = pw.add_visit(db, w, priority="P1", skill="ELEC", parts=[(w.parts[0].id, 1)], lat=48.15, lon=11.58)
    before = utcnow()
    db.commit()  # the session hook requests the re-plan; eager tasks run it now
    run = _current(db, w)
    assert run.id != first.id and run.kind == "replan" and run.trigger == "emergency"
    assert run.trigger_ref == str(p1.id) and run.as_of is not None
    wo = db.get(WorkOrder, p1.id)
    assert wo is not None and wo.status == "scheduled" and wo.engineer_id == w.engineers[1].id
    assert wo.planned_start_at is not None and wo.planned_start_at >= before
    res = db.scalar(
        select(StockReservation).where(
            StockReservation.work_order_id == p1.id, StockReservation.status == "held"
        )
    )
    assert res is not None and res.pickup_engineer_id == w.engineers[1].id
    # the same event delivered twice asks once
    again = plan_triggers.request_replan(
        db, region_id=w.region.id, day=_today(w), trigger="emergency", ref=str(p1.id)
    )
    assert again is not None and again.id == run.id


def test_started_and_finished_visits_never_move(db: Session, today_world: pw.World) -> None:
    w = today_world
    _plan(db, w, _today(w))
    db.expire_all()
    on_site, done = (db.get(WorkOrder, x.id) for x in w.work_orders[:2])
    assert on_site is not None and done is not None
    workorder_visits.check_in(db, work_order=done, actor=None)
    workorder_visits.report(
        db, work_order=done, work_done="replaced fan", parts_used=[], fixed=True, actor=None
    )
    workorder_visits.check_in(db, work_order=on_site, actor=None)
    db.commit()
    kept = {x.id: (x.engineer_id, x.planned_start_at, x.status) for x in (on_site, done)}
    sick = next(e for e in w.engineers if e.id != on_site.engineer_id)
    db.add(Absence(engineer_id=sick.id, day=_today(w), reason="sick"))
    db.commit()  # re-plan: sickness
    run = _current(db, w)
    assert run.trigger == "sickness" and run.summary["fixed_visits"] >= 1
    for wo_id, (eng, start, status) in kept.items():
        wo = db.get(WorkOrder, wo_id)
        assert wo is not None and (wo.engineer_id, wo.planned_start_at, wo.status) == (eng, start, status)
    fixed = {
        s.work_order_id: s
        for s in db.scalars(select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.fixed))
    }
    assert on_site.id in fixed and fixed[on_site.id].engineer_id == on_site.engineer_id
    # nothing else is planned for the sick engineer; the rest starts after the engineer is free
    for wo in db.scalars(select(WorkOrder).where(WorkOrder.id.in_([x.id for x in w.work_orders]))):
        if wo.status == "scheduled":
            assert wo.engineer_id != sick.id
            assert wo.planned_start_at is not None and wo.planned_start_at >= run.as_of  # type: ignore[operator]


def test_a_late_visit_triggers_one_replan(db: Session, today_world: pw.World) -> None:
    w = today_world
    run = _plan(db, w, _today(w))
    db.expire_all()
    first_visit = min((db.get(WorkOrder, x.id) for x in w.work_orders), key=lambda x: x.planned_start_at)  # type: ignore[union-attr, return-value]
    assert first_visit is not None and first_visit.planned_start_at is not None
    assert first_visit.planned_start_at >= run.as_of  # type: ignore[operator]  # a plan of today starts now
    # The morning goes by: the first visit was due two hours ago and nobody checked in.
    first_visit.planned_start_at = first_visit.eta_at = utcnow() - timedelta(hours=2)
    db.commit()
    late = plan_triggers.late_visits(db, utcnow())
    assert first_visit.id in {x.id for x in late}
    runs = plan_triggers.check_late(db)
    assert len(runs) == 1
    assert plan_triggers.check_late(db) == []  # same lateness: asked once
    db.commit()  # the re-plan runs (eagerly) and moves the late visits after now
    current = _current(db, w)
    assert current.id == runs[0] and current.trigger == "late" and current.id != run.id
    assert plan_triggers.late_visits(db, utcnow()) == []


def test_promised_appointments_hold_through_an_emergency(db: Session, today_world: pw.World) -> None:
    w = today_world
    now = utcnow()
    promised = pw.add_visit(
        db, w, appointment_start_at=now + timedelta(hours=3), appointment_end_at=now + timedelta(hours=4)
    )
    _plan(db, w, _today(w), kind="replan")
    db.expire_all()
    wo = db.get(WorkOrder, promised.id)
    assert wo is not None and wo.planned_start_at is not None
    assert now + timedelta(hours=3) <= wo.planned_start_at <= now + timedelta(hours=4)
    pw.add_visit(db, w, priority="P1", lat=48.13, lon=11.56)
    db.commit()
    run = _current(db, w)
    assert run.trigger == "emergency" and run.summary["appointments_missed"] == 0
    wo = db.get(WorkOrder, promised.id)
    assert wo is not None and now + timedelta(hours=3) <= wo.planned_start_at <= now + timedelta(hours=4)  # type: ignore[operator]


def test_customers_hear_of_planned_visits_and_of_big_eta_moves_only(db: Session, outbox: pw.Recorder) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(0)
    _plan(db, w, day)
    assert sorted(n.kind for n in outbox.sent) == ["planned", "planned"]
    assert {n.to for n in outbox.sent} == {w.contact.email}  # type: ignore[union-attr]
    assert all("arrives" in n.subject and n.eta_local for n in outbox.sent)
    rows = list(db.scalars(select(CustomerNotification)))
    assert {r.status for r in rows} == {"sent"} and len(rows) == 2
    outbox.sent.clear()
    # A re-plan of identical input publishes nothing, so tells nobody.
    plan_runs.execute(plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **SMALL).id)  # type: ignore[arg-type]
    assert outbox.sent == []
    # The ETA moves by more than the margin: told again, with the old time.
    margin = timedelta(minutes=30)
    last = rows[0]
    assert notify.decide(last, last.eta_at + margin + timedelta(minutes=1), margin) == "eta_changed"  # type: ignore[operator]
    assert notify.decide(last, last.eta_at + margin - timedelta(minutes=1), margin) is None  # type: ignore[operator]
    assert notify.decide(last, None, margin) == "unplanned"
    assert notify.decide(None, None, margin) is None


def test_a_sender_failure_is_retried(db: Session) -> None:
    class Flaky:
        calls = 0

        def send(self, notice: notify.Notice) -> None:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise ConnectionError("smtp down")

    notify.set_sender(Flaky())
    try:
        w = pw.build(db, jobs=1)
        _plan(db, w, pw.next_weekday(1))
        row = db.scalar(select(CustomerNotification))
        assert row is not None and row.status == "pending" and "smtp down" in (row.error or "")
        from app.planning.tasks import deliver_due_notifications

        assert deliver_due_notifications() == 1
        db.expire_all()
        row = db.get(CustomerNotification, row.id)
        assert row is not None and row.status == "sent" and row.attempts == 2
    finally:
        notify.set_sender(None)


def test_an_eta_moved_past_the_margin_is_told_with_the_old_time(db: Session, outbox: pw.Recorder) -> None:
    from app.planning.publish import Moved

    w = pw.build(db, jobs=1)
    run = _plan(db, w, pw.next_weekday(2))
    wo = db.get(WorkOrder, w.work_orders[0].id)
    assert wo is not None and wo.eta_at is not None and [n.kind for n in outbox.sent] == ["planned"]
    told = wo.eta_at
    small = Moved(wo.id, told, told + timedelta(minutes=20))  # inside the 30 min margin
    big = Moved(wo.id, told, told + timedelta(minutes=45))
    assert notify.on_published(db, run_id=run.id, moved=[small]) == 0
    later = plan_runs.create_run(db, region_id=w.region.id, day=run.day, send=False)
    assert notify.on_published(db, run_id=later.id, moved=[big]) == 1
    db.commit()
    assert [n.kind for n in outbox.sent] == ["planned"]  # a changed time is held (notify.HOLD) ...
    nid = db.scalar(select(CustomerNotification.id).where(CustomerNotification.plan_run_id == later.id))
    assert nid is not None and notify.due_ids(db, now=utcnow() + notify.HOLD + timedelta(seconds=1)) == [nid]
    notice = notify.claim(db, nid, now=utcnow() + notify.HOLD + timedelta(seconds=1))
    assert notice is not None  # ... and goes once the hold is over
    outbox.send(notice)
    last = outbox.sent[-1]
    assert last.kind == "eta_changed" and "before:" in last.text and last.to == w.contact.email  # type: ignore[union-attr]
    # a replayed publish tells nobody again (and the (visit, run) unique key is the backstop)
    assert notify.on_published(db, run_id=later.id, moved=[big]) == 0


def test_each_recorded_absence_is_its_own_event(db: Session) -> None:
    """An absence removed and recorded again (a correction) found the first one's re-plan by its
    request key (per engineer and day) and asked for none. Each recording asks; the same one
    twice is still one run."""
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(1)
    _plan(db, w, day)
    sick = w.engineers[1]
    asked = []
    for _ in range(2):  # on SQLite the second row even gets the first one's id
        absence = Absence(engineer_id=sick.id, day=day, reason="sick")
        db.add(absence)
        db.commit()
        run = db.scalars(select(PlanRun).order_by(PlanRun.id.desc())).first()
        assert run is not None and (run.kind, run.trigger) == ("replan", "sickness")
        asked.append(run.id)
        db.delete(absence)  # removing it is an event of its own (tests/planning/test_replan_on_removal.py)
        db.commit()
        removed = db.scalars(select(PlanRun).order_by(PlanRun.id.desc())).first()
        assert removed is not None and removed.id > run.id and removed.trigger == "absence_removed"
    assert len(set(asked)) == 2, asked
    # the same event delivered twice asks once
    absence = Absence(engineer_id=sick.id, day=day, reason="sick")
    db.add(absence)
    db.commit()
    again = plan_triggers.request_replan(
        db, region_id=w.region.id, day=day, trigger="sickness", ref=plan_triggers.absence_ref(absence)
    )
    assert again is not None and again.id == db.scalar(
        select(PlanRun.id).order_by(PlanRun.id.desc()).limit(1)
    )
    assert again.id not in asked
