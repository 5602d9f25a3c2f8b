"""Independent re-check of a Plan against its Problem (PyVRP-style self-check).

It reads only the problem, the travel matrix and the plan's stops and times; it shares no code
with the solver or the scheduler except the canonical matrix row of each location.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import location_rows

if TYPE_CHECKING:
    from .model import Plan


def check_plan(plan: Plan) -> list[str]:
    prob, m = plan.problem, plan.matrix
    if prob is None or m is None:
        return ["plan carries no problem or matrix to check against"]
    rows = location_rows(prob)
    D, T = m.distance_m, m.duration_s
    s = prob.settings
    errors: list[str] = []
    engs = {e.id: (i, e) for i, e in enumerate(prob.engineers)}
    jobs = {j.id: (i, j) for i, j in enumerate(prob.jobs)}
    whs = {w.id: (i, w) for i, w in enumerate(prob.warehouses)}
    wh_left = {w.id: dict(w.stock) for w in prob.warehouses}
    served: dict[str, str] = {}
    seen: set[str] = set()
    travel = 0
    for route in plan.routes:
        if route.engineer_id not in engs:
            errors.append(f"route for unknown engineer {route.engineer_id}")
            continue
        if route.engineer_id in seen:
            errors.append(f"engineer {route.engineer_id} has two routes")
        seen.add(route.engineer_id)
        k, e = engs[route.engineer_id]
        hard_end = e.shift[1] + (e.overtime_s if s.overtime_allowed else 0)
        if route.departure < e.shift[0]:
            errors.append(f"{e.id} leaves at {route.departure}, before shift start")
        here, t = int(rows.start[k]), route.departure
        van = dict(e.stock)
        load = 0
        breaks = list(e.breaks)
        taken: list[Any] = []
        pending_break = None
        metres = 0
        for n, stop in enumerate(route.stops):
            where = f"{e.id} stop {n} ({stop.kind} {stop.id})"
            if stop.kind == "break":
                match = next(
                    (
                        b
                        for b in breaks
                        if b not in taken
                        and b.window[0] <= stop.start <= b.window[1]
                        and stop.end - stop.start == b.duration_s
                    ),
                    None,
                )
                if match is None:
                    errors.append(f"{where}: no break of {e.id} fits {stop.start}-{stop.end}")
                    continue
                if stop.start < t:
                    errors.append(f"{where}: break starts before the previous stop ends")
                taken.append(match)
                pending_break = (pending_break or 0) + match.duration_s
                pending_ready = stop.end
                continue
            if stop.kind == "job":
                if stop.id not in jobs:
                    errors.append(f"{where}: unknown job")
                    continue
                _, job = jobs[stop.id]
                if stop.id in served:
                    errors.append(f"{where}: job already served by {served[stop.id]}")
                served[stop.id] = e.id
                dest = int(rows.job[jobs[stop.id][0]])
                if not job.skills <= e.skills:
                    errors.append(f"{where}: lacks skills {sorted(job.skills - e.skills)}")
                if job.pinned_engineer not in (None, e.id):
                    errors.append(f"{where}: job is pinned to {job.pinned_engineer}")
                if e.on_call and not job.on_call_ok:
                    errors.append(f"{where}: on-call cover serves only jobs marked for it")
                wins = job.windows or ((-(2**62), 2**62),)
                if not any(a <= stop.start <= b for a, b in wins):
                    errors.append(f"{where}: starts at {stop.start}, outside {list(wins)}")
                if stop.end != stop.start + job.duration_s:
                    errors.append(f"{where}: lasts {stop.end - stop.start} s, not {job.duration_s}")
                for p, q in job.parts.items():
                    van[p] = van.get(p, 0) - q
                    if van[p] < 0:
                        errors.append(f"{where}: van has no {p} left")
                load += job.demand
                if e.capacity is not None and load > e.capacity:
                    errors.append(f"{where}: load {load} over capacity {e.capacity}")
            elif stop.kind == "pickup":
                if stop.id not in whs:
                    errors.append(f"{where}: unknown warehouse")
                    continue
                wi, w = whs[stop.id]
                dest = int(rows.warehouse[wi])
                if not w.open[0] <= stop.start <= w.open[1]:
                    errors.append(f"{where}: pickup at {stop.start}, warehouse open {w.open}")
                if stop.end != stop.start + w.pickup_s:
                    errors.append(f"{where}: pickup lasts {stop.end - stop.start} s")
                for p, q in stop.parts.items():
                    if q <= 0:
                        errors.append(f"{where}: pickup quantity of {p} must be positive")
                    wh_left[w.id][p] = wh_left[w.id].get(p, 0) - q
                    if wh_left[w.id][p] < 0:
                        errors.append(f"{where}: warehouse {w.id} has no more {p}")
                    van[p] = van.get(p, 0) + q
            else:
                errors.append(f"{where}: unknown stop kind")
                continue
            earliest = t + int(T[here, dest])
            if pending_break is not None:
                earliest = max(earliest + pending_break, pending_ready)
                pending_break = None
            if stop.start < earliest:
                errors.append(f"{where}: starts at {stop.start}, cannot be there before {earliest}")
            if stop.start < stop.arrival:
                errors.append(f"{where}: starts before arriving")
            metres += int(D[here, dest])
            here, t = dest, stop.end
        dest = int(rows.end[k])
        home = t + int(T[here, dest])
        if pending_break is not None:
            home = max(home + pending_break, pending_ready)
        metres += int(D[here, dest])
        if route.stops and home > hard_end:
            errors.append(f"{e.id}: back at {home}, after shift end {hard_end}")
        if route.stops and route.arrival_home < home:
            errors.append(f"{e.id}: claims to be home at {route.arrival_home}, earliest {home}")
        for b in breaks:
            if route.stops and b not in taken and b.window[0] < home:
                errors.append(f"{e.id}: break {b.window} is not taken")
        if route.stops and metres != route.travel_m:
            errors.append(f"{e.id}: route travel {route.travel_m} m, recomputed {metres} m")
        travel += metres if route.stops else 0
    listed = {u.job_id for u in plan.unassigned}
    for jid in listed & set(served):
        errors.append(f"job {jid} is both served and unassigned")
    for jid in set(jobs) - listed - set(served):
        errors.append(f"job {jid} is neither served nor listed as unassigned")
    weight = sum(s.priority_weights[j.priority] for j in prob.jobs if j.id not in served)
    if weight != plan.unserved_weight:
        errors.append(f"unserved weight {plan.unserved_weight} reported, {weight} recomputed")
    if travel != plan.travel_m:
        errors.append(f"travel {plan.travel_m} m reported, {travel} m recomputed")
    return errors
