"""The what-if preview solves a day with a visit kept at a time set by hand as the re-plan it
stands for does (`held.solve`): the kept visit the day cannot fit has its time blocked, so the
preview draws no stop of its engineer over it. Before, the preview skipped that second solve and
showed a stop at 21:15–21:45 over the visit kept at 21:30, which the published re-plan never had."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.planning import keys as plan_keys
from app.planning import whatif
from app.platform.db import utcnow
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand


def test_the_preview_routes_around_a_kept_visit_the_day_cannot_fit(db: Session) -> None:
    w = pw.build(db, jobs=0, tz=pw.midday_zone(), shift=(6, 22), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    elec = w.engineers[1]  # the only one with ELEC
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
    kept_at = _at(w, today, 21, 30)  # an hour from 21:30: the 22:00 shift end cannot fit it
    _by_hand(db, w, late.id, elec.id, kept_at)

    shown = whatif.preview(db, region_id=w.region.id, day=today)

    kept_until = kept_at + timedelta(hours=1)
    for engineer_id, start, end in shown["visits"].values():
        if engineer_id == elec.id:
            assert end <= kept_at or start >= kept_until, shown["visits"]  # none over the kept visit
    assert late.id not in shown["visits"]  # the engine could not fit it...
    assert late.number not in shown["unassigned"]  # ...and the publish keeps it as a stop, not left out
    assert tight.number in shown["unassigned"]  # the other one cannot go round it that evening
