"""Publishing a what-if emergency: the visit is opened on the ticket (priority 1) and the
re-plan with it is published at once; a stale preview plans again instead."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanDay, PlanRun, Ticket, WorkOrder
from app.planning import runs as plan_runs
from app.planning import whatif
from app.platform.errors import Unprocessable
from tests.planning import world as pw


def _planned(db: Session) -> tuple[pw.World, object, PlanRun]:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(2)
    run = plan_runs.create_run(
        db, region_id=w.region.id, day=day, send=False, time_limit_s=2.0, solution_limit=30
    )
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    return w, day, run


def _ticket(db: Session, w: pw.World) -> str:
    assert w.account is not None
    site = pw.f.make_site(db, w.account, region=w.region, latitude=48.15, longitude=11.58)
    asset = pw.f.make_asset(db, site, product_model=pw.f.make_product_model(db, skill="ELEC"))
    ticket = pw.f.open_ticket(db, w.account, asset=asset, priority="P3")
    db.commit()
    return ticket.number


def _publish(
    db: Session, w: pw.World, day: date, number: str, emergency: whatif.Emergency, preview: dict[str, Any]
) -> whatif.Published:
    """Publish the previewed emergency as the board does (the preview's as-of time and token)."""
    return whatif.publish_emergency(
        db,
        region_id=w.region.id,
        day=day,
        ticket_number=number,
        emergency=emergency,
        as_of=preview["as_of"],
        token=preview["token"],
        actor=None,
    )


def test_the_ticket_number_is_taken_as_people_type_it(db: Session) -> None:
    """Only the exact "T-0001071" used to work; "T-1071", "1071", "t-0001071" said "there is no
    ticket". Every spelling names the one ticket its digits number."""
    w = pw.build(db, jobs=1)
    number = _ticket(db, w)
    digits = number.removeprefix("T-").lstrip("0")
    for typed in (
        number,
        number.lower(),
        f"T-{digits}",
        digits,
        f" {number.removeprefix('T-')} ",
        f"t{digits}",
    ):
        ticket, _site = whatif.ticket_site(db, w.region.id, typed)
        assert ticket.number == number, typed
    for typed, says in (
        ("T-9999999", "there is no ticket T-9999999"),
        ("WO-12", "there is no ticket “WO-12”"),
    ):
        with pytest.raises(Unprocessable) as refused:
            whatif.ticket_site(db, w.region.id, typed)
        assert says in refused.value.detail


def test_a_published_emergency_opens_its_visit_and_publishes_the_plan(db: Session) -> None:
    w, day, first = _planned(db)
    number = _ticket(db, w)
    emergency = whatif.Emergency(48.15, 11.58, 60, "ELEC")
    preview = whatif.preview(db, region_id=w.region.id, day=day, emergency=emergency)  # type: ignore[arg-type]
    db.rollback()
    assert preview["emergency"]["engineer_id"] == w.engineers[1].id  # the only ELEC engineer
    assert db.scalar(select(WorkOrder.id).where(WorkOrder.priority == "P1")) is None
    done = _publish(db, w, day, number, emergency, preview)
    db.commit()
    assert not done.stale
    db.expire_all()
    visit = db.scalar(select(WorkOrder).where(WorkOrder.priority == "P1"))
    assert visit is not None and visit.required_skills == ["ELEC"] and visit.duration_min == 60
    assert visit.engineer_id == w.engineers[1].id and visit.status == "scheduled"
    current = db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    assert current == done.run.id != first.id
    assert db.scalar(select(PlanRun.id).where(PlanRun.id > done.run.id)) is None  # no second re-plan


def test_a_stale_emergency_preview_is_planned_again(db: Session) -> None:
    w, day, first = _planned(db)
    number = _ticket(db, w)
    emergency = whatif.Emergency(48.15, 11.58, 30, "")
    preview = whatif.preview(db, region_id=w.region.id, day=day, emergency=emergency)  # type: ignore[arg-type]
    db.rollback()
    pw.add_visit(db, w, lat=48.2, lon=11.6)
    db.commit()
    done = _publish(db, w, day, number, emergency, preview)
    assert done.stale and done.run.trigger == "whatif_stale"
    db.commit()
    db.expire_all()
    current = db.get(
        PlanRun, db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    )
    assert current is not None and current.id == done.run.id and current.status == "published"


def test_a_later_days_visit_offered_to_the_day_and_not_taken_is_not_left_out_there(db: Session) -> None:
    """A visit at risk on Monday's plan, though due on Friday, is offered to Friday's plan; when
    Friday cannot take it (here: the one ELEC engineer is absent in the what-if) it stays on Monday,
    so Friday's preview does not list it as left out."""
    from tests.planning.test_on_call import _at, _due
    from tests.planning.test_planning import run_plan

    w = pw.build(db, jobs=1)
    friday = pw.next_weekday(4)
    monday = friday + timedelta(days=3)
    late = pw.add_visit(db, w, skill="ELEC", priority="P1")
    _due(db, late, _at(friday, 6), round_the_clock=False)
    db.commit()
    run_plan(db, w, monday)
    late = db.get(WorkOrder, late.id)
    assert late is not None and late.status == "scheduled" and late.at_risk_since is not None

    elec = w.engineers[1]  # the only one with ELEC
    preview = whatif.preview(db, region_id=w.region.id, day=friday, absent_engineer_id=elec.id)
    assert late.number not in preview["unassigned"] and late.number not in preview["reasons"]


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
def test_an_emergency_published_for_another_day_replans_only_that_day(db: Session, stale: bool) -> None:
    """The board shows tomorrow (Monday, say, on a Sunday): the emergency's visit has no
    appointment, so its own `emergency` trigger asked for a re-plan of today, which published
    today's plan with the visit left out "off shift" besides tomorrow's. Only the previewed day is
    planned again; a stale preview likewise."""
    from app.planning import keys as plan_keys
    from app.platform.db import utcnow

    w = pw.build(db, jobs=3, tz=pw.midday_zone(), shift=(6, 20), all_week=True)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    tomorrow = today + timedelta(days=1)
    for day in (today, tomorrow):
        run = plan_runs.create_run(
            db, region_id=w.region.id, day=day, send=False, time_limit_s=2.0, solution_limit=30
        )
        db.commit()
        plan_runs.execute(run.id)
        db.expire_all()
        assert db.get_one(PlanRun, run.id).status == "published"
    today_run = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == today)
    )
    before = run.id  # tomorrow's plan, the last run so far
    number = _ticket(db, w)
    emergency = whatif.Emergency(48.15, 11.58, 60, "ELEC")
    preview = whatif.preview(db, region_id=w.region.id, day=tomorrow, emergency=emergency)
    db.rollback()
    if stale:  # new work on that day since the preview
        pw.add_visit(db, w, lat=48.2, lon=11.6)
        db.commit()
    done = _publish(db, w, tomorrow, number, emergency, preview)
    db.commit()
    assert done.stale is stale and done.run.day == tomorrow
    db.expire_all()
    # nothing asked to plan today again: its published plan stands, without the visit
    assert db.scalars(select(PlanRun.day).where(PlanRun.id > before)).all() == [tomorrow]
    assert (
        db.scalar(
            select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == today)
        )
        == today_run
    )
    visit = db.scalar(select(WorkOrder).where(WorkOrder.priority == "P1"))
    assert visit is not None and visit.planned_start_at is not None
    assert plan_keys.local_day(visit.planned_start_at, w.region.timezone) == tomorrow


