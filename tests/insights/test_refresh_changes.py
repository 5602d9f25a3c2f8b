"""The periodic refresh rebuilds only the days a change can move (kpi_dirty, app/insights/changes.py),
and what it leaves equals a full rebuild: after a re-plan of future visits (no past day rebuilt),
after a late check-out that makes later visits repeats, after a reopen of an old ticket, and after
a re-plan that gives a never-visited ticket another engineer (its days do move)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from app import models as m
from app.desk.tickets import service as tickets
from app.field.workorders import risk
from app.field.workorders.status import change_status
from app.insights import aggregates, changes
from app.models import KpiDay, KpiDirty, KpiRefresh, SlaEvent, WorkOrderStatus
from tests.insights import fixture

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
FROM = date(2026, 1, 1)


@pytest.fixture
def world(db):
    w = fixture.build(db)
    aggregates.refresh(db, now=NOW, build_from=FROM)
    return w


@pytest.fixture
def rebuilt(monkeypatch):
    """The (metric, day) pairs each refresh rebuilds."""
    seen: set[tuple[str, date]] = set()
    real = aggregates.rebuild_days

    def spy(session, days, as_of=None, metrics=aggregates.AGGREGATED):
        days = set(days)
        seen.update((name, d) for name in metrics for d in days)
        return real(session, days, as_of=as_of, metrics=metrics)

    monkeypatch.setattr(aggregates, "rebuild_days", spy)
    return seen


def rows(db) -> list[tuple]:
    out = []
    for r in db.scalars(select(KpiDay)):
        out.append(
            (
                r.metric,
                r.key,
                r.value,
                r.day,
                r.n,
                r.hits,
                r.minutes,
                r.business_minutes,
                r.shift_min,
                r.part_min,
                json.dumps(r.snapshot, sort_keys=True),
                json.dumps(r.ratings, sort_keys=True),
            )
        )
    return sorted(out, key=repr)


def refreshed_equals_full_rebuild(db) -> None:
    aggregates.refresh(db, now=NOW)
    after_refresh = rows(db)
    db.execute(delete(KpiDay))
    db.delete(db.get(KpiRefresh, 1))
    db.flush()
    aggregates.refresh(db, now=NOW, build_from=FROM)
    full = rows(db)
    assert len(full) > 100
    assert after_refresh == full


def baseline(db, rebuilt: set) -> set[tuple[str, date]]:
    """What a refresh with no change rebuilds at NOW: the days that move with time alone (after
    one that takes what the test set up)."""
    aggregates.refresh(db, now=NOW)
    rebuilt.clear()
    aggregates.refresh(db, now=NOW)
    out = set(rebuilt)
    rebuilt.clear()
    return out


def test_a_replan_of_future_visits_rebuilds_no_past_day(db, world, rebuilt):
    """A follow-up visit for T5 (open, first visited by E1) is created, then a plan moves it to
    E2 for tomorrow and marks it at risk, as a publish does: nothing a KPI reads of the past moved."""
    t5 = world.tickets["T5"]
    follow_up = fixture._visit(db, t5, world.berlin, world.e1, status="unscheduled")
    quiet = baseline(db, rebuilt)
    change_status(db, follow_up, WorkOrderStatus.scheduled, actor=None, at=NOW, reason="plan run 1")
    follow_up.engineer_id = world.e2.id
    follow_up.planned_start_at = follow_up.eta_at = NOW + timedelta(days=1)
    follow_up.sla_deadline_at = NOW + timedelta(hours=20)
    tickets.on_visit_scheduled(db, ticket_id=t5.id, at=NOW, actor=None)
    risk.mark(db, follow_up, "planned arrival after the due time", at=NOW)
    db.flush()
    # the work order and its ticket changed (updated_at), but nothing any KPI reads: nothing recorded
    assert db.scalar(select(func.count()).select_from(KpiDirty)) == 0
    aggregates.refresh(db, now=NOW)
    assert rebuilt <= quiet, sorted(rebuilt - quiet)
    refreshed_equals_full_rebuild(db)


def test_a_replan_that_gives_a_never_visited_ticket_another_engineer_moves_its_days(db, world, rebuilt):
    """T6 (opened 2 Apr, answered, never visited) has a visit planned for E1; a re-plan gives it to
    E2: the ticket's engineer (records.load_tickets: its first work order's) moves, so its days —
    and its backlog snapshots since it opened — are rebuilt; a start moved alone rebuilds nothing."""
    t5 = world.tickets["T5"]
    account, site = db.get(m.Account, t5.account_id), db.get(m.Site, t5.site_id)
    cal = db.get(m.BusinessCalendar, t5.sla_calendar_id)
    t6 = fixture._ticket(
        db,
        account,
        site,
        cal,
        channel="web",
        status="open",
        opened_at=datetime(2026, 4, 2, 9, tzinfo=UTC),
        first_response_at=datetime(2026, 4, 2, 10, tzinfo=UTC),
    )
    planned = fixture._visit(db, t6, world.berlin, world.e1, status="scheduled")
    quiet = baseline(db, rebuilt)
    planned.planned_start_at = NOW + timedelta(days=2)
    db.flush()
    aggregates.refresh(db, now=NOW)
    assert rebuilt <= quiet
    rebuilt.clear()
    planned.engineer_id = world.e2.id
    db.flush()
    aggregates.refresh(db, now=NOW)
    assert ("first_response_time", date(2026, 4, 2)) in rebuilt
    assert ("backlog", date(2026, 4, 15)) in rebuilt
    assert not {name for name, _ in rebuilt - quiet} & {"repeat_visit_rate", "on_time_arrival", "utilisation"}
    refreshed_equals_full_rebuild(db)


def test_a_late_check_out_makes_later_visits_repeats(db, world, rebuilt):
    """T7's visit to asset A on 5 March is checked out late, done: W2a and W2b (10 and 11 March,
    T2) become repeats and T7 is no first-time fix. Only the days of the visits at asset A and of
    T7 are rebuilt for the visit metrics, not 30 days either side."""
    t2 = world.tickets["T2"]
    account, site = db.get(m.Account, t2.account_id), db.get(m.Site, t2.site_id)
    cal = db.get(m.BusinessCalendar, t2.sla_calendar_id)
    t7 = fixture._ticket(
        db,
        account,
        site,
        cal,
        channel="phone",
        asset_id=t2.asset_id,
        status="open",
        opened_at=fixture.at(4, 8),
        first_response_at=fixture.at(4, 9),
        arrived_at=fixture.at(5, 9),
    )
    w7 = fixture._visit(db, t7, world.berlin, world.e1, status="in_progress", checked_in_at=fixture.at(5, 9))
    quiet = baseline(db, rebuilt)
    before = {r[3] for r in rows(db) if r[0] == "repeat_visit_rate" and r[1] == "" and r[5]}
    w7.checked_out_at, w7.status = fixture.at(5, 10), "done"
    db.flush()
    aggregates.refresh(db, now=NOW)
    visit_days = {d for name, d in rebuilt - quiet if name == "repeat_visit_rate"}
    # asset A's visits: W7 (5 Mar), W2a (10), W2b (11), W5 (13), each ±1 day for the local zones
    assert visit_days <= {date(2026, 3, d) for d in range(4, 15)}
    assert {date(2026, 3, 10), date(2026, 3, 11)} <= visit_days
    after = {r[3] for r in rows(db) if r[0] == "repeat_visit_rate" and r[1] == "" and r[5]}
    assert {date(2026, 3, 10), date(2026, 3, 11)} <= after - before
    refreshed_equals_full_rebuild(db)


def test_a_reopen_of_an_old_ticket_moves_its_days_and_the_backlog_since(db, world, rebuilt):
    """T1 (resolved 9 March) is reopened on 1 May: its resolution no longer counts, it is a reopen,
    and it is back in every day's backlog since 9 March."""
    t1 = world.tickets["T1"]
    quiet = baseline(db, rebuilt)
    db.expire(t1)  # as after a commit: the hook still learns the resolution it undoes
    t1.status, t1.resolved_at = "open", None
    db.add(SlaEvent(ticket_id=t1.id, at=NOW, kind="resume", data={"reopened": True}))
    db.flush()
    aggregates.refresh(db, now=NOW)
    assert ("time_to_resolve", date(2026, 3, 9)) in rebuilt
    assert ("backlog", date(2026, 4, 1)) in rebuilt
    assert ("repeat_visit_rate", date(2026, 3, 9)) not in rebuilt - quiet  # T1 has no visit
    refreshed_equals_full_rebuild(db)


