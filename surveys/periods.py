"""Grouping by local period (day, ISO week, month in an IANA time zone) and by arbitrary keys.

A visit at 23:30 Berlin time on 3 March counts on 3 March, although it is 22:30 UTC: periods are
the region's local calendar, not UTC. Period bounds are returned as aware UTC instants, so a
day with a DST change is 23 or 25 hours long, as it really is.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month"]
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A local calendar period: ``start`` inclusive, ``end`` exclusive (local dates)."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    def previous(self) -> Period:
        return period_of_date(self.start - timedelta(days=1), self.kind)

    def next(self) -> Period:
        return period_of_date(self.end, self.kind)

    def bounds_utc(self, tz: str) -> tuple[datetime, datetime]:
        """The period as [start, end) UTC instants: local midnights converted with their offsets."""
        zone = ZoneInfo(tz)
        lo = datetime.combine(self.start, time(0), zone).astimezone(UTC)
        hi = datetime.combine(self.end, time(0), zone).astimezone(UTC)
        return lo, hi


def period_of_date(day: date, kind: PeriodKind) -> Period:
    if kind == "day":
        return Period(kind, day, day + timedelta(days=1))
    if kind == "week":
        start = day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        return Period(kind, start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return Period(kind, start, end)
    raise ValueError(f"unknown period {kind!r}: day, week or month")


def local_date(at: datetime, tz: str) -> date:
    """The calendar date of instant ``at`` in zone ``tz``; naive datetimes are refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone: give instants as aware datetimes")
    return at.astimezone(ZoneInfo(tz)).date()


def period_of(at: datetime, kind: PeriodKind, tz: str) -> Period:
    return period_of_date(local_date(at, tz), kind)


def group_by_period(
    items: Iterable[T], at: Callable[[T], datetime | None], kind: PeriodKind, tz: str
) -> dict[Period, list[T]]:
    """Items by the local period of ``at(item)``, sorted by period; items with no time are left out."""
    groups: dict[Period, list[T]] = {}
    for item in items:
        when = at(item)
        if when is not None:
            groups.setdefault(period_of(when, kind, tz), []).append(item)
    return dict(sorted(groups.items()))


def group_by(items: Iterable[T], key: Callable[[T], K]) -> dict[K, list[T]]:
    """Items by ``key(item)``, in order of first appearance."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


@dataclass(frozen=True, slots=True)
class Comparison(Generic[V]):
    """A figure for a period next to the same figure for the period before."""

    period: Period
    current: V
    previous: V


def with_previous(
    items: Iterable[T],
    at: Callable[[T], datetime | None],
    period: Period,
    tz: str,
    compute: Callable[[list[T]], V],
) -> Comparison[V]:
    """``compute`` over the items of ``period`` and over those of the period before."""
    prev = period.previous()
    current: list[T] = []
    before: list[T] = []
    for item in items:
        when = at(item)
        if when is None:
            continue
        day = local_date(when, tz)
        if period.start <= day < period.end:
            current.append(item)
        elif prev.start <= day < prev.end:
            before.append(item)
    return Comparison(period, compute(current), compute(before))
