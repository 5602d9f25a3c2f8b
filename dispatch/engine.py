"""solve(): resolve travel, build a first plan, improve it with OR-Tools workers, self-check.

Both cores: with ``Settings.workers == 2`` two differently configured searches run in separate
processes (OR-Tools holds the GIL, so threads would not overlap) and the better plan is kept.
``Settings.deterministic`` runs one search in this process; with a ``solution_limit`` the same
input and seed then give the same plan.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .construct import construct
from .core import Compiled, compile_problem
from .matrix import MatrixProvider
from .model import Plan, Problem, Settings
from .schedule import RawStop, make_plan

if TYPE_CHECKING:  # the solver imports OR-Tools: only when a search starts
    from .solver import Result, SearchConfig

Progress = Callable[[float, int], None]  # (seconds elapsed, best objective so far)
QUICK_S = 2.5  # below this much time left, improve in-process without OR-Tools workers


def solve(
    problem: Problem,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    solution_limit: int | None = None,
    provider: MatrixProvider | None = None,
    progress: Progress | None = None,
    initial: Plan | None = None,
) -> Plan:
    """Plan the day within ``time_limit`` wall-clock seconds (a best effort: model building and
    process start-up are counted). ``initial`` seeds the search with an earlier plan's routes."""
    if time_limit <= 0:
        raise ValueError(f"time limit must be positive, got {time_limit}")
    t0 = time.monotonic()
    s = problem.settings
    pool = None
    if not s.deterministic and s.workers >= 2 and time_limit >= QUICK_S + 0.5:
        pool = Pool(s.workers)  # start the processes now; they load while we compile
    try:
        c = compile_problem(problem, provider)
        start_routes = routes_from_plan(c, initial) if initial is not None else None
        return improve(c, start_routes, time_limit, seed, solution_limit, progress, t0, pool)
    finally:
        if pool is not None:
            pool.close()


class Pool:
    """Worker processes started ahead of need, and the queue their frames arrive on."""

    def __init__(self, n: int) -> None:
        from .worker import Worker

        self.frames: queue.Queue[Any] = queue.Queue()
        self.workers = [Worker(lambda idx, f: self.frames.put((idx, f)), i) for i in range(n)]
        self.used = 0

    def close(self) -> None:
        for w in self.workers[self.used :]:
            w.cancel()


def improve(
    c: Compiled,
    start_routes: list[list[RawStop]] | None,
    time_limit: float,
    seed: int,
    solution_limit: int | None,
    progress: Progress | None,
    t0: float,
    pool: Pool | None = None,
) -> Plan:
    s = c.problem.settings
    stats: dict[str, Any] = {"compile_s": round(time.monotonic() - t0, 3)}
    built = None
    if start_routes is None and s.first_solution in ("auto", "own"):
        built = construct(c, seed=seed)
        stats["construct_s"] = round(time.monotonic() - t0 - stats["compile_s"], 3)
        start_routes = built
    if start_routes is not None:
        first = make_plan(c, start_routes)
        stats["first_objective"] = first.objective
        stats["first_s"] = round(time.monotonic() - t0, 3)
        if progress is not None:
            progress(time.monotonic() - t0, first.objective)
    active = [j for j in range(c.n_jobs) if c.allowed[:, j].any()]
    left = time_limit - (time.monotonic() - t0)
    if not active or left <= 0.05:
        plan = make_plan(c, start_routes or [[] for _ in range(c.n_vehicles)], stats)
        return plan
    if left < QUICK_S and solution_limit is None:
        # Too little time to start OR-Tools workers (model building alone takes a good part of
        # a second on a large day): ruin and recreate in this process.
        from .lns import search

        def on_best(t: float, obj: int) -> None:
            if progress is not None:
                progress(time.monotonic() - t0, obj)

        empty: list[list[RawStop]] = [[] for _ in range(c.n_vehicles)]
        routes = search(
            c,
            start_routes or empty,
            left * 0.9 - 0.05,
            seed,
            None,
            on_best,
            temperature=lns_temperature(s),
        )
        plan = make_plan(c, routes, dict(stats, worker="lns"))
        plan.stats["solve_s"] = round(time.monotonic() - t0, 3)
        return plan
    workers = 1 if s.deterministic else s.workers
    configs = worker_configs(c, workers, left, seed, solution_limit, start_routes)
    res: list[Result | None]
    if len(configs) == 1:
        res = [_run(c, configs[0], progress, t0)]
    else:
        res = _run_parallel(c, configs, progress, t0, time_limit, pool)
    plans = []
    for cfg, r in zip(configs, res, strict=True):
        if r is None or r.objective < 0:
            continue
        st = dict(stats)
        st.update(
            worker=cfg.name,
            solver_objective=r.objective,
            model_build_s=round(r.build_s, 3),
            history=r.history,
            status=r.status,
            timeline=r.timeline,
        )
        plans.append(make_plan(c, r.routes, st))
    if start_routes is not None:
        plans.append(make_plan(c, start_routes, dict(stats, worker="construction")))
    if not plans:
        plans.append(make_plan(c, [[] for _ in range(c.n_vehicles)], dict(stats)))
    best = min(plans, key=lambda p: p.objective)
    best.stats["solve_s"] = round(time.monotonic() - t0, 3)
    best.stats["workers"] = [p.stats.get("worker") for p in plans]
    best.stats["worker_objectives"] = [p.objective for p in plans]
    best.stats["worker_timelines"] = [p.stats.get("timeline") for p in plans]
    best.stats["worker_first_last"] = [
        (p.stats["history"][:1], p.stats["history"][-1:]) if p.stats.get("history") else None for p in plans
    ]
    return best


