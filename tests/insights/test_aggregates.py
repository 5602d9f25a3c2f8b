"""The per-day aggregates (kpi_day) give the same figures as the raw computation, for every
aggregated metric, total and series, with each filter and each group-by, in calendar and business
time; and the periodic refresh follows changes (a reopen moves the figures)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.insights import aggregates, service
from app.insights.records import Filters
from app.insights.tasks import refresh_kpis
from app.models import KpiDay, KpiRefresh
from app.platform.db import utcnow
from tests.insights import fixture

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
BASE = service.Query(aggregates.AGGREGATED, "week", date(2026, 3, 2), date(2026, 3, 22), as_of=NOW)


@pytest.fixture
def world(db):
    w = fixture.build(db)
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    return w


def both(db, query: service.Query) -> tuple[dict, dict]:
    agg = service.run(db, query)
    raw = service.run(db, replace(query, use_aggregates=False))
    return agg, raw


def test_aggregates_are_used_and_written(db, world):
    assert db.scalar(select(func.count()).select_from(KpiDay)) > 0
    calc = service.Calculator(
        BASE,
        service.Loaded({}, service.Context(NOW, None)),
        aggregates.usable(db, BASE.start, date(2026, 3, 23)),
    )
    assert all(calc.aggregated(service.METRICS[m], end=date(2026, 3, 23)) for m in aggregates.AGGREGATED)
    # before the first build the raw path answers
    assert aggregates.usable(db, date(2025, 12, 1), date(2026, 1, 1)) is None


@pytest.mark.parametrize("business", [False, True])
def test_every_total_and_period_equals_the_raw_computation(db, world, business):
    agg, raw = both(db, replace(BASE, business=business))
    assert agg == raw
    # and the figures are not empty: the comparison says something
    assert sum(m["total"]["n"] for m in agg["metrics"]) > 20


@pytest.mark.parametrize(
    "filters",
    [
        Filters(region="BER"),
        Filters(region="NYC"),
        Filters(channel="phone"),
        Filters(tier="gold"),
        Filters(product_model="CH-900"),
        Filters(engineer="__e1__"),
    ],
)
def test_one_filter_equals_the_raw_computation(db, world, filters):
    if filters.engineer:
        filters = Filters(engineer=str(world.e1.id))
    (key,) = filters.active()
    metrics = tuple(m for m in aggregates.AGGREGATED if key in service.METRICS[m].keys)
    agg, raw = both(db, replace(BASE, metrics=metrics, filters=filters))
    assert agg == raw


@pytest.mark.parametrize("key", ["region", "engineer", "product_model", "tier", "channel"])
def test_group_by_equals_the_raw_computation(db, world, key):
    metrics = tuple(m for m in aggregates.AGGREGATED if key in service.METRICS[m].keys)
    agg, raw = both(db, replace(BASE, metrics=metrics, group_by=key, period="day"))
    assert agg == raw
    assert any(m["groups"] for m in agg["metrics"])


def test_refresh_follows_a_reopen(db, world):
    """T2 is reopened: its resolution no longer counts; after the periodic job the aggregates say so."""
    t2 = world.tickets["T2"]
    before = service.run(db, replace(BASE, metrics=("time_to_resolve",)))["metrics"][0]["total"]["n"]
    t2.status, t2.resolved_at = "open", None
    db.flush()
    stale = service.run(db, replace(BASE, metrics=("time_to_resolve",)))["metrics"][0]["total"]["n"]
    assert stale == before  # aggregates lag until the job runs
    db.get(KpiRefresh, 1).refreshed_at = utcnow().replace(year=2020)  # everything changed since
    aggregates.refresh(db, now=NOW)
    agg, raw = both(db, replace(BASE, metrics=("time_to_resolve",)))
    assert agg == raw
    assert agg["metrics"][0]["total"]["n"] == before - 1


def test_the_periodic_task_is_scheduled():
    from app.platform.worker import celery_app

    entries = {e["task"] for e in celery_app.conf.beat_schedule.values()}
    assert "fieldline.insights.refresh_kpis" in entries
    assert refresh_kpis.name == "fieldline.insights.refresh_kpis"


def test_a_running_period_backlog_reads_todays_open_tickets(db):
    """On Fri 13 March the week is not over: its backlog is the open tickets at the refresh's
    moment (today's kpi_day snapshot), the weeks before come from complete days; both equal the
    raw computation. A day whose snapshot no refresh kept yet is read raw."""
    fixture.build(db)
    friday = datetime(2026, 3, 13, 12, tzinfo=UTC)
    aggregates.refresh(db, now=friday, build_from=date(2026, 1, 1))
    query = service.Query(
        ("backlog", "sla_at_risk"), "week", date(2026, 2, 23), date(2026, 3, 13), as_of=friday
    )
    agg, raw = both(db, query)
    assert agg == raw
    backlog = agg["metrics"][0]
    # open at Fri 12:00 UTC: T3 not yet opened, T4 resolved Thu, T2 resolved Wed; T5 open since Thu
    assert [p["n"] for p in backlog["series"]] == [0, 1, 1]
    running_end = date(2026, 3, 16)
    calc = service.Calculator(
        query,
        service.Loaded({}, service.Context(friday, None)),
        aggregates.usable(db, query.start, running_end),
    )
    assert calc.aggregated(service.METRICS["backlog"], end=running_end)
    saturday = replace(query, as_of=datetime(2026, 3, 14, 12, tzinfo=UTC), end=date(2026, 3, 14))
    calc = service.Calculator(
        saturday,
        service.Loaded({}, service.Context(saturday.as_of, None)),
        aggregates.usable(db, query.start, running_end),
    )
    assert not calc.aggregated(service.METRICS["backlog"], end=running_end)  # no refresh on Saturday yet
    agg, raw = both(db, saturday)
    assert agg == raw


def test_at_risk_alone_reads_only_the_marked_open_tickets(db):
    """Asked alone, SLA at risk reads only the open tickets marked at risk: the same figure (T5)."""
    fixture.build(db)
    friday = datetime(2026, 3, 13, 12, tzinfo=UTC)
    aggregates.refresh(db, now=friday, build_from=date(2026, 1, 1))
    query = service.Query(("sla_at_risk",), "week", date(2026, 2, 23), date(2026, 3, 13), as_of=friday)
    agg, raw = both(db, query)
    assert agg == raw
    assert agg["metrics"][0]["total"]["n"] == 1


def test_packed_minutes_give_the_library_quantiles_exactly():
    """kpi_day's float64 bytes and the partition quantile equal surveys.stats.quantile bit for bit."""
    import random

    from surveys.stats import quantile as library_quantile

    rng = random.Random(7)
    for n in (0, 1, 2, 3, 10, 101, 1000):
        values = [rng.random() * 5000 for _ in range(n)] + [60.0] * (n // 3)
        packed = aggregates.unpack(aggregates.pack(values))
        for q in (0.0, 0.5, 0.9, 1.0):
            assert aggregates.quantile(packed, q) == library_quantile(values, q), (n, q)


def test_refresh_follows_a_visit_change_weeks_before_its_days(db, world):
    """W5 (Fri 13 Mar) turns out to be at another target: it is no repeat of W2b any more, and T2's
    fix on 11 Mar now stands. Only the changed rows are touched (the refresh mark is just before
    the change), yet the visit metrics of both days follow, and every figure equals the raw one."""
    db.get(KpiRefresh, 1).refreshed_at = utcnow()
    before = service.run(db, replace(BASE, metrics=("repeat_visit_rate",)))["metrics"][0]["total"]
    w5 = world.visits["W5"]
    w5.asset_id = None
    db.flush()
    aggregates.refresh(db, now=NOW)
    agg, raw = both(db, BASE)
    assert agg == raw
    after = {m["metric"]: m["total"] for m in agg["metrics"]}["repeat_visit_rate"]
    assert (after["n"], after["value"]) != (before["n"], before["value"])
    assert after["value"] == 0.0
