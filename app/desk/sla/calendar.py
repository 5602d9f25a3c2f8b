"""SLA maths: business-hours calendars and replay of the SLA clock ledger. Pure functions.

Covered time is real elapsed time (UTC) that falls inside the calendar's working windows, so a
working day that spans a DST change counts its true length. Windows are local wall-clock times
per weekday (breaks are the gaps between windows); holidays are local dates.

The SLA clock is a ledger of events (start, pause, resume, stop, retarget, met, breach, withdraw:
a `met` taken back, e.g. a check-in undone; it names the entry it cancels). Due
times are never stored as the truth: they are replayed from the ledger — covered time elapsed
while the clock ran — so re-targeting (priority or contract change) keeps all paused time.
The database side (loading rows, writing events) lives in app/desk/sla/clock.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

METRICS = ("first_response", "arrival", "resolution")
# Used when no SlaTarget row exists for the tier × priority nor for 'standard' × priority:
# minutes of covered time (first response, on-site arrival, resolution).
DEFAULT_TARGETS: dict[str, dict[str, int]] = {
    "P1": {"first_response": 30, "arrival": 240, "resolution": 480},
    "P2": {"first_response": 60, "arrival": 480, "resolution": 960},
    "P3": {"first_response": 240, "arrival": 1440, "resolution": 2400},
    "P4": {"first_response": 480, "arrival": 2400, "resolution": 4800},
}
# A calendar without a single working minute in this many days is refused (no endless search).
MAX_SEARCH_DAYS = 800

Window = tuple[int, int]  # minutes after local midnight, [start, end), end may be 1440


@dataclass(frozen=True)
class Calendar:
    """Working windows per weekday (0=Mon), a timezone and holidays (local dates)."""

    tz: ZoneInfo
    windows: Mapping[int, tuple[Window, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False  # 24×7 coverage: every instant counts, holidays included
    # day → its intervals, filled by day_intervals: covered() over many tickets (KPIs in business
    # time) asks for the same few hundred days millions of times, and each costs zone maths.
    memo: dict[date, list[tuple[datetime, datetime]]] = field(default_factory=dict, compare=False, repr=False)


def _minutes(text: str) -> int:
    try:
        hh, mm = text.split(":")
        h, m = int(hh), int(mm)
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"time {text!r} is not HH:MM") from exc
    if not (0 <= m < 60 and (0 <= h < 24 or (h == 24 and m == 0))):
        raise ValueError(f"time {text!r} is out of range")
    return h * 60 + m


def parse_hours(hours: Mapping[str, Any]) -> dict[int, tuple[Window, ...]]:
    """{"0": [["08:00","12:00"], ["13:00","17:00"]], ...} → sorted, non-overlapping windows."""
    out: dict[int, tuple[Window, ...]] = {}
    for key, spans in hours.items():
        try:
            weekday = int(key)
        except ValueError as exc:
            raise ValueError(f"weekday key {key!r} is not 0..6") from exc
        if not 0 <= weekday <= 6:
            raise ValueError(f"weekday key {key!r} is not 0..6")
        windows = []
        for span in spans or []:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise ValueError(f"window {span!r} on weekday {weekday} is not [start, end]")
            start, end = _minutes(span[0]), _minutes(span[1])
            if start >= end:
                raise ValueError(f"window {span!r} on weekday {weekday} ends before it starts")
            windows.append((start, end))
        windows.sort()
        for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
            if start < end:
                raise ValueError(f"windows on weekday {weekday} overlap")
        if windows:
            out[weekday] = tuple(windows)
    return out


def make_calendar(
    *, timezone: str, hours: Mapping[str, Any], holidays: Sequence[date] = (), always_open: bool = False
) -> Calendar:
    try:
        tz = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc
    return Calendar(tz=tz, windows=parse_hours(hours), holidays=frozenset(holidays), always_open=always_open)


def _instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Local wall-clock minute of a day → UTC. 24:00 is the next midnight. In a spring-forward
    gap the pre-transition offset applies (fold=0), i.e. the instant just after the jump."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    return wall.replace(tzinfo=tz).astimezone(UTC)


def day_intervals(cal: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    """Working intervals (UTC) of one local date (callers must not change the list: it is kept)."""
    known = cal.memo.get(day)
    if known is None:
        known = cal.memo[day] = _day_intervals(cal, day)
    return known


def _day_intervals(cal: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    if cal.always_open:
        return [(_instant(day, 0, cal.tz), _instant(day, 1440, cal.tz))]
    if day in cal.holidays:
        return []
    out = []
    for start, end in cal.windows.get(day.weekday(), ()):
        s, e = _instant(day, start, cal.tz), _instant(day, end, cal.tz)
        if s < e:  # a window entirely inside a DST gap has no real time
            out.append((s, e))
    return out


def _intervals_from(cal: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working intervals ending after `start`, in time order, for up to MAX_SEARCH_DAYS of
    consecutive days without any working time."""
    day = start.astimezone(cal.tz).date() - timedelta(days=1)
    idle = 0
    while idle <= MAX_SEARCH_DAYS:
        found = False
        for s, e in day_intervals(cal, day):
            if e > start:
                found = True
                yield s, e
        idle = 0 if found else idle + 1
        day += timedelta(days=1)
    raise ValueError(f"the calendar has no working time within {MAX_SEARCH_DAYS} days")


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime given; use timezone-aware UTC")
    return dt.astimezone(UTC)


