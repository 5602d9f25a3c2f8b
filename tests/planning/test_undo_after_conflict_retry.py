"""An undone check-in whose re-plan lost a version conflict and was published by its retry run
(`runs.retry_after_conflict`) takes back the retry's plan like any other check-in re-plan
(`app/planning/undo.py`). Before, the undo found only the check-in's own run (ended `conflict`,
no undo data) and the day was planned again (`check_in_undone`): visits the re-plan moved stayed
moved, their customers told of a change caused by a check-in that never happened."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import PlanRun, User, WorkOrder
from app.planning import publish as plan_publish
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning.test_out_of_order_check_in import SMALL, _current, _planned_day


def _runs(db: Session, trigger: str) -> list[PlanRun]:
    db.expire_all()
    return list(db.scalars(select(PlanRun).where(PlanRun.trigger == trigger).order_by(PlanRun.id)))


@dataclass
class Meanwhile:
    """What happens while the check-in's re-plan solves (set by the test)."""

    edit: list[int] = field(default_factory=list)  # the visit whose note a dispatcher edits
    other_plan: bool = False  # a plan run started before it publishes first
    published: list[int] = field(default_factory=list)  # that run's id


@pytest.fixture
def meanwhile(monkeypatch: pytest.MonkeyPatch) -> Iterator[Meanwhile]:
    """The check-in's re-plan loses a conflict: while it solves, a dispatcher edits the note of a
    visit of the day (its version moves), so its publish writes nothing and a retry run plans the
    day again (and publishes)."""
    happens = Meanwhile()
    publish = plan_publish.publish

    def edited_first(session: Session, **kw: Any) -> str:
        run = session.get_one(PlanRun, kw["run_id"])
        if run.trigger == "out_of_order" and happens.edit:
            session.get_one(WorkOrder, happens.edit.pop()).notes = "customer asks to ring twice"
            session.flush()
            if happens.other_plan:  # started first: not superseded by the check-in's re-plan
                other = plan_runs.create_run(
                    session, region_id=run.region_id, day=run.day, kind="replan", send=False, **SMALL
                )
                other.started_at = (run.started_at or utcnow()) - timedelta(seconds=1)
                session.flush()
                assert plan_runs.execute(other.id) == "published"
                happens.published.append(other.id)
        return publish(session, **kw)

    monkeypatch.setattr(plan_publish, "publish", edited_first)
    yield happens


def _checked_in_and_retried(db: Session, happens: Meanwhile) -> tuple[Any, ...]:
    w, today, ordered, elec = _planned_day(db)
    first, starts = _current(db, w, today), [wo.planned_start_at for wo in ordered]
    actor = db.get_one(User, elec.user_id)
    last = ordered[-1]
    happens.edit.append(ordered[0].id)
    visits.check_in(db, work_order=last, actor=actor)
    db.commit()

    (lost,) = _runs(db, "out_of_order")
    (retry,) = _runs(db, "conflict")
    assert lost.status == "conflict" and ordered[0].id in lost.summary["conflicts"]
    assert retry.retry_of_id == lost.id and retry.status == "published"
    assert _current(db, w, today).id == retry.id  # the retry's plan re-timed the skipped stops
    assert [db.get_one(WorkOrder, wo.id).planned_start_at for wo in ordered] != starts
    return w, today, ordered, first, starts, actor, last


def test_undoing_a_check_in_whose_re_plan_was_published_by_a_retry_puts_the_plan_back(
    db: Session, meanwhile: Meanwhile
) -> None:
    w, today, ordered, first, starts, actor, last = _checked_in_and_retried(db, meanwhile)

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    assert _current(db, w, today).id == first.id  # the plan from before the check-in again
    assert [db.get_one(WorkOrder, wo.id).planned_start_at for wo in ordered] == starts
    assert _runs(db, "check_in_undone") == []  # put back, not planned again
    # The edit that made the re-plan conflict was made before the retry planned: it stays.
    assert db.get_one(WorkOrder, ordered[0].id).notes == "customer asks to ring twice"


def test_a_visit_changed_after_the_retry_published_still_re_plans_at_the_undo(
    db: Session, meanwhile: Meanwhile
) -> None:
    w, today, ordered, first, _, actor, last = _checked_in_and_retried(db, meanwhile)
    db.get_one(WorkOrder, ordered[1].id).notes = "gate code changed"  # since the retry's plan
    db.commit()

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    again = _current(db, w, today)
    assert again.id != first.id and again.trigger == "check_in_undone"
    assert db.get_one(WorkOrder, ordered[1].id).notes == "gate code changed"


def test_a_retry_that_replaced_a_plan_made_after_the_check_in_re_plans_at_the_undo(
    db: Session, meanwhile: Meanwhile
) -> None:
    """A run started before the check-in's re-plan published while it solved; the retry replaced
    that plan. It is no plan from before the check-in (it may freeze the visit nobody is at): the
    undo plans the day again rather than put it back."""
    meanwhile.other_plan = True
    w, today, _, first, _, actor, last = _checked_in_and_retried(db, meanwhile)
    (between,) = meanwhile.published
    (retry,) = _runs(db, "conflict")
    assert retry.stats["undo"]["previous_run_id"] == between  # the plan the retry replaced

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    again = _current(db, w, today)
    assert again.id not in (first.id, between) and again.trigger == "check_in_undone"
