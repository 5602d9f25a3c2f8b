"""Small hand-made days for the dispatch tests (no shared benchmark files needed)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dispatch import Engineer, Job, Problem, Settings, TravelMatrix, Warehouse

H = 3600


def line_matrix(xs: Sequence[float], speed: float = 1.0) -> TravelMatrix:
    """Points on a line, x in metres; seconds = metres / speed, rounded up."""
    x = np.asarray(xs, dtype=float)
    d = np.abs(x[:, None] - x[None, :])
    return TravelMatrix(np.rint(d).astype(np.int64), np.ceil(d / speed).astype(np.int64))


def plane_matrix(points: Sequence[tuple[float, float]]) -> TravelMatrix:
    p = np.asarray(points, dtype=float)
    d = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
    return TravelMatrix(np.rint(d).astype(np.int64), np.ceil(d).astype(np.int64))


def engineer(eid: str, at: int = 0, shift: tuple[int, int] = (0, 10 * H), **kw) -> Engineer:
    return Engineer(id=eid, start=at, end=at, shift=shift, **kw)


def job(jid: str, at: int, dur: int = 600, **kw) -> Job:
    return Job(id=jid, location=at, duration_s=dur, **kw)


def problem(
    engineers: Sequence[Engineer],
    jobs: Sequence[Job],
    matrix: TravelMatrix,
    warehouses: Sequence[Warehouse] = (),
    **settings,
) -> Problem:
    return Problem(tuple(engineers), tuple(jobs), tuple(warehouses), Settings(**settings), matrix=matrix)


def quick(**kw) -> dict:
    """solve() keywords for a fast, reproducible test run."""
    return {"time_limit": 20.0, "seed": 1, "solution_limit": 200, **kw}


def brute_force(p: Problem) -> tuple[int, int]:
    """(unserved weight, travel metres) of the best plan, by trying every assignment and order.

    Independent of the engine: its own little schedule simulation (windows, shift end, skills).
    """
    from itertools import permutations, product

    m = p.matrix
    assert m is not None
    weights = p.settings.priority_weights
    best = (math.inf, math.inf)
    n_e = len(p.engineers)
    for assign in product(range(-1, n_e), repeat=len(p.jobs)):
        unserved = sum(weights[j.priority] for j, a in zip(p.jobs, assign, strict=True) if a < 0)
        if unserved > best[0]:
            continue
        travel = 0
        ok = True
        for k, e in enumerate(p.engineers):
            mine = [j for j, a in zip(p.jobs, assign, strict=True) if a == k]
            if any(not j.skills <= e.skills for j in mine):
                ok = False
                break
            best_route = math.inf
            for order in permutations(mine):
                t, here, metres = e.shift[0], e.start, 0
                feasible = True
                for j in order:
                    t += int(m.duration_s[here, j.location])
                    metres += int(m.distance_m[here, j.location])
                    starts = [max(t, a) for a, b in (j.windows or ((0, 10**9),)) if max(t, a) <= b]
                    if not starts:
                        feasible = False
                        break
                    t = min(starts) + j.duration_s
                    here = j.location
                t += int(m.duration_s[here, e.end_location])
                metres += int(m.distance_m[here, e.end_location])
                if feasible and t <= e.shift[1]:
                    best_route = min(best_route, metres if order else 0)
            if best_route == math.inf:
                ok = False
                break
            travel += best_route
        if ok and (unserved, travel) < best:
            best = (unserved, travel)
    return best  # type: ignore[return-value]
