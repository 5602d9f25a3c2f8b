"""Re-plan during the day: frozen past, new and cancelled jobs, fast emergency insertion.

The rest of the day becomes a new problem: each engineer starts where they are (or will be, after
the visit in progress) at ``now`` with what is left in the van; finished and started visits and
pickups already made are frozen out; warehouse stock shrinks by what was picked up. The earlier
plan's remaining stops are kept in order (repaired if they no longer fit), new jobs go in by
cheapest feasible insertion (numpy screening, exact check), and the remaining time goes to the
usual improvement, where starting outside a promised appointment costs
``Settings.disruption_cost_per_s`` per second, so the day stays stable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .construct import construct
from .core import compile_problem
from .engine import improve, routes_from_plan
from .matrix import MatrixProvider
from .model import Job, Location, Plan, Problem, Warehouse
from .schedule import repair


@dataclass(frozen=True, slots=True)
class Position:
    """Where an engineer is at ``now`` (or will be free: after the started visit)."""

    engineer_id: str
    location: Location
    available_at: int


def replan(
    plan: Plan,
    problem: Problem,
    *,
    now: int,
    positions: Iterable[Position] = (),
    done: Iterable[str] = (),
    started: Iterable[str] = (),
    new_jobs: Iterable[Job] = (),
    cancelled: Iterable[str] = (),
    time_limit: float = 1.0,
    seed: int = 0,
    provider: MatrixProvider | None = None,
) -> Plan:
    """A plan for the rest of the day (from ``now``). Its ``problem`` is that remaining day;
    ``stats["frozen"]`` lists the visits kept out of it because they are done or under way."""
    t0 = time.monotonic()
    done, started, cancelled = set(done), set(started), set(cancelled)
    new_jobs = list(new_jobs)
    known = {j.id for j in problem.jobs}
    for jid in done | started | cancelled:
        if jid not in known:
            raise ValueError(f"re-plan: job {jid!r} is not in the problem")
    for j in new_jobs:
        if j.id in known:
            raise ValueError(f"re-plan: new job {j.id!r} already exists; cancel it or rename it")
    rest = remaining_problem(plan, problem, now, positions, done | started, new_jobs, cancelled)
    c = compile_problem(rest, provider)
    # Pickups already made are in the vans and off the warehouse shelves (see remaining_problem):
    # carrying them into the new routes would take the same parts twice.
    ahead = replace(
        plan,
        routes=tuple(
            replace(r, stops=tuple(s for s in r.stops if not (s.kind == "pickup" and s.start <= now)))
            for r in plan.routes
        ),
    )
    start = routes_from_plan(c, ahead)
    for k in range(c.n_vehicles):
        start[k], _, _ = repair(c, k, start[k])
    kept = {s[1] for r in start for s in r if s[0] == "job"}
    todo = [j for j in range(c.n_jobs) if j not in kept and c.allowed[:, j].any()]
    start = construct(c, seed=seed, routes=start, jobs=todo)
    plan_out = improve(c, start, time_limit, seed, None, None, t0)
    plan_out.stats["frozen"] = sorted(done | started)
    plan_out.stats["insert_s"] = plan_out.stats.get("first_s")
    return plan_out


def remaining_problem(
    plan: Plan,
    problem: Problem,
    now: int,
    positions: Iterable[Position],
    frozen: set[str],
    new_jobs: list[Job],
    cancelled: set[str],
) -> Problem:
    pos = {p.engineer_id: p for p in positions}
    engineer_ids = {e.id for e in problem.engineers}
    for eid in pos:
        if eid not in engineer_ids:
            raise ValueError(f"re-plan: position given for unknown engineer {eid!r}")
    jobs_by_id = {j.id: j for j in problem.jobs}
    wh_loc = {w.id: w.location for w in problem.warehouses}
    taken: dict[tuple[str, str], int] = {}  # (warehouse, part) already picked up
    engineers = []
    for e in problem.engineers:
        van = dict(e.stock)
        loc, free = e.start, max(now, e.shift[0])
        route = plan.route_of(e.id)
        for s in route.stops if route else ():
            past = s.kind == "job" and s.id in frozen
            if s.kind == "pickup" and s.start <= now:
                past = True
            if not past:
                continue
            if s.kind == "job":
                for p, q in jobs_by_id[s.id].parts.items():
                    van[p] = van.get(p, 0) - q
                loc = jobs_by_id[s.id].location
            else:
                for p, q in s.parts.items():
                    van[p] = van.get(p, 0) + q
                    taken[(s.id, p)] = taken.get((s.id, p), 0) + q
                loc = wh_loc[s.id]
            free = max(free, s.end)
        if e.id in pos:
            loc, free = pos[e.id].location, max(now, pos[e.id].available_at)
        shift = (min(free, e.shift[1]), e.shift[1])
        engineers.append(
            replace(
                e,
                start=loc,
                end=e.end_location,  # the day still ends where it was meant to
                shift=shift,
                stock={p: max(0, q) for p, q in van.items()},
                breaks=tuple(b for b in e.breaks if b.window[1] >= shift[0]),
            )
        )
    warehouses: list[Warehouse] = [
        replace(w, stock={p: max(0, q - taken.get((w.id, p), 0)) for p, q in w.stock.items()})
        for w in problem.warehouses
    ]
    jobs = [j for j in problem.jobs if j.id not in frozen and j.id not in cancelled]
    jobs += [j for j in new_jobs if j.id not in cancelled]
    return Problem(
        tuple(engineers),
        tuple(jobs),
        tuple(warehouses),
        problem.settings,
        problem.matrix,
        problem.name,
    )
