"""Ruin and recreate: remove a handful of related jobs, reinsert by regret, keep what helps.

OR-Tools' local search moves one or two nodes at a time; on a day with more work than hours,
almost every such move breaks a time window, so it stalls. Removing a cluster or a string of
jobs and rebuilding with the regret insertion of :mod:`construct` trades jobs in and out in one
step. Acceptance is simulated annealing on our own objective, so it only ever returns the best
plan it saw, and with a fixed seed and iteration count it is deterministic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .construct import Builder
from .core import Compiled
from .schedule import RawStop, simulate

Routes = list[list[RawStop]]


class Evaluator:
    """Objective of a set of routes, memoising each route's cost by its stop sequence."""

    def __init__(self, c: Compiled, builder: Builder) -> None:
        self.c, self.builder = c, builder
        self.memo: dict[tuple[int, tuple[Any, ...]], int | None] = {}

    def route_cost(self, k: int, route: list[RawStop]) -> int | None:
        if self.builder.simple and not any(s[0] == "pickup" for s in route):
            st = self.builder.state(k, route)
            parts_ok = not self.builder.Q.shape[1] or (st.van >= 0).all()
            return st.cost if st.ok and parts_ok else None
        key = (k, tuple((s[0], s[1], tuple(sorted(s[2].items())) if len(s) > 2 else ()) for s in route))
        if key not in self.memo:
            if len(self.memo) > 200_000:
                self.memo.clear()
            sim = simulate(self.c, k, route) if route else None
            if sim is not None and not sim.ok:
                sim = simulate(self.c, k, route, appointments=False)
            self.memo[key] = 0 if sim is None else (sim.cost if sim.ok else None)
        return self.memo[key]

    def total(self, routes: Routes) -> int:
        served = np.zeros(self.c.n_jobs, dtype=bool)
        cost = 0
        for k, r in enumerate(routes):
            rc = self.route_cost(k, r)
            if rc is None:
                return np.iinfo(np.int64).max
            cost += rc
            for s in r:
                if s[0] == "job":
                    served[s[1]] = True
        return int(cost + self.c.penalty[~served].sum())


def trim_pickups(c: Compiled, k: int, route: list[RawStop]) -> list[RawStop]:
    """Shrink pickups to what the jobs still on the route need, taken as late as possible."""
    if not any(s[0] == "pickup" for s in route):
        return route
    stock = c.problem.engineers[k].stock
    jobs = c.problem.jobs
    keep: dict[int, dict[str, int]] = {i: {} for i, s in enumerate(route) if s[0] == "pickup"}
    parts = {p for s in route if s[0] == "job" for p in jobs[s[1]].parts}
    for p in parts:
        van = stock.get(p, 0)
        for i, s in enumerate(route):
            if s[0] != "job":
                continue
            van -= jobs[s[1]].parts.get(p, 0)
            while van < 0:
                src = next(
                    (
                        h
                        for h in range(i - 1, -1, -1)
                        if route[h][0] == "pickup" and keep[h].get(p, 0) < route[h][2].get(p, 0)
                    ),
                    None,
                )
                if src is None:
                    break  # infeasible anyway; the evaluator will say so
                keep[src][p] = keep[src].get(p, 0) + 1
                van += 1
    out: list[RawStop] = []
    for i, s in enumerate(route):
        if s[0] == "job":
            out.append(s)
        elif any(q > 0 for q in keep[i].values()):
            out.append(("pickup", s[1], {p: q for p, q in keep[i].items() if q > 0}))
    return out


