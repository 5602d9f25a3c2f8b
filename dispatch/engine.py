"""solve(): resolve travel, build a first plan, improve it with OR-Tools workers, self-check."""

from __future__ import annotations

from collections.abc import Callable

from .matrix import MatrixProvider
from .model import Plan, Problem

Progress = Callable[[float, int], None]  # (seconds elapsed, best objective so far)


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
    """Plan the day. ``time_limit`` is wall-clock seconds; with ``solution_limit`` and
    ``Settings.deterministic`` the same input and seed give the same plan."""
    raise NotImplementedError("work in progress: engine being written")
