"""Engineer time for the seeded visits: each visit gets a start inside a shift (outside the break),
never overlapping another visit of the same engineer (plus travel), so utilisation is true.
On-call emergencies (outside shifts) are the exception: they take the engineer when needed."""

from __future__ import annotations

import random

from app.seed.world import World

TRAVEL_S = 25 * 60
MAX_DAYS_AHEAD = 30


class Slots:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world, self.rng = world, rng
        self.busy: dict[int, list[float]] = {}  # engineer index * 10000 + day index → [s0, e0, s1, ...]

    def _free(self, eng: int, day: int) -> list[tuple[float, float]]:
        """Free gaps of an engineer's working day (shift minus break minus booked visits)."""
        days = self.world.days
        if day >= len(days.days):
            return []
        d = days.days[day]
        shift = self.world.engineers[eng].shifts.get(d.weekday())
        if shift is None or d in self.world.holidays:
            return []
        s, bs, be, e = (days.at(day, x) for x in shift)
        gaps = [(s, bs), (be, e)]
        booked = self.busy.get(eng * 10000 + day, ())
        for i in range(0, len(booked), 2):
            b0, b1 = booked[i], booked[i + 1]
            nxt = []
            for g0, g1 in gaps:
                if b1 <= g0 or b0 >= g1:
                    nxt.append((g0, g1))
                    continue
                if g0 < b0:
                    nxt.append((g0, b0))
                if b1 < g1:
                    nxt.append((b1, g1))
            gaps = nxt
        return gaps

    def earliest(self, eng: int, t: float, dur: float, latest: float | None = None) -> float | None:
        """First start ≥ t that fits; with `latest` (a time window) only that day, start ≤ latest."""
        day = self.world.days.day_of(t)
        for d in range(day, day + (1 if latest is not None else MAX_DAYS_AHEAD)):
            for g0, g1 in self._free(eng, d):
                start = max(g0, t)
                if start + dur <= g1:
                    return None if latest is not None and start > latest else start
        return None

    def book(self, eng: int, start: float, dur: float) -> None:
        day = self.world.days.day_of(start)
        self.busy.setdefault(eng * 10000 + day, []).extend((start, start + dur + TRAVEL_S))

    def candidates(self, region: str, skill: str) -> list[int]:
        return self.world.by_region_skill.get((region, skill)) or self.world.by_skill.get(skill) or [0]

    def find(
        self, region: str, skill: str, t: float, dur: float, latest: float | None = None
    ) -> tuple[int, float] | None:
        """The better of two random suitable engineers (earliest start ≥ t), else the best of
        up to eight more; with a time window (`latest`) only that day counts. Books nothing."""
        cands = self.candidates(region, skill)
        # Two random picks, then up to eight more: bounded work however large the team is.
        picks = self.rng.sample(cands, min(10, len(cands)))
        for group in (picks[:2], picks[2:]):
            best: tuple[float, int] | None = None
            for eng in group:
                start = self.earliest(eng, t, dur, latest)
                if start is not None and (best is None or start < best[0]):
                    best = (start, eng)
            if best is not None:
                return best[1], best[0]
        return None

    def place(self, region: str, skill: str, t: float, dur: float) -> tuple[int, float]:
        """Find and book. Only when no suitable engineer has room within MAX_DAYS_AHEAD days is
        the visit put at the desired time anyway (an overbooked day)."""
        found = self.find(region, skill, t, dur)
        eng, start = found if found is not None else (self.candidates(region, skill)[0], t)
        self.book(eng, start, dur)
        return eng, start

    def on_call(self, region: str, skill: str, t: float, dur: float) -> tuple[int, float]:
        """An emergency outside shifts (on-call duty): the desired time, any suitable engineer."""
        eng = self.rng.choice(self.candidates(region, skill))
        self.book(eng, t, dur)
        return eng, t
