"""Local periods: 23:30 local counts on that local day, DST days are 23 and 25 hours long."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from surveys import Answer, group_by, group_by_period, kpis, local_date, period_of, with_previous
from surveys.periods import Period, period_of_date

BERLIN = "Europe/Berlin"


def test_2330_local_counts_on_that_local_day() -> None:
    # 3 March 22:30 UTC is 23:30 in Berlin (CET, +1): still 3 March there, 4 March is 23:00 UTC on.
    assert local_date(datetime(2026, 3, 3, 22, 30, tzinfo=UTC), BERLIN) == date(2026, 3, 3)
    assert local_date(datetime(2026, 3, 3, 23, 0, tzinfo=UTC), BERLIN) == date(2026, 3, 4)
    # New York (EST, −5): 4 March 04:30 UTC is 3 March 23:30 local.
    assert local_date(datetime(2026, 3, 4, 4, 30, tzinfo=UTC), "America/New_York") == date(2026, 3, 3)
    # In UTC it would be the next day: the zone matters.
    assert local_date(datetime(2026, 3, 4, 4, 30, tzinfo=UTC), "UTC") == date(2026, 3, 4)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        local_date(datetime(2026, 3, 3, 23, 30), BERLIN)


def test_dst_days_have_their_real_length() -> None:
    # Clocks go forward on Sunday 29 March 2026 (02:00 → 03:00) and back on Sunday 25 October.
    lo, hi = period_of_date(date(2026, 3, 29), "day").bounds_utc(BERLIN)
    assert (lo, hi) == (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    assert hi - lo == timedelta(hours=23)
    lo, hi = period_of_date(date(2026, 10, 25), "day").bounds_utc(BERLIN)
    assert hi - lo == timedelta(hours=25)
    # 23:59 CEST on the change day is 21:59 UTC and belongs to it; 22:00 UTC is the next day.
    assert local_date(datetime(2026, 3, 29, 21, 59, tzinfo=UTC), BERLIN) == date(2026, 3, 29)
    assert local_date(datetime(2026, 3, 29, 22, 0, tzinfo=UTC), BERLIN) == date(2026, 3, 30)


def test_week_and_month_periods_and_their_predecessors() -> None:
    week = period_of(datetime(2026, 3, 3, 22, 30, tzinfo=UTC), "week", BERLIN)  # a Tuesday
    assert (week.start, week.end, week.label) == (date(2026, 3, 2), date(2026, 3, 9), "2026-W10")
    assert week.previous() == Period("week", date(2026, 2, 23), date(2026, 3, 2))
    jan = period_of_date(date(2026, 1, 31), "month")
    assert (jan.label, jan.previous().label, jan.next().label) == ("2026-01", "2025-12", "2026-02")
    dec = period_of_date(date(2025, 12, 5), "month")
    assert (dec.start, dec.end) == (date(2025, 12, 1), date(2026, 1, 1))
    # The last day of March 2026 ends at the local midnight, 22:00 UTC (summer time).
    assert period_of_date(date(2026, 3, 10), "month").bounds_utc(BERLIN)[1] == datetime(
        2026, 3, 31, 22, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        period_of_date(date(2026, 3, 1), "year")  # type: ignore[arg-type]


def test_group_by_period_and_by_key() -> None:
    rows = [
        (datetime(2026, 3, 3, 22, 30, tzinfo=UTC), "north"),  # 3 March local
        (datetime(2026, 3, 3, 23, 30, tzinfo=UTC), "south"),  # 4 March local
        (datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "north"),  # 3 March
        (None, "north"),  # no time: left out of periods
    ]
    by_day = group_by_period(rows, lambda r: r[0], "day", BERLIN)
    assert [(p.label, len(v)) for p, v in by_day.items()] == [("2026-03-03", 2), ("2026-03-04", 1)]
    by_region = group_by(rows, lambda r: r[1])
    assert {k: len(v) for k, v in by_region.items()} == {"north": 3, "south": 1}


def test_figure_with_the_previous_period() -> None:
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 3, day, hour, tzinfo=UTC)

    # Week 10 (2–8 March local): CSAT 5, 4, 2 → 2 of 3; week 9: 1, 5 → 1 of 2.
    # 1 March 23:00 UTC is 2 March 00:00 Berlin: it belongs to week 10, not week 9.
    rated = [
        (at(3, 9), 5),
        (at(1, 23), 4),
        (at(8, 12), 2),
        (at(1, 9), 1),
        (datetime(2026, 2, 24, tzinfo=UTC), 5),
        (datetime(2026, 2, 10, tzinfo=UTC), 1),  # week 7: in neither
    ]
    week10 = period_of_date(date(2026, 3, 4), "week")
    cmp = with_previous(
        rated, lambda r: r[0], week10, BERLIN, lambda rows: kpis.csat([Answer(csat=c) for _, c in rows])
    )
    assert (cmp.current.value, cmp.current.n) == (pytest.approx(200 / 3), 3)
    assert (cmp.previous.value, cmp.previous.n) == (50.0, 2)
