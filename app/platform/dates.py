"""Bounded dates for inputs: a far-off day is refused with a 422 naming the field, never a 500.

Local-day arithmetic (a day's midnight in a time zone, the day after, a week's window) overflows
at the ends of the calendar (`date.max + 1 day` raises OverflowError), and a plan for 1900 or 9999
is a typing mistake, not a wish. Two windows:

- `PlanDate`: what can be planned — today ± PLAN_WINDOW_DAYS (a year back for corrections, a year
  ahead for promised appointments);
- `QueryDate`: any day a read may ask about (routes, shifts, lists) — QUERY_MIN … QUERY_MAX, wide
  enough for every real record and far from the calendar's ends; `BoundedDateTime` the same for
  an aware instant (visit windows, appointments, ETAs: an appointment may be years ahead).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

PLAN_WINDOW_DAYS = 366
QUERY_MIN = date(2000, 1, 1)
QUERY_MAX = date(2099, 12, 31)


def today_utc() -> date:
    return datetime.now(UTC).date()


def plan_window(today: date | None = None) -> tuple[date, date]:
    today = today or today_utc()
    span = timedelta(days=PLAN_WINDOW_DAYS)
    return today - span, today + span


def date_problem(day: date, *, plan: bool) -> str | None:
    """Why `day` is refused, or None. (Services call this too: tasks and the CLI are bounded.)"""
    low, high = plan_window() if plan else (QUERY_MIN, QUERY_MAX)
    if low <= day <= high:
        return None
    return f"must lie between {low.isoformat()} and {high.isoformat()}"


def _plan_date(day: date) -> date:
    problem = date_problem(day, plan=True)
    if problem:
        raise ValueError(f"a plan date {problem}")
    return day


def _query_date(day: date) -> date:
    problem = date_problem(day, plan=False)
    if problem:
        raise ValueError(f"the date {problem}")
    return day


PlanDate = Annotated[date, AfterValidator(_plan_date)]
QueryDate = Annotated[date, AfterValidator(_query_date)]


def instant_problem(at: datetime) -> str | None:
    """Why the aware instant `at` is refused, or None."""
    try:
        day = at.astimezone(UTC).date()
    except OverflowError:  # 0001-01-01T00:30+01:00 has no UTC day
        day = date.min
    problem = date_problem(day, plan=False)
    return f"the date {problem}" if problem else None


def _bounded_datetime(at: datetime) -> datetime:
    problem = instant_problem(at)
    if problem:
        raise ValueError(problem)
    return at


BoundedDateTime = Annotated[AwareDatetime, AfterValidator(_bounded_datetime)]
