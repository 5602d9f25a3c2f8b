"""/explain names the binding constraint per engineer, as the engine found it: the engineer with
the skill who is off shift is "off shift", not "nobody has HVAC" (issue 10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import models as m
from app.models import Absence, PlanUnassigned, WorkOrderWindow
from tests.planning import world as pw
from tests.planning.test_on_call import _at
from tests.planning.test_planning import run_plan


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _world(db: Session) -> tuple[pw.World, m.Engineer, m.Engineer]:
    w = pw.build(db, jobs=0)
    hvac, elec = w.engineers
    hvac.skills = ["HVAC"]
    elec.skills = ["ELEC"]  # the second engineer cannot do HVAC work
    db.flush()
    return w, hvac, elec


def test_the_skilled_engineer_absent_makes_the_visit_off_shift_not_no_skill(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, hvac, elec = _world(db)
    monday = pw.next_weekday(0)
    db.add(Absence(engineer_id=hvac.id, day=monday, reason="absent"))
    wo = pw.add_visit(db, w, skill="HVAC")
    db.commit()
    run = run_plan(db, w, monday)
    left = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == wo.id
        )
    )
    assert left.reason == "off_shift" and hvac.name in left.detail and "absent" in left.detail
    why = client.get(f"/api/v1/work-orders/{wo.id}/explain", headers=dispatcher).json()
    assert why["unassigned_reason"] == "off_shift"
    assert "no engineer" not in why["reason"]
    per = {c["engineer_id"]: c for c in why["candidates"]}
    assert per[hvac.id]["constraint"] == "off_shift" and "absent" in per[hvac.id]["note"]
    assert per[elec.id]["constraint"] == "skill" and per[elec.id]["note"] == "lacks the skill HVAC"


def test_a_window_outside_the_shift_is_named_per_engineer(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, hvac, elec = _world(db)
    monday = pw.next_weekday(0)
    wo = pw.add_visit(db, w, skill="HVAC")
    db.add(WorkOrderWindow(work_order_id=wo.id, starts_at=_at(monday, 18), ends_at=_at(monday, 20)))
    db.commit()
    run = run_plan(db, w, monday)
    left = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == wo.id
        )
    )
    assert left.reason == "off_shift"
    why = client.get(f"/api/v1/work-orders/{wo.id}/explain", headers=dispatcher).json()
    per = {c["engineer_id"]: c for c in why["candidates"]}
    assert per[hvac.id]["constraint"] == "off_shift"
    assert "off shift at that time" in per[hvac.id]["note"] and "08:00-17:00" in per[hvac.id]["note"]
    assert "18:00-20:00" in per[hvac.id]["note"]
    assert per[elec.id]["constraint"] == "skill"


def test_on_call_cover_that_does_not_take_routine_work_says_so(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, hvac, elec = _world(db)
    saturday = pw.next_weekday(5)
    db.add(
        m.OnCallShift(
            engineer_id=hvac.id, starts_at=_at(saturday, 8), ends_at=_at(saturday + timedelta(days=1), 8)
        )
    )
    wo = pw.add_visit(db, w, skill="HVAC", priority="P3")
    db.commit()
    run_plan(db, w, saturday)
    why = client.get(f"/api/v1/work-orders/{wo.id}/explain", headers=dispatcher).json()
    assert why["unassigned_reason"] == "off_shift"
    assert f"{hvac.name} (on call) has the skills" in why["reason"]  # names, not engine keys
    per = {c["engineer_id"]: c for c in why["candidates"]}
    assert per[hvac.id]["constraint"] == "on_call" and per[hvac.id]["on_call"] is True
    assert per[elec.id]["constraint"] == "skill"
