"""Re-planning mid-day: the past stays, the emergency goes in, promises mostly hold."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch import Engineer, Job, Position, Problem, replan, solve
from dispatch.core import compile_problem
from dispatch.schedule import repair
from tests.dispatch.world import H, engineer, job, plane_matrix, problem, quick


def _day():
    import random

    rng = random.Random(11)
    pts = [(0, 0), (8000, 0)] + [(rng.randint(-9000, 9000), rng.randint(-9000, 9000)) for _ in range(17)]
    pts.append((1000, 1000))  # 19: where the emergency will be
    engineers = [engineer("E1", at=0, shift=(8 * H, 17 * H)), engineer("E2", at=1, shift=(8 * H, 17 * H))]
    jobs = [job(f"J{i}", i + 2, dur=2400, priority=rng.choice([2, 3, 4])) for i in range(16)]
    return problem(engineers, jobs, plane_matrix(pts), deterministic=True)


def _promised(p, plan):
    starts = {s.id: s.start for r in plan.routes for s in r.stops if s.kind == "job"}
    jobs = tuple(
        replace(j, appointment=(starts[j.id] - H, starts[j.id] + H)) if j.id in starts else j for j in p.jobs
    )
    return replace(p, jobs=jobs)


def _state(plan, now):
    """Visits finished, and under way, at ``now``."""
    done, started = [], []
    for r in plan.routes:
        for s in r.stops:
            if s.kind == "job" and s.end <= now:
                done.append(s.id)
            elif s.kind == "job" and s.start <= now:
                started.append(s.id)
    return done, started


def test_emergency_is_inserted_and_the_past_is_frozen() -> None:
    p = _day()
    base = solve(p, **quick())
    promised = _promised(p, base)
    now = 11 * H
    done, started = _state(base, now)
    where = {j.id: j.location for j in p.jobs}
    positions = []
    for r in base.routes:
        for s in r.stops:
            if s.kind == "job" and s.start <= now < s.end:
                positions.append(Position(r.engineer_id, where[s.id], s.end))
    emergency = Job("EM", 19, 3600, windows=((now, now + 3 * H),), priority=1)
    new = replan(
        base,
        promised,
        now=now,
        positions=positions,
        done=done,
        started=started,
        new_jobs=[emergency],
        time_limit=1.0,
        seed=1,
    )
    assert new.is_feasible(), new.violations()
    served = {jid for r in new.routes for jid in r.job_ids}
    assert "EM" in served
    assert not served & (set(done) | set(started))
    assert set(new.stats["frozen"]) == set(done) | set(started)
    for r in new.routes:
        assert r.departure >= now
    # Most promises hold: starting outside the promised slot is penalised.
    appts = {j.id: j.appointment for j in promised.jobs if j.appointment}
    kept = [s for r in new.routes for s in r.stops if s.kind == "job" and s.id in appts]
    held = sum(appts[s.id][0] <= s.start <= appts[s.id][1] for s in kept)
    assert held >= len(kept) - 3


def test_cancelled_jobs_leave_and_unknown_ids_are_refused() -> None:
    p = _day()
    base = solve(p, **quick())
    new = replan(base, p, now=8 * H, cancelled=["J3"], time_limit=0.5)
    assert "J3" not in {jid for r in new.routes for jid in r.job_ids}
    assert "J3" not in {u.job_id for u in new.unassigned}
    with pytest.raises(ValueError, match="'J99' is not in the problem"):
        replan(base, p, now=8 * H, done=["J99"])
    with pytest.raises(ValueError, match="already exists"):
        replan(base, p, now=8 * H, new_jobs=[job("J1", 3)])


def _far_day() -> Problem:
    """Homes at 0 and 1, three visits nearby, and a point (4) a million seconds' drive away."""
    pts = [(0, 0), (3000, 0), (1000, 500), (1500, -500), (2000, 0), (10**6, 0)]
    engineers = [engineer("E1", at=0, shift=(8 * H, 17 * H)), engineer("E2", at=1, shift=(8 * H, 17 * H))]
    jobs = [job(f"J{i}", i + 2, dur=1800) for i in range(3)]
    return problem(engineers, jobs, plane_matrix(pts), deterministic=True)


def test_an_engineer_who_cannot_get_home_before_the_shift_ends_loses_the_stops_not_the_run() -> None:
    # Plan run 557 (QA, 2026-12-07): a position reported at (0, 0) left an engineer with no way
    # home inside the shift, not even with an empty route, and repair popped from an empty list.
    p = _far_day()
    base = solve(p, **quick())
    who = next(r.engineer_id for r in base.routes if r.stops)
    other = "E2" if who == "E1" else "E1"
    now = 10 * H
    new = replan(base, p, now=now, positions=[Position(who, 5, now)], time_limit=0.5)
    assert new.route_of(who) is None
    route = new.route_of(other)
    assert route is not None and sorted(route.job_ids) == ["J0", "J1", "J2"]  # dropped, re-inserted
    assert new.is_feasible(), new.violations()


def test_repair_gives_back_an_empty_route_when_even_that_cannot_get_home_in_time() -> None:
    p = problem(
        [Engineer("E1", start=1, end=0, shift=(8 * H, 9 * H))],
        [job("J1", 0)],
        plane_matrix([(0, 0), (10**5, 0)]),
    )
    raw, sim, dropped = repair(compile_problem(p), 0, [("job", 0)])
    assert raw == [] and dropped == [0]
    assert not sim.ok and "after shift end" in sim.error
