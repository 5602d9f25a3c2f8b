"""Plain, frozen data in and out of the engine, and input validation.

Times are integer seconds from a reference the caller chooses (midnight of the plan day, say);
distances are integer metres. A location is either ``(lat, lon)`` in degrees, resolved by a
matrix provider, or an ``int`` row of an explicit :class:`TravelMatrix` given with the problem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Location = tuple[float, float] | int
Window = tuple[int, int]

# Bounds that keep every integer the solver sums comfortably inside 64 (indeed 32) bits.
MAX_ABS_TIME_S = 10**9  # times and durations, seconds (about 31 years)
MAX_QUANTITY = 10**9  # parts, capacity, demand
DEFAULT_PRIORITY_WEIGHTS: Mapping[int, int] = {1: 1_000_000, 2: 100, 3: 10, 4: 1}
UnassignedReason = Literal[
    "no_skill",  # no engineer has every required skill (or the pinned one lacks it)
    "no_part",  # the parts are in no van of a capable engineer and in no warehouse
    "window_unreachable",  # no capable engineer can reach it inside a window within the shift
    "no_capacity",  # serveable on its own, but the day is full of more valuable work
    "off_shift",  # an engineer has the skills, but no shift (or on-call cover for it) fits its window
    "cancelled",
]


@dataclass(frozen=True, slots=True)
class Break:
    """A break of ``duration_s`` that must start inside ``window`` (where the engineer is)."""

    window: Window
    duration_s: int


@dataclass(frozen=True, slots=True)
class Engineer:
    id: str
    start: Location
    end: Location | None = None  # None: back to start
    shift: Window = (8 * 3600, 17 * 3600)
    skills: frozenset[str] = frozenset()
    stock: Mapping[str, int] = field(default_factory=dict)  # van stock, part -> quantity
    breaks: tuple[Break, ...] = ()
    capacity: int | None = None  # plain VRP load capacity (sum of job demand); None = unlimited
    overtime_s: int = 0  # may work this long past shift end, if Settings.overtime_allowed
    # On-call (standby) cover: serves only jobs marked `Job.on_call_ok`, and a day that uses
    # it at all costs `fixed_cost` once (the call-out), so standby is used only when needed.
    on_call: bool = False
    fixed_cost: int = 0  # objective cost charged once if the engineer serves any job

    def __post_init__(self) -> None:
        # Accept lists/sets from callers but keep the instance immutable and picklable.
        _check_skills(f"engineer {self.id}", self.skills)
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "stock", dict(self.stock))
        object.__setattr__(self, "shift", _window(self.shift, f"engineer {self.id} shift"))
        object.__setattr__(self, "breaks", tuple(self.breaks))

    @property
    def end_location(self) -> Location:
        return self.start if self.end is None else self.end


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    location: Location
    duration_s: int
    windows: tuple[Window, ...] = ()  # service starts inside one; () = any time
    skills: frozenset[str] = frozenset()  # all required
    parts: Mapping[str, int] = field(default_factory=dict)  # consumed at the job
    priority: int = 3  # 1 emergency ... 4 low
    sla_deadline: int | None = None  # service should start by then; later costs lateness
    pinned_engineer: str | None = None  # only this engineer may serve it
    appointment: Window | None = None  # promised arrival window; starting outside is penalised
    demand: int = 0  # plain VRP load
    on_call_ok: bool = False  # an on-call engineer (`Engineer.on_call`) may serve it

    def __post_init__(self) -> None:
        _check_skills(f"job {self.id}", self.skills)
        object.__setattr__(self, "skills", frozenset(self.skills))
        object.__setattr__(self, "parts", dict(self.parts))
        what = f"job {self.id} window"
        object.__setattr__(self, "windows", tuple(sorted(_window(w, what) for w in self.windows)))
        if self.appointment is not None:
            object.__setattr__(self, "appointment", _window(self.appointment, f"job {self.id} appointment"))


@dataclass(frozen=True, slots=True)
class Warehouse:
    id: str
    location: Location
    open: Window
    pickup_s: int = 600  # time spent per pickup stop, whatever is taken
    stock: Mapping[str, int] = field(default_factory=dict)  # shared by all engineers for the day

    def __post_init__(self) -> None:
        object.__setattr__(self, "stock", dict(self.stock))
        object.__setattr__(self, "open", _window(self.open, f"warehouse {self.id} opening hours"))


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Explicit square matrices of integer metres and seconds (row = from, column = to)."""

    distance_m: np.ndarray
    duration_s: np.ndarray
    estimated: bool = False  # True when a fallback produced (some of) it

    def __post_init__(self) -> None:
        d = np.asarray(self.distance_m, dtype=np.int64)
        t = np.asarray(self.duration_s, dtype=np.int64)
        if d.ndim != 2 or d.shape[0] != d.shape[1] or t.shape != d.shape:
            raise ValueError(
                f"travel matrix must be two square tables of equal size, got {d.shape} and {t.shape}"
            )
        if (d < 0).any() or (t < 0).any():
            raise ValueError("travel matrix has negative distances or durations")
        object.__setattr__(self, "distance_m", d)
        object.__setattr__(self, "duration_s", t)

    @property
    def size(self) -> int:
        return int(self.distance_m.shape[0])


