"""Faults around plan runs: the sweeper re-sends lost runs, a crashing task fails its run with the
reason, and far-off dates are refused (422 naming the field) instead of crashing a task."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import OutboxMessage, PlanRun, Ticket
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.planning import sweeper
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Unprocessable
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _queued_run(db: Session, w: pw.World, day: date) -> PlanRun:
    """A run whose task was never delivered (send=False stands for a message lost on the way)."""
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False, **_small())
    db.commit()
    return run


def _small() -> dict[str, Any]:
    return {"time_limit_s": SMALL["time_limit_s"], "solution_limit": SMALL["solution_limit"]}


def _reload(db: Session, run_id: int) -> PlanRun:
    db.expire_all()
    run = db.get(PlanRun, run_id)
    assert run is not None
    return run


def test_a_queued_run_whose_message_was_lost_is_sent_again_and_publishes(db: Session) -> None:
    w = pw.build(db, jobs=2)
    run = _queued_run(db, w, pw.next_weekday(0))
    s = get_settings()
    # Not yet past the deadline: left alone.
    assert not sweeper.sweep(db, now=utcnow())
    later = utcnow() + timedelta(seconds=s.plan_queued_resend_s + 1)
    result = sweeper.sweep(db, now=later)
    assert result.resent == [run.id] and not result.requeued and not result.failed
    db.commit()  # the task goes out after the commit (tests run it inline)
    done = _reload(db, run.id)
    assert done.status == "published" and done.attempts == 1 and done.stats["resent"] == 1
    # Sweeping again finds nothing: the run finished.
    assert not sweeper.sweep(db, now=later + timedelta(hours=2))
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_running_run_whose_worker_is_gone_is_run_again_once(db: Session) -> None:
    w = pw.build(db, jobs=2)
    run = _queued_run(db, w, pw.next_weekday(1))
    # A worker claimed it and died: status running, attempts 1, heartbeat frozen.
    run.status, run.attempts, run.heartbeat_at = "running", 1, utcnow()
    db.commit()
    s = get_settings()
    alive_until = run.heartbeat_at + timedelta(seconds=run.time_limit_s + s.plan_run_grace_s)
    assert not sweeper.sweep(db, now=alive_until - timedelta(seconds=1))  # still within its deadline
    result = sweeper.sweep(db, now=alive_until + timedelta(seconds=1))
    assert result.requeued == [run.id]
    db.commit()
    done = _reload(db, run.id)
    assert done.status == "published" and done.attempts == 2 and done.stats["lost"] == 1
    published = db.scalar(
        select(func.count())
        .select_from(PlanRun)
        .where(PlanRun.region_id == w.region.id, PlanRun.status == "published")
    )
    assert published == 1  # the same run re-sent, not a second one


def test_a_run_lost_too_often_or_never_taken_ends_failed_with_the_reason(db: Session) -> None:
    w = pw.build(db, jobs=1)
    s = get_settings()
    lost = _queued_run(db, w, pw.next_weekday(2))
    lost.status, lost.attempts, lost.heartbeat_at = "running", s.plan_run_max_attempts, utcnow()
    never = _queued_run(db, w, pw.next_weekday(3))
    db.commit()
    later = utcnow() + timedelta(seconds=s.plan_queued_fail_s + lost.time_limit_s + s.plan_run_grace_s + 1)
    result = sweeper.sweep(db, now=later)
    db.commit()
    assert sorted(result.failed) == sorted([lost.id, never.id]) and not result.resent
    assert _reload(db, lost.id).status == "failed"
    assert "worker was lost" in (_reload(db, lost.id).error or "")
    assert "no worker took the run" in (_reload(db, never.id).error or "")
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # nothing re-sent


def test_a_task_that_crashes_marks_its_run_failed_with_the_reason(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = pw.build(db, jobs=1)
    run = _queued_run(db, w, pw.next_weekday(4))

    def overflow(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(planning, "load", overflow)
    assert plan_runs.execute(run.id) == "failed"
    failed = _reload(db, run.id)
    assert failed.status == "failed" and "OverflowError" in (failed.error or "")
    assert failed.finished_at is not None


@pytest.mark.parametrize("day", ["9999-12-31", "1900-01-01", "0001-01-01"])
def test_far_off_plan_dates_are_refused_naming_the_field(
    client: TestClient, db: Session, dispatcher: dict[str, str], day: str
) -> None:
    w = pw.build(db, jobs=1)
    db.commit()
    for path, body in [
        ("/api/v1/plans", {"region_id": w.region.id, "date": day, **SMALL}),
        ("/api/v1/plan-batches", {"date": day, "region_ids": [w.region.id], **SMALL}),
    ]:
        r = client.post(path, json=body, headers=dispatcher)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["date"]
    assert db.scalar(select(func.count()).select_from(PlanRun).where(PlanRun.region_id == w.region.id)) == 0


def test_the_service_refuses_an_unstorable_plan_date_too(db: Session) -> None:
    """Tasks, triggers and the CLI create runs through the service, not the API schema: it refuses
    what would overflow, but (unlike the API's window) plans a past day, as the seed does."""
    w = pw.build(db, jobs=1)
    with pytest.raises(Unprocessable) as caught:
        plan_runs.create_run(db, region_id=w.region.id, day=date(9999, 12, 31))
    assert caught.value.errors == [{"field": "date", "message": caught.value.errors[0]["message"]}]
    old = plan_runs.create_run(db, region_id=w.region.id, day=date.today() - timedelta(days=800), send=False)
    assert old.status == "queued"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_route_and_list_queries_with_far_off_dates_answer_422(
    client: TestClient, db: Session, dispatcher: dict[str, str], day: str
) -> None:
    w = pw.build(db, jobs=1)
    db.commit()
    engineer = w.engineers[0]
    for url in [
        f"/api/v1/engineers/{engineer.id}/route?date={day}",
        f"/api/v1/engineers/{engineer.id}/shift?date={day}",
        f"/api/v1/plans?date={day}",
        f"/api/v1/work-orders?date={day}",
    ]:
        r = client.get(url, headers=dispatcher)
        assert r.status_code == 422, (url, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["date"], url


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00+00:00", "1899-12-31T10:00:00Z"]
)
def test_work_order_times_far_off_are_refused_naming_the_fields(
    client: TestClient, db: Session, dispatcher: dict[str, str], at: str
) -> None:
    w = pw.build(db, jobs=1)
    db.commit()
    ticket = db.scalar(select(Ticket).order_by(Ticket.id.desc()))  # the world's visits have tickets
    assert ticket is not None and w.region is not None
    body = {"ticket_id": ticket.id, "appointment_start_at": at, "windows": [{"starts_at": at, "ends_at": at}]}
    r = client.post("/api/v1/work-orders", json=body, headers=dispatcher)
    assert r.status_code == 422, r.text
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"appointment_start_at", "windows.0.starts_at", "windows.0.ends_at"} <= fields
