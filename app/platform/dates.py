"""The plan window: a plan requested through the API is for a day near today (422 naming `date`).

Every input date is already kept within `app.platform.inputs.DATE_MIN`..`DATE_MAX`, so nothing
overflows at the calendar's ends; `runs.create_run` applies that rule to tasks, triggers and the
CLI too. A person asking the API for a plan is held to more: a plan for 1900 or 2150 is a typing
mistake, not a wish, and would load and solve a day nobody will work. So `PlanDate` lies within
today ± PLAN_WINDOW_DAYS (a year back for corrections, a year ahead for promised appointments).
The seed and the CLI may plan any storable day (a demo company generated for a past date).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

PLAN_WINDOW_DAYS = 366


def plan_window() -> tuple[date, date]:
    """The first and last day a plan may be requested for, around today in UTC."""
    today, span = datetime.now(UTC).date(), timedelta(days=PLAN_WINDOW_DAYS)
    return today - span, today + span


def check_plan_date(day: date) -> date:
    """``day`` if it lies in the plan window, else ValueError saying which days do."""
    low, high = plan_window()
    if not low <= day <= high:
        raise ValueError(f"a plan date must lie between {low.isoformat()} and {high.isoformat()}")
    return day


PlanDate = Annotated[date, AfterValidator(check_plan_date)]