@dataclass(frozen=True, slots=True)
class Settings:
    """Objective weights and search options. Costs are integers in one unit (1 = one metre)."""

    # Cost of leaving a job unserved, per priority. The default emergency weight exceeds all the
    # lower-priority work a day of 100 engineers can hold, so an emergency is dropped only when
    # no plan can serve it.
    priority_weights: Mapping[int, int] = field(default_factory=lambda: dict(DEFAULT_PRIORITY_WEIGHTS))
    weight_cost: int = 1_000_000  # objective cost of one unit of unserved weight
    lateness_cost_per_s: int = 100  # per second a job starts after its SLA deadline
    travel_cost_per_m: int = 1
    travel_cost_per_s: int = 0
    overtime_allowed: bool = False
    overtime_cost_per_s: int = 50  # per second worked past shift end (within Engineer.overtime_s)
    disruption_cost_per_s: int = 20  # per second a promised appointment is missed by
    # Per second an emergency (priority 1) starts after it first could (its earliest window opens,
    # the day's first shift starts). Waiting costs nothing else, so without it a visit fixed in the
    # afternoon made "before it" and "after it" cost the same and the search could put the
    # emergency behind it, hours later, with the morning empty. At 1, an hour sooner is worth
    # 3.6 km of travel.
    urgent_cost_per_s: int = 1
    # Starting outside a promised appointment at all costs like leaving a job of this priority
    # weight unserved: re-planning then breaks promises for urgent work, not for routine work.
    promise_weight: int = 10
    allow_unserved: bool = True  # False: every job must be served (plain VRPTW benchmarks)
    # Search. first_solution: "auto", "own" (numpy regret insertion), "parallel_insertion",
    # "savings", "path_cheapest_arc", "global_insertion", "local_insertion".
    first_solution: str = "auto"
    metaheuristic: str = "gls"  # "gls", "ils", "tabu", "sa", "greedy"
    gls_lambda: float = 0.1
    workers: int = 2  # solver processes run side by side, differently configured; best kept
    deterministic: bool = False  # one worker, same seed + solution_limit -> same plan

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "priority_weights", {int(k): int(v) for k, v in self.priority_weights.items()}
        )


@dataclass(frozen=True, slots=True)
class Problem:
    engineers: tuple[Engineer, ...]
    jobs: tuple[Job, ...]
    warehouses: tuple[Warehouse, ...] = ()
    settings: Settings = field(default_factory=Settings)
    matrix: TravelMatrix | None = None  # when given, every location is an int row of it
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "engineers", tuple(self.engineers))
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "warehouses", tuple(self.warehouses))
        validate(self)


# ------------------------------------------------------------------------------------- results
@dataclass(frozen=True, slots=True)
class Stop:
    kind: Literal["job", "pickup", "break"]
    id: str  # job id, warehouse id, or "break"
    arrival: int
    start: int
    end: int
    parts: Mapping[str, int] = field(default_factory=dict)  # picked up, or consumed at a job
    late_s: int = 0  # start past the SLA deadline


@dataclass(frozen=True, slots=True)
class Route:
    engineer_id: str
    stops: tuple[Stop, ...]
    departure: int
    arrival_home: int
    travel_m: int
    travel_s: int

    @property
    def job_ids(self) -> list[str]:
        return [s.id for s in self.stops if s.kind == "job"]


