"""Visits kept at a time set by hand that the day cannot fit there: their time is blocked.

An automatic re-plan keeps a visit scheduled by hand at its engineer and start (`service`: a job
with a zero-width window, weighted as a P1). When the day cannot fit it there (two visits set to
the same time, a start the engineer cannot reach) the engine leaves it out and the publish keeps
it where it stands, at risk (`publish._held_stop`). The engine had planned that engineer's other
stops without it, so they could overlap it: a visit at 17:00–17:45 drawn over the one kept at
17:00–18:00. `around` makes a second solve's problem: those visits out, and the part of their
time the engineer's other kept visits do not already fill a fixed break of their engineer (the
engine keeps breaks free of visits), so nothing else is put there.

`solve` is that path for every caller that solves a day kept visits stand in (a plan run, the
what-if preview), so a preview shows what the re-plan it stands for would publish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import dispatch

Interval = tuple[int, int]
# One solve of a problem from a starting plan (None: from scratch), as its caller solves.
SolveOnce = Callable[[dispatch.Problem, dispatch.Plan | None], dispatch.Plan]
# Solves at most, the first included. Each solve after the first takes out at least one kept visit,
# so the loop ends anyway; the cap bounds a re-plan's time (each solve has the full time limit)
# when kept visits crowd one another out one by one. Past it, a kept visit the last solve left
# out stays as set while its time is not blocked (the overlap `around` exists to prevent).
MAX_SOLVES = 3


def solve(
    problem: dispatch.Problem, held: set[str], initial: dispatch.Plan | None, solve_once: SolveOnce
) -> dispatch.Plan:
    """Solve the day; while the solve left out kept visits (`held`: their job keys), solve again
    with their times blocked (`around`). A second solve can leave out another kept visit it had
    planned (its start now unreachable behind a blocked time): that one is blocked in a third,
    rather than its engineer's other stops being planned over it. The plan lists every kept visit
    a solve left out, with that solve's reason."""
    plan = solve_once(problem, initial)
    dropped: tuple[dispatch.Unassigned, ...] = ()
    for _ in range(MAX_SOLVES - 1):
        again = around(problem, held, plan)
        if again is None or not again.problem.jobs:
            break
        dropped += again.dropped
        problem, initial = again.problem, again.start_from(initial)
        plan = solve_once(problem, initial)
    return replace(plan, unassigned=plan.unassigned + dropped) if dropped else plan


@dataclass(frozen=True)
class Around:
    """The problem to solve again, and what the first solve left out of the kept visits."""

    problem: dispatch.Problem
    dropped: tuple[dispatch.Unassigned, ...]

    @property
    def removed(self) -> set[str]:
        return {u.job_id for u in self.dropped}

    def start_from(self, initial: dispatch.Plan | None) -> dispatch.Plan | None:
        """A re-plan's starting routes without the visits taken out of the problem."""
        if initial is None:
            return None
        gone = self.removed
        routes = tuple(
            replace(r, stops=tuple(s for s in r.stops if s.id not in gone)) for r in initial.routes
        )
        return replace(initial, routes=routes)


def around(problem: dispatch.Problem | None, held: set[str], plan: dispatch.Plan | None) -> Around | None:
    """None when every kept visit (`held`: their job keys) was planned, or nothing was solved."""
    if problem is None or plan is None:
        return None
    dropped = tuple(u for u in plan.unassigned if u.job_id in held)
    if not dropped:
        return None
    gone = {u.job_id for u in dropped}
    kept_at: dict[str, list[Interval]] = {}  # engine engineer -> kept visits' times
    blocked: dict[str, list[Interval]] = {}  # engine engineer -> the left-out ones' times
    for job in problem.jobs:
        if job.id not in held or job.pinned_engineer is None or not job.windows:
            continue
        at = job.windows[0][0]
        side = blocked if job.id in gone else kept_at
        side.setdefault(job.pinned_engineer, []).append((at, at + job.duration_s))
    engineers = tuple(
        replace(
            e,
            breaks=tuple(sorted((*e.breaks, *_breaks(e, blocked[e.id], kept_at.get(e.id, []))), key=_start)),
        )
        if e.id in blocked
        else e
        for e in problem.engineers
    )
    jobs = tuple(j for j in problem.jobs if j.id not in gone)
    return Around(replace(problem, engineers=engineers, jobs=jobs), dropped)


def _start(b: dispatch.Break) -> int:
    return b.window[0]


def _breaks(
    engineer: dispatch.Engineer, blocked: list[Interval], kept: list[Interval]
) -> list[dispatch.Break]:
    """Breaks fixed at the blocked times within the shift, less what a kept visit fills (two
    visits set to 17:00: the one planned takes 17:00, a break there would push it out too)."""
    s0, s1 = engineer.shift
    out = []
    for a, b in _merge(blocked):
        for p0, p1 in _minus((max(a, s0), min(b, s1)), _merge(kept)):
            if p1 > p0:
                out.append(dispatch.Break((p0, p0), p1 - p0))
    return out


def _merge(spans: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _minus(span: Interval, taken: list[Interval]) -> list[Interval]:
    """`span` without the (merged, sorted) `taken` spans."""
    a, b = span
    out = []
    for t0, t1 in taken:
        if t1 <= a or t0 >= b:
            continue
        if t0 > a:
            out.append((a, t0))
        a = max(a, t1)
    if a < b:
        out.append((a, b))
    return out
