"""The demo seed leaves a new user with published routes for today and tomorrow, and no visit
(P1 above all) running past its arrival due time without an at-risk mark (issue 10); the past
days get the plans their visits followed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import models as m
from app.insights import service
from app.planning.demo import publish_days
from app.planning.history import publish_history
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
    planned_late = db.scalars(
        select(m.WorkOrder).where(
            m.WorkOrder.status.in_(OPEN),
            m.WorkOrder.eta_at.is_not(None),
            m.WorkOrder.eta_at > m.WorkOrder.sla_deadline_at,
        )
    ).all()
    # A follow-up visit of a ticket whose first visit arrived answers for no arrival due time.
    arrived = {t.id for t in db.scalars(select(m.Ticket).where(m.Ticket.arrived_at.is_not(None)))}
    late = [w for w in planned_late if w.ticket_id not in arrived]
    assert late, "the seeded history has visits planned after their due time"
    assert [w.id for w in planned_late if w.ticket_id in arrived and w.at_risk_since is not None] == []
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


def test_the_past_days_get_the_plans_their_visits_followed(db: Session) -> None:
    """The seeded history has visits but no plans; the demo writes, per region and past day, the
    plan the visits followed, so travel share and the board's past days have something behind them."""
    seed(db, customers=60, seed=7, now=NOW, demo_users=False)
    db.commit()
    today = NOW.date()
    history = publish_history(db, before=today)
    db.commit()
    zone = ZoneInfo("Europe/Berlin")
    visited = {
        wo.id: wo
        for wo in db.scalars(
            select(m.WorkOrder).where(
                m.WorkOrder.checked_out_at.is_not(None), m.WorkOrder.engineer_id.is_not(None)
            )
        )
        if wo.checked_in_at.astimezone(zone).date() < today
    }
    stops = db.scalars(
        select(m.PlanStop).order_by(m.PlanStop.plan_run_id, m.PlanStop.engineer_id, m.PlanStop.seq)
    ).all()
    assert history.stops == len(stops) == len(visited) > 100
    assert sorted(s.work_order_id for s in stops) == sorted(visited)  # each visit once
    runs = {r.id: r for r in db.scalars(select(m.PlanRun))}
    for stop in stops:
        wo = visited[stop.work_order_id]
        assert stop.engineer_id == wo.engineer_id and stop.start_at == wo.checked_in_at
        assert runs[stop.plan_run_id].day == wo.checked_in_at.astimezone(zone).date()
    routes = db.scalars(select(m.PlanRoute)).all()
    assert len(routes) == history.routes
    for route in routes:
        mine = [s for s in stops if (s.plan_run_id, s.engineer_id) == (route.plan_run_id, route.engineer_id)]
        assert [s.start_at for s in mine] == sorted(s.start_at for s in mine)  # in check-in order
        assert route.jobs == len(mine) and route.travel_s > 0 and route.travel_m > 0
        assert route.departure_at < mine[0].arrival_at and route.return_at > mine[-1].end_at
    days = db.scalars(select(m.PlanDay)).all()
    assert len(days) == history.region_days and all(
        runs[d.current_run_id].status == "published" for d in days
    )
    assert {runs[d.current_run_id].trigger for d in days} == {"seed"}
    assert publish_history(db, before=today).region_days == 0  # a day with a plan keeps it

    # travel share over the last month now has its engineer-days, and today's planning still works
    month = service.Query(("travel_share",), "month", today - timedelta(days=30), today, as_of=NOW)
    share = service.run(db, replace(month, use_aggregates=False))["metrics"][0]["total"]
    assert share["n"] > 0 and 0 < share["value"] < 100
    done = publish_days([today, today + timedelta(days=1)])
    assert done.published == done.runs
