"""Drill-down pages read by keyset (app/insights/drill.py) list exactly the items the in-memory
path lists, in the same order, for every paged metric, with a filter and with a group; `n` is
kpi_day's figure; a cursor that is not one is a 422 naming `after`.

The hand-computed fixture is topped up with random tickets and visits (seeded): returns to the
same asset or site within 30 days and later, second trips, reopened tickets resolved again or
still open, tickets closed unresolved, open ones (the backlog at the window's end)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from app import models as m
from app.insights import aggregates, drill, service
from app.insights.metrics import METRICS
from app.insights.records import Filters
from tests import factories
from tests.insights import fixture

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WINDOW = service.Query(("csat",), "week", date(2026, 3, 2), date(2026, 3, 22), as_of=NOW)


def _more_history(db, w: fixture.World, seed: int = 7, tickets: int = 40) -> None:
    """Random tickets from mid-February to the end of March at the fixture's two sites."""
    rng = random.Random(seed)
    t2, t3 = w.tickets["T2"], w.tickets["T3"]
    cal = db.get(m.BusinessCalendar, t2.sla_calendar_id)
    berlin = (db.get(m.Account, t2.account_id), db.get(m.Site, t2.site_id), w.berlin, w.e1)
    new_york = (db.get(m.Account, t3.account_id), db.get(m.Site, t3.site_id), w.new_york, w.e2)
    other_site = factories.make_site(db, new_york[0])
    assets = [t2.asset_id, *(factories.make_asset(db, berlin[1], product_model=w.model).id for _ in range(4))]
    start = datetime(2026, 2, 15, tzinfo=UTC)
    for _ in range(tickets):
        account, site, region, engineer = rng.choice((berlin, berlin, new_york))
        asset_id = rng.choice((*assets, None)) if region is w.berlin else None
        site = other_site if region is w.new_york and rng.random() < 0.5 else site
        opened = start + timedelta(hours=rng.randrange(0, 45 * 24))
        fate = rng.choice(("resolved", "resolved", "open", "closed", "reopened", "reopened_open"))
        done = opened + timedelta(hours=rng.randrange(1, 20 * 24))
        ticket = fixture._ticket(
            db,
            account,
            site,
            cal,
            channel=rng.choice(("phone", "email", "web")),
            asset_id=asset_id,
            status={"open": "in_progress", "reopened_open": "open"}.get(fate, fate.removeprefix("re")),
            opened_at=opened,
            resolved_at=done if fate in ("resolved", "reopened") else None,
            closed_at=done if fate == "closed" else None,
        )
        if fate.startswith("reopened"):
            reopen = opened + timedelta(hours=rng.randrange(1, 20 * 24))
            db.add(m.SlaEvent(ticket_id=ticket.id, at=reopen, kind="resume", data={"reopened": True}))
        if fate == "open":  # a resume that is no reopen (back from waiting on the customer)
            db.add(m.SlaEvent(ticket_id=ticket.id, at=opened + timedelta(hours=5), kind="resume", data={}))
        arrive = opened
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            arrive += timedelta(hours=rng.randrange(2, 15 * 24))
            promised = arrive - timedelta(minutes=rng.choice((-90, 30, 60)))
            window = rng.random() < 0.7
            fixture._visit(
                db,
                ticket,
                region,
                rng.choice((engineer, engineer, w.e1, w.e2)),  # a later trip by another engineer
                status=rng.choice(("done", "done", "needs_follow_up")),
                appointment_start_at=promised if window else None,
                appointment_end_at=promised + timedelta(hours=1) if window else None,
                checked_in_at=arrive,
                checked_out_at=arrive + timedelta(minutes=rng.randrange(20, 180)),
            )
    # Berlin's days were planned (travel share counts only the days a published plan covered): a
    # route for E1 on most of them, none on the others (a planned day without driving).
    for offset in range(35):
        day = date(2026, 2, 20) + timedelta(days=offset)
        run = m.PlanRun(region_id=w.berlin.id, day=day, status="published")
        db.add(run)
        db.flush()
        db.add(m.PlanDay(region_id=w.berlin.id, day=day, current_run_id=run.id))
        if rng.random() < 0.8:
            leaves = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=7)
            db.add(
                m.PlanRoute(
                    plan_run_id=run.id,
                    engineer_id=w.e1.id,
                    departure_at=leaves,
                    return_at=leaves + timedelta(hours=9),
                    travel_s=rng.randrange(600, 7200),
                )
            )
    db.commit()


@pytest.fixture
def world(db):
    w = fixture.build(db)
    _more_history(db, w)
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    return w


