"""Engineer utilisation with partial-day absences, computed by hand (docs/kpis.md, "Engineer
utilisation and travel share"), equal in the raw path and in kpi_day.

Week 2026-W11 (Mon 9 – Sun 15 March 2026; New York is on summer time since Sun 8 March, UTC−4;
Berlin UTC+1). Both engineers work Mon–Fri 08:00–17:00 local with a 12:00–12:30 break: 510
minutes. All visit times below are UTC.

E1, New York:
- Mon 9: no absence, 510. On site 13:00–15:00 (09:00–11:00 local) = 120, and Tue 03:30–04:00
  UTC = **Mon 23:30–24:00 local** = 30, which counts on Monday: 150.
- Tue 10: absent from 13:00: works 08:00–13:00 less the break = 270. On site 14:00–16:30 = 150.
- Wed 11: absent from 12:15, inside the break: 08:00–12:15 less the 15 break minutes before it
  = 240. On site 13:00–14:00 = 60.
- Thu 12: absent from 07:00, before the shift starts: a day off, not in n.
- Fri 13: absent all day: not in n.
  E1: n 3, shift 1020, on site 360.
E2, Berlin:
- Mon 9 – Thu 12: 510 each. On site Sun 8 23:30 – Mon 00:00 UTC = **Mon 00:30–01:00 local**: 30
  on Monday.
- Fri 13: absent from 18:00, after the shift ends: 510. On site 15:30–16:30 = 60.
  E2: n 5, shift 2550, on site 90.
Everyone: n 8, shift 3570, on site 450 → 12.61 %.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from app import models as m
from app.insights import aggregates, drill, service
from app.insights.records import Filters
from tests import factories
from tests.insights import fixture

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WEEK = service.Query(("utilisation", "travel_share"), "week", date(2026, 3, 9), date(2026, 3, 15), as_of=NOW)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def engineers(db):
    nyc = factories.make_region(db, timezone="America/New_York", code="NYC", name="New York")
    ber = factories.make_region(db, timezone="Europe/Berlin", code="BER", name="Berlin")
    e1 = factories.make_engineer(db, nyc, name="Nora York")
    e2 = factories.make_engineer(db, ber, name="Bert Lin")
    for engineer, day, from_time in (
        (e1, 10, time(13)),
        (e1, 11, time(12, 15)),
        (e1, 12, time(7)),
        (e1, 13, None),
        (e2, 13, time(18)),
    ):
        db.add(m.Absence(engineer_id=engineer.id, day=date(2026, 3, day), reason="sick", from_time=from_time))
    account = factories.make_account(db, region=nyc)
    site = factories.make_site(db, account)
    ticket = fixture._ticket(
        db, account, site, factories.make_calendar(db), channel="phone", status="resolved", opened_at=at(2, 8)
    )
    for engineer, region, checked_in, checked_out in (
        (e1, nyc, at(9, 13), at(9, 15)),
        (e1, nyc, at(10, 3, 30), at(10, 4)),
        (e1, nyc, at(10, 14), at(10, 16, 30)),
        (e1, nyc, at(11, 13), at(11, 14)),
        (e2, ber, at(8, 23, 30), at(9, 0)),
        (e2, ber, at(13, 15, 30), at(13, 16, 30)),
    ):
        fixture._visit(
            db, ticket, region, engineer, status="done", checked_in_at=checked_in, checked_out_at=checked_out
        )
    db.commit()
    return e1, e2


def engineer_days(db, metric: str) -> dict:
    """The drill-down of one metric over WEEK, computed from the records."""
    query = replace(WEEK, metrics=(metric,), use_aggregates=False)
    return drill.drill(db, query, group_value=None, offset=0, limit=50)


def figures(db, query: service.Query) -> dict[str, dict]:
    return {r["metric"]: r for r in service.run(db, query)["metrics"]}


def test_a_partial_day_absence_takes_only_the_absent_part_off_the_shift(db, engineers):
    e1, e2 = engineers
    raw = figures(db, replace(WEEK, use_aggregates=False))
    util = raw["utilisation"]["total"]
    assert (util["n"], util["value"]) == (8, pytest.approx(100 * 450 / 3570))
    # no plan was published for any of these days: travel is unknown, not zero
    assert (raw["travel_share"]["total"]["n"], raw["travel_share"]["total"]["value"]) == (0, None)
    grouped = figures(db, replace(WEEK, group_by="engineer", use_aggregates=False))["utilisation"]
    by_engineer = {g["key"]: g["total"] for g in grouped["groups"]}
    assert (by_engineer[str(e1.id)]["n"], by_engineer[str(e1.id)]["value"]) == (
        3,
        pytest.approx(100 * 360 / 1020),
    )
    assert (by_engineer[str(e2.id)]["n"], by_engineer[str(e2.id)]["value"]) == (
        5,
        pytest.approx(100 * 90 / 2550),
    )
    # the engineer-days behind the figure, each with its own shift minutes
    days = engineer_days(db, "utilisation")
    shift = {(i["id"], i["day"]): (i["shift_min"], i["on_site_min"]) for i in days["items"]}
    assert shift[(e1.id, "2026-03-09")] == (510, 150)
    assert shift[(e1.id, "2026-03-10")] == (270, 150)
    assert shift[(e1.id, "2026-03-11")] == (240, 60)
    assert (e1.id, "2026-03-12") not in shift and (e1.id, "2026-03-13") not in shift
    assert shift[(e2.id, "2026-03-09")] == (510, 30)
    assert shift[(e2.id, "2026-03-13")] == (510, 60)


@pytest.mark.parametrize("group_by", [None, "engineer", "region"])
def test_the_aggregates_agree(db, engineers, group_by):
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    for query in (
        replace(WEEK, group_by=group_by),
        replace(WEEK, group_by=group_by, period="day"),
        replace(
            WEEK,
            group_by=group_by if group_by != "region" else None,
            filters=Filters(region="NYC"),
        ),
    ):
        agg = service.run(db, query)
        assert agg == service.run(db, replace(query, use_aggregates=False))
    assert figures(db, WEEK)["utilisation"]["total"]["n"] == 8


def test_travel_share_counts_the_days_a_published_plan_covered(db, engineers):
    """New York's Monday and Wednesday were planned: E1 drove 60 minutes on Monday and had no route
    on Wednesday (0 minutes, still known). Berlin was never planned: E2's days are left out."""
    e1, _ = engineers
    nyc = db.get(m.Region, e1.region_id)
    for day, travel_s in ((9, 3600), (11, None)):
        run = m.PlanRun(region_id=nyc.id, day=date(2026, 3, day), status="published")
        db.add(run)
        db.flush()
        db.add(m.PlanDay(region_id=nyc.id, day=run.day, current_run_id=run.id, published_at=at(day, 11)))
        if travel_s is not None:
            db.add(
                m.PlanRoute(
                    plan_run_id=run.id,
                    engineer_id=e1.id,
                    departure_at=at(day, 12),
                    return_at=at(day, 21),
                    travel_s=travel_s,
                )
            )
    db.commit()
    raw = figures(db, replace(WEEK, use_aggregates=False))["travel_share"]["total"]
    assert (raw["n"], raw["value"]) == (2, pytest.approx(100 * 60 / (510 + 240)))
    assert figures(db, replace(WEEK, use_aggregates=False))["utilisation"]["total"]["n"] == 8  # unchanged
    days = engineer_days(db, "travel_share")
    assert {(i["day"], i["travel_min"]) for i in days["items"]} == {("2026-03-09", 60.0), ("2026-03-11", 0.0)}
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    assert (
        figures(db, WEEK)["travel_share"] == figures(db, replace(WEEK, use_aggregates=False))["travel_share"]
    )


