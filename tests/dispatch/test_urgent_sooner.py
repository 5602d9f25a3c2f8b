"""An emergency is served as soon as it can be: a visit fixed at 13:00 does not push it behind
itself into the afternoon with the morning empty. Waiting cost nothing, so "before the fixed visit"
and "after it" cost the same travel and the search put the emergency at 14:09 (the QA finding: a
P1 moved from 09:19 to 14:17 by two visits set by hand at 13:00). `Settings.urgent_cost_per_s`."""

from __future__ import annotations

import dispatch

H = 3600
LUNCH = dispatch.Break((11 * H + 1800, 12 * H + 1800), 1800)


def _day(deadline_s: int | None = None, **settings: object) -> dispatch.Problem:
    engineer = dispatch.Engineer("Q", start=(48.16, 11.62), shift=(8 * H, 17 * H), breaks=(LUNCH,))
    emergency = dispatch.Job("P1", (48.13, 11.58), 45 * 60, priority=1, sla_deadline=deadline_s)
    fixed = dispatch.Job("FIXED", (48.20, 11.65), 45 * 60, windows=((13 * H, 13 * H),), pinned_engineer="Q")
    return dispatch.Problem(
        (engineer,), (emergency, fixed), settings=dispatch.Settings(deterministic=True, **settings)
    )


def _starts(plan: dispatch.Plan) -> dict[str, int]:
    return {s.id: s.start for r in plan.routes for s in r.stops if s.kind == "job"}


def test_an_emergency_goes_before_a_visit_fixed_in_the_afternoon() -> None:
    for seed in range(3):
        plan = dispatch.solve(_day(), time_limit=2, seed=seed, solution_limit=30)
        starts = _starts(plan)
        assert starts["FIXED"] == 13 * H
        assert starts["P1"] < 9 * H, (seed, starts)  # in the empty morning, not after 13:45
        assert plan.is_feasible()


def test_an_emergency_with_an_sla_deadline_goes_before_it_too() -> None:
    """With a deadline (17:00) OR-Tools keeps the deadline as the node's one soft bound; the plans
    are compared by their true cost, which counts the urgency, so the morning still wins."""
    for seed in range(3):
        plan = dispatch.solve(_day(17 * H), time_limit=2, seed=seed, solution_limit=30)
        starts = _starts(plan)
        assert starts["FIXED"] == 13 * H
        assert starts["P1"] < 9 * H, (seed, starts)


def test_a_re_plan_inserting_the_fixed_visit_keeps_the_emergency_in_the_morning() -> None:
    problem = _day()
    alone = dispatch.Problem(problem.engineers, problem.jobs[:1], settings=problem.settings)
    before = dispatch.solve(alone, time_limit=2, seed=0, solution_limit=30)
    assert _starts(before)["P1"] < 9 * H

    after = dispatch.replan(before, problem, now=7 * H, time_limit=1.0)

    assert _starts(after) == {"P1": _starts(before)["P1"], "FIXED": 13 * H}


def test_without_the_urgency_cost_the_engine_is_time_blind() -> None:
    """The setting is what moves it: at 0 both orders cost the same (fsr/1 scores travel only)."""
    plan = dispatch.solve(_day(urgent_cost_per_s=0), time_limit=2, seed=0, solution_limit=30)
    fast = dispatch.solve(_day(), time_limit=2, seed=0, solution_limit=30)
    assert plan.travel_m == fast.travel_m
    assert fast.objective - plan.objective == _starts(fast)["P1"] - 8 * H  # 1 per second after 08:00