@dataclass(frozen=True, slots=True)
class Unassigned:
    job_id: str
    reason: UnassignedReason
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    objective: int
    unserved_weight: int
    lateness_s: int
    travel_m: int
    overtime_s: int = 0
    estimated: bool = False  # travel times came (partly) from a fallback estimate
    stats: dict[str, Any] = field(default_factory=dict)
    problem: Problem | None = field(default=None, repr=False, compare=False)
    matrix: TravelMatrix | None = field(default=None, repr=False, compare=False)

    def route_of(self, engineer_id: str) -> Route | None:
        return next((r for r in self.routes if r.engineer_id == engineer_id), None)

    def is_feasible(self) -> bool:
        """Re-check every constraint independently of the solver (pure Python)."""
        from .check import check_plan

        return not check_plan(self)

    def violations(self) -> list[str]:
        from .check import check_plan

        return check_plan(self)

    def summary(self) -> str:
        served = sum(len(r.job_ids) for r in self.routes)
        total = served + len(self.unassigned)
        lines = [
            f"served {served}/{total} jobs, unserved weight {self.unserved_weight}, "
            f"travel {self.travel_m / 1000:.1f} km, lateness {self.lateness_s} s, "
            f"overtime {self.overtime_s} s, objective {self.objective}"
            + (" (travel times estimated)" if self.estimated else ""),
        ]
        for r in self.routes:
            if r.stops:
                lines.append(
                    f"  {r.engineer_id}: {len(r.job_ids)} jobs, {r.travel_m / 1000:.1f} km, "
                    f"{_hhmm(r.departure)}-{_hhmm(r.arrival_home)}"
                )
        by_reason: dict[str, int] = {}
        for u in self.unassigned:
            by_reason[u.reason] = by_reason.get(u.reason, 0) + 1
        if by_reason:
            lines.append("  unassigned: " + ", ".join(f"{k} {v}" for k, v in by_reason.items()))
        return "\n".join(lines)


# ---------------------------------------------------------------------------------- validation
def _window(w: Any, what: str = "") -> Window:
    try:
        a, b = w
        return (int(a), int(b))
    except (TypeError, ValueError, OverflowError):
        where = f"{what}: " if what else ""
        raise ValueError(f"{where}a time window is a pair (from, to) of finite seconds, got {w!r}") from None


def _check_skills(what: str, skills: Any) -> None:
    # A string is iterable too: "ELEC" would silently become the skills E, L, C.
    if isinstance(skills, str | bytes):
        raise ValueError(f"{what}: skills must be a list of strings, got the string {skills!r}")


def _hhmm(t: int) -> str:
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}"


def _check_location(what: str, loc: Any, matrix: TravelMatrix | None) -> None:
    if isinstance(loc, str | bytes):
        raise ValueError(f"{what}: location must be (latitude, longitude) numbers, got {loc!r}")
    if matrix is not None:
        if not isinstance(loc, int | np.integer) or not 0 <= loc < matrix.size:
            raise ValueError(
                f"{what}: location must be a row of the travel matrix (0..{matrix.size - 1}), got {loc!r}"
            )
        return
    try:
        lat, lon = (float(x) for x in loc)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: location must be (latitude, longitude), got {loc!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"{what}: location {loc!r} is not a valid (latitude, longitude)")


def _check_quantities(what: str, parts: Mapping[str, int]) -> None:
    for p, q in parts.items():
        if not isinstance(p, str) or not p:
            raise ValueError(f"{what}: part names must be non-empty text, got {p!r}")
        if not isinstance(q, int | np.integer) or isinstance(q, bool) or not 0 <= q <= MAX_QUANTITY:
            raise ValueError(
                f"{what}: quantity of part {p} must be a whole number >= 0 and <= {MAX_QUANTITY}, got {q!r}"
            )


def _check_window(what: str, w: Window) -> None:
    if w[1] < w[0]:
        raise ValueError(f"{what}: window {_hhmm(w[0])}-{_hhmm(w[1])} ends before it starts")
    if not -MAX_ABS_TIME_S <= w[0] <= w[1] <= MAX_ABS_TIME_S:
        raise ValueError(f"{what}: window {w!r} must lie within +-{MAX_ABS_TIME_S} seconds")


def _check_range(what: str, v: Any, lo: int, hi: int) -> None:
    """Finite and within [lo, hi] (NaN and infinities fail the comparison)."""
    if isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError(f"{what} must be >= {lo} and <= {hi}, got {v!r}")


def _check_skill_names(what: str, skills: frozenset[str]) -> None:
    for s in skills:
        if not isinstance(s, str) or not s:
            raise ValueError(f"{what}: skills must be non-empty strings, got {s!r}")


def _unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if not isinstance(i, str) or not i:
            raise ValueError(f"every {kind} needs a non-empty text id, got {i!r}")
        if i in seen:
            raise ValueError(f"{kind} id {i!r} is used twice")
        seen.add(i)