def test_first_engineer_follows_the_loaders_order():
    """Visits first in check-in order, then the others by id; the first with an engineer."""
    t = datetime(2026, 3, 1, tzinfo=UTC)
    assert changes.first_engineer([(1, 10, None), (2, 20, t)]) == 20
    assert changes.first_engineer([(3, 30, None), (1, 10, None)]) == 10
    assert changes.first_engineer([(1, None, t), (2, 20, t + timedelta(hours=1)), (3, 30, None)]) == 20
    assert changes.first_engineer([(1, None, None)]) is None


def test_a_visit_recorded_on_a_phone_fix_moves_its_first_contact_resolution(db, world, rebuilt):
    """T1 was fixed on the phone on 9 March (first-contact resolution); a visit to it that day is
    entered afterwards, first unstarted, then checked in: it is no first-contact fix any more."""
    t1 = world.tickets["T1"]
    visit = fixture._visit(db, t1, world.berlin, world.e1, status="scheduled")
    baseline(db, rebuilt)
    before = {r[3]: r[4:6] for r in rows(db) if r[0] == "first_contact_resolution" and r[1] == ""}
    visit.checked_in_at, visit.checked_out_at, visit.status = fixture.at(9, 9), fixture.at(9, 9, 30), "done"
    db.flush()
    aggregates.refresh(db, now=NOW)
    assert ("first_contact_resolution", date(2026, 3, 9)) in rebuilt
    after = {r[3]: r[4:6] for r in rows(db) if r[0] == "first_contact_resolution" and r[1] == ""}
    assert after[date(2026, 3, 9)][1] == before[date(2026, 3, 9)][1] - 1  # one hit fewer
    refreshed_equals_full_rebuild(db)