def test_the_emergency_preview_plans_by_the_tickets_arrival_due_time_as_the_published_plan_does(
    db: Session,
) -> None:
    """The visit opened for an emergency takes its ticket's arrival due time (as every visit
    does), and the published plan is made with it; the preview planned the emergency without
    one, so a ticket due early was previewed at the end of the route and published at its start.
    The preview now plans by the same due time: what the dispatcher saw is what is published."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    w = pw.build(db, jobs=0)
    elec = w.engineers[1]  # the only ELEC engineer, home at 48.16, 11.62
    for i in range(4):  # a morning's work around home, on tickets without an SLA
        visit = pw.add_visit(
            db, w, lat=48.155 + 0.004 * i, lon=11.61 + 0.006 * i, skill="ELEC", duration_min=40
        )
        visit.sla_deadline_at = db.get_one(Ticket, visit.ticket_id).arrival_due_at = None
    day = pw.next_weekday(2)
    db.commit()
    run = plan_runs.create_run(
        db, region_id=w.region.id, day=day, send=False, time_limit_s=2.0, solution_limit=30
    )
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    number = _ticket(db, w)  # its site: 48.15, 11.58
    ticket, _site = whatif.ticket_site(db, w.region.id, number)
    due = datetime.combine(day, time(8, 45), tzinfo=ZoneInfo(w.region.timezone))
    ticket.arrival_due_at = due
    db.commit()
    assert whatif.emergency_due(ticket) == due

    emergency = whatif.Emergency(48.15, 11.58, 60, "ELEC", whatif.emergency_due(ticket))
    preview = whatif.preview(db, region_id=w.region.id, day=day, emergency=emergency)
    db.rollback()
    assert preview["emergency"]["engineer_id"] == elec.id
    assert preview["emergency"]["start"] <= due  # first: it is due within the hour

    done = _publish(db, w, day, number, emergency, preview)
    db.commit()
    assert not done.stale
    db.expire_all()
    visit = db.scalar(select(WorkOrder).where(WorkOrder.priority == "P1"))
    assert visit is not None and visit.sla_deadline_at is not None
    assert visit.engineer_id == elec.id
    assert visit.planned_start_at == preview["emergency"]["start"]  # what was previewed is published
