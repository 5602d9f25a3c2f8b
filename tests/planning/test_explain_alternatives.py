"""/explain of a planned visit: every alternative engineer either has its extra cost or says why
it cannot take the visit (no cost). An engineer who cannot take it used to fail the response
model (`extra_cost` None), which was logged and dropped every alternative; and the explanation
reads the run whose published plan serves the visit now, not a later day's older run that left
it out."""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Absence, WorkOrder, WorkOrderWindow
from tests.planning import world as pw
from tests.planning.test_planning import run_plan


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    headers: dict[str, str] = login("dispatcher")
    return headers


def _explain(client: TestClient, headers: dict[str, str], wo_id: int) -> dict[str, Any]:
    r = client.get(f"/api/v1/work-orders/{wo_id}/explain", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _no_explain_errors(caplog: pytest.LogCaptureFixture) -> None:
    failed = [r.getMessage() for r in caplog.records if r.name.startswith("app.planning.explain")]
    assert failed == []


def test_an_engineer_without_the_skill_is_an_alternative_that_says_why_not(
    client: TestClient, db: Session, dispatcher: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    w = pw.build(db, jobs=0)
    hvac_only, elec = w.engineers
    wo = pw.add_visit(db, w, skill="ELEC")  # only the second engineer has ELEC
    shared = pw.add_visit(db, w, skill="HVAC", lat=48.15, lon=11.58)  # both have HVAC
    day = pw.next_weekday(0)
    db.commit()
    run = run_plan(db, w, day)
    caplog.set_level(logging.WARNING, logger="app.planning.explain")
    why = _explain(client, dispatcher, wo.id)
    assert why["engineer_id"] == elec.id and why["plan_run_id"] == run.id
    assert why["alternatives"] == [
        {
            "engineer_id": hvac_only.id,
            "engineer_name": hvac_only.name,
            "on_call": False,
            "extra_cost": None,
            "feasible": False,
            "note": "lacks the skill ELEC",
        }
    ]
    assert "no other engineer could take it" in why["reason"]
    # One both could take: the other engineer is feasible and has its extra cost.
    both = _explain(client, dispatcher, shared.id)
    db.expire_all()
    served_by = db.get(WorkOrder, shared.id)
    assert served_by is not None and both["engineer_id"] == served_by.engineer_id
    (alt,) = both["alternatives"]
    assert alt["engineer_id"] != both["engineer_id"] and alt["feasible"] is True
    assert isinstance(alt["extra_cost"], int) and alt["note"] == "could take it"
    _no_explain_errors(caplog)


def test_an_engineer_absent_from_midday_cannot_take_an_afternoon_visit_and_says_so(
    client: TestClient, db: Session, dispatcher: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    w = pw.build(db, jobs=0)
    sent_home, other = w.engineers
    day = pw.next_weekday(1)
    tz = ZoneInfo(w.region.timezone)
    db.add(Absence(engineer_id=sent_home.id, day=day, reason="sick", from_time=time(12)))
    wo = pw.add_visit(db, w, skill="HVAC")
    at = (datetime.combine(day, time(14), tz), datetime.combine(day, time(16), tz))
    db.add(WorkOrderWindow(work_order_id=wo.id, starts_at=at[0], ends_at=at[1]))
    db.commit()
    run_plan(db, w, day)
    caplog.set_level(logging.WARNING, logger="app.planning.explain")
    why = _explain(client, dispatcher, wo.id)
    assert why["engineer_id"] == other.id
    (alt,) = why["alternatives"]
    assert alt["engineer_id"] == sent_home.id and alt["feasible"] is False and alt["extra_cost"] is None
    assert "off shift at that time" in alt["note"] and "08:00-12:00" in alt["note"]
    _no_explain_errors(caplog)


def test_explain_reads_the_run_that_serves_the_visit_not_a_later_days_older_run(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=0)  # both engineers work Monday to Friday
    wo = pw.add_visit(db, w, skill="HVAC")
    thursday, saturday = pw.next_weekday(3), pw.next_weekday(5)
    db.commit()
    older = run_plan(db, w, saturday)  # nobody works: left out, off shift
    why = _explain(client, dispatcher, wo.id)
    assert why["plan_run_id"] == older.id and why["unassigned_reason"] == "off_shift"
    served = run_plan(db, w, thursday)  # the later run plans it on Thursday
    db.expire_all()
    planned = db.get(WorkOrder, wo.id)
    assert planned is not None and planned.engineer_id is not None
    why = _explain(client, dispatcher, wo.id)
    assert why["plan_run_id"] == served.id
    assert why["engineer_id"] == planned.engineer_id and why["unassigned_reason"] is None
    assert "off shift" not in why["reason"]


def test_the_assigned_engineer_is_never_her_own_alternative_not_even_on_call(
    client: TestClient, db: Session, dispatcher: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Walking the demo: "Why this engineer: Christina Mayer … Instead Christina Mayer: not
    feasible — on call then": her on-call cover (a second engine identity) was listed."""
    from app.models import OnCallShift

    w = pw.build(db, jobs=0)
    hvac_only, elec = w.engineers
    day = pw.next_weekday(0)
    tz = ZoneInfo(w.region.timezone)
    db.add(
        OnCallShift(
            engineer_id=elec.id,
            starts_at=datetime.combine(day, time(17), tz),
            ends_at=datetime.combine(day, time(23), tz),
        )
    )
    wo = pw.add_visit(db, w, skill="ELEC")
    db.commit()
    run_plan(db, w, day)
    caplog.set_level(logging.WARNING, logger="app.planning.explain")
    why = _explain(client, dispatcher, wo.id)
    assert why["engineer_id"] == elec.id
    assert [a["engineer_id"] for a in why["alternatives"]] == [hvac_only.id]
    assert all(elec.name not in a["note"] for a in why["alternatives"])
    _no_explain_errors(caplog)


def test_a_visit_on_call_cover_has_another_engineer_as_next_best_at_a_cost_in_km(
    client: TestClient,
    db: Session,
    dispatcher: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Walking the demo: "Dominik Fischer (on call) has ELEC …; next best Dominik Fischer would
    cost -200000 more". The run re-planned the day after the shifts had ended, so the evening visit
    went to an on-call cover; the explanation loaded the day from the shifts' start, where her own
    shift "could take it" and saved the call-out (-200 000, the call-out cost), and the engine
    offered her own shift as the next best."""
    from app.models import OnCallShift
    from app.planning import runs as plan_runs
    from tests.planning.test_on_call import _due

    w = pw.build(db, jobs=0)
    day = pw.next_weekday(0)
    tz = ZoneInfo(w.region.timezone)
    for e in w.engineers:  # both on call in the evening, after their 08:00-17:00 shift
        db.add(
            OnCallShift(
                engineer_id=e.id,
                starts_at=datetime.combine(day, time(17), tz),
                ends_at=datetime.combine(day, time(23), tz),
            )
        )
    wo = pw.add_visit(db, w, priority="P1", lat=48.15, lon=11.60)
    _due(db, wo, datetime.combine(day, time(20), tz), round_the_clock=True)
    db.commit()
    # the day re-planned at 17:30 that day: only the on-call covers are left
    monkeypatch.setattr(plan_runs, "utcnow", lambda: datetime.combine(day, time(17, 30), tz))
    run = run_plan(db, w, day)
    assert run.status == "published" and run.as_of is not None, run.error
    caplog.set_level(logging.WARNING, logger="app.planning.explain")
    why = _explain(client, dispatcher, wo.id)
    mine = why["engineer_id"]
    (other,) = [e for e in w.engineers if e.id != mine]
    assert why["reason"].startswith(f"{db.get_one(type(other), mine).name} (on call)"), why["reason"]
    assert f"next best {other.name} (on call) would cost the equivalent of " in why["reason"], why["reason"]
    assert "km more travel" in why["reason"] and "-" not in why["reason"].split("next best")[1]
    assert [a["engineer_id"] for a in why["alternatives"]] == [other.id]
    (alt,) = why["alternatives"]
    assert alt["feasible"] and alt["on_call"] and 0 <= alt["extra_cost"] < 100_000
    _no_explain_errors(caplog)
