"""The problem compiled to arrays: travel rows, eligibility, penalties. Pure numpy, no OR-Tools.

Location rows follow one canonical order for a problem without an explicit matrix:
engineer starts, engineer ends, jobs, warehouses. :func:`location_rows` is shared with the
independent checker so both read the same matrix cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from .matrix import GreatCircle, MatrixProvider
from .model import Problem, TravelMatrix, UnassignedReason, Window


@dataclass(frozen=True, slots=True)
class Rows:
    start: np.ndarray  # per engineer
    end: np.ndarray
    job: np.ndarray
    warehouse: np.ndarray


def location_rows(problem: Problem) -> Rows:
    if problem.matrix is not None:
        return Rows(
            start=np.array([e.start for e in problem.engineers], dtype=np.int64),
            end=np.array([e.end_location for e in problem.engineers], dtype=np.int64),
            job=np.array([j.location for j in problem.jobs], dtype=np.int64),
            warehouse=np.array([w.location for w in problem.warehouses], dtype=np.int64),
        )
    k, n, w = len(problem.engineers), len(problem.jobs), len(problem.warehouses)
    return Rows(
        start=np.arange(k, dtype=np.int64),
        end=np.arange(k, 2 * k, dtype=np.int64),
        job=np.arange(2 * k, 2 * k + n, dtype=np.int64),
        warehouse=np.arange(2 * k + n, 2 * k + n + w, dtype=np.int64),
    )


def travel_matrix(problem: Problem, provider: MatrixProvider | None = None) -> TravelMatrix:
    if problem.matrix is not None:
        return problem.matrix
    points = (
        [tuple(cast(Sequence[float], e.start)) for e in problem.engineers]
        + [tuple(cast(Sequence[float], e.end_location)) for e in problem.engineers]
        + [tuple(cast(Sequence[float], j.location)) for j in problem.jobs]
        + [tuple(cast(Sequence[float], w.location)) for w in problem.warehouses]
    )
    return (provider or GreatCircle()).matrix(points)  # type: ignore[arg-type]


@dataclass
class Compiled:
    """Everything the heuristics and the OR-Tools model need, indexed by position."""

    problem: Problem
    matrix: TravelMatrix
    rows: Rows
    horizon: int
    shift_start: np.ndarray  # [K]
    shift_end: np.ndarray  # [K] hard end: shift end, plus overtime when allowed
    nominal_end: np.ndarray  # [K] shift end proper (overtime is costed after it)
    dur: np.ndarray  # [J]
    windows: list[tuple[Window, ...]]  # never empty: () becomes the whole horizon
    penalty: np.ndarray  # [J] objective cost of leaving the job unserved
    weight: np.ndarray  # [J] priority weight
    allowed: np.ndarray  # [K, J] static eligibility (skills, pin, parts somewhere, reachable)
    needs_pickup: np.ndarray  # [K, J] allowed only via a warehouse pickup
    reasons: dict[int, tuple[UnassignedReason, str]] = field(default_factory=dict)  # j -> (code, detail)
    parts: list[str] = field(default_factory=list)  # parts some assignable job consumes
    fixed_cost: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # [K] call-out
    # [K, J] the first static constraint that keeps engineer k from job j (BLOCKS code, 0 = none)
    blocked: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8))
    # [J] cost per second a job starts after `ready` (Settings.urgent_cost_per_s, emergencies only)
    urgent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # [J] the earliest a job could start: its first window opens, or the first shift starts
    ready: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_jobs(self) -> int:
        return len(self.problem.jobs)

    @property
    def n_vehicles(self) -> int:
        return len(self.problem.engineers)

    def arc_cost(self) -> np.ndarray:
        s = self.problem.settings
        cost: np.ndarray = self.matrix.distance_m * s.travel_cost_per_m + self.matrix.duration_s * (
            s.travel_cost_per_s
        )
        return cost


def compile_problem(
    problem: Problem, provider: MatrixProvider | None = None, matrix: TravelMatrix | None = None
) -> Compiled:
    """``matrix``: reuse one already resolved for this problem (a plan's), skip the provider."""
    s = problem.settings
    matrix = matrix if matrix is not None else travel_matrix(problem, provider)
    rows = location_rows(problem)
    engs, jobs, whs = problem.engineers, problem.jobs, problem.warehouses
    k_n, j_n = len(engs), len(jobs)
    T = matrix.duration_s

    shift_start = np.array([e.shift[0] for e in engs], dtype=np.int64)
    nominal_end = np.array([e.shift[1] for e in engs], dtype=np.int64)
    overtime = np.array([e.overtime_s if s.overtime_allowed else 0 for e in engs], dtype=np.int64)
    shift_end = nominal_end + overtime
    horizon = int(shift_end.max()) if k_n else 0
    for j in jobs:
        for w in j.windows:
            horizon = max(horizon, w[1])
    dur = np.array([j.duration_s for j in jobs], dtype=np.int64)
    windows = [j.windows if j.windows else ((0, horizon),) for j in jobs]
    weight = np.array([s.priority_weights[j.priority] for j in jobs], dtype=np.int64)
    urgent = np.array([s.urgent_cost_per_s if j.priority == 1 else 0 for j in jobs], dtype=np.int64)
    # One reference per job, not per engineer: a later shift must not make a later start look sooner.
    day_start = int(shift_start.min()) if k_n else 0
    ready = np.array([max(w[0][0], day_start) for w in windows], dtype=np.int64)
    # Dropping a promised visit also breaks the promise.
    promised = np.array([j.appointment is not None for j in jobs], dtype=bool)
    penalty = (weight + promised * s.promise_weight) * s.weight_cost

    # Skills as bitmasks: one vectorised comparison for every engineer x job pair.
    names = sorted({x for e in engs for x in e.skills} | {x for j in jobs for x in j.skills})
    bit = {name: 1 << i for i, name in enumerate(names)}
    if len(names) <= 62:
        emask = np.array([sum(bit[x] for x in e.skills) for e in engs], dtype=np.int64)
        jmask = np.array([sum(bit[x] for x in j.skills) for j in jobs], dtype=np.int64)
        skilled = (jmask[None, :] & ~emask[:, None]) == 0
    else:
        skilled = np.array([[j.skills <= e.skills for j in jobs] for e in engs], dtype=bool)
    has_skill = skilled.copy()
    eng_index = {e.id: i for i, e in enumerate(engs)}
    for i, j in enumerate(jobs):
        if j.pinned_engineer is not None:
            keep = skilled[eng_index[j.pinned_engineer], i]
            skilled[:, i] = False
            skilled[eng_index[j.pinned_engineer], i] = keep
    cap = np.array([e.capacity if e.capacity is not None else 2**62 for e in engs], dtype=np.int64)
    demand = np.array([j.demand for j in jobs], dtype=np.int64)
    fits = demand[None, :] <= cap[:, None]

    # Parts: van alone, or van plus what the warehouses hold (the model picks up the rest).
    wh_total: dict[str, int] = {}
    for wh in whs:
        for p, q in wh.stock.items():
            wh_total[p] = wh_total.get(p, 0) + q
    van_ok = np.ones((k_n, j_n), dtype=bool)
    anywhere_ok = np.ones((k_n, j_n), dtype=bool)
    used_parts: set[str] = set()
    for i, j in enumerate(jobs):
        for p, q in j.parts.items():
            if q <= 0:
                continue
            van = np.array([e.stock.get(p, 0) for e in engs], dtype=np.int64)
            van_ok[:, i] &= van >= q
            anywhere_ok[:, i] &= van + wh_total.get(p, 0) >= q
            used_parts.add(p)
    needs_pickup = anywhere_ok & ~van_ok

    # Time: reach a window directly (or via the nearest useful warehouse) and get home in time.
    start_r, end_r, job_r = rows.start, rows.end, rows.job
    to_job = T[np.ix_(start_r, job_r)]  # [K, J]
    home = T[np.ix_(job_r, end_r)].T  # [K, J]
    arrive = shift_start[:, None] + to_job
    arrive_via = np.full((k_n, j_n), np.iinfo(np.int64).max // 4)
    if whs and needs_pickup.any():
        for wi, wh in enumerate(whs):
            wr = rows.warehouse[wi]
            at_w = np.maximum(shift_start + T[start_r, wr], wh.open[0])  # [K]
            ok_w = at_w <= wh.open[1]
            via = (at_w + wh.pickup_s)[:, None] + T[wr, job_r][None, :]
            via = np.where(ok_w[:, None], via, arrive_via)
            arrive_via = np.minimum(arrive_via, via)
        arrive = np.where(needs_pickup, arrive_via, arrive)
    reachable = np.zeros((k_n, j_n), dtype=bool)
    max_w = max(len(w) for w in windows) if windows else 0
    for m in range(max_w):
        a = np.array([w[m][0] if m < len(w) else 0 for w in windows], dtype=np.int64)
        b = np.array([w[m][1] if m < len(w) else -1 for w in windows], dtype=np.int64)
        st = np.maximum(arrive, a[None, :])
        reachable |= (st <= b[None, :]) & (st + dur[None, :] + home <= shift_end[:, None])

    # On-call cover takes only the jobs the caller marked for it (urgent or 24x7 work).
    on_call = np.array([e.on_call for e in engs], dtype=bool)
    on_call_ok = np.array([j.on_call_ok for j in jobs], dtype=bool)
    covers = ~on_call[:, None] | on_call_ok[None, :]
    # Whether any window overlaps the engineer's working time at all: "off shift" is a
    # different reason from "too far to reach in time".
    on_shift = np.zeros((k_n, j_n), dtype=bool)
    for m in range(max((len(w) for w in windows), default=0)):
        a = np.array([w[m][0] if m < len(w) else 0 for w in windows], dtype=np.int64)
        b = np.array([w[m][1] if m < len(w) else -1 for w in windows], dtype=np.int64)
        on_shift |= (
            (a[None, :] < shift_end[:, None]) & (b[None, :] >= shift_start[:, None]) & (a <= b)[None, :]
        )
    allowed = skilled & covers & fits & anywhere_ok & reachable
    reasons: dict[int, tuple[UnassignedReason, str]] = {}
    for i in range(j_n):
        if allowed[:, i].any():
            continue
        reasons[i] = _reason(
            problem,
            i,
            skilled[:, i],
            covers[:, i] & on_shift[:, i],
            fits[:, i],
            anywhere_ok[:, i],
            reachable[:, i],
            wh_total,
        )
    assignable = allowed.any(axis=0)
    parts = sorted(
        p for p in used_parts if any(j.parts.get(p, 0) > 0 and assignable[i] for i, j in enumerate(jobs))
    )
    return Compiled(
        problem=problem,
        matrix=matrix,
        rows=rows,
        horizon=horizon,
        shift_start=shift_start,
        shift_end=shift_end,
        nominal_end=nominal_end,
        dur=dur,
        windows=windows,
        penalty=penalty,
        weight=weight,
        allowed=allowed,
        needs_pickup=needs_pickup & allowed,
        reasons=reasons,
        parts=parts,
        fixed_cost=np.array([e.fixed_cost for e in engs], dtype=np.int64),
        blocked=_blocked(has_skill, skilled, covers, on_shift, fits, anywhere_ok, reachable),
        urgent=urgent,
        ready=ready,
    )


# Why an engineer cannot take a job at all, checked in this order (the first that fails binds).
BLOCKS = ("", "skill", "pinned", "on_call", "off_shift", "capacity", "part", "window")


def _blocked(
    has_skill: np.ndarray,
    skilled: np.ndarray,
    covers: np.ndarray,
    on_shift: np.ndarray,
    fits: np.ndarray,
    parts_ok: np.ndarray,
    reachable: np.ndarray,
) -> np.ndarray:
    out = np.zeros(skilled.shape, dtype=np.int8)
    # Assigned in reverse order so the earliest failing check is the one left standing.
    for code, ok in (
        (7, reachable),
        (6, parts_ok),
        (5, fits),
        (4, on_shift),
        (3, covers),
        (2, skilled),  # has the skills, but the job is pinned to someone else
        (1, has_skill),
    ):
        out[~ok] = code
    return out


def _reason(
    problem: Problem,
    i: int,
    skilled: np.ndarray,
    on_shift: np.ndarray,
    fits: np.ndarray,
    parts_ok: np.ndarray,
    reachable: np.ndarray,
    wh_total: dict[str, int],
) -> tuple[UnassignedReason, str]:
    job = problem.jobs[i]
    if not skilled.any():
        need = ", ".join(sorted(job.skills)) or "none"
        if job.pinned_engineer is not None:
            return "no_skill", f"pinned engineer {job.pinned_engineer} lacks skills ({need})"
        return "no_skill", f"no engineer has all of the required skills ({need})"
    if not (skilled & on_shift).any():
        names = ", ".join(e.id for e, ok in zip(problem.engineers, skilled, strict=True) if ok)
        return (
            "off_shift",
            f"{names} {'has' if skilled.sum() == 1 else 'have'} the skills but no shift or cover then",
        )
    skilled = skilled & on_shift
    if not (skilled & fits).any():
        return "no_capacity", f"demand {job.demand} exceeds every capable engineer's capacity"
    if not (skilled & fits & parts_ok).any():
        short = [
            p
            for p, q in job.parts.items()
            if not any(
                e.stock.get(p, 0) + wh_total.get(p, 0) >= q
                for e, ok in zip(problem.engineers, skilled, strict=True)
                if ok
            )
        ]
        return "no_part", (
            "not enough "
            + ", ".join(f"{p} (needs {job.parts[p]})" for p in short)
            + " in any capable engineer's van or any warehouse"
        )
    return "window_unreachable", (
        "no capable engineer can reach it inside its time window and still finish the shift"
    )