def lns_temperature(s: Settings) -> float:
    return 0.2 if s.allow_unserved else 5.0


def worker_configs(
    c: Compiled,
    workers: int,
    time_left: float,
    seed: int,
    solution_limit: int | None,
    start: list[list[RawStop]] | None,
) -> list[SearchConfig]:
    from .solver import SearchConfig

    s = c.problem.settings
    first = s.first_solution if s.first_solution not in ("auto", "own") else "parallel_insertion"
    base = SearchConfig(
        time_limit=time_left,
        first_solution=first,
        metaheuristic=s.metaheuristic,
        gls_lambda=s.gls_lambda,
        solution_limit=solution_limit,
        initial=start,
        seed=seed,
        name="lns+gls",
    )
    if s.metaheuristic == "ils":
        base = replace(base, ils_ruin_visits=10)
    # Ruin and recreate does best with most of the time (measured at 10 s: on the fsr/1 days
    # lower unserved weight and fewer km than handing 15-40 % to OR-Tools' guided local search;
    # on Solomon, two seeds of it beat OR-Tools' own insertion start plus guided local search).
    # Worker A gives OR-Tools the last 15 % to polish routes; worker B another seed, no polish.
    # Annealing temperature (x mean travel cost per job): hot for plain VRPTW, where only
    # distance counts (measured on Solomon R2/RC at 5 s: mean gap 2.9 % at 5 against 4.7 % at
    # 0.2); cool on field days, where the unserved weight dominates.
    base = replace(base, lns_temperature=lns_temperature(s))
    a = replace(base, lns_share=0.85, name="lns+gls")
    b = replace(base, lns_share=1.0, seed=seed + 7919, name="lns")
    if solution_limit is not None:
        # Reproducible: a fixed amount of work instead of a share of the clock; OR-Tools then
        # descends to a local optimum (a guided search would run to the clock).
        a = replace(a, lns_share=0.0, lns_iterations=max(1, solution_limit), metaheuristic="greedy")
        b = replace(b, lns_iterations=max(1, solution_limit))
    cfgs = [a, b]
    return cfgs[:workers]


def _run(c: Compiled, cfg: SearchConfig, progress: Progress | None, t0: float) -> Result:
    from .solver import solve_model

    offset = time.monotonic() - t0

    def report(t: float, obj: int) -> None:
        if progress is not None:
            progress(offset + t, obj)

    return solve_model(c, cfg, report)


def _run_parallel(
    c: Compiled,
    configs: list[SearchConfig],
    progress: Progress | None,
    t0: float,
    time_limit: float,
    pool: Pool | None = None,
) -> list[Result | None]:
    """Run the configurations side by side. At the deadline, a worker that has not finished
    is stopped and its last checkpoint is used instead."""
    from .solver import Result

    if pool is None or len(pool.workers) < len(configs):
        if pool is not None:
            pool.close()
        pool = Pool(len(configs))
    frames = pool.frames
    workers = pool.workers[: len(configs)]
    pool.used = len(configs)
    spawn_at = time.monotonic() - t0
    # Leave time to turn the routes into a checked plan after the workers stop.
    deadline = t0 + time_limit - 0.05 - 0.0002 * c.n_jobs
    for w, cfg in zip(workers, configs, strict=True):
        left = max(0.2, deadline - time.monotonic())
        w.send((c, replace(cfg, time_limit=left, deadline=time.time() + left - 0.02)))
    results: list[Result | None] = [None] * len(configs)
    errors: list[str] = []
    best = None
    running = len(configs)
    while running:
        try:
            idx, frame = frames.get(timeout=max(0.01, min(0.2, deadline - time.monotonic())))
        except queue.Empty:
            if time.monotonic() >= deadline:
                break
            continue
        if frame[0] == "progress":
            _, t, obj = frame
            if best is None or obj < best:
                best = obj
                if progress is not None:
                    progress(spawn_at + t, obj)
        elif frame[0] == "routes":
            if results[idx] is None or results[idx].status == "checkpoint":
                results[idx] = Result(frame[1], frame[2], status="checkpoint")
        elif frame[0] == "done":
            results[idx] = frame[1]
            results[idx].timeline["received"] = round(time.monotonic() - t0 - spawn_at, 3)
        elif frame[0] == "error":
            errors.append(f"worker {configs[idx].name}: {frame[1]}")
        elif frame[0] == "exit":
            running -= 1
    for w in workers:
        w.stop(timeout=0.0)
    if errors:
        import logging

        logging.getLogger(__name__).warning("; ".join(errors))
    return results


def routes_from_plan(c: Compiled, plan: Plan) -> list[list[RawStop]]:
    """Stop sequences of an earlier plan, mapped onto this compiled problem (unknown ids
    dropped)."""
    prob = c.problem
    eng = {e.id: k for k, e in enumerate(prob.engineers)}
    job = {j.id: i for i, j in enumerate(prob.jobs)}
    wh = {w.id: i for i, w in enumerate(prob.warehouses)}
    out: list[list[RawStop]] = [[] for _ in prob.engineers]
    for r in plan.routes:
        k = eng.get(r.engineer_id)
        if k is None:
            continue
        for st in r.stops:
            if st.kind == "job" and st.id in job and c.allowed[k, job[st.id]]:
                out[k].append(("job", job[st.id]))
            elif st.kind == "pickup" and st.id in wh:
                out[k].append(("pickup", wh[st.id], dict(st.parts)))
    return out
