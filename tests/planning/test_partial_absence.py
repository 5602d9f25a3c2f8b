"""An engineer absent from a time of day (sent home sick at 13:00): the shift ends there in the
planning input, work before it stands, work after it goes to others or is left out with a
reason; and the what-if that previews it publishes through the guarded publish."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineer_service
from app.field.workorders import visits as workorder_visits
from app.models import Absence, OnCallShift, PlanDay, PlanRun, PlanStop, PlanUnassigned, Shift, WorkOrder
from app.planning import board, whatif
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _plan(db: Session, w: pw.World, day: date) -> PlanRun:
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    got = db.get(PlanRun, run.id)
    assert got is not None and got.status == "published", got and (got.status, got.error)
    return got


def _current(db: Session, w: pw.World) -> PlanRun:
    db.expire_all()
    run = db.get(PlanRun, db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)))
    assert run is not None
    return run


def test_the_shift_ends_at_the_absence_and_later_work_goes_elsewhere_or_out(db: Session) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(0)
    tz = ZoneInfo(w.region.timezone)
    elec = w.engineers[1]  # the only ELEC engineer
    afternoon = pw.add_visit(
        db,
        w,
        skill="ELEC",
        appointment_start_at=datetime.combine(day, time(14), tz),
        appointment_end_at=datetime.combine(day, time(16), tz),
    )
    morning = pw.add_visit(
        db,
        w,
        skill="ELEC",
        appointment_start_at=datetime.combine(day, time(9), tz),
        appointment_end_at=datetime.combine(day, time(11), tz),
    )
    db.add(Absence(engineer_id=elec.id, day=day, reason="sickness", from_time=time(13)))
    db.add(
        OnCallShift(
            engineer_id=elec.id,
            starts_at=datetime.combine(day, time(17), tz),
            ends_at=datetime.combine(day, time(22), tz),
        )
    )
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    assert loaded.problem is not None
    cut = plan_keys.to_s(loaded.ref, datetime.combine(day, time(13), tz))
    mine = [e for e in loaded.problem.engineers if plan_keys.key_id(e.id) == elec.id]
    assert [e.shift[1] for e in mine] == [cut]  # the shift is cut; the evening cover is gone
    other = next(e for e in loaded.problem.engineers if plan_keys.key_id(e.id) == w.engineers[0].id)
    assert other.shift[1] == plan_keys.to_s(loaded.ref, datetime.combine(day, time(17), tz))

    _plan(db, w, day)
    db.expire_all()
    kept = db.get(WorkOrder, morning.id)
    assert kept is not None and kept.engineer_id == elec.id  # before the absence: served by them
    late = db.get(WorkOrder, afternoon.id)
    assert late is not None and late.engineer_id is None  # nobody else has the skill
    reason = db.scalar(select(PlanUnassigned).where(PlanUnassigned.work_order_id == afternoon.id))
    assert reason is not None and reason.reason
    ends = db.scalars(
        select(PlanStop.end_at).where(PlanStop.engineer_id == elec.id, PlanStop.work_order_id.is_not(None))
    ).all()
    assert ends and all(e <= datetime.combine(day, time(13), tz) for e in ends)


def test_a_whole_day_absence_still_keeps_the_engineer_off(db: Session) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(1)
    db.add(Absence(engineer_id=w.engineers[0].id, day=day, reason="leave"))
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    assert loaded.skipped_engineers == {w.engineers[0].id: "absent"}
    assert loaded.problem is not None
    assert [plan_keys.key_id(e.id) for e in loaded.problem.engineers] == [w.engineers[1].id]


def _today(w: pw.World) -> date:
    return plan_keys.local_day(utcnow(), w.region.timezone)


def test_publishing_a_what_if_absence_keeps_started_work_and_moves_the_rest(db: Session) -> None:
    w = pw.build(db, jobs=6, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = _today(w)
    _plan(db, w, today)
    db.expire_all()
    sick = max(
        w.engineers,
        key=lambda e: db.scalar(select(WorkOrder.id).where(WorkOrder.engineer_id == e.id).limit(1)) or 0,
    )
    theirs = list(
        db.scalars(select(WorkOrder).where(WorkOrder.engineer_id == sick.id).order_by(WorkOrder.id))
    )
    assert len(theirs) >= 1
    started = theirs[0]
    workorder_visits.check_in(db, work_order=started, actor=None)
    db.commit()
    rest = [x.id for x in theirs[1:]]
    now = datetime.now(ZoneInfo(w.region.timezone)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    preview = whatif.preview(
        db, region_id=w.region.id, day=today, absent_engineer_id=sick.id, absent_from=now
    )
    db.rollback()
    assert db.scalar(select(Absence.id)) is None  # the preview records nothing
    done = whatif.publish_absence(
        db,
        region_id=w.region.id,
        day=today,
        engineer_id=sick.id,
        absent_from=now,
        as_of=preview["as_of"],
        token=preview["token"],
        reason="sickness",
        actor=None,
    )
    db.commit()
    assert not done.stale
    run = _current(db, w)
    assert run.id == done.run.id and run.trigger == "whatif" and run.status == "published"
    absence = db.scalar(select(Absence).where(Absence.engineer_id == sick.id))
    assert absence is not None and absence.from_time == now.time() and absence.day == today
    # the absence's own trigger did not queue a second re-plan: this run answered it
    assert db.scalar(select(PlanRun.id).where(PlanRun.id > run.id)) is None
    on_site = db.get(WorkOrder, started.id)
    assert on_site is not None and on_site.engineer_id == sick.id and on_site.status == "on_site"
    for wo_id in rest:
        wo = db.get(WorkOrder, wo_id)
        assert wo is not None
        if wo.engineer_id == sick.id:  # still theirs only if it ends before they leave
            assert wo.planned_start_at is not None
            assert wo.planned_start_at + timedelta(minutes=wo.duration_min) <= now
        elif wo.engineer_id is None:
            assert db.scalar(
                select(PlanUnassigned.reason).where(
                    PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == wo_id
                )
            )
    assert preview["unassigned"] == sorted(
        db.scalars(
            select(WorkOrder.number)
            .join(PlanUnassigned, PlanUnassigned.work_order_id == WorkOrder.id)
            .where(PlanUnassigned.plan_run_id == run.id)
        )
    )


def test_a_stale_what_if_preview_replans_instead_of_publishing(db: Session) -> None:
    w = pw.build(db, jobs=4, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = _today(w)
    first = _plan(db, w, today)
    sick = w.engineers[0]
    now = datetime.now(ZoneInfo(w.region.timezone)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    preview = whatif.preview(
        db, region_id=w.region.id, day=today, absent_engineer_id=sick.id, absent_from=now
    )
    db.rollback()
    pw.add_visit(db, w, lat=48.2, lon=11.6)  # the day changes after the preview
    db.commit()
    done = whatif.publish_absence(
        db,
        region_id=w.region.id,
        day=today,
        engineer_id=sick.id,
        absent_from=now,
        as_of=preview["as_of"],
        token=preview["token"],
        reason="sickness",
        actor=None,
    )
    assert done.stale and done.run.trigger == "whatif_stale"
    db.commit()  # the re-plan runs on the new state (eager tasks in tests) and publishes
    run = _current(db, w)
    assert run.id == done.run.id and run.id != first.id and run.status == "published"
    assert db.scalar(select(Absence.from_time).where(Absence.engineer_id == sick.id)) == now.time()


# --- absences that end within the day: a late start, a gap --------------------------------------
def _elec_day(db: Session, **absence: object) -> tuple[pw.World, date, ZoneInfo, int]:
    """The region with ELEC visits all day that only engineers[1] can do, and that engineer's
    absence (from_time / until_time) on next Monday."""
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(0)
    tz = ZoneInfo(w.region.timezone)
    elec = w.engineers[1]
    for i in range(8):
        pw.add_visit(db, w, skill="ELEC", lat=48.13 + 0.004 * i, lon=11.56 + 0.004 * i, duration_min=40)
    db.add(Absence(engineer_id=elec.id, day=day, reason="training", **absence))
    db.commit()
    return w, day, tz, elec.id


def _mine(loaded: planning.Loaded, engineer_id: int) -> list:
    assert loaded.problem is not None
    return [e for e in loaded.problem.engineers if plan_keys.key_id(e.id) == engineer_id]


def _job_stops(db: Session, engineer_id: int) -> list[PlanStop]:
    db.expire_all()
    return list(
        db.scalars(
            select(PlanStop)
            .join(PlanDay, PlanDay.current_run_id == PlanStop.plan_run_id)
            .where(PlanStop.engineer_id == engineer_id, PlanStop.kind == "job")
            .order_by(PlanStop.seq)
        )
    )


def test_a_late_start_moves_the_shift_start_and_no_stop_comes_before_it(db: Session) -> None:
    w, day, tz, elec = _elec_day(db, until_time=time(10, 30))
    # on call early in the morning: inside the absence, so no cover either
    db.add(
        OnCallShift(
            engineer_id=elec,
            starts_at=datetime.combine(day, time(6), tz),
            ends_at=datetime.combine(day, time(9), tz),
        )
    )
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    back = datetime.combine(day, time(10, 30), tz)
    assert [e.shift for e in _mine(loaded, elec)] == [
        (plan_keys.to_s(loaded.ref, back), plan_keys.to_s(loaded.ref, datetime.combine(day, time(17), tz)))
    ]
    assert all(not e.breaks for e in _mine(loaded, elec))
    _plan(db, w, day)
    stops = _job_stops(db, elec)
    assert stops, "the engineer still works after 10:30"
    assert all(s.arrival_at >= back and s.start_at >= back for s in stops)


def test_a_gap_is_kept_free_of_visits_with_work_before_and_after(db: Session) -> None:
    w, day, tz, elec = _elec_day(db, from_time=time(12), until_time=time(14))
    # visits promised on either side, so the day has work before and after the gap
    for start in (9, 15):
        pw.add_visit(
            db,
            w,
            skill="ELEC",
            appointment_start_at=datetime.combine(day, time(start), tz),
            appointment_end_at=datetime.combine(day, time(start + 1), tz),
        )
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    g0, g1 = datetime.combine(day, time(12), tz), datetime.combine(day, time(14), tz)
    (engine_row,) = _mine(loaded, elec)
    # the whole shift, with the gap as a break fixed at its start and lasting its length
    assert engine_row.shift[0] == plan_keys.to_s(loaded.ref, datetime.combine(day, time(8), tz))
    start = plan_keys.to_s(loaded.ref, g0)
    assert [(b.window, b.duration_s) for b in engine_row.breaks] == [((start, start), 7200)]
    _plan(db, w, day)
    stops = _job_stops(db, elec)
    assert all(s.end_at <= g0 or s.start_at >= g1 for s in stops), [(s.start_at, s.end_at) for s in stops]
    assert any(s.end_at <= g0 for s in stops) and any(s.start_at >= g1 for s in stops)


def test_the_shift_break_gives_way_to_a_gap(db: Session) -> None:
    w, day, tz, elec = _elec_day(db, from_time=time(12), until_time=time(13))
    shift = db.scalar(select(Shift).where(Shift.engineer_id == elec, Shift.weekday == day.weekday()))
    assert shift is not None
    shift.break_starts, shift.break_ends = time(12, 15), time(12, 45)  # inside the gap: rest enough
    db.commit()
    (row,) = _mine(planning.load(db, region_id=w.region.id, day=day), elec)
    assert [b.duration_s for b in row.breaks] == [3600]
    shift.break_starts, shift.break_ends = time(11, 30), time(12)  # before it: may not run into it
    db.commit()
    loaded = planning.load(db, region_id=w.region.id, day=day)
    (row,) = _mine(loaded, elec)
    lunch, gap = row.breaks
    assert lunch.duration_s == 1800 and lunch.window[1] + lunch.duration_s <= gap.window[0]


def test_a_part_day_absence_on_the_board_and_in_the_day_shift(db: Session) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(2)
    late, gap = w.engineers
    db.add(Absence(engineer_id=late.id, day=day, reason="dentist", until_time=time(10, 30)))
    db.add(Absence(engineer_id=gap.id, day=day, reason="training", from_time=time(13), until_time=time(15)))
    db.commit()
    tz = ZoneInfo(w.region.timezone)
    data = board.board(db, region_id=w.region.id, day=day)
    rows = {r["id"]: r for r in data["engineers"]}
    assert rows[late.id]["absent"] == "dentist until 10:30"
    assert rows[late.id]["assign_text"] == f"{late.name} (absent until 10:30)"
    assert (
        rows[late.id]["shift"]["start"] == datetime.combine(day, time(10, 30), tz).astimezone(UTC).isoformat()
    )
    assert rows[gap.id]["absent"] == "training 13:00–15:00"
    assert rows[gap.id]["assign_text"] == f"{gap.name} (absent 13:00–15:00)"
    assert (
        rows[gap.id]["shift"]["gap_start"] == datetime.combine(day, time(13), tz).astimezone(UTC).isoformat()
    )

    shift = engineer_service.day_shift(db, late, day)
    assert shift.working and shift.starts_at == datetime.combine(day, time(10, 30), tz)
    hours = engineer_service.day_shift(db, gap, day)
    assert hours.working and hours.gap_starts_at == datetime.combine(day, time(13), tz)
    assert hours.gap_ends_at == datetime.combine(day, time(15), tz)
    problem = engineer_service.shift_problem(db, gap, datetime.combine(day, time(14), tz))
    assert problem is not None and "absence 13:00–15:00" in problem
    assert engineer_service.shift_problem(db, gap, datetime.combine(day, time(15), tz)) is None
    assert "outside" in (engineer_service.shift_problem(db, late, datetime.combine(day, time(9), tz)) or "")


def test_moving_an_absence_time_plans_the_day_again(db: Session) -> None:
    w = pw.build(db, jobs=3, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    day = _today(w) + timedelta(days=1)
    _plan(db, w, day)
    absence = Absence(engineer_id=w.engineers[0].id, day=day, reason="dentist", until_time=time(9))
    db.add(absence)
    db.commit()
    before = db.scalar(select(func.count()).select_from(PlanRun).where(PlanRun.trigger == "sickness"))
    absence.until_time = time(11)  # the dentist runs late
    db.commit()
    after = db.scalar(select(func.count()).select_from(PlanRun).where(PlanRun.trigger == "sickness"))
    assert after == before + 1
