"""The life of each seeded ticket, simulated on epoch seconds: opening, first reply, visits
(scheduling, arrival, departure, first-time fix or a follow-up), resolution and closing.

A case is simulated to its end regardless of the present; app/seed/history.py then cuts it at
`now` (what lies after `now` has not happened yet), which yields open tickets, unscheduled and
scheduled visits for today and the coming days, and breaches of targets that ran out.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from app.seed.customers import AccountInfo, AssetInfo
from app.seed.data import FAULTS, INQUIRIES, MAINTENANCE, SLA_TARGETS, STANDARD_CALENDAR, Product
from app.seed.slots import Slots
from app.seed.world import World

PRIORITIES = ("P1", "P2", "P3", "P4")
VISIT_SHARE = {"P1": 0.9, "P2": 0.75, "P3": 0.55, "P4": 0.4}
FIXED_FIRST = 0.8
MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
PLANNING_RUN_S = 15 * 3600  # local time of the daily planning run for non-urgent visits


@dataclass(slots=True)
class Visit:
    id: int
    created: float
    sched: float
    planned: float
    checkin: float
    checkout: float
    eng: int
    dur_min: int
    fixed: bool
    skill: str
    used: list[int] = field(default_factory=list)
    expected: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    window: tuple[float, float] | None = None
    on_call: bool = False


@dataclass(slots=True)
class Case:
    account_id: int
    account_tier: str  # the customer's tier: what surveys are chosen and sliced by (not `tier`)
    contact_id: int | None
    asset: AssetInfo | None
    channel: str
    subject: str
    description: str
    category: str
    priority: str
    tier: str  # the SLA entitlement's tier on the day the case opened (the contract's, else standard)
    cal_id: int
    contract_id: int | None
    opened: float
    reply: float
    resolved: float
    closed: float
    visits: list[Visit] = field(default_factory=list)

    @property
    def targets(self) -> tuple[int, int, int]:
        return SLA_TARGETS[self.tier][self.priority]


LATE_SHARE = 0.2  # of visits in a promised window: the previous job overran, traffic


def late_by(visit_id: int, slack: float) -> float:
    """Seconds a windowed visit arrives after its plan: for about LATE_SHARE of them, 20–100
    minutes past the window's end. Derived from the id, not drawn from the random stream, so
    the rest of the history (and every earlier seed) stays as it was."""
    h = (visit_id * 2654435761) % 2**32
    if h % 1000 >= LATE_SHARE * 1000:
        return 0.0
    return slack + (20 + (h >> 10) % 81) * MIN


def poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _late(rng: random.Random, on_time: float, lo: float, hi: float) -> float:
    """A fraction of a target: mostly inside it, sometimes over it (a breach)."""
    return rng.uniform(lo, hi) if rng.random() < on_time else rng.uniform(1.05, 2.2)


class CaseMaker:
    """Simulates the cases of one account after another; ids come from the bulk writer."""

    def __init__(
        self,
        world: World,
        rng: random.Random,
        slots: Slots,
        next_id: Callable[[str], int],
        now: float,
        history_days: int,
    ) -> None:
        self.world, self.rng, self.slots, self.next_id, self.now = world, rng, slots, next_id, now
        days = world.days
        self.first = world.today - history_days
        self.std_id = world.calendars[STANDARD_CALENDAR]
        self.std = world.fast[self.std_id]
        weights, self.workdays = [], []
        for i in range(self.first, world.today + 1):
            d = days.days[i]
            weights.append(
                0.12 if d in world.holidays else (1.0, 1.0, 1.0, 1.0, 0.95, 0.22, 0.1)[d.weekday()]
            )
        total, self.cum = 0.0, []
        for wgt in weights:
            total += wgt
            self.cum.append(total)
        for i in range(self.first, min(world.today + 15, len(days.days))):
            d = days.days[i]
            if d.weekday() < 5 and d not in world.holidays:
                self.workdays.append(i)

    # --- sampling ----------------------------------------------------------------------------

    def _open_time(self, since_day: int) -> tuple[int, float] | None:
        """(day index, epoch) of an opening: weekdays, mostly business hours, never after now."""
        rng, days = self.rng, self.world.days
        for _ in range(4):
            i = self.first + min(bisect_right(self.cum, rng.random() * self.cum[-1]), len(self.cum) - 1)
            if i < since_day:
                continue
            d = days.days[i]
            if d.weekday() < 5 and d not in self.world.holidays and rng.random() < 0.87:
                secs = rng.triangular(7 * HOUR, 18 * HOUR, 9.5 * HOUR)
            else:
                secs = rng.uniform(0, DAY)
            t = days.at(i, secs)
            if t <= self.now:
                return i, t
        return None

    def planning_run(self, t: float) -> float:
        """The dispatcher's daily planning run (15:00 on working days) at or after t."""
        days = self.world.days
        i = days.day_of(t)
        while i < len(days.days):
            d = days.days[i]
            run = days.at(i, PLANNING_RUN_S)
            if d.weekday() < 5 and d not in self.world.holidays and run >= t:
                return run
            i += 1
        return t

    def _run_before(self, day: int) -> float:
        """The planning run of the last working day before `day`."""
        days, i = self.world.days, day - 1
        while i > 0 and (days.days[i].weekday() >= 5 or days.days[i] in self.world.holidays):
            i -= 1
        return days.at(i, PLANNING_RUN_S)

    def _entitlement(
        self, asset: AssetInfo | None, day: int, acc: AccountInfo | None = None
    ) -> tuple[str, int, int | None]:
        """As the app decides it: the asset's contract; without an asset, the account's."""
        c = asset.contract if asset is not None else (acc.contract if acc is not None else None)
        if c is not None and c.starts_on <= self.world.days.days[day] <= c.ends_on:
            return c.tier, c.calendar_id, c.id
        return "standard", self.std_id, None

    def _product(self, asset: AssetInfo) -> tuple[Product, list[int]]:
        _, spec, parts = self.world.products[asset.product]
        return spec, parts

    # --- cases -------------------------------------------------------------------------------

    def cases(self, acc: AccountInfo) -> list[Case]:
        rng, out = self.rng, []
        for asset in acc.assets:
            since = max(self.first, self.world.days.index(asset.since))
            for _ in range(poisson(rng, 2.45)):
                case = self._fault(acc, asset, since)
                if case is not None:
                    out.append(case)
            if asset.contract is not None:
                for _ in range(poisson(rng, 1.0)):
                    case = self._maintenance(acc, asset, since)
                    if case is not None:
                        out.append(case)
        for _ in range(poisson(rng, 0.6)):
            case = self._inquiry(acc)
            if case is not None:
                out.append(case)
        return out

    def _contact(self, acc: AccountInfo) -> int | None:
        return self.rng.choice(acc.contacts) if acc.contacts and self.rng.random() < 0.95 else None

    def _fault(self, acc: AccountInfo, asset: AssetInfo, since: int) -> Case | None:
        rng = self.rng
        opened_at = self._open_time(since)
        if opened_at is None:
            return None
        day, opened = opened_at
        spec, parts = self._product(asset)
        subject, weights = rng.choice(FAULTS[spec.category])
        prio = rng.choices(PRIORITIES, weights)[0]
        channel = rng.choices(
            ("phone", "email", "web", "api"), (80, 10, 5, 5) if prio == "P1" else (40, 35, 20, 5)
        )[0]
        tier, cal_id, contract_id = self._entitlement(asset, day)
        cal = self.world.fast[cal_id]
        fr, arr, res = SLA_TARGETS[tier][prio]
        reply = max(opened + MIN, cal.add(opened, fr * _late(rng, 0.95, 0.05, 0.9)))
        case = Case(
            acc.id,
            acc.tier,
            self._contact(acc),
            asset,
            channel,
            subject,
            f"{subject}. Betroffene Anlage: {spec.manufacturer} {spec.name} ({asset.serial}).",
            "fault",
            prio,
            tier,
            cal_id,
            contract_id,
            opened,
            reply,
            0.0,
            0.0,
        )
        if rng.random() < VISIT_SHARE[prio]:
            created = reply + rng.uniform(1, 10) * MIN
            if prio in ("P1", "P2"):
                sched = created + rng.uniform(5, 40) * MIN
            else:
                sched = self.planning_run(created + 30 * MIN)
            urgent = prio == "P1" or (prio == "P2" and tier == "platinum")  # on-call outside shifts
            early = 0.05 if prio in ("P1", "P2") else 0.3
            desired = max(cal.add(opened, arr * _late(rng, 0.95, early, 0.8)), sched + 30 * MIN)
            fixed_p = FIXED_FIRST
            for n in range(3):
                v = self._visit(
                    asset,
                    spec,
                    parts,
                    created,
                    sched,
                    desired,
                    on_call=urgent and n == 0,
                    fixed=n == 2 or rng.random() < fixed_p,
                )
                if case.visits:  # the follow-up brings what was missing
                    v.expected = list(case.visits[-1].missing)
                    if v.fixed:
                        v.used = list(dict.fromkeys(v.expected + v.used))
                case.visits.append(v)
                if v.fixed:
                    break
                v.missing = [rng.choice(parts)]  # the part that was not on the van
                fixed_p = 0.9
                created = v.checkout + rng.uniform(5, 60) * MIN
                sched = created + rng.uniform(10, 120) * MIN
                desired = max(self.std.add(v.checkout, rng.uniform(240, 1200)), sched + HOUR)
            case.resolved = case.visits[-1].checkout  # the service report resolves the ticket
        else:
            case.resolved = max(reply + 10 * MIN, cal.add(opened, res * _late(rng, 0.94, 0.05, 0.85)))
        case.closed = case.resolved + rng.uniform(2, 10) * DAY
        return case

    def _visit(
        self,
        asset: AssetInfo,
        spec: Product,
        parts: list[int],
        created: float,
        sched: float,
        desired: float,
        *,
        on_call: bool,
        fixed: bool,
    ) -> Visit:
        rng = self.rng
        dur_min = max(30, int(spec.duration * rng.uniform(0.7, 1.4) / 5) * 5)
        if on_call:
            eng, planned = self.slots.on_call(asset.region, spec.skill, desired, dur_min * MIN)
        else:
            eng, planned = self.slots.place(asset.region, spec.skill, desired, dur_min * MIN)
        checkin = max(planned + rng.uniform(-5, 20) * MIN, sched + 10 * MIN)
        checkout = checkin + dur_min * MIN * rng.uniform(0.75, 1.3)
        v = Visit(
            self.next_id("work_order"),
            created,
            sched,
            planned,
            checkin,
            checkout,
            eng,
            dur_min,
            fixed,
            spec.skill,
            on_call=on_call,
        )
        if fixed and rng.random() < 0.45:
            v.used = rng.sample(parts, min(len(parts), rng.choice((1, 1, 2))))
        return v

    def _maintenance(self, acc: AccountInfo, asset: AssetInfo, since: int) -> Case | None:
        """A planned visit in an agreed half-day window; moved to a later working day when
        no suitable engineer has room. The contract's scheduler opens the ticket ahead of it."""
        rng, days = self.rng, self.world.days
        k = rng.randrange(len(self.workdays))
        if self.workdays[k] < since:
            return None
        morning = rng.random() < 0.6
        spec, parts = self._product(asset)
        dur_min = max(30, int(spec.duration * rng.uniform(0.8, 1.2) / 5) * 5)
        found = None
        for day in self.workdays[k : k + 10]:
            w0 = days.at(day, (8 if morning else 12) * HOUR)
            w1 = w0 + 4 * HOUR
            found = self.slots.find(asset.region, spec.skill, w0, dur_min * MIN, latest=w1 - 30 * MIN)
            if found is not None:
                break
        if found is None:
            return None  # fully booked for two weeks: this maintenance is not in the plan yet
        eng, planned = found
        tier, cal_id, contract_id = self._entitlement(asset, day)
        cal = self.world.fast[cal_id]
        fr, arr, res = SLA_TARGETS[tier]["P4"]
        # at least half an hour ahead: on the calendar table's first morning `sub` answers the table's
        # start, the visit's own start, and the ticket was "opened" after its engineer checked in
        opened = min(max(cal.sub(w0, arr * rng.uniform(0.25, 0.65)), w0 - 14 * DAY), w0 - 30 * MIN)
        if opened > self.now or opened < days.midnight[self.first]:
            return None
        self.slots.book(eng, planned, dur_min * MIN)
        reply = opened + rng.uniform(1, 30) * MIN
        created = opened + rng.uniform(0.5, 5) * MIN
        # Planned in the afternoon run of the working day before the visit.
        # (never before the ticket exists: the work order is made from it)
        sched = max(min(max(self._run_before(day), reply + MIN, created + MIN), w0 - 30 * MIN), created + MIN)
        checkin = max(planned + rng.uniform(-5, 15) * MIN, sched + 10 * MIN)
        vid = self.next_id("work_order")
        checkin += late_by(vid, w1 - checkin)
        checkout = checkin + dur_min * MIN * rng.uniform(0.85, 1.2)
        v = Visit(
            vid,
            created,
            sched,
            planned,
            checkin,
            checkout,
            eng,
            dur_min,
            True,
            spec.skill,
            window=(w0, w1),
        )
        if rng.random() < 0.35:
            v.used = [rng.choice(parts)]
        subject = f"{MAINTENANCE[spec.category]}: {spec.name}"
        case = Case(
            acc.id,
            acc.tier,
            self._contact(acc),
            asset,
            "api",
            subject,
            f"Planmäßige Wartung laut Servicevertrag. Anlage {spec.manufacturer} {spec.name} "
            f"({asset.serial}).",
            "maintenance",
            "P4",
            tier,
            cal_id,
            contract_id,
            opened,
            reply,
            checkout,
            0.0,
            [v],
        )
        case.closed = case.resolved + rng.uniform(1, 7) * DAY
        return case

    def _inquiry(self, acc: AccountInfo) -> Case | None:
        rng = self.rng
        opened_at = self._open_time(self.first)
        if opened_at is None:
            return None
        day, opened = opened_at
        prio = "P4" if rng.random() < 0.8 else "P3"
        # no asset: the account's contract decides the SLA, as in the app (docs/tickets.md)
        tier, cal_id, contract_id = self._entitlement(None, day, acc)
        cal = self.world.fast[cal_id]
        fr, _, res = SLA_TARGETS[tier][prio]
        reply = max(opened + MIN, cal.add(opened, fr * _late(rng, 0.92, 0.05, 0.9)))
        resolved = max(reply + 5 * MIN, cal.add(opened, res * _late(rng, 0.95, 0.02, 0.5)))
        subject = rng.choice(INQUIRIES)
        channel = rng.choices(("email", "phone", "web"), (60, 30, 10))[0]
        return Case(
            acc.id,
            acc.tier,
            self._contact(acc),
            None,
            channel,
            subject,
            subject + ".",
            "inquiry",
            prio,
            tier,
            cal_id,
            contract_id,
            opened,
            reply,
            resolved,
            resolved + rng.uniform(1, 6) * DAY,
        )