def covered(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    """Working time inside [start, end)."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        return timedelta(0)
    if cal.always_open:
        return end - start
    total = timedelta(0)
    day = start.astimezone(cal.tz).date() - timedelta(days=1)
    last = end.astimezone(cal.tz).date() + timedelta(days=1)
    while day <= last:
        for s, e in day_intervals(cal, day):
            lo, hi = max(s, start), min(e, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total


def add_covered(cal: Calendar, start: datetime, amount: timedelta) -> datetime:
    """The earliest instant at which `amount` of working time has passed since `start`.

    A target that is used up exactly at the end of a window is due at that end (17:00), not
    at the next opening.
    """
    start = _aware(start)
    if amount <= timedelta(0):
        return start
    if cal.always_open:
        return start + amount
    for s, e in _intervals_from(cal, start):
        lo = max(s, start)
        available = e - lo
        if amount <= available:
            return lo + amount
        amount -= available
    raise AssertionError("unreachable")  # _intervals_from raises when it gives up


# --- the ledger -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One SLA ledger event, as plain data."""

    at: datetime
    kind: str  # start, pause, resume, stop, retarget, met, breach, withdraw
    metric: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


Segment = tuple[datetime, datetime | None]  # the clock ran from .. to (None: still running)


def running_segments(entries: Sequence[Entry], *, until: datetime | None = None) -> list[Segment]:
    """When the clock ran: opened by start/resume, closed by pause/stop (clock-wide events,
    metric None). Events at or after `until` are ignored. Repeated pauses or resumes are
    harmless (a pause while paused changes nothing)."""
    segments: list[Segment] = []
    running_since: datetime | None = None
    started = False
    for e in sorted(entries, key=lambda x: x.at):
        if e.metric is not None or (until is not None and e.at >= until):
            continue
        if e.kind == "start" and not started:
            started, running_since = True, e.at
        elif e.kind == "resume" and started and running_since is None:
            running_since = e.at
        elif e.kind in ("pause", "stop") and running_since is not None:
            if e.at > running_since:
                segments.append((running_since, e.at))
            running_since = None
    if running_since is not None:
        segments.append((running_since, None))
    return segments


def metric_segments(entries: Sequence[Entry], achieved_at: datetime | None) -> list[Segment]:
    """The clock of one metric. Once the metric is achieved its clock is frozen: later pauses
    must not move its due time, so from `achieved_at` on it runs without interruption."""
    if achieved_at is None:
        return running_segments(entries)
    segments = running_segments(entries, until=achieved_at)
    if segments and segments[-1][1] is None:
        return segments
    segments = [(s, e if e is not None and e <= achieved_at else achieved_at) for s, e in segments]
    return [*segments, (achieved_at, None)]


def elapsed(cal: Calendar, segments: Sequence[Segment], now: datetime) -> timedelta:
    """Covered time during which the clock ran, up to `now`."""
    total = timedelta(0)
    for s, e in segments:
        end = now if e is None else min(e, now)
        total += covered(cal, s, end)
    return total


def due_at(cal: Calendar, segments: Sequence[Segment], target: timedelta) -> datetime | None:
    """The instant the clock reaches `target`; None while it is paused short of it."""
    left = target
    for s, e in segments:
        if e is None:
            return add_covered(cal, s, left)
        used = covered(cal, s, e)
        if left <= used:
            return add_covered(cal, s, left)
        left -= used
    return None


def wall_paused(segments: Sequence[Segment], *, started: datetime | None, until: datetime) -> timedelta:
    """Wall-clock time between the first start and `until` while the clock did not run."""
    if started is None:
        return timedelta(0)
    ran = sum(((min(e or until, until) - s) for s, e in segments if s < until), timedelta(0))
    return max(until - started - ran, timedelta(0))


def current_targets(entries: Sequence[Entry]) -> dict[str, Any]:
    """Targets and entitlement from the latest start or retarget event."""
    latest: Entry | None = None
    for e in sorted(entries, key=lambda x: x.at):
        if e.kind in ("start", "retarget") and e.metric is None:
            latest = e
    if latest is None:
        return {}
    data = latest.data
    return dict(data.get("to", data))
