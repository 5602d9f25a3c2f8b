"""The OR-Tools routing model (the only module that imports ortools).

Nodes: assignable jobs, then one optional *unit* node per unit of warehouse stock that a van
could need, then each engineer's start and end. Travel and time are C++-side transit matrices
(a Python callback per arc evaluation would cost most of the search time).

Parts: one dimension per part type some van can run short of. Its cumul is the quantity in the
van: the start is fixed to the van stock, a job takes its quantity away, a unit node adds one.
Because every unit of stock is its own node, visited at most once, the warehouse stock shared by
all engineers can never be over-used, and every constraint stays inside OR-Tools' fast local
search filters (no side constraint, no slack to branch on). The pickup time is charged once per
visit: on the arc into a unit node from anywhere but another unit of the same warehouse.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from .core import Compiled

BOOL_TRUE = optional_boolean_pb2.BOOL_TRUE
FSS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic

FIRST_SOLUTION = {
    "parallel_insertion": FSS.PARALLEL_CHEAPEST_INSERTION,
    "savings": FSS.SAVINGS,
    "path_cheapest_arc": FSS.PATH_CHEAPEST_ARC,
    "global_insertion": FSS.GLOBAL_CHEAPEST_ARC,
    "local_insertion": FSS.LOCAL_CHEAPEST_INSERTION,
    "local_cost_insertion": FSS.LOCAL_CHEAPEST_COST_INSERTION,
    "sequential_insertion": FSS.SEQUENTIAL_CHEAPEST_INSERTION,
    "christofides": FSS.CHRISTOFIDES,
}
METAHEURISTIC = {
    "gls": LSM.GUIDED_LOCAL_SEARCH,
    "tabu": LSM.TABU_SEARCH,
    "sa": LSM.SIMULATED_ANNEALING,
    "greedy": LSM.GREEDY_DESCENT,
}

Stop = tuple[Any, ...]  # ("job", j) or ("pickup", w, {part: qty})


@dataclass
class SearchConfig:
    time_limit: float
    first_solution: str = "parallel_insertion"
    metaheuristic: str = "gls"
    gls_lambda: float = 0.1
    solution_limit: int | None = None
    initial: list[list[Stop]] | None = None  # per engineer, from our own construction
    ils_ruin_visits: int = 0  # >0: iterated local search (SISR ruin) instead of GLS
    lns_time_limit: float = 0.1
    extra_operators: bool = False  # operators that trade unserved jobs for served ones
    lns_share: float = 0.0  # share of the time for our ruin-and-recreate before OR-Tools
    seed: int = 0
    lns_iterations: int | None = None  # fixed count instead of a time share (deterministic)
    deadline: float | None = None  # wall-clock (time.time()) by which to be done, if sooner
    lns_temperature: float = 5.0  # see lns.search
    name: str = "worker"


@dataclass
class Result:
    routes: list[list[Stop]]
    objective: int
    history: list[tuple[float, int]] = field(default_factory=list)
    status: str = ""
    build_s: float = 0.0
    first_s: float | None = None
    timeline: dict[str, float] = field(default_factory=dict)  # seconds since the worker began


@dataclass
class _Model:
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    job_of_node: np.ndarray  # node -> job index (-1 for other nodes)
    unit_of_node: dict[int, tuple[int, str]]  # node -> (warehouse, part)
    units: dict[tuple[int, str], list[int]]  # (warehouse, part) -> its unit nodes
    node_of_job: dict[int, int]


def short_parts(c: Compiled) -> set[str]:
    """Parts some engineer's jobs may need more of than the van holds."""
    prob = c.problem
    out: set[str] = set()
    for k, e in enumerate(prob.engineers):
        need: dict[str, int] = {}
        for j in np.flatnonzero(c.allowed[k]):
            for p, q in prob.jobs[j].parts.items():
                need[p] = need.get(p, 0) + q
        out |= {p for p, q in need.items() if q > e.stock.get(p, 0)}
    return out


