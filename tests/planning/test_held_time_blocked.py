"""A visit kept at a time set by hand that the day cannot fit stays there, at risk; the re-plan
routes its engineer's other stops around it. Before, the engine planned them as if it were not
there, so a stop could run over it (21:15–21:45 over the visit kept at 21:30)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Engineer, PlanStop, PlanUnassigned, WorkOrder
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import SMALL, _current


@dataclass(frozen=True)
class KeptEvening:
    """A visit kept by hand at 21:30 for an hour with the shift ending at 22:00 (the plan cannot fit
    it there), and a second visit of the same engineer that may only start 21:15-21:45 next to
    their home: planned as if the kept visit were not there it runs 21:15-21:45, over it."""

    world: pw.World
    today: date
    engineer: Engineer
    late: WorkOrder
    tight: WorkOrder
    kept_at: datetime


def kept_evening(db: Session) -> KeptEvening:
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 22), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    elec = w.engineers[1]  # the only one with ELEC; home at 48.16, 11.62
    late = pw.add_visit(db, w, skill="ELEC", lat=48.17, lon=11.62, duration_min=60)
    tight = pw.add_visit(
        db,
        w,
        skill="ELEC",
        lat=48.161,
        lon=11.621,
        duration_min=30,
        windows=[(_at(w, today, 21, 15), _at(w, today, 21, 45))],
    )
    db.commit()
    kept_at = _at(w, today, 21, 30)
    _by_hand(db, w, late.id, elec.id, kept_at)
    return KeptEvening(w, today, elec, late, tight, kept_at)


def replanned(db: Session, k: KeptEvening) -> WorkOrder:
    """The automatic re-plan of the kept evening, published; the kept visit as it left it."""
    run = plan_runs.create_run(
        db, region_id=k.world.region.id, day=k.today, kind="replan", send=False, **SMALL
    )  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, k.world, k.today).id == run.id
    return db.get_one(WorkOrder, k.late.id)


def test_no_stop_of_the_engineer_overlaps_a_kept_visit_the_day_cannot_fit(db: Session) -> None:
    k = kept_evening(db)
    w, today, elec, late, tight, kept_at = k.world, k.today, k.engineer, k.late, k.tight, k.kept_at

    run = plan_runs.create_run(db, region_id=w.region.id, day=today, kind="replan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, w, today).id == run.id

    stops = db.scalars(
        select(PlanStop)
        .where(PlanStop.plan_run_id == run.id, PlanStop.engineer_id == elec.id)
        .order_by(PlanStop.seq)
    ).all()
    kept = next(s for s in stops if s.work_order_id == late.id)
    assert (kept.start_at, kept.end_at) == (kept_at, kept_at + timedelta(hours=1))  # stays as set
    spans = sorted((s.start_at, s.end_at, s.kind, s.work_order_id) for s in stops)
    for (_, end, *_a), (start, _, *_b) in zip(spans, spans[1:], strict=False):
        assert end <= start, spans  # no two stops of the engineer overlap
    assert not [s for s in stops if s.kind == "break"]  # the blocked time is the kept visit's own stop
    marked = db.get_one(WorkOrder, late.id)
    assert marked.at_risk_since is not None and "scheduled by hand" in (marked.at_risk_reason or "")
    # the other visit cannot go round it that evening: left out with a reason, not run over it
    left = db.scalars(select(PlanUnassigned.work_order_id).where(PlanUnassigned.plan_run_id == run.id)).all()
    assert tight.id in left and late.id not in left
