"""Turn stop sequences into timed routes and a Plan (pure Python; the solver only orders stops).

Times follow one policy everywhere: leave at shift start, start each stop as early as its window
allows (no earlier than a promised appointment when the route stays feasible that way), and take
a break as late as its window allows, between stops or during a drive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import Compiled
from .model import Plan, Route, Stop, Unassigned, UnassignedReason

RawStop = tuple[Any, ...]  # ("job", j) or ("pickup", w, {part: qty})


@dataclass
class Sim:
    ok: bool
    stops: list[Stop] = field(default_factory=list)
    fail_at: int = -1  # index into the raw stops (len = the way home)
    error: str = ""
    departure: int = 0
    arrival_home: int = 0
    travel_m: int = 0
    travel_s: int = 0
    cost: int = 0  # travel + lateness + disruption + overtime costs
    lateness_s: int = 0
    overtime_s: int = 0
    disruption_s: int = 0
    broken: int = 0  # jobs starting outside their promised appointment
    urgent_cost: int = 0  # emergencies' starts after they first could (Settings.urgent_cost_per_s)


def _first_start(ready: int, windows: Sequence[tuple[int, int]]) -> int | None:
    for a, b in windows:
        st = max(ready, a)
        if st <= b:
            return st
    return None


def simulate(c: Compiled, k: int, raw: Sequence[RawStop], appointments: bool = True) -> Sim:
    prob, s = c.problem, c.problem.settings
    eng = prob.engineers[k]
    D, T = c.matrix.distance_m, c.matrix.duration_s
    cost_m, cost_s = s.travel_cost_per_m, s.travel_cost_per_s
    t = int(c.shift_start[k])
    here = int(c.rows.start[k])
    van = dict(eng.stock)
    load = 0
    pending = sorted(eng.breaks, key=lambda b: b.window[0]) if raw else []
    sim = Sim(ok=True, departure=t)
    out = sim.stops
    for i in range(len(raw) + 1):
        home = i == len(raw)
        stop: RawStop = () if home else raw[i]  # never read at home
        if home:
            dest = int(c.rows.end[k])
        elif stop[0] == "job":
            dest = int(c.rows.job[stop[1]])
        else:
            dest = int(c.rows.warehouse[stop[1]])
        tau = int(T[here, dest])
        sim.travel_m += int(D[here, dest])
        sim.travel_s += tau
        ready = t + tau
        # Breaks: take one before this stop when finishing this stop first would be too late.
        while pending:
            b = pending[0]
            a, bend = b.window
            if home:
                if a >= ready:
                    pending.clear()  # the day is over before the break window opens
                    break
            else:
                service = _service(c, stop)
                win = _windows(c, stop)
                st = _first_start(ready, win)
                if st is not None and st + service <= bend:
                    break  # can still break after this stop
            bs = max(t, a)
            if bs > bend:
                return _fail(sim, i, f"break {a}-{bend} cannot be taken in time")
            out.append(Stop("break", "break", bs, bs, bs + b.duration_s))
            ready = max(ready, bs) + b.duration_s
            pending.pop(0)
        if home:
            sim.arrival_home = ready
            if ready > c.shift_end[k]:
                return _fail(sim, i, f"back home at {ready}, after shift end {c.shift_end[k]}")
            sim.overtime_s = max(0, ready - int(c.nominal_end[k]))
            break
        win = _windows(c, stop)
        start = None
        if stop[0] == "job":
            job = prob.jobs[stop[1]]
            if appointments and job.appointment is not None:
                start = _first_start(max(ready, job.appointment[0]), win)
            if start is None:
                start = _first_start(ready, win)
            if start is None:
                return _fail(sim, i, f"job {job.id} reached at {ready}, after its windows")
            for p, q in job.parts.items():
                van[p] = van.get(p, 0) - q
                if van[p] < 0:
                    return _fail(sim, i, f"no {p} left in the van for job {job.id}")
            load += job.demand
            if eng.capacity is not None and load > eng.capacity:
                return _fail(sim, i, f"load {load} over capacity {eng.capacity}")
            late = 0
            if job.sla_deadline is not None:
                late = max(0, start - job.sla_deadline)
            if job.appointment is not None:
                off = max(0, job.appointment[0] - start) + max(0, start - job.appointment[1])
                sim.disruption_s += off
                sim.broken += off > 0
            sim.lateness_s += late
            sim.urgent_cost += int(c.urgent[stop[1]]) * max(0, start - int(c.ready[stop[1]]))
            end = start + job.duration_s
            out.append(Stop("job", job.id, ready, start, end, dict(job.parts), late))
        else:
            wh = prob.warehouses[stop[1]]
            start = _first_start(ready, win)
            if start is None:
                return _fail(sim, i, f"warehouse {wh.id} closed when reached at {ready}")
            for p, q in stop[2].items():
                van[p] = van.get(p, 0) + q
            end = start + wh.pickup_s
            out.append(Stop("pickup", wh.id, ready, start, end, dict(stop[2])))
        t, here = end, dest
    sim.cost = (
        sim.travel_m * cost_m
        + sim.travel_s * cost_s
        + sim.lateness_s * s.lateness_cost_per_s
        + sim.overtime_s * s.overtime_cost_per_s
        + sim.disruption_s * s.disruption_cost_per_s
        + sim.broken * s.promise_weight * s.weight_cost
        + sim.urgent_cost
        + (eng.fixed_cost if raw else 0)
    )
    return sim


def _service(c: Compiled, stop: RawStop) -> int:
    if stop[0] == "job":
        return int(c.dur[stop[1]])
    return c.problem.warehouses[stop[1]].pickup_s


def _windows(c: Compiled, stop: RawStop) -> Sequence[tuple[int, int]]:
    if stop[0] == "job":
        return c.windows[stop[1]]
    return (c.problem.warehouses[stop[1]].open,)


def _fail(sim: Sim, i: int, msg: str) -> Sim:
    sim.ok, sim.fail_at, sim.error = False, i, msg
    return sim


def best_sim(c: Compiled, k: int, raw: Sequence[RawStop]) -> Sim:
    sim = simulate(c, k, raw, appointments=True)
    if not sim.ok:
        sim = simulate(c, k, raw, appointments=False)
    return sim


def repair(c: Compiled, k: int, raw: list[RawStop]) -> tuple[list[RawStop], Sim, list[int]]:
    """Drop stops until the route is feasible under our timing policy; returns dropped jobs.

    An empty route is the end of it, even when its simulation fails: an engineer who cannot get
    from where they start to where they end before the shift is over (a re-plan late in the day,
    a position reported far away) has nothing left to drop, so the route comes back empty (and
    ``sim.ok`` false) rather than the loop popping from an empty list."""
    dropped: list[int] = []
    raw = list(raw)
    while True:
        sim = best_sim(c, k, raw)
        if sim.ok or not raw:
            return raw, sim, dropped
        i = min(sim.fail_at, len(raw) - 1)
        while i >= 0 and raw[i][0] != "job":
            i -= 1
        if i < 0:
            i = min(sim.fail_at, len(raw) - 1)
        gone = raw.pop(i)
        if gone[0] == "job":
            dropped.append(gone[1])


def drop_idle_pickups(raw: list[RawStop]) -> list[RawStop]:
    return [r for r in raw if r[0] == "job" or any(q > 0 for q in r[2].values())]


def make_plan(
    c: Compiled,
    routes: Sequence[Sequence[RawStop]],
    stats: dict[str, Any] | None = None,
    unassigned_hint: dict[int, tuple[UnassignedReason, str]] | None = None,
) -> Plan:
    prob = c.problem
    out_routes: list[Route] = []
    served: set[int] = set()
    travel = lateness = overtime = disruption = broken = 0
    cost = 0
    picked: dict[tuple[int, str], int] = {}
    for k, raw in enumerate(routes):
        raw = list(raw)
        cleaned = drop_idle_pickups(raw)
        if len(cleaned) != len(raw) and best_sim(c, k, cleaned).ok:
            raw = cleaned
        raw, sim, _ = repair(c, k, raw)
        if not raw:
            continue
        for r in raw:
            if r[0] == "job":
                served.add(r[1])
            else:
                for p, q in r[2].items():
                    picked[(r[1], p)] = picked.get((r[1], p), 0) + q
        out_routes.append(
            Route(
                prob.engineers[k].id,
                tuple(sim.stops),
                sim.departure,
                sim.arrival_home,
                sim.travel_m,
                sim.travel_s,
            )
        )
        travel += sim.travel_m
        lateness += sim.lateness_s
        overtime += sim.overtime_s
        disruption += sim.disruption_s
        broken += sim.broken
        cost += sim.cost
    unserved = [j for j in range(c.n_jobs) if j not in served]
    unassigned = tuple(
        Unassigned(prob.jobs[j].id, *_unassigned_reason(c, j, picked, unassigned_hint)) for j in unserved
    )
    weight = int(c.weight[unserved].sum()) if unserved else 0
    cost += int(c.penalty[unserved].sum()) if unserved else 0
    st = dict(stats or {})
    st["disruption_s"] = disruption
    st["promises_broken"] = broken
    return Plan(
        routes=tuple(out_routes),
        unassigned=unassigned,
        objective=int(cost),
        unserved_weight=weight,
        lateness_s=lateness,
        travel_m=travel,
        overtime_s=overtime,
        estimated=c.matrix.estimated,
        stats=st,
        problem=prob,
        matrix=c.matrix,
    )


def _unassigned_reason(
    c: Compiled,
    j: int,
    picked: dict[tuple[int, str], int],
    hint: dict[int, tuple[UnassignedReason, str]] | None,
) -> tuple[UnassignedReason, str]:
    if j in c.reasons:
        return c.reasons[j]
    if hint and j in hint:
        return hint[j]
    prob = c.problem
    job = prob.jobs[j]
    capable = np.flatnonzero(c.allowed[:, j])
    if len(capable) and c.needs_pickup[capable, j].all():
        left = {
            p: sum(w.stock.get(p, 0) - picked.get((wi, p), 0) for wi, w in enumerate(prob.warehouses))
            for p in job.parts
        }
        if all(
            any(prob.engineers[k].stock.get(p, 0) + left[p] < q for p, q in job.parts.items())
            for k in capable
        ):
            short = sorted(p for p, q in job.parts.items() if left[p] < q)
            return "no_part", (
                "needs a pickup, and the warehouse stock of "
                + ", ".join(short)
                + " is already allocated to other jobs"
            )
    return "no_capacity", (
        f"{len(capable)} engineer(s) could do it, but their day is full of higher-value work"
    )
