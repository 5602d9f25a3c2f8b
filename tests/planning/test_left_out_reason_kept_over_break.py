"""A visit left out of a day held only by a visit kept by hand over the break: every place names it.

QA: Assign named the blocker ("WO-… is kept at 10:00–14:00 where it was set by hand, over the
break …", `planning.room`), but for the same day a plan run stored, and the board's left-out list
showed, "1 engineer(s) could do it, but their day is full of higher-value work", and the what-if
said the same. Nothing of more value was on that day: the kept visit and the break took the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanUnassigned, Shift, User, WorkOrder
from app.planning import assign as plan_assign
from app.planning import runs as plan_runs
from app.planning import whatif
from app.platform.errors import AppError
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.planning.test_out_of_order_check_in import SMALL, _current


@dataclass(frozen=True)
class KeptOverBreak:
    world: pw.World
    day: date
    kept: WorkOrder
    new: WorkOrder


def _day(db: Session) -> KeptOverBreak:
    """The ELEC engineer (the only one with the skill) has one visit, kept by hand at 10:00–14:00
    over her 12:00–12:30 break; a new 3-hour ELEC visit fits in neither 08:00–10:00 nor after 14:00."""
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    her = w.engineers[1]
    for shift in db.query(Shift).filter(Shift.engineer_id == her.id):
        shift.break_starts, shift.break_ends = time(12), time(12, 30)
    kept = pw.add_visit(db, w, skill="ELEC", lat=48.13, lon=11.58, duration_min=240)
    db.commit()
    _by_hand(db, w, kept.id, her.id, _at(w, day, 10))
    new = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60, duration_min=180)
    db.commit()
    return KeptOverBreak(w, day, db.get_one(WorkOrder, kept.id), db.get_one(WorkOrder, new.id))


def _names_the_kept_visit(said: str, k: KeptOverBreak) -> None:
    assert "full of higher-value work" not in said, said
    assert f"{k.kept.number} is kept at 10:00–14:00 where it was set by hand, over the break" in said, said


def test_the_plan_run_stores_the_kept_visit_as_the_reason(db: Session) -> None:
    k = _day(db)
    run = plan_runs.create_run(db, region_id=k.world.region.id, day=k.day, kind="replan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    assert _current(db, k.world, k.day).id == run.id

    row = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == k.new.id
        )
    )

    assert row is not None
    _names_the_kept_visit(row.detail or "", k)
    assert row.reason == "window_unreachable"  # the visit does not fit the time left, as Assign says
    kept = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == k.kept.id
        )
    )
    assert kept is None  # the kept visit stays a stop where it was set, not left out


def test_the_what_if_and_assign_say_the_same(db: Session) -> None:
    k = _day(db)

    preview = whatif.preview(db, region_id=k.world.region.id, day=k.day)
    said = preview["reasons"][k.new.number]
    _names_the_kept_visit(said, k)

    with pytest.raises(AppError) as refused:
        plan_assign.assign(
            db,
            work_order=db.get_one(WorkOrder, k.new.id),
            engineer_id=k.world.engineers[1].id,
            day=k.day,
            dry_run=True,
            actor=db.get_one(User, k.world.users[0].id),
        )
    assert refused.value.errors
    assert said in refused.value.errors[0]["message"]  # Assign's refusal: the same words