def validate(problem: Problem) -> None:
    """Raise ValueError with a message a dispatcher understands when the input is malformed."""
    m = problem.matrix
    if not problem.engineers:
        raise ValueError("there are no engineers to plan for")
    _unique("engineer", [e.id for e in problem.engineers])
    _unique("job", [j.id for j in problem.jobs])
    _unique("warehouse", [w.id for w in problem.warehouses])
    engineer_ids = {e.id for e in problem.engineers}
    for e in problem.engineers:
        what = f"engineer {e.id}"
        _check_location(f"{what} start", e.start, m)
        _check_location(f"{what} end", e.end_location, m)
        _check_window(f"{what} shift", e.shift)
        _check_quantities(f"{what} van stock", e.stock)
        _check_skill_names(what, e.skills)
        if e.capacity is not None and e.capacity < 0:
            raise ValueError(f"{what}: capacity must be >= 0, got {e.capacity}")
        if e.overtime_s < 0:
            raise ValueError(f"{what}: overtime must be >= 0 seconds, got {e.overtime_s}")
        if e.fixed_cost < 0:
            raise ValueError(f"{what}: fixed cost must be >= 0, got {e.fixed_cost}")
        if e.capacity is not None:
            _check_range(f"{what}: capacity", e.capacity, 0, MAX_QUANTITY)
        _check_range(f"{what}: overtime seconds", e.overtime_s, 0, MAX_ABS_TIME_S)
        _check_range(f"{what}: fixed cost", e.fixed_cost, 0, 10**15)
        for b in e.breaks:
            _check_window(f"{what} break", b.window)
            if b.duration_s < 0:
                raise ValueError(f"{what}: break duration must be >= 0, got {b.duration_s}")
            _check_range(f"{what}: break duration", b.duration_s, 0, MAX_ABS_TIME_S)
    for j in problem.jobs:
        what = f"job {j.id}"
        _check_location(what, j.location, m)
        if not isinstance(j.duration_s, int | np.integer) or j.duration_s < 0:
            raise ValueError(f"{what}: duration must be whole seconds >= 0, got {j.duration_s!r}")
        _check_range(f"{what}: duration", j.duration_s, 0, MAX_ABS_TIME_S)
        _check_skill_names(what, j.skills)
        for w in j.windows:
            _check_window(what, w)
        if j.appointment is not None:
            _check_window(f"{what} appointment", j.appointment)
        _check_quantities(f"{what} parts", j.parts)
        if isinstance(j.priority, bool) or j.priority not in (1, 2, 3, 4):
            raise ValueError(f"{what}: priority must be 1 (emergency) to 4 (low), got {j.priority!r}")
        if j.pinned_engineer is not None and j.pinned_engineer not in engineer_ids:
            raise ValueError(f"{what} is pinned to unknown engineer {j.pinned_engineer!r}")
        if j.demand < 0:
            raise ValueError(f"{what}: demand must be >= 0, got {j.demand}")
        _check_range(f"{what}: demand", j.demand, 0, MAX_QUANTITY)
        if j.sla_deadline is not None:
            _check_range(f"{what}: SLA deadline", j.sla_deadline, -MAX_ABS_TIME_S, MAX_ABS_TIME_S)
    for wh in problem.warehouses:
        what = f"warehouse {wh.id}"
        _check_location(what, wh.location, m)
        _check_window(f"{what} opening hours", wh.open)
        _check_quantities(f"{what} stock", wh.stock)
        if wh.pickup_s < 0:
            raise ValueError(f"{what}: pickup time must be >= 0, got {wh.pickup_s}")
        _check_range(f"{what}: pickup time", wh.pickup_s, 0, MAX_ABS_TIME_S)
    s = problem.settings
    missing = {1, 2, 3, 4} - set(s.priority_weights)
    if missing:
        raise ValueError(f"settings: priority weights miss priorities {sorted(missing)}")
    if any(v < 0 for v in s.priority_weights.values()):
        raise ValueError("settings: priority weights must be >= 0")
    for name in (
        "weight_cost",
        "lateness_cost_per_s",
        "travel_cost_per_m",
        "travel_cost_per_s",
        "overtime_cost_per_s",
        "disruption_cost_per_s",
        "urgent_cost_per_s",
        "promise_weight",
    ):
        if getattr(s, name) < 0:
            raise ValueError(f"settings: {name} must be >= 0")
    if s.workers < 1:
        raise ValueError(f"settings: workers must be >= 1, got {s.workers}")
