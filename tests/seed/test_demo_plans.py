"""The demo seed leaves a new user with published routes for today and tomorrow, and no visit
(P1 above all) running past its arrival due time without an at-risk mark (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import models as m
from app.planning.demo import publish_days
from app.seed.generate import seed

NOW = datetime(2025, 6, 3, 9, 30, tzinfo=UTC)  # a Tuesday morning
OPEN = ("unscheduled", "scheduled", "en_route")


def test_seed_then_publish_today_and_tomorrow(db: Session) -> None:
    seed(db, customers=60, seed=7, now=NOW, demo_users=False)
    db.commit()
    today = NOW.date()
    done = publish_days([today, today + timedelta(days=1)])
    regions = db.scalar(select(func.count()).select_from(m.Region))
    assert done.runs == 2 * regions and done.published == done.runs
    # Every region-day has a published plan, and the routes hold the day's visits.
    days = db.scalars(select(m.PlanDay).where(m.PlanDay.current_run_id.is_not(None))).all()
    assert {(d.region_id, d.day) for d in days} == {
        (r, d) for r in db.scalars(select(m.Region.id)) for d in (today, today + timedelta(days=1))
    }
    stops = db.scalar(select(func.count()).select_from(m.PlanStop).where(m.PlanStop.kind == "job"))
    assert stops and done.served > 0


def test_no_visit_runs_past_its_due_time_without_an_at_risk_mark(db: Session) -> None:
    seed(db, customers=60, seed=7, now=NOW, demo_users=False)
    db.commit()
    publish_days([NOW.date(), NOW.date() + timedelta(days=1)])
    db.expire_all()
    late = db.scalars(
        select(m.WorkOrder).where(
            m.WorkOrder.status.in_(OPEN),
            m.WorkOrder.eta_at.is_not(None),
            m.WorkOrder.eta_at > m.WorkOrder.sla_deadline_at,
        )
    ).all()
    assert late, "the seeded history has visits planned after their due time"
    assert [w.id for w in late if w.at_risk_since is None] == []
    for w in late:
        ticket = db.get(m.Ticket, w.ticket_id)
        assert ticket.at_risk_since is not None and w.number in (ticket.at_risk_reason or "")
    # Nothing is marked that the plan meets.
    wrong = db.scalars(
        select(m.WorkOrder).where(
            m.WorkOrder.at_risk_since.is_not(None),
            m.WorkOrder.status.in_(("scheduled", "en_route")),
            m.WorkOrder.eta_at <= m.WorkOrder.sla_deadline_at,
        )
    ).all()
    assert wrong == []
