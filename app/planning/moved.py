"""A visit of the published plan scheduled by hand since it was published: where it stands now.

Scheduling by hand queues a re-plan that keeps the visit at its new start (seconds with workers,
or a proposal waiting to be accepted). Until it publishes, the plan's stop still has the old
start; the board and the engineer's route both read this one answer, so they show the visit in the
same place (the route listed a visit moved to another day on its old day, the board did not).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from app.models import WorkOrderStatus

ELSEWHERE = datetime.min.replace(tzinfo=UTC)  # `moved_start`: the visit now stands on another day


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def moved_start(
    status: str, planned_start_at: datetime | None, stop_start_at: datetime | None, day: date, tz: ZoneInfo
) -> datetime | None:
    """The start a still-scheduled visit was given since the plan put it at `stop_start_at`, or
    `ELSEWHERE` when that start is on another day than the plan's `day`; None when it stands as
    planned. Only a scheduled visit: one on its way or started is where its engineer is."""
    if status != WorkOrderStatus.scheduled.value or planned_start_at is None or stop_start_at is None:
        return None
    start = _aware(planned_start_at)
    if start == _aware(stop_start_at):
        return None
    return start if start.astimezone(tz).date() == day else ELSEWHERE
