"""A manual schedule that double-books the engineer, or runs past their working time, is saved
and says so: the answer's `warnings` name the other visit or the time it runs into."""

from __future__ import annotations

from datetime import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Absence, WorkOrder
from tests.field.workorders.world import BERLIN, create, next_local, schedule


def test_an_overlapping_schedule_is_saved_with_a_warning_naming_the_other_visit(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    first = create(client, w, duration_min=70)  # 14:39–15:49, as WO-349 was
    r = schedule(client, w, first["id"], at=next_local(0, 14, 39))
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text
    second = create(client, w)
    r = schedule(client, w, second["id"], at=next_local(0, 15))
    assert r.status_code == 200, r.text
    assert r.json()["engineer_id"] == w["eng"].id  # warned, not refused
    [warning] = r.json()["warnings"]
    assert warning["code"] == "overlap"
    assert warning["work_order_id"] == first["id"] and warning["number"] == first["number"]
    assert warning["detail"] == f"Overlaps {first['number']} (14:39–15:49, local time)"
    assert warning["start"].startswith(next_local(0, 14, 39).isoformat()[:16])
    db.expire_all()
    assert db.get_one(WorkOrder, second["id"]).engineer_id == w["eng"].id


def test_back_to_back_visits_and_other_engineers_visits_give_no_warning(
    client: TestClient, world: dict[str, Any]
) -> None:
    w = world
    first = create(client, w, duration_min=70)
    assert schedule(client, w, first["id"], at=next_local(0, 14, 39)).status_code == 200
    elsewhere = create(client, w)
    r = schedule(client, w, elsewhere["id"], eng=w["other"], at=next_local(0, 15))
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text
    after = create(client, w)
    r = schedule(client, w, after["id"], at=next_local(0, 15, 49))  # starts as the first one ends
    assert r.status_code == 200 and r.json()["warnings"] == [], r.text


def test_a_job_running_past_the_shift_or_into_an_absence_is_saved_with_a_warning(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    late = create(client, w, duration_min=90)
    r = schedule(client, w, late["id"], at=next_local(0, 16))
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["code"] == "outside_shift"
    assert "Runs until 17:30" in warning["detail"] and "17:00" in warning["detail"], warning
    tuesday = next_local(1, 13)
    db.add(
        Absence(
            engineer_id=w["eng"].id,
            day=tuesday.astimezone(BERLIN).date(),
            reason="dentist",
            from_time=time(14),
            until_time=time(15),
        )
    )
    db.commit()
    gap = create(client, w, duration_min=90)
    r = schedule(client, w, gap["id"], at=tuesday)
    assert r.status_code == 200, r.text
    [warning] = r.json()["warnings"]
    assert warning["code"] == "absence"
    assert "absence 14:00–15:00" in warning["detail"] and "dentist" in warning["detail"], warning
