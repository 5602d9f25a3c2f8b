"""The part of a day an absence takes, as pure functions every reader shares (the shift calendar,
planning's input, the board, the utilisation KPI), so "absent until 10:30" means one thing.

An absence's `from_time` and `until_time` are the region's clock (app.models.Absence): neither,
the whole day; from only, from then on; until only, until then (a late start); both, between
them (a gap: working before and after).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import TypeVar

# The shift's bounds and the absence's are of one kind: times of day, or instants.
Clock = TypeVar("Clock", time, datetime)


def whole_day(from_time: time | None, until_time: time | None) -> bool:
    return from_time is None and until_time is None


def text(from_time: time | None, until_time: time | None) -> str:
    """'from 13:00', 'until 10:30', '13:00–15:00'; '' for the whole day."""
    if from_time is not None and until_time is not None:
        return f"{from_time:%H:%M}–{until_time:%H:%M}"
    if from_time is not None:
        return f"from {from_time:%H:%M}"
    if until_time is not None:
        return f"until {until_time:%H:%M}"
    return ""


def order_problem(from_time: time | None, until_time: time | None) -> str | None:
    """Why the two times cannot make one absence (None when they can): a gap ends after it starts,
    and "until 00:00" would be no absence at all."""
    if until_time is not None and until_time == time(0):
        return "must be after 00:00 (absent until midnight is no absence; leave it empty for the whole day)"
    if from_time is not None and until_time is not None and until_time <= from_time:
        return (
            f"must be after the time absent from ({from_time:%H:%M}): absent {from_time:%H:%M} to "
            f"{until_time:%H:%M} is no stretch of one day"
        )
    return None


def remaining(
    starts: Clock, ends: Clock, away_from: Clock | None, away_until: Clock | None
) -> tuple[Clock, Clock, tuple[Clock, Clock] | None] | None:
    """The working time [starts, ends) less the absence [away_from, away_until) (None: open on that
    side): the new start and end, and the gap left inside it (None when the absence only moves a
    start or an end, or misses the shift). None: nothing is left to work."""
    if away_from is None and away_until is None:
        return None
    if (away_until is not None and away_until <= starts) or (away_from is not None and away_from >= ends):
        return starts, ends, None
    covers_start = away_from is None or away_from <= starts
    covers_end = away_until is None or away_until >= ends
    if covers_start and covers_end:
        return None
    if covers_start:
        assert away_until is not None
        return away_until, ends, None
    assert away_from is not None
    if covers_end:
        return starts, away_from, None
    assert away_until is not None
    return starts, ends, (away_from, away_until)