def build(c: Compiled) -> _Model:
    prob, s = c.problem, c.problem.settings
    engs, whs = prob.engineers, prob.warehouses
    K = len(engs)
    active = [j for j in range(c.n_jobs) if c.allowed[:, j].any()]
    short = sorted(short_parts(c))
    # Units worth modelling: no more per (warehouse, part) than the jobs could ever consume.
    demand = {p: sum(prob.jobs[j].parts.get(p, 0) for j in active) for p in short}
    unit_list: list[tuple[int, str]] = []
    for w, wh in enumerate(whs):
        for p in short:
            unit_list += [(w, p)] * min(wh.stock.get(p, 0), demand[p])
    A, U = len(active), len(unit_list)
    n = A + U + 2 * K
    rows = np.concatenate(
        [
            c.rows.job[active],
            np.array([c.rows.warehouse[w] for w, _ in unit_list], dtype=np.int64),
            c.rows.start,
            c.rows.end,
        ]
    ).astype(np.int64)
    service = np.zeros(n, dtype=np.int64)
    service[:A] = c.dur[active]
    wh_of = np.full(n, -1, dtype=np.int64)
    wh_of[A : A + U] = [w for w, _ in unit_list]
    pick = np.zeros(n, dtype=np.int64)
    pick[A : A + U] = [whs[w].pickup_s for w, _ in unit_list]
    starts = list(range(A + U, A + U + K))
    ends = list(range(A + U + K, A + U + 2 * K))
    manager = pywrapcp.RoutingIndexManager(n, K, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    sub = np.ix_(rows, rows)
    cost = c.arc_cost()[sub]
    cost_cb = routing.RegisterTransitMatrix(cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_cb)
    tmat = c.matrix.duration_s[sub] + service[:, None]
    if U:
        same_visit = (wh_of[:, None] == wh_of[None, :]) & (wh_of[:, None] >= 0)
        tmat += np.where(same_visit, 0, pick[None, :])
    time_cb = routing.RegisterTransitMatrix(tmat.tolist())
    # An engineer who cannot even drive from start to end inside the shift (a re-plan late in the
    # day, a position reported far away) gets no job (compile's eligibility), yet OR-Tools still
    # times the empty route start -> end: one such vehicle made the whole model infeasible, and
    # the polish returned nothing. Such a vehicle may end late and takes no pickup, and no break
    # (an empty route takes none in schedule.simulate; this long drive would have to hold it).
    direct = c.matrix.duration_s[c.rows.start, c.rows.end]
    late_end = [int(max(c.shift_end[k], c.shift_start[k] + direct[k])) for k in range(K)]
    stuck = {k for k in range(K) if late_end[k] > c.shift_end[k] and not c.allowed[k].any()}
    unit_vehicles = [-1, *(k for k in range(K) if k not in stuck)]

    horizon = int(max(c.horizon, *late_end, 0) + max((w.pickup_s for w in whs), default=0))
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")

    job_of_node = np.full(n, -1, dtype=np.int64)
    node_of_job: dict[int, int] = {}
    for node, j in enumerate(active):
        job_of_node[node] = j
        node_of_job[j] = node
        idx = manager.NodeToIndex(node)
        job = prob.jobs[j]
        ws = c.windows[j]
        cum = tdim.CumulVar(idx)
        cum.SetRange(int(ws[0][0]), int(max(b for _, b in ws)))
        for (_, b0), (a1, _) in zip(ws, ws[1:], strict=False):
            if a1 > b0 + 1:
                cum.RemoveInterval(int(b0 + 1), int(a1 - 1))
        allowed = np.flatnonzero(c.allowed[:, j])
        if len(allowed) < K:
            routing.VehicleVar(idx).SetValues([-1, *(int(v) for v in allowed)])
        if s.allow_unserved:
            routing.AddDisjunction([idx], int(c.penalty[j]))
        upper: tuple[int, int] | None = None
        if job.sla_deadline is not None and s.lateness_cost_per_s > 0:
            upper = (job.sla_deadline, s.lateness_cost_per_s)
        # A broken promise has a fixed cost too; linear soft bounds spread it over an hour.
        promise = s.disruption_cost_per_s + s.promise_weight * s.weight_cost // 3600
        if job.appointment is not None and promise > 0:
            a, b = job.appointment
            tdim.SetCumulVarSoftLowerBound(idx, int(a), int(promise))
            # One soft upper bound per node: with an SLA too, the tighter bound, both costs.
            upper = (b, promise) if upper is None else (min(b, upper[0]), upper[1] + promise)
        if c.urgent[j] and upper is None:
            # An emergency's start costs from when it first could. OR-Tools takes one soft upper
            # bound per node: with a deadline or an appointment that bound stays, since moving it
            # to `ready` would price every second before the deadline at the lateness cost (101
            # instead of 1 per second); the plans are compared by their true cost anyway.
            upper = (int(c.ready[j]), int(c.urgent[j]))
        if upper is not None:
            tdim.SetCumulVarSoftUpperBound(idx, int(upper[0]), int(upper[1]))

    unit_of_node: dict[int, tuple[int, str]] = {}
    units: dict[tuple[int, str], list[int]] = {}
    for i, (w, p) in enumerate(unit_list):
        node = A + i
        unit_of_node[node] = (w, p)
        units.setdefault((w, p), []).append(node)
        idx = manager.NodeToIndex(node)
        # The cumul is the end of the pickup; the pickup must start within opening hours.
        o0, o1 = whs[w].open
        tdim.CumulVar(idx).SetRange(int(o0 + whs[w].pickup_s), int(o1 + whs[w].pickup_s))
        routing.AddDisjunction([idx], 0)
        if stuck:
            routing.VehicleVar(idx).SetValues(unit_vehicles)

    for k, e in enumerate(engs):
        if e.fixed_cost:
            routing.SetFixedCostOfVehicle(int(e.fixed_cost), k)
    for k in range(K):
        tdim.CumulVar(routing.Start(k)).SetRange(int(c.shift_start[k]), int(c.shift_end[k]))
        end_by = late_end[k] if k in stuck else int(c.shift_end[k])
        tdim.CumulVar(routing.End(k)).SetRange(int(c.shift_start[k]), end_by)
        if c.shift_end[k] > c.nominal_end[k] and s.overtime_cost_per_s > 0:
            tdim.SetCumulVarSoftUpperBound(routing.End(k), int(c.nominal_end[k]), int(s.overtime_cost_per_s))
        routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(k)))
        routing.AddVariableMaximizedByFinalizer(tdim.CumulVar(routing.Start(k)))

    if any(e.breaks for e in engs):
        visit = [0] * routing.Size()
        for idx in range(routing.Size()):
            visit[idx] = int(service[manager.IndexToNode(idx)])
        for k, e in enumerate(engs):
            if e.breaks and k not in stuck:
                ivs = [
                    solver.FixedDurationIntervalVar(
                        int(b.window[0]), int(b.window[1]), int(b.duration_s), False, f"b{k}_{i}"
                    )
                    for i, b in enumerate(e.breaks)
                ]
                tdim.SetBreakIntervalsOfVehicle(ivs, k, visit)

    if any(e.capacity is not None for e in engs) and any(j.demand for j in prob.jobs):
        load = np.zeros(n, dtype=np.int64)
        load[:A] = [prob.jobs[j].demand for j in active]
        load_cb = routing.RegisterUnaryTransitVector(load.tolist())
        caps = [int(e.capacity) if e.capacity is not None else 2**40 for e in engs]
        routing.AddDimensionWithVehicleCapacity(load_cb, 0, caps, True, "load")

    for p in short:
        delta = np.zeros(n, dtype=np.int64)
        delta[:A] = [-prob.jobs[j].parts.get(p, 0) for j in active]
        delta[A : A + U] = [1 if q == p else 0 for _, q in unit_list]
        n_units = int(delta[A : A + U].sum())
        caps = [int(e.stock.get(p, 0) + n_units) for e in engs]
        cb = routing.RegisterUnaryTransitVector(delta.tolist())
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"part:{p}")
        dim = routing.GetDimensionOrDie(f"part:{p}")
        for k, e in enumerate(engs):
            dim.CumulVar(routing.Start(k)).SetValue(int(e.stock.get(p, 0)))
    return _Model(manager, routing, job_of_node, unit_of_node, units, node_of_job)


