"""The engine, driven through its public API, on the benchmark formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dispatch import Engineer, Job, Problem, Settings, TravelMatrix, solve
from dispatch.bench.solomon import SCALE, SolomonInstance

Progress = Callable[[float, int], None]


def solomon_problem(inst: SolomonInstance, settings: Settings | None = None) -> Problem:
    """Plain VRPTW as an engine problem: the file's fleet, capacity, windows and service times on
    the scaled, rounded-up Euclidean matrix; every customer must be served; distance only."""
    matrix = np.array(inst.scaled_matrix(), dtype=np.int64)
    shift = (inst.ready[0] * SCALE, inst.due[0] * SCALE)
    engineers = [
        Engineer(id=f"V{k:02d}", start=0, end=0, shift=shift, capacity=inst.capacity)
        for k in range(inst.fleet)
    ]
    jobs = [
        Job(
            id=str(c),
            location=c,
            duration_s=inst.service[c] * SCALE,
            windows=((inst.ready[c] * SCALE, inst.due[c] * SCALE),),
            demand=inst.demand[c],
        )
        for c in range(1, inst.customers + 1)
    ]
    return Problem(
        engineers=tuple(engineers),
        jobs=tuple(jobs),
        settings=settings or Settings(allow_unserved=False),
        matrix=TravelMatrix(distance_m=matrix, duration_s=matrix),
        name=inst.name,
    )


def solve_solomon(inst: SolomonInstance, time_limit: float) -> list[list[int]] | None:
    plan = solve(solomon_problem(inst), time_limit=time_limit)
    if plan.unassigned:
        return None
    return [[int(j) for j in r.job_ids] for r in plan.routes if r.job_ids]


def solve_fsr(inst: dict[str, Any], time_limit: float, progress: Progress | None = None) -> dict[str, Any]:
    """The engine on an fsr/1 day, through the same loader and writer as ``python -m dispatch``."""
    from dispatch import fsr_io

    problem, provider = fsr_io.load(inst)
    plan = solve(problem, time_limit=time_limit, provider=provider, progress=progress)
    return fsr_io.solution(plan, problem.name)
