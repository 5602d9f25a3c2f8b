"""A visit moved by hand after the plan was published: the engineer's route (header, stop times,
lateness) and the visit's at-risk reason speak of the schedule as it is now, not of the plan."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import WorkOrder
from app.planning.keys import day_reference, local_at
from tests.planning import world as pw
from tests.planning.test_planning_api import plan


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def test_a_visit_moved_later_by_hand_retimes_the_route_and_its_risk(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(1)
    for visit in w.work_orders:  # due long before the day: every visit is late, the plan marks them
        visit.sla_deadline_at = day_reference(day, "Europe/Berlin") - timedelta(days=2)
    db.commit()
    plan(client, dispatcher, w, day)
    db.expire_all()
    wo = db.get(WorkOrder, w.work_orders[0].id)
    assert wo is not None and wo.engineer_id is not None and wo.at_risk_since is not None
    url = f"/api/v1/engineers/{wo.engineer_id}/route?date={day.isoformat()}"
    before = client.get(url, headers=dispatcher).json()
    later = local_at(day, time(16), "Europe/Berlin")  # after every planned stop, inside the 8–17 shift
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/schedule",
        json={"engineer_id": wo.engineer_id, "planned_start": later.isoformat()},
        headers={**dispatcher, "If-Match": f'"v{wo.version}"'},
    )
    assert r.status_code == 200, r.text
    route = client.get(url, headers=dispatcher).json()
    moved = next(s for s in route["stops"] if s["work_order_id"] == wo.id)
    assert datetime.fromisoformat(moved["start_at"]) == later
    # lateness for 16:00, not the plan's start: the day was re-planned with the visit kept there
    # (triggers `scheduled`), and a due time sunk before the day counts from its first shift (8:00)
    assert moved["late_s"] == (16 - 8) * 3600
    # back home after the moved visit ends, not when the plan's last stop ended
    assert datetime.fromisoformat(route["return_at"]) > datetime.fromisoformat(moved["end_at"])
    assert route["return_at"] != before["return_at"]
    others = [s for s in route["stops"] if s["work_order_id"] != wo.id]
    first = min([moved, *others], key=lambda s: s["start_at"])
    assert datetime.fromisoformat(route["departure_at"]) < datetime.fromisoformat(first["eta"])
    db.expire_all()
    reason = db.get(WorkOrder, wo.id).at_risk_reason  # type: ignore[union-attr]
    assert reason is not None and "planned arrival" in reason and "16:00" in reason, reason
