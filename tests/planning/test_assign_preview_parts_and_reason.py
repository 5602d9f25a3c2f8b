"""Dispatcher QA on the move preview (the assign dry run).

Parts: the preview listed the engineer's route pickups as the moved visit's parts. A visit needing
no part, moved to an engineer whose emergency visit needs a warehouse pickup, showed "1 ×
<that part> (warehouse)", and the API's `parts_to_pick_up` had it with `work_order_id: null`. Now
`parts_to_pick_up` holds the moved visit's own parts (its id on each line), and pickups of her
other visits appear only when the move changes them, in `other_pickups_changed`, each naming its
visit.

Reason: Assign to an engineer whose day held one visit, kept by hand at 10:00 over her break
window, was refused with "1 engineer(s) could do it, but their day is full of higher-value work".
Nothing could make way: the kept visit and the break took the time. The refusal says so.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Shift, User, WorkOrder
from app.planning import assign as plan_assign
from app.platform.errors import AppError
from tests.planning import world as pw
from tests.planning.test_hand_times_kept import _at, _by_hand


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _her_day_with_an_emergency_pickup(db: Session) -> tuple[pw.World, date, WorkOrder]:
    """The ELEC engineer has an emergency visit next Tuesday at 09:00 that needs a part only the
    warehouse holds: her route picks it up on the way."""
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    her = w.engineers[1]
    emergency = pw.add_visit(db, w, skill="ELEC", priority="P1", parts=[(w.parts[0].id, 1)], lat=48.13)
    db.commit()
    _by_hand(db, w, emergency.id, her.id, _at(w, day, 9))
    return w, day, db.get_one(WorkOrder, emergency.id)


def _preview(
    client: TestClient, dispatcher: dict[str, str], wo: WorkOrder, engineer_id: int, day: date
) -> Any:
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/assign?dry_run=true",
        json={"engineer_id": engineer_id, "date": day.isoformat()},
        headers=dispatcher,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_a_visit_without_parts_lists_no_part_of_her_other_visit(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, day, _emergency = _her_day_with_an_emergency_pickup(db)
    moved = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60)  # needs no part
    db.commit()

    p = _preview(client, dispatcher, moved, w.engineers[1].id, day)

    assert p["parts_to_pick_up"] == []  # was the emergency's pickup, work_order_id null
    assert p["other_pickups_changed"] == []  # her emergency's pickup is the same with or without it


def test_the_moved_visit_s_own_parts_name_it(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w, day, emergency = _her_day_with_an_emergency_pickup(db)
    moved = pw.add_visit(db, w, skill="ELEC", parts=[(w.parts[0].id, 1)], lat=48.15, lon=11.60)
    db.commit()

    p = _preview(client, dispatcher, moved, w.engineers[1].id, day)

    lines = [(x["work_order_id"], x["part_id"], x["quantity"], x["source"]) for x in p["parts_to_pick_up"]]
    assert lines == [(moved.id, w.parts[0].id, 1, "warehouse")]
    assert p["parts_to_pick_up"][0]["warehouse_id"] == w.warehouse.id
    assert all(x["work_order_id"] not in (None, moved.id) for x in p["other_pickups_changed"])
    assert emergency.id not in {x["work_order_id"] for x in p["parts_to_pick_up"]}


def test_a_day_held_by_a_kept_visit_over_the_break_is_not_called_full(db: Session) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    her = w.engineers[1]
    for shift in db.query(Shift).filter(Shift.engineer_id == her.id):
        shift.break_starts, shift.break_ends = time(12), time(12, 30)
    kept = pw.add_visit(db, w, skill="ELEC", lat=48.13, lon=11.58, duration_min=240)
    db.commit()
    _by_hand(db, w, kept.id, her.id, _at(w, day, 10))  # 10:00–14:00: over her break window
    new = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60, duration_min=180)
    db.commit()

    with pytest.raises(AppError) as refused:
        plan_assign.assign(
            db,
            work_order=db.get_one(WorkOrder, new.id),
            engineer_id=her.id,
            day=day,
            dry_run=True,
            actor=db.get_one(User, w.users[0].id),
        )

    assert refused.value.errors
    said = refused.value.errors[0]["message"]
    assert "full of higher-value work" not in said, said
    assert f"{db.get_one(WorkOrder, kept.id).number} is kept at 10:00–14:00" in said, said
    assert "over the break" in said and "between 11:30 and 12:30" in said, said