def search(
    c: Compiled,
    start: Routes,
    time_limit: float,
    seed: int = 0,
    iterations: int | None = None,
    on_best: Callable[[float, int], None] | None = None,
    temperature: float = 5.0,
    greedy_share: float = 0.0,
    focus: float = 0.0,
    checkpoint: Callable[[Routes, int], None] | None = None,
    checkpoint_s: float = 1.0,
    reheat: bool = True,
) -> Routes:
    """Improve ``start`` for ``time_limit`` seconds (or exactly ``iterations`` rounds).

    ``temperature``: starting annealing temperature as a share of the mean travel cost per
    served job; ``greedy_share``: how often to rebuild cheapest-first in random order instead of
    by regret; ``focus``: how often a ruin centres on a waiting job rather than a served one;
    ``checkpoint`` gets the best routes at most every ``checkpoint_s`` when they improved."""
    t0 = time.monotonic()
    rng = np.random.default_rng(seed)
    builder = Builder(c)
    ev = Evaluator(c, builder)
    cur = [list(r) for r in start]
    cur_obj = ev.total(cur)
    best, best_obj = [list(r) for r in cur], cur_obj
    assignable = np.flatnonzero(c.allowed.any(axis=0))
    if len(assignable) == 0:
        return best
    D = c.matrix.distance_m[np.ix_(c.rows.job[assignable], c.rows.job[assignable])]
    near = np.argsort(D, axis=1)[:, : min(len(assignable), 60)]  # positions in `assignable`
    pos_of = {int(j): i for i, j in enumerate(assignable)}
    n_served = sum(1 for r in cur for s in r if s[0] == "job")
    avg_route = max(1.0, n_served / max(1, sum(1 for r in cur if r)))
    # Start hot enough to accept a loss of a few percent of the travel, then cool to nothing.
    travel = max(1, cur_obj - int(c.penalty[_unserved(c, cur)].sum()))
    t_start, t_end = temperature * travel / max(1, n_served), 1.0
    it = 0
    last_cp = t0
    # Reheat: after `stall` rounds without a new best, go back to the best and anneal again
    # from half the starting temperature over what is left (escapes deep local optima).
    stall = max(300, 3 * len(assignable)) if reheat else 1 << 62
    last_best_it, origin, t_hot = 0, 0.0, t_start
    while True:
        elapsed = time.monotonic() - t0
        if iterations is not None:
            if it >= iterations:
                break
            frac = it / iterations
        else:
            if elapsed >= time_limit:
                break
            frac = elapsed / time_limit
        it += 1
        if it - last_best_it > stall and frac < 0.9:
            cur, cur_obj = [list(r) for r in best], best_obj
            origin, t_hot, last_best_it = frac, t_start / 2, it
        temp = t_hot * (t_end / t_hot) ** ((frac - origin) / max(1e-9, 1 - origin))
        cand = _ruin(c, cur, rng, near, assignable, pos_of, avg_route, focus)
        served = _served_set(cand)
        todo = [int(j) for j in assignable if j not in served]
        order = None
        if greedy_share and rng.random() < greedy_share:
            order = rng.permutation(c.n_jobs)
        cand = builder.run(cand, todo, seed=int(rng.integers(1, 2**31)), greedy_order=order)
        obj = ev.total(cand)
        if obj < cur_obj or rng.random() < math.exp(-(obj - cur_obj) / temp):
            cur, cur_obj = cand, obj
            if obj < best_obj:
                best, best_obj = [list(r) for r in cand], obj
                last_best_it = it
                if on_best is not None:
                    on_best(time.monotonic() - t0, obj)
                if checkpoint is not None and time.monotonic() - last_cp >= checkpoint_s:
                    last_cp = time.monotonic()
                    checkpoint(best, best_obj)
    return best


def _served_set(routes: Routes) -> set[int]:
    return {s[1] for r in routes for s in r if s[0] == "job"}


def _unserved(c: Compiled, routes: Routes) -> np.ndarray:
    served = np.zeros(c.n_jobs, dtype=bool)
    for j in _served_set(routes):
        served[j] = True
    return ~served


def _ruin(
    c: Compiled,
    routes: Routes,
    rng: np.random.Generator,
    near: np.ndarray,
    assignable: np.ndarray,
    pos_of: dict[int, int],
    avg_route: float,
    focus: float = 0.0,
    checkpoint: Callable[[Routes, int], None] | None = None,
    checkpoint_s: float = 1.0,
    reheat: bool = True,
) -> Routes:
    where = {s[1]: (k, i) for k, r in enumerate(routes) for i, s in enumerate(r) if s[0] == "job"}
    if not where:
        return [list(r) for r in routes]
    n = len(where)
    q = int(rng.integers(min(n, 3), max(min(n, 4), min(n, 40, int(0.15 * n) + 4)) + 1))
    centre = int(rng.choice(list(where)))
    if focus and rng.random() < focus:
        # Make room around a waiting job, the more valuable the likelier.
        waiting = np.array([j for j in assignable if int(j) not in where], dtype=np.int64)
        if len(waiting):
            w = c.penalty[waiting].astype(float)
            centre = int(rng.choice(waiting, p=w / w.sum()))
    mode = rng.random()
    remove: set[int] = set()
    if mode < 0.5:
        # Strings (SISR-like): cut a run of consecutive jobs from routes near the seed.
        max_len = max(1, min(10, int(avg_route)))
        touched: set[int] = set()
        for other in near[pos_of[centre]]:
            j = int(assignable[other])
            if j not in where or len(remove) >= q:
                continue
            k, i = where[j]
            if k in touched:
                continue
            touched.add(k)
            jobs_k = [s[1] for s in routes[k] if s[0] == "job"]
            length = int(rng.integers(1, max_len + 1))
            at = jobs_k.index(j)
            lo = max(0, min(at - int(rng.integers(0, length)), len(jobs_k) - length))
            remove.update(jobs_k[lo : lo + length])
    elif mode < 0.6:
        # Whole routes: the centre's route and the route nearest to it (when routes are
        # short, rebuilding two of them together undoes a wrong split of two clusters).
        k0 = where[centre][0] if centre in where else None
        taken: list[int] = [] if k0 is None else [k0]
        for other in near[pos_of[centre]]:
            j = int(assignable[other])
            if j in where and where[j][0] not in taken:
                taken.append(where[j][0])
            if len(taken) >= 2:
                break
        for k in taken:
            remove.update(s[1] for s in routes[k] if s[0] == "job")
    elif mode < 0.85:
        for other in near[pos_of[centre]]:  # related: the seed's nearest served jobs
            j = int(assignable[other])
            if j in where:
                remove.add(j)
                if len(remove) >= q:
                    break
    else:
        remove.update(int(j) for j in rng.choice(list(where), size=q, replace=False))
    out: Routes = []
    for k, r in enumerate(routes):
        kept = [s for s in r if not (s[0] == "job" and s[1] in remove)]
        out.append(trim_pickups(c, k, kept) if len(kept) != len(r) else list(r))
    return out
