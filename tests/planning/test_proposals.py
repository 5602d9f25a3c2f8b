"""Proposed plan runs: solved and kept without publishing, what they would change, accepted
(published as computed), stale when the day changed (accepting plans again), discarded."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanDay, PlanRun, WorkOrder
from tests.planning import world as pw
from tests.planning.test_planning_api import dispatcher, plan

__all__ = ["dispatcher"]  # the fixture, shared with the planning API tests


def _current(db: Session, w: pw.World) -> int | None:
    db.expire_all()
    return db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))


def test_a_proposal_publishes_nothing_until_accepted(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(0)
    db.commit()
    published = plan(client, dispatcher, w, day)
    extra = pw.add_visit(db, w)
    db.commit()
    proposal = plan(client, dispatcher, w, day, propose=True)
    assert proposal["status"] == "proposed" and proposal["propose"] and not proposal["is_current"]
    changes = proposal["summary"]["changes"]
    assert changes["newly_served"] == 1 and changes["new_visits"] == [extra.number]
    assert changes["dropped"] == 0 and proposal["summary"]["served"] == 4
    assert _current(db, w) == published["id"]  # still the old plan
    assert db.get_one(WorkOrder, extra.id).engineer_id is None
    done = client.post(f"/api/v1/plans/{proposal['id']}/accept", headers=dispatcher)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "published" and done.json()["replanned_as"] is None
    assert _current(db, w) == proposal["id"]
    assert db.get_one(WorkOrder, extra.id).engineer_id is not None
    again = client.post(f"/api/v1/plans/{proposal['id']}/accept", headers=dispatcher)
    assert again.status_code == 409  # accepted once


def test_accepting_a_stale_proposal_plans_the_day_again(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(1)
    db.commit()
    proposal = plan(client, dispatcher, w, day, propose=True)
    assert proposal["status"] == "proposed"
    late = pw.add_visit(db, w)  # the day changes after the proposal was computed
    db.commit()
    done = client.post(f"/api/v1/plans/{proposal['id']}/accept", headers=dispatcher)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "superseded" and body["summary"]["stale"] and body["replanned_as"]
    replan = client.get(f"/api/v1/plans/{body['replanned_as']}", headers=dispatcher).json()
    assert replan["status"] == "published" and replan["summary"]["served"] == 3
    assert _current(db, w) == replan["id"]
    assert db.get_one(WorkOrder, late.id).engineer_id is not None


def test_discard_keeps_the_published_plan(
    client: TestClient, db: Session, dispatcher: dict[str, str]
) -> None:
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(2)
    db.commit()
    proposal = plan(client, dispatcher, w, day, propose=True)
    r = client.post(f"/api/v1/plans/{proposal['id']}/discard", headers=dispatcher)
    assert r.status_code == 200 and r.json()["status"] == "discarded"
    assert _current(db, w) is None
    assert client.post(f"/api/v1/plans/{proposal['id']}/accept", headers=dispatcher).status_code == 409
    assert db.get_one(PlanRun, proposal["id"]).status == "discarded"


def test_automatic_replans_publish_unless_the_setting_asks_for_proposals(
    client: TestClient, db: Session, dispatcher: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from app.platform.config import get_settings

    tz = pw.midday_zone()
    w = pw.build(db, jobs=2, tz=tz, shift=(0, 23), all_week=True)
    today = datetime.now(ZoneInfo(tz)).date()
    db.commit()
    assert plan(client, dispatcher, w, today)["status"] == "published"
    urgent = pw.add_visit(db, w, priority="P1")
    db.commit()
    db.expire_all()
    first = db.scalars(select(PlanRun).where(PlanRun.trigger == "emergency")).one()
    assert not first.propose and first.status == "published"  # the default: at once
    assert db.get_one(WorkOrder, urgent.id).engineer_id is not None
    monkeypatch.setattr(get_settings(), "replan_propose", True)
    second = pw.add_visit(db, w, priority="P1")
    db.commit()
    db.expire_all()
    run = db.scalars(
        select(PlanRun).where(PlanRun.trigger == "emergency").order_by(PlanRun.id.desc())
    ).first()
    assert run is not None and run.id != first.id and run.propose and run.status == "proposed"
    assert db.get_one(WorkOrder, second.id).engineer_id is None  # waits for a dispatcher
    assert run.summary["changes"]["newly_served"] == 1
