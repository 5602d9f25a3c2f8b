"""The move preview's travel difference is the engineer's route after the move minus her route
before it. On a day without a published plan it was her whole route after the move: a visit she
already had (scheduled by hand) was counted as added travel ("+29.4 km" previewed, "adds 18.4 km"
explained once confirmed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanRoute, User, WorkOrder
from app.planning import explain as plan_explain
from tests.planning import world as pw
from tests.web.conftest import csrf_of


def test_the_preview_adds_only_the_moved_visits_travel_on_a_day_without_a_plan(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(2)  # no plan published for it
    her = w.engineers[1]
    had = pw.add_visit(db, w, lat=48.20, lon=11.70)  # far from her home: a long way there and back
    had.engineer_id, had.status = her.id, "scheduled"
    had.planned_start_at = datetime.combine(day, time(10), ZoneInfo(w.region.timezone))
    moved = pw.add_visit(db, w, lat=48.12, lon=11.72)  # off her way there: a detour
    db.commit()
    sign_in("dispatcher")
    params = {"engineer_id": her.id, "day": day.isoformat()}
    preview = client.get(f"/board/visits/{moved.id}/reassign", params=params)
    assert preview.status_code == 200, preview.text[:400]
    shown = re.search(r"<dt>Travel difference</dt><dd>([+-][\d.]+) km", preview.text)
    assert shown, preview.text
    form = {"csrf": csrf_of(preview.text), **params, "version": str(moved.version)}
    done = client.post(f"/board/visits/{moved.id}/reassign", data=form, follow_redirects=False)
    assert done.status_code == 303, done.text[:400]
    db.expire_all()
    route = db.scalars(select(PlanRoute).where(PlanRoute.engineer_id == her.id)).one()
    why = plan_explain.explain(db, db.get_one(WorkOrder, moved.id))
    assert why.engineer_id == her.id and why.travel_added_m > 0
    # what the explanation says the visit adds, not her whole route (the visit she had included)
    assert float(shown.group(1)) == round(why.travel_added_m / 1000, 1)
    assert why.travel_added_m < route.travel_m / 2


def test_the_preview_says_the_travel_the_engineer_it_leaves_saves(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(2)
    giver, taker = w.engineers  # both have HVAC
    tz = ZoneInfo(w.region.timezone)
    visit = pw.add_visit(db, w, lat=48.20, lon=11.70)
    visit.engineer_id, visit.status = giver.id, "scheduled"  # by hand: her only visit that day
    visit.planned_start_at = datetime.combine(day, time(10), tz)
    db.commit()
    sign_in("dispatcher")
    preview = client.get(
        f"/board/visits/{visit.id}/reassign", params={"engineer_id": taker.id, "day": day.isoformat()}
    )
    assert preview.status_code == 200, preview.text[:400]
    took = re.search(rf"<dt>Travel difference for {taker.name}</dt><dd>\+([\d.]+) km", preview.text)
    left = re.search(rf"<dt>Travel difference for {giver.name}</dt><dd>-([\d.]+) km, -\d+ min", preview.text)
    assert took and left, preview.text
    # her only visit: she saves the way there and back; the other drives there from his own home
    assert float(left.group(1)) > 0 and float(took.group(1)) > 0