def params(cfg: SearchConfig) -> Any:
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = FIRST_SOLUTION.get(cfg.first_solution, FSS.PARALLEL_CHEAPEST_INSERTION)
    if cfg.ils_ruin_visits > 0:
        p.use_iterated_local_search = True
        p.local_search_metaheuristic = LSM.GREEDY_DESCENT
        ils = p.iterated_local_search_parameters
        rr = ils.ruin_recreate_parameters
        del rr.ruin_strategies[:]
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = 10
        sisr.avg_num_removed_visits = cfg.ils_ruin_visits
        sisr.bypass_factor = 0.01
        ils.reference_solution_acceptance_strategy.simulated_annealing.automatic_temperatures = True
    else:
        p.local_search_metaheuristic = METAHEURISTIC.get(cfg.metaheuristic, LSM.GUIDED_LOCAL_SEARCH)
        p.guided_local_search_lambda_coefficient = cfg.gls_lambda
    p.time_limit.FromMilliseconds(max(1, int(cfg.time_limit * 1000)))
    p.lns_time_limit.FromMilliseconds(max(1, int(cfg.lns_time_limit * 1000)))
    if cfg.solution_limit is not None:
        p.solution_limit = cfg.solution_limit
    if cfg.extra_operators:
        ops = p.local_search_operators
        ops.use_relocate_and_make_active = BOOL_TRUE
        ops.use_exchange_and_make_active = BOOL_TRUE
        ops.use_extended_swap_active = BOOL_TRUE
        ops.use_inactive_lns = BOOL_TRUE
    p.log_search = bool(os.environ.get("DISPATCH_LOG_SEARCH"))
    return p


