"""`held.solve`: a solve after the first can leave out another kept visit (one it planned before,
now behind a blocked time); its time is blocked in one more solve, so no other stop of its
engineer is planned over it. The number of solves is bounded (`MAX_SOLVES`). Before, there was
one second solve only, and the visit it left out was kept where it stood with its time free for
the others. The engine is replaced by one that leaves out the first kept visit it is given, so
each solve drops another one."""

from __future__ import annotations

import dispatch
from app.planning import held

HOME = (48.1, 11.6)


def _kept(key: str, at: int) -> dispatch.Job:
    return dispatch.Job(id=key, location=HOME, duration_s=600, windows=((at, at),), pinned_engineer="E1")


class DropsFirstKept:
    """A solver that serves everything but the first kept visit of its problem."""

    def __init__(self, kept: list[str]) -> None:
        self.kept = kept
        self.problems: list[dispatch.Problem] = []

    def __call__(self, problem: dispatch.Problem, start: dispatch.Plan | None) -> dispatch.Plan:
        self.problems.append(problem)
        there = [j.id for j in problem.jobs]
        out = next((k for k in self.kept if k in there), None)
        stops = tuple(
            dispatch.Stop("job", j.id, j.windows[0][0] if j.windows else 0, 0, 0)
            for j in problem.jobs
            if j.id != out
        )
        route = dispatch.Route("E1", stops, departure=0, arrival_home=0, travel_m=0, travel_s=0)
        unassigned = (dispatch.Unassigned(out, "window_unreachable"),) if out else ()
        return dispatch.Plan((route,), unassigned, objective=0, unserved_weight=0, lateness_s=0, travel_m=0)


def _problem(kept: list[dispatch.Job]) -> dispatch.Problem:
    engineer = dispatch.Engineer(id="E1", start=HOME, shift=(0, 20_000))
    other = dispatch.Job(id="WO9", location=HOME, duration_s=600)
    return dispatch.Problem(engineers=(engineer,), jobs=(*kept, other))


def test_a_kept_visit_the_second_solve_leaves_out_is_blocked_in_a_third() -> None:
    jobs = [_kept("WO1", 3_600), _kept("WO2", 7_200)]
    solver = DropsFirstKept(["WO1", "WO2"])

    plan = held.solve(_problem(jobs), {"WO1", "WO2"}, None, solver)

    assert len(solver.problems) == 3  # the third solve has both kept visits' times blocked
    last = solver.problems[-1]
    assert [j.id for j in last.jobs] == ["WO9"]
    assert sorted((b.window, b.duration_s) for b in last.engineers[0].breaks) == [
        ((3_600, 3_600), 600),
        ((7_200, 7_200), 600),
    ]
    assert sorted(u.job_id for u in plan.unassigned) == ["WO1", "WO2"]  # each listed once, as left out
    assert [s.id for s in plan.routes[0].stops] == ["WO9"]


def test_the_solves_are_bounded() -> None:
    keys = [f"WO{i}" for i in range(1, 6)]
    jobs = [_kept(k, 3_600 * i) for i, k in enumerate(keys, start=1)]
    solver = DropsFirstKept(keys)

    plan = held.solve(_problem(jobs), set(keys), None, solver)

    assert len(solver.problems) == held.MAX_SOLVES
    # every visit a solve left out is still listed (the publish keeps it where it stands, at risk)
    dropped = keys[: held.MAX_SOLVES]
    assert sorted(u.job_id for u in plan.unassigned) == sorted(dropped)