def test_an_absence_ending_within_the_day_takes_off_only_its_part(db):
    """Berlin, 08:00–17:00 with a 12:00–12:30 break (510 minutes), week 2026-W11:
    - Mon 9: until 10:30 (a late start): 150 off → 360. On site 10:00–11:00 UTC = 60.
    - Tue 10: 12:15–14:00 (a gap over half the break): 105 less 15 break minutes → 420.
    - Wed 11: 13:00–15:00: 120 off → 390.
    - Thu 12: until 18:00, after the shift ends: the whole shift, not in n.
    - Fri 13: no absence, 510.
    n 4, shift 1680, on site 60."""
    region = factories.make_region(db, timezone="Europe/Berlin", code="BER", name="Berlin")
    engineer = factories.make_engineer(db, region, name="Bert Lin")
    for day, from_time, until_time in (
        (9, None, time(10, 30)),
        (10, time(12, 15), time(14)),
        (11, time(13), time(15)),
        (12, None, time(18)),
    ):
        db.add(
            m.Absence(
                engineer_id=engineer.id,
                day=date(2026, 3, day),
                reason="training",
                from_time=from_time,
                until_time=until_time,
            )
        )
    account = factories.make_account(db, region=region)
    site = factories.make_site(db, account)
    ticket = fixture._ticket(
        db, account, site, factories.make_calendar(db), channel="phone", status="resolved", opened_at=at(2, 8)
    )
    fixture._visit(
        db, ticket, region, engineer, status="done", checked_in_at=at(9, 10), checked_out_at=at(9, 11)
    )
    db.commit()
    util = figures(db, replace(WEEK, use_aggregates=False))["utilisation"]["total"]
    assert (util["n"], util["value"]) == (4, pytest.approx(100 * 60 / 1680))
    days = engineer_days(db, "utilisation")
    assert {i["day"]: i["shift_min"] for i in days["items"]} == {
        "2026-03-09": 360,
        "2026-03-10": 420,
        "2026-03-11": 390,
        "2026-03-13": 510,
    }
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    assert figures(db, WEEK)["utilisation"] == figures(db, replace(WEEK, use_aggregates=False))["utilisation"]