def solve_model(
    c: Compiled,
    cfg: SearchConfig,
    on_solution: Callable[[float, int], None] | None = None,
    on_routes: Callable[[list[list[Stop]], int], None] | None = None,
    checkpoint_s: float = 0.5,
) -> Result:
    """Search; ``on_routes`` receives the best routes so far (after the ruin-and-recreate phase,
    then at most every ``checkpoint_s`` during OR-Tools' search) so a caller with a hard
    deadline can stop this search and still keep its work."""
    t0 = time.monotonic()
    history: list[tuple[float, int]] = []
    if cfg.deadline is not None:  # process start-up and unpickling came out of our budget
        cfg = replace(cfg, time_limit=max(0.1, min(cfg.time_limit, cfg.deadline - time.time())))
    if cfg.lns_share > 0 or cfg.lns_iterations:
        from .construct import construct
        from .lns import search

        start = cfg.initial if cfg.initial is not None else construct(c, seed=cfg.seed)

        def on_best(t: float, obj: int) -> None:
            history.append((t, obj))
            if on_solution is not None:
                on_solution(t, obj)

        lns_time = cfg.time_limit * cfg.lns_share
        best = search(c, start, lns_time, cfg.seed, cfg.lns_iterations, on_best, checkpoint=on_routes)
        if on_routes is not None:
            on_routes(best, history[-1][1] if history else -1)
        cfg = replace(cfg, initial=best, time_limit=cfg.time_limit - (time.monotonic() - t0))
        if cfg.lns_share >= 1.0 or (cfg.time_limit < 0.2 and cfg.solution_limit is None):
            return Result(best, history[-1][1] if history else 0, history, "lns", 0.0)
    t1 = time.monotonic()
    timeline = {"lns_end": round(t1 - t0, 3)}
    m = build(c)
    build_s = time.monotonic() - t1
    timeline["built"] = round(time.monotonic() - t0, 3)
    routing = m.routing

    last_checkpoint = [time.monotonic()]

    def at_solution() -> None:
        obj = int(routing.CostVar().Value())
        if not history or obj < history[-1][1]:
            now = time.monotonic() - t0
            history.append((now, obj))
            if on_solution is not None:
                on_solution(now, obj)
            if on_routes is not None and time.monotonic() - last_checkpoint[0] >= checkpoint_s:
                last_checkpoint[0] = time.monotonic()
                on_routes(_extract(c, m, None), obj)

    routing.AddAtSolutionCallback(at_solution)
    p = params(cfg)
    # OR-Tools overruns its limit by up to ~10 % (restoring and finalising the best solution).
    remaining = (cfg.time_limit - build_s) * 0.9 - 0.2
    p.time_limit.FromMilliseconds(max(100, int(remaining * 1000)))
    sol = None
    if cfg.initial is not None:
        routing.CloseModelWithParameters(p)
        init = routing.ReadAssignmentFromRoutes(_index_routes(m, cfg.initial), True)
        if init is not None:
            sol = routing.SolveFromAssignmentWithParameters(init, p)
    if sol is None:
        timeline["initial_rejected"] = round(time.monotonic() - t0, 3)
        sol = routing.SolveWithParameters(p)
    timeline["solved"] = round(time.monotonic() - t0, 3)
    status = str(routing.status())
    if sol is None:
        return Result([[] for _ in range(c.n_vehicles)], -1, history, status, build_s)
    routes = _extract(c, m, sol)
    timeline["extracted"] = round(time.monotonic() - t0, 3)
    first = history[0][0] if history else None
    return Result(routes, int(sol.ObjectiveValue()), history, status, build_s, first, timeline)


def _index_routes(m: _Model, routes: list[list[Stop]]) -> list[list[int]]:
    free = {key: list(nodes) for key, nodes in m.units.items()}
    out = []
    for route in routes:
        idx = []
        for stop in route:
            if stop[0] == "job":
                node = m.node_of_job.get(stop[1])
                if node is not None:
                    idx.append(int(m.manager.NodeToIndex(node)))
                continue
            for p, q in stop[2].items():
                for _ in range(q):
                    if free.get((stop[1], p)):
                        idx.append(int(m.manager.NodeToIndex(free[(stop[1], p)].pop())))
        out.append(idx)
    return out


def _extract(c: Compiled, m: _Model, sol: pywrapcp.Assignment | None) -> list[list[Stop]]:
    """Routes as stops; consecutive units of one warehouse make one pickup stop. Without a
    solution: the variables' current values (inside a solution callback)."""
    routing, manager = m.routing, m.manager

    def value(var: Any) -> int:
        return int(var.Value() if sol is None else sol.Value(var))

    routes: list[list[Stop]] = []
    for k in range(c.n_vehicles):
        route: list[Stop] = []
        idx = value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            j = int(m.job_of_node[node])
            if j >= 0:
                route.append(("job", j))
            else:
                w, p = m.unit_of_node[node]
                if route and route[-1][0] == "pickup" and route[-1][1] == w:
                    route[-1][2][p] = route[-1][2].get(p, 0) + 1
                else:
                    route.append(("pickup", w, {p: 1}))
            idx = value(routing.NextVar(idx))
        routes.append(route)
    return routes
