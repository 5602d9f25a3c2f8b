"""One ticket whose times are inconsistent (answered, visited and resolved before it was opened)
among the hand-computed history of tests/insights/fixture.py: the KPI refresh completes, the good
tickets give the same durations as without it, and the bad one is left out of them and reported
(the log names it; kpi_day and the API say "1 ticket left out: why").

Before, `surveys.kpis` raised ValueError on it and the whole refresh failed, so the dashboard
stopped updating for everyone. The dashboard's line: tests/web/test_insights_left_out.py."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app import models as m
from app.insights import aggregates, service
from app.models import KpiDay
from tests.insights import fixture
from tests.insights.fixture import at

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}
DURATIONS = ("first_response_time", "time_to_arrive", "time_to_resolve")
QUERY = service.Query(DURATIONS, "week", date(2026, 3, 9), date(2026, 3, 15), as_of=NOW)


@pytest.fixture
def world(db):
    return with_bad_ticket(db, fixture.build(db))


def with_bad_ticket(db, w: fixture.World) -> fixture.World:
    t1 = w.tickets["T1"]
    # Opened Wed 11 Mar 10:00 UTC; every event of it an hour or two earlier (a record written by
    # hand, a restored backup): no duration of it can be measured.
    bad = m.Ticket(
        number="TK-BAD",
        account_id=t1.account_id,
        site_id=t1.site_id,
        sla_calendar_id=t1.sla_calendar_id,
        subject="Times out of order",
        priority="P2",
        channel="web",
        status="resolved",
        opened_at=at(11, 10),
        first_response_at=at(11, 9),
        first_response_via="call",
        arrived_at=at(11, 9, 30),
        resolved_at=at(11, 8),
    )
    db.add(bad)
    db.flush()
    w.tickets["T6"] = bad
    return w


def totals(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["metric"]: r["total"] for r in result["metrics"]}


# The good tickets' figures, worked out in tests/insights/test_kpis_api.py (calendar time).
GOOD = {
    "first_response_time": (60.0, 3),  # T1 3900, T2 30, T4 60 min
    "time_to_arrive": (1530.0, 3),  # T2 1530, T3 450, T5 1560
    "time_to_resolve": (3060.0, 3),  # T1 4020, T2 3060, T4 2940
}
REASONS = {
    "first_response_time": "first response before opened",
    "time_to_arrive": "arrival before opened",
    "time_to_resolve": "resolved before opened",
}


def test_the_refresh_completes_counts_the_good_tickets_and_reports_the_bad_one(db, world, caplog):
    with caplog.at_level(logging.WARNING, logger="app.insights.aggregates"):
        assert aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1)) > 0
    agg = service.run(db, QUERY)
    raw = service.run(db, replace(QUERY, use_aggregates=False))
    assert agg == raw
    for name, total in totals(agg).items():
        assert (total["value"], total["n"], total["left_out"]) == (*GOOD[name], 1), name
        assert total["previous"]["left_out"] == 0
    assert {r["metric"]: r["left_out_reason"] for r in agg["metrics"]} == REASONS
    # kpi_day keeps it on the day of the event (Wed 11 Mar), in every slice the ticket is in.
    kept = db.execute(
        select(KpiDay.metric, KpiDay.key, KpiDay.value, KpiDay.day, KpiDay.n).where(KpiDay.left_out > 0)
    ).all()
    assert {(r.metric, r.key, r.value, r.day) for r in kept} >= {
        (name, key, value, date(2026, 3, 11))
        for name in DURATIONS
        for key, value in (("", ""), ("region", "BER"), ("channel", "web"))
    }
    # The log says which ticket and why, once per metric rebuilt.
    for name, reason in REASONS.items():
        assert any(
            f"KPI {name}: 1 ticket(s) left out ({reason}): TK-BAD" in r.getMessage() for r in caplog.records
        ), name


def test_a_group_whose_only_ticket_was_left_out_says_so(db, world):
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    query = replace(QUERY, group_by="channel")
    agg = service.run(db, query)
    assert agg == service.run(db, replace(query, use_aggregates=False))
    resolve = next(r for r in agg["metrics"] if r["metric"] == "time_to_resolve")
    # web: T3 resolved in week 12, so only the bad ticket in this week: n 0, 1 left out
    web = next(g for g in resolve["groups"] if g["key"] == "web")
    assert (web["total"]["value"], web["total"]["n"], web["total"]["left_out"]) == (None, 0, 1)
    phone = next(g for g in resolve["groups"] if g["key"] == "phone")
    assert phone["total"]["left_out"] == 0


@pytest.mark.parametrize("built", [False, True], ids=["raw", "kpi_day"])
def test_the_api_reports_it_and_the_drill_down_leaves_it_out(client, login, db, world, built):
    if built:
        aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    h = login("manager")
    r = client.get("/api/v1/kpis", params={**WEEK, "metric": ",".join(DURATIONS)}, headers=h)
    assert r.status_code == 200, r.text
    for metric in r.json()["metrics"]:
        name = metric["metric"]
        assert metric["left_out_reason"] == REASONS[name]
        total = metric["total"]
        assert (total["value"], total["n"], total["left_out"]) == (*GOOD[name], 1), name
        assert [p["left_out"] for p in metric["series"]] == [1]
        drill = client.get("/api/v1/kpis/drill", params={**WEEK, "metric": name}, headers=h).json()
        assert drill["n"] == total["n"] == len(drill["items"])
        assert "TK-BAD" not in {i.get("number") for i in drill["items"]}
    # a metric without durations carries no such count
    csat = client.get("/api/v1/kpis", params={**WEEK, "metric": "csat"}, headers=h).json()["metrics"][0]
    assert "left_out" not in csat["total"] and csat["left_out_reason"] is None
