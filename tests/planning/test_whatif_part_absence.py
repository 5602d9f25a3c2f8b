"""The what-if of a late start ("stuck until 10:30") and of a gap ("training 13:00–15:00"): the
preview plans the absence as the recorded one will be planned (no visit of the engineer inside
it, work around it), and publishing records it with both times and publishes what was shown."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Absence, PlanDay, PlanRun, PlanStop
from app.planning import runs as plan_runs
from app.planning import whatif
from app.platform.errors import Unprocessable
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def _elec_day(db: Session) -> tuple[pw.World, date, ZoneInfo, int]:
    """ELEC visits all day that only engineers[1] can do, planned and published, next Monday."""
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(0)
    for i in range(8):
        pw.add_visit(db, w, skill="ELEC", lat=48.13 + 0.004 * i, lon=11.56 + 0.004 * i, duration_min=40)
    db.commit()
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    return w, day, ZoneInfo(w.region.timezone), w.engineers[1].id


def _theirs(preview: dict[str, Any], engineer_id: int) -> list[tuple[datetime, datetime]]:
    return sorted((s, e) for eng, s, e in preview["visits"].values() if eng == engineer_id)


def test_a_late_start_preview_has_no_visit_of_the_engineer_before_they_come(db: Session) -> None:
    w, day, tz, elec = _elec_day(db)
    at = datetime.combine(day, time(10, 30), tz)
    # the published plan had them working before 10:30: the preview is what moves that
    published = db.scalars(
        select(PlanStop.start_at)
        .join(PlanDay, PlanDay.current_run_id == PlanStop.plan_run_id)
        .where(PlanStop.engineer_id == elec, PlanStop.kind == "job")
    ).all()
    assert any(s < at for s in published)
    preview = whatif.preview(
        db, region_id=w.region.id, day=day, absent_engineer_id=elec, absent_from=None, absent_until=at
    )
    db.rollback()
    assert preview["what"] == [f"{w.engineers[1].name} were absent until 10:30"]
    mine = _theirs(preview, elec)
    assert mine, "they work after 10:30"
    assert all(start >= at for start, _ in mine), mine
    assert db.scalar(select(func.count()).select_from(Absence)) == 0  # a preview records nothing


def test_a_gap_preview_keeps_the_gap_free_with_work_before_and_after(db: Session) -> None:
    w, day, tz, elec = _elec_day(db)
    g0, g1 = datetime.combine(day, time(13), tz), datetime.combine(day, time(15), tz)
    preview = whatif.preview(
        db, region_id=w.region.id, day=day, absent_engineer_id=elec, absent_from=g0, absent_until=g1
    )
    db.rollback()
    assert preview["what"] == [f"{w.engineers[1].name} were absent 13:00–15:00"]
    mine = _theirs(preview, elec)
    assert not [(s, e) for s, e in mine if s < g1 and e > g0], mine  # none overlaps the gap
    assert any(e <= g0 for _, e in mine) and any(s >= g1 for s, _ in mine), mine  # before and after


def test_publishing_a_gap_records_both_times_and_publishes_the_preview(db: Session) -> None:
    w, day, tz, elec = _elec_day(db)
    g0, g1 = datetime.combine(day, time(13), tz), datetime.combine(day, time(15), tz)
    preview = whatif.preview(
        db, region_id=w.region.id, day=day, absent_engineer_id=elec, absent_from=g0, absent_until=g1
    )
    db.rollback()
    done = whatif.publish_absence(
        db,
        region_id=w.region.id,
        day=day,
        engineer_id=elec,
        absent_from=g0,
        absent_until=g1,
        as_of=preview["as_of"],
        token=preview["token"],
        reason="training",
        actor=None,
    )
    db.commit()
    assert not done.stale and done.run.trigger == "whatif"
    absence = db.scalar(select(Absence).where(Absence.engineer_id == elec))
    assert absence is not None and (absence.from_time, absence.until_time) == (time(13), time(15))
    db.expire_all()
    assert db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)) == done.run.id
    # the absence's own trigger did not queue a second re-plan: this run answered it
    assert db.scalar(select(PlanRun.id).where(PlanRun.id > done.run.id)) is None
    stops = db.scalars(select(PlanStop).where(PlanStop.plan_run_id == done.run.id, PlanStop.kind == "job"))

    def utc(at: datetime) -> datetime:
        return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)

    published = {s.work_order_id: (s.engineer_id, utc(s.start_at), utc(s.end_at)) for s in stops}
    shown = {wo: (eng, utc(s), utc(e)) for wo, (eng, s, e) in preview["visits"].items()}
    assert published == shown


@pytest.mark.parametrize(
    ("absent_from", "absent_until", "said"),
    [
        (time(13), time(12), "must be after the time absent from (13:00)"),
        (time(13), time(13), "must be after the time absent from (13:00)"),
        (None, time(0), "must be after 00:00"),
    ],
)
def test_an_until_that_makes_no_absence_is_refused_and_nothing_is_written(
    db: Session, absent_from: time | None, absent_until: time, said: str
) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(0)
    tz = ZoneInfo(w.region.timezone)
    start = None if absent_from is None else datetime.combine(day, absent_from, tz)
    until = datetime.combine(day, absent_until, tz)
    with pytest.raises(Unprocessable) as refused:
        whatif.preview(
            db,
            region_id=w.region.id,
            day=day,
            absent_engineer_id=w.engineers[0].id,
            absent_from=start,
            absent_until=until,
        )
    assert refused.value.errors
    assert refused.value.errors[0]["field"] == "absent_until"
    assert said in refused.value.errors[0]["message"]
    with pytest.raises(Unprocessable):
        whatif.publish_absence(
            db,
            region_id=w.region.id,
            day=day,
            engineer_id=w.engineers[0].id,
            absent_from=start,
            absent_until=until,
            as_of=None,
            token="",
            reason="training",
            actor=None,
        )
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Absence)) == 0