def walk(db, query: service.Query, group: str | None, limit: int) -> tuple[int, list[dict], bool]:
    """Every page of the list, one after the other, following the cursor."""
    body = drill.drill(db, query, group_value=group, offset=0, limit=limit)
    n, items, keyset = body["n"], list(body["items"]), body["keyset"]
    while body["next_after"] is not None:
        assert len(body["items"]) == limit
        body = drill.drill(db, query, group_value=group, offset=0, limit=limit, after=body["next_after"])
        items += body["items"]
    return n, items, keyset


def in_memory(db, query: service.Query, group: str | None, monkeypatch) -> dict:
    with monkeypatch.context() as m:
        m.setattr(drill, "_keyset_n", lambda *a, **k: None)
        return drill.drill(db, query, group_value=group, offset=0, limit=500)


CASES = [
    (Filters(), None, None),
    (Filters(region="BER"), None, None),
    (Filters(channel="phone"), None, None),
    (Filters(engineer="E1"), None, None),  # Eva Berlin's id (a ticket's engineer: its first visit's)
    (Filters(), "region", "NYC"),
    (Filters(), "channel", "phone"),
]


@pytest.mark.parametrize(
    "name,filters,group_by,group",
    [
        (name, *case)
        for name in sorted(drill.PAGED)
        for case in CASES
        if {*case[0].active(), *([case[1]] if case[1] else [])} <= set(METRICS[name].keys)
    ],
)
def test_keyset_pages_equal_the_in_memory_list(db, world, monkeypatch, name, filters, group_by, group):
    if filters.engineer == "E1":
        filters = replace(filters, engineer=str(world.e1.id))
    query = replace(WINDOW, metrics=(name,), filters=filters, group_by=group_by)
    expected = in_memory(db, query, group, monkeypatch)
    for limit in (1, 2, 50):
        n, items, keyset = walk(db, query, group, limit)
        assert keyset
        assert items == expected["items"], (name, limit)
        assert n == expected["n"] == len(items)
    monkeypatch.setattr(drill, "BATCH", 3)  # a page read in several batches
    assert walk(db, query, group, 50)[1] == expected["items"], name


def test_the_fixture_lists_are_not_empty(db, world):
    """The comparison above says something: most lists have several items, the ones paged
    beyond a column's order (backlog, engineer-days, reopens, visits) several pages of 2."""
    sizes = {name: walk(db, replace(WINDOW, metrics=(name,)), None, 2)[0] for name in drill.PAGED}
    assert sum(1 for n in sizes.values() if n >= 2) >= len(sizes) - 2, sizes
    assert all(sizes[name] >= 5 for name in drill.PAGED - set(drill.KEYSET)), sizes
    assert all(sizes[name] >= 5 for name in ("reopen_rate", "first_time_fix", "repeat_visit_rate")), sizes


def test_visit_lists_carry_the_repeats_and_fixes_the_figure_counts(db, world):
    """The page's visits are judged among the visits around them: as many repeats and first-time
    fixes as the figures' numerators (value × n)."""
    figures = service.run(db, replace(WINDOW, metrics=("repeat_visit_rate", "first_time_fix")))
    total = {f["metric"]: f["total"] for f in figures["metrics"]}
    _, repeats, _ = walk(db, replace(WINDOW, metrics=("repeat_visit_rate",)), None, 3)
    _, fixes, _ = walk(db, replace(WINDOW, metrics=("first_time_fix",)), None, 3)
    for name, items, flag in (
        ("repeat_visit_rate", repeats, "repeat_visit"),
        ("first_time_fix", fixes, "fixed_first_time"),
    ):
        hits = sum(1 for i in items if i[flag])
        assert 0 < hits < len(items), name
        assert hits == round(total[name]["value"] * total[name]["n"] / 100), name


def test_sla_at_risk_and_offsets_use_the_rows_in_memory(db, world):
    body = drill.drill(db, replace(WINDOW, metrics=("sla_at_risk",)), group_value=None, offset=0, limit=2)
    assert body["keyset"] is False
    body = drill.drill(db, replace(WINDOW, metrics=("time_to_resolve",)), group_value=None, offset=1, limit=1)
    assert body["keyset"] is False and body["n"] >= 2


def test_a_bad_cursor_is_a_422_naming_after(client, login, world):
    r = client.get(
        "/api/v1/kpis/drill",
        params={"from": "2026-03-02", "to": "2026-03-22", "metric": "csat", "after": "yesterday"},
        headers=login("manager"),
    )
    assert r.status_code == 422, r.text
    assert "after" in {e["field"] for e in r.json()["errors"]}
