"""On-call cover: standby engineers take only the jobs marked for them, and only when needed."""

from __future__ import annotations

from dispatch import Engineer, explain, solve
from tests.dispatch.world import H, engineer, job, line_matrix, problem, quick

# Saturday evening in seconds from the plan day's midnight: the regular shift is over by then.
EVENING = (18 * H, 22 * H)


def _on_call(eid: str, at: int, **kw) -> Engineer:
    return engineer(eid, at=at, shift=(17 * H, 23 * H), on_call=True, fixed_cost=50_000, **kw)


def test_urgent_job_after_hours_goes_to_the_on_call_engineer() -> None:
    m = line_matrix([0, 1000, 3000])
    engineers = [
        engineer("day", at=0, shift=(8 * H, 17 * H), skills={"HVAC"}),
        _on_call("standby", at=1, skills={"HVAC"}),
    ]
    p1 = job("p1", 2, dur=H, skills={"HVAC"}, priority=1, windows=(EVENING,), on_call_ok=True)
    plan = solve(problem(engineers, [p1], m, deterministic=True), **quick())
    assert plan.is_feasible(), plan.violations()
    assert plan.route_of("standby").job_ids == ["p1"]
    # The call-out is part of the objective: travel 2 km there and back plus the fixed cost.
    assert plan.objective == 2 * 2000 + 50_000


def test_routine_job_is_not_given_to_on_call_cover_and_says_why() -> None:
    m = line_matrix([0, 1000, 3000])
    engineers = [
        engineer("day", at=0, shift=(8 * H, 17 * H), skills={"HVAC"}),
        _on_call("standby", at=1, skills={"HVAC"}),
    ]
    p3 = job("p3", 2, dur=H, skills={"HVAC"}, priority=3, windows=(EVENING,))
    plan = solve(problem(engineers, [p3], m, deterministic=True), **quick())
    assert [u.job_id for u in plan.unassigned] == ["p3"]
    assert plan.unassigned[0].reason == "off_shift"
    why = {c.engineer_id: c for c in explain(plan)[0].candidates}
    assert why["day"].code == "off_shift" and "off shift at that time" in why["day"].note
    assert why["standby"].code == "on_call"


def test_call_out_cost_keeps_standby_for_when_it_is_needed() -> None:
    # The on-call engineer lives next to the job; the day engineer is 5 km away but on shift.
    m = line_matrix([0, 5000, 5100])
    engineers = [
        engineer("day", at=0, shift=(8 * H, 17 * H), skills={"HVAC"}),
        _on_call("standby", at=1, skills={"HVAC"}),
    ]
    urgent = job("p1", 2, dur=H, skills={"HVAC"}, priority=1, windows=((8 * H, 23 * H),), on_call_ok=True)
    plan = solve(problem(engineers, [urgent], m, deterministic=True), **quick())
    assert plan.is_feasible(), plan.violations()
    assert plan.route_of("day").job_ids == ["p1"]
    assert plan.route_of("standby") is None or not plan.route_of("standby").job_ids
    # Without the call-out cost the nearer standby would have been cheaper: the cost decides.
    # (Its shift starts at 17:00: the emergency's own cost of waiting until then is set aside.)
    free = [engineers[0], Engineer(**{**_kw(engineers[1]), "fixed_cost": 0})]
    plan = solve(problem(free, [urgent], m, deterministic=True, urgent_cost_per_s=0), **quick())
    assert plan.route_of("standby").job_ids == ["p1"]


def _kw(e: Engineer) -> dict:
    return {n: getattr(e, n) for n in Engineer.__dataclass_fields__}


def test_explain_names_each_candidates_binding_constraint() -> None:
    m = line_matrix([0, 1000, 2000, 3000, 90_000])
    engineers = [
        engineer("plumber", at=0, shift=(8 * H, 17 * H), skills={"PLUMB"}),
        engineer("hvac_late", at=1, shift=(12 * H, 20 * H), skills={"HVAC"}),
        engineer("hvac_far", at=4, shift=(8 * H, 9 * H), skills={"HVAC"}),
    ]
    j = job("hvac", 2, dur=H, skills={"HVAC"}, windows=((8 * H, 10 * H),))
    plan = solve(problem(engineers, [j], m, deterministic=True), **quick())
    # One HVAC engineer is on shift but too far away: that, not the skill, binds overall.
    assert plan.unassigned[0].reason == "window_unreachable"
    why = {c.engineer_id: (c.code, c.note) for c in explain(plan)[0].candidates}
    assert why["plumber"] == ("skill", "lacks the skill HVAC")
    assert why["hvac_late"][0] == "off_shift"
    assert "works 12:00-20:00" in why["hvac_late"][1]
    assert why["hvac_far"][0] == "window"


def test_candidates_name_skill_pin_capacity_shift_and_part() -> None:
    m = line_matrix([0, 100, 200, 300, 400])
    engineers = [
        engineer("a", at=0, shift=(8 * H, 17 * H), skills={"ELEC"}),
        engineer("b", at=1, shift=(8 * H, 17 * H), skills={"HVAC"}, capacity=0),
        engineer("c", at=2, shift=(20 * H, 22 * H), skills={"HVAC"}),
        engineer("d", at=3, shift=(8 * H, 17 * H), skills={"HVAC"}),
    ]
    morning = ((8 * H, 10 * H),)
    jobs = [
        job("fan", 4, skills={"HVAC"}, parts={"FAN": 1}, demand=1, windows=morning),
        job("mine", 4, skills={"HVAC"}, windows=morning, pinned_engineer="c"),
    ]
    plan = solve(problem(engineers, jobs, m, deterministic=True), **quick())
    assert {u.job_id for u in plan.unassigned} == {"fan", "mine"}
    why = {e.job_id: {c.engineer_id: c.code for c in e.candidates} for e in explain(plan)}
    assert why["fan"] == {"a": "skill", "b": "capacity", "c": "off_shift", "d": "part"}
    assert why["mine"] == {"a": "skill", "b": "pinned", "c": "off_shift", "d": "pinned"}
