"""Time helpers for the seed: Bavarian public holidays, local days and fast covered-time maths.

Bulk history needs millions of "add N minutes of business time" steps; `app.desk.sla.calendar.add_covered`
walks day by day, so `FastCalendar` precomputes the working intervals of the seeded period (from
`app.desk.sla.calendar.day_intervals`, hence the same windows, breaks, holidays and DST handling) with prefix
sums and answers by bisection. Outside that period it falls back to `app.desk.sla.calendar.add_covered`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.desk.sla import calendar as sla


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month = (h + ll - 7 * m + 114) // 31
    day = (h + ll - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def bavarian_holidays(year: int) -> list[tuple[date, str]]:
    """Public holidays in Munich (Bavaria; Assumption Day applies in Munich)."""
    e = easter(year)
    return sorted(
        [
            (date(year, 1, 1), "Neujahr"),
            (date(year, 1, 6), "Heilige Drei Könige"),
            (e - timedelta(days=2), "Karfreitag"),
            (e + timedelta(days=1), "Ostermontag"),
            (date(year, 5, 1), "Tag der Arbeit"),
            (e + timedelta(days=39), "Christi Himmelfahrt"),
            (e + timedelta(days=50), "Pfingstmontag"),
            (e + timedelta(days=60), "Fronleichnam"),
            (date(year, 8, 15), "Mariä Himmelfahrt"),
            (date(year, 10, 3), "Tag der Deutschen Einheit"),
            (date(year, 11, 1), "Allerheiligen"),
            (date(year, 12, 25), "1. Weihnachtstag"),
            (date(year, 12, 26), "2. Weihnachtstag"),
        ]
    )


class LocalDays:
    """Local dates of a period and the UTC epoch second of each local midnight."""

    def __init__(self, tz: ZoneInfo, first: date, last: date) -> None:
        self.tz, self.first = tz, first
        self.days: list[date] = []
        self.midnight: list[float] = []
        d = first
        while d <= last:
            self.days.append(d)
            self.midnight.append(datetime.combine(d, time(), tzinfo=tz).timestamp())
            d += timedelta(days=1)

    def index(self, day: date) -> int:
        return (day - self.first).days

    def at(self, i: int, seconds: float) -> float:
        """Epoch of a local wall-clock time (seconds after midnight) on day index i.

        On a DST change day the offset of midnight applies; only 02:00–03:00 is affected."""
        return self.midnight[i] + seconds

    def day_of(self, t: float) -> int:
        return bisect_right(self.midnight, t) - 1


class FastCalendar:
    """Covered-time arithmetic on epoch seconds over a precomputed period."""

    def __init__(self, cal: sla.Calendar, first: date, last: date) -> None:
        self.cal = cal
        self.always = cal.always_open
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.cum: list[float] = [0.0]  # cum[k]: covered seconds before interval k
        d = first
        while d <= last:
            for s, e in sla.day_intervals(cal, d):
                a, b = s.timestamp(), e.timestamp()
                self.starts.append(a)
                self.ends.append(b)
                self.cum.append(self.cum[-1] + b - a)
            d += timedelta(days=1)

    def _pos(self, t: float) -> tuple[int, float] | None:
        """(index of the first interval ending after t, covered seconds before t)."""
        i = bisect_right(self.ends, t)
        if i >= len(self.starts) or not self.starts or t < self.starts[0]:
            return None
        return i, self.cum[i] + max(0.0, t - self.starts[i])

    def add(self, t: float, minutes: float) -> float:
        """The instant `minutes` of covered time after t (same rule as app.desk.sla.calendar.add_covered)."""
        if self.always or minutes <= 0:
            return t + max(minutes, 0.0) * 60
        pos = self._pos(t)
        if pos is not None:
            i, covered = pos
            target = covered + minutes * 60
            k = bisect_left(self.cum, target, lo=i + 1)
            if k < len(self.cum):
                j = k - 1
                return self.starts[j] + (target - self.cum[j])
        due = sla.add_covered(self.cal, datetime.fromtimestamp(t, UTC), timedelta(minutes=minutes))
        return due.timestamp()

    def sub(self, t: float, minutes: float) -> float:
        """The latest instant s with `minutes` of covered time in [s, t) (t itself if none)."""
        if self.always or minutes <= 0:
            return t - max(minutes, 0.0) * 60
        pos = self._pos(t)
        if pos is None:
            return t - minutes * 60  # outside the table: a plain approximation is enough here
        _, covered = pos
        target = covered - minutes * 60
        if target <= 0:
            return self.starts[0]
        k = bisect_left(self.cum, target)  # interval k-1 holds the target
        j = k - 1
        return self.starts[j] + (target - self.cum[j])

    def covered(self, a: float, b: float) -> float:
        """Covered seconds in [a, b)."""
        if b <= a:
            return 0.0
        if self.always:
            return b - a
        pa, pb = self._pos(a), self._pos(b)
        if pa is None or pb is None:
            start, end = datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC)
            return sla.covered(self.cal, start, end).total_seconds()
        return pb[1] - pa[1]
