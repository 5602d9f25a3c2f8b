"""The what-if preview solves a day with a visit kept at a time set by hand as the re-plan it
stands for does (`held.solve`): the kept visit the day cannot fit has its time blocked, so the
preview draws no stop of its engineer over it. Before, the preview skipped that second solve and
showed a stop at 21:15–21:45 over the visit kept at 21:30, which the published re-plan never had."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.models import WorkOrder
from app.planning import whatif
from tests.planning.test_held_time_blocked import kept_evening, replanned


def test_the_preview_routes_around_a_kept_visit_the_day_cannot_fit(db: Session) -> None:
    k = kept_evening(db)  # the re-plan test's evening: a visit kept at 21:30 the shift cannot fit
    w, today, elec, late, tight, kept_at = k.world, k.today, k.engineer, k.late, k.tight, k.kept_at

    shown = whatif.preview(db, region_id=w.region.id, day=today)

    kept_until = kept_at + timedelta(hours=1)
    for engineer_id, start, end in shown["visits"].values():
        if engineer_id == elec.id:
            assert end <= kept_at or start >= kept_until, shown["visits"]  # none over the kept visit
    assert late.id not in shown["visits"]  # the engine could not fit it...
    assert late.number not in shown["unassigned"]  # ...and the publish keeps it as a stop, not left out
    assert tight.number in shown["unassigned"]  # the other one cannot go round it that evening


def test_the_preview_shows_a_kept_visit_the_day_cannot_fit_kept_at_its_time_not_dropped(db: Session) -> None:
    """QA: the preview listed the visit kept at 21:30 under "Dropped", though the re-plan it stands
    for keeps it there as a stop (`publish._held_stop`) and marks it at risk. It is shown kept at its
    time, in the words the re-plan's mark will have, and not as a change."""
    k = kept_evening(db)
    late = replanned(db, k)  # published: kept at 21:30 as a stop of that plan, marked at risk

    shown = whatif.preview(db, region_id=k.world.region.id, day=k.today)

    assert late.number not in shown["changes"]["dropped_visits"], shown["changes"]
    assert late.number not in shown["changes"]["moved_visits"] + shown["changes"]["new_visits"]
    assert shown["changes"]["dropped"] == 0
    said = db.get_one(WorkOrder, late.id).at_risk_reason  # the published re-plan's mark
    assert said is not None and said.startswith("kept at")
    assert shown["kept"] == {late.number: said}
