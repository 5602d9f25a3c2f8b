"""Planning small days: optimal where it can be enumerated, and each rule respected."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch import Break, Engineer, Settings, Warehouse, solve
from tests.dispatch.world import H, brute_force, engineer, job, line_matrix, plane_matrix, problem, quick


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_small_days_match_brute_force(seed: int) -> None:
    import random

    rng = random.Random(seed)
    pts = [(0, 0)] + [(rng.randint(-3000, 3000), rng.randint(-3000, 3000)) for _ in range(5)]
    jobs = []
    for i in range(1, 6):
        a = rng.randrange(0, 4 * H, 600)
        jobs.append(
            job(
                f"J{i}",
                i,
                dur=rng.choice([1800, 3600, 5400]),
                windows=((a, a + rng.choice([1, 2, 3]) * H),),
                priority=rng.choice([1, 2, 3, 4]),
                skills={"A"} if rng.random() < 0.3 else set(),
            )
        )
    p = problem(
        [engineer("E1", shift=(0, 5 * H), skills={"A"}), engineer("E2", shift=(0, 4 * H))],
        jobs,
        plane_matrix(pts),
        deterministic=True,
        urgent_cost_per_s=0,  # the brute force prices unserved weight and travel, not how soon
    )
    plan = solve(p, **quick())
    assert plan.is_feasible(), plan.violations()
    assert (plan.unserved_weight, plan.travel_m) == brute_force(p)


def test_skills_decide_who_goes() -> None:
    p = problem(
        [engineer("E1", skills={"ELEC"}), engineer("E2", at=2, skills={"HVAC"})],
        [job("J1", 1, skills={"HVAC"})],
        line_matrix([0, 10, 5000]),
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert plan.route_of("E2").job_ids == ["J1"]
    assert plan.route_of("E1") is None
    assert plan.is_feasible()


def test_service_starts_inside_the_later_window_when_the_first_is_out_of_reach() -> None:
    # 2 h 1 min drive: the 08:00-09:00 window is gone, the 14:00-15:00 one is not.
    p = problem(
        [engineer("E1", shift=(7 * H, 18 * H))],
        [job("J1", 1, windows=((8 * H, 9 * H), (14 * H, 15 * H)))],
        line_matrix([0, 7260]),
        deterministic=True,
    )
    plan = solve(p, **quick())
    (stop,) = plan.route_of("E1").stops
    assert stop.start == 14 * H and stop.arrival == 9 * H + 60
    assert plan.is_feasible()


def test_an_emergency_outweighs_a_day_of_lower_work() -> None:
    # One engineer, 8 h: either the far emergency or six nearby routine jobs.
    jobs = [job(f"R{i}", 1, dur=H, priority=2) for i in range(6)]
    jobs.append(job("EM", 2, dur=H, priority=1, windows=((4 * H, 5 * H),)))
    p = problem([engineer("E1", shift=(0, 8 * H))], jobs, line_matrix([0, 10, 3 * 3600]), deterministic=True)
    plan = solve(p, **quick())
    assert "EM" in plan.route_of("E1").job_ids
    assert plan.is_feasible()
    served = plan.route_of("E1").job_ids
    assert len(served) < 7  # the emergency really cost routine work


def test_same_seed_and_solution_limit_give_the_same_plan() -> None:
    import random

    rng = random.Random(5)
    pts = [(0, 0), (500, 500)] + [(rng.randint(-5000, 5000), rng.randint(-5000, 5000)) for _ in range(25)]
    jobs = [
        job(f"J{i}", i + 2, dur=1800, windows=((rng.randrange(0, 6 * H, 1800),) * 1 + (9 * H,),))
        for i in range(25)
    ]
    p = problem(
        [engineer("E1"), engineer("E2", at=1), engineer("E3")],
        jobs,
        plane_matrix(pts),
        deterministic=True,
    )
    a = solve(p, time_limit=30, seed=3, solution_limit=50)
    b = solve(p, time_limit=30, seed=3, solution_limit=50)
    assert [r.job_ids for r in a.routes] == [r.job_ids for r in b.routes]
    assert a.objective == b.objective
    assert a.is_feasible()


def test_progress_reports_a_falling_best_objective() -> None:
    seen: list[tuple[float, int]] = []
    pts = [(0, 0)] + [(i * 700 % 5000, i * 1300 % 4000) for i in range(1, 16)]
    p = problem(
        [engineer("E1"), engineer("E2")],
        [job(f"J{i}", i) for i in range(1, 16)],
        plane_matrix(pts),
        deterministic=True,
    )
    plan = solve(p, progress=lambda t, obj: seen.append((t, obj)), **quick())
    assert seen, "no progress reported"
    objs = [o for _, o in seen]
    assert all(b <= a for a, b in zip(objs, objs[1:], strict=False)) or objs[-1] <= objs[0]
    assert min(objs) >= plan.objective * 0.5


def test_breaks_are_taken_within_their_window() -> None:
    lunch = Break(window=(12 * H, 13 * H), duration_s=1800)
    p = problem(
        [engineer("E1", shift=(8 * H, 18 * H), breaks=(lunch,))],
        [job(f"J{i}", i, dur=2 * H) for i in range(1, 4)],
        line_matrix([0, 600, 1200, 1800]),
        deterministic=True,
    )
    plan = solve(p, **quick())
    stops = plan.route_of("E1").stops
    brk = [s for s in stops if s.kind == "break"]
    assert len(brk) == 1 and 12 * H <= brk[0].start <= 13 * H
    assert len([s for s in stops if s.kind == "job"]) == 3
    assert plan.is_feasible(), plan.violations()


def test_late_sla_is_counted_and_minimised() -> None:
    # Two jobs, only one can be first; the one with the deadline goes first.
    p = problem(
        [engineer("E1", shift=(8 * H, 18 * H))],
        [job("A", 1, dur=2 * H), job("B", 2, dur=2 * H, sla_deadline=8 * H + 600)],
        line_matrix([0, 300, 400]),
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert plan.route_of("E1").job_ids[0] == "B"
    assert plan.lateness_s == 0


def test_overtime_only_when_allowed() -> None:
    jobs = [job("J1", 1, dur=3 * H), job("J2", 1, dur=3 * H)]
    eng = engineer("E1", shift=(8 * H, 13 * H), overtime_s=2 * H)
    m = line_matrix([0, 600])
    strict = solve(problem([eng], jobs, m, deterministic=True), **quick())
    assert len(strict.unassigned) == 1
    paid = solve(problem([eng], jobs, m, deterministic=True, overtime_allowed=True), **quick())
    assert not paid.unassigned and paid.overtime_s > 0
    assert paid.is_feasible(), paid.violations()


def test_capacity_for_plain_vrp() -> None:
    jobs = [job(f"J{i}", i, dur=60, demand=4) for i in range(1, 5)]
    p = problem(
        [engineer("E1", capacity=8), engineer("E2", capacity=8)],
        jobs,
        line_matrix([0, 10, 20, 30, 40]),
        allow_unserved=False,
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert sorted(len(r.job_ids) for r in plan.routes) == [2, 2]
    assert plan.is_feasible()


def test_summary_and_self_check_catch_tampering() -> None:
    p = problem(
        [engineer("E1")], [job("J1", 1, windows=((0, H),))], line_matrix([0, 100]), deterministic=True
    )
    plan = solve(p, **quick())
    assert "served 1/1 jobs" in plan.summary()
    r = plan.routes[0]
    bad_stop = replace(r.stops[0], start=2 * H, end=2 * H + 600)
    bad = replace(plan, routes=(replace(r, stops=(bad_stop,)),))
    assert not bad.is_feasible()
    assert any("outside" in v for v in bad.violations())


def test_geographic_problem_uses_great_circle_by_default() -> None:
    from dispatch import Engineer, Job, Problem

    p = Problem(
        [Engineer("E1", start=(48.137, 11.575), shift=(8 * H, 17 * H))],
        [Job("J1", (48.150, 11.580), 1800), Job("J2", (48.120, 11.600), 1800)],
        settings=Settings(deterministic=True),
    )
    plan = solve(p, **quick())
    assert plan.is_feasible() and not plan.unassigned
    assert 4000 < plan.travel_m < 15000


def test_an_engineer_who_cannot_get_home_inside_the_shift_does_not_stall_the_search() -> None:
    # Even the empty route of FAR (a million seconds from home) ends after the shift. make_plan's
    # repair popped from an empty list on it, and OR-Tools, which times empty routes too, found
    # no solution at all, so the polish's work was thrown away. A pickup is in play too.
    pts = [(0, 0), (10**6, 0), (1000, 0), (2000, 500), (3000, -500), (1500, 0)]
    far = Engineer("FAR", start=1, end=0, shift=(8 * H, 17 * H), breaks=(Break((12 * H, 13 * H), 1800),))
    p = problem(
        [engineer("E1", at=0, shift=(8 * H, 17 * H)), far],
        [job("J1", 2, parts={"P1": 1}), job("J2", 3), job("J3", 4)],
        plane_matrix(pts),
        warehouses=[Warehouse("W1", 5, open=(7 * H, 18 * H), pickup_s=600, stock={"P1": 2})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert plan.route_of("FAR") is None
    route = plan.route_of("E1")
    assert route is not None and sorted(route.job_ids) == ["J1", "J2", "J3"]
    assert "lns+gls" in plan.stats["workers"], plan.stats["workers"]  # OR-Tools found solutions
    assert plan.is_feasible(), plan.violations()
