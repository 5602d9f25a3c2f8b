"""Every job gets a reason a dispatcher can check."""

from __future__ import annotations

from dispatch import Warehouse, explain, solve
from tests.dispatch.world import H, engineer, job, line_matrix, problem, quick


def _day():
    # Locations: 0 home E1, 1 home E2, 2..6 customers, 7 warehouse.
    m = line_matrix([0, 20000, 1000, 2000, 3000, 60000, 21000, 500])
    engineers = [
        engineer("E1", at=0, shift=(8 * H, 12 * H), skills={"HVAC"}, stock={"P1": 1}),
        engineer("E2", at=1, shift=(8 * H, 12 * H), skills={"HVAC", "ELEC"}),
    ]
    jobs = [
        job("near", 2, dur=H, skills={"HVAC"}, parts={"P1": 1}),
        job("pickup", 3, dur=H, skills={"HVAC"}, parts={"P2": 1}),
        job("lift", 4, skills={"LIFT"}),  # nobody has LIFT
        job("unobtainium", 4, skills={"HVAC"}, parts={"P9": 1}),  # no van, no warehouse
        job("too_far", 5, windows=((8 * H, 8 * H + 600),)),  # 60 km away, ten-minute window
        job("elec", 6, dur=H, skills={"ELEC"}),
        # Fill E2's morning so one more ELEC job finds no room.
        job("elec2", 6, dur=2 * H, skills={"ELEC"}, priority=4),
        job("elec3", 6, dur=2 * H, skills={"ELEC"}, priority=4),
    ]
    wh = [Warehouse("W1", 7, open=(7 * H, 18 * H), pickup_s=300, stock={"P2": 2})]
    return problem(engineers, jobs, m, warehouses=wh, deterministic=True)


def test_unassigned_jobs_say_why() -> None:
    plan = solve(_day(), **quick())
    assert plan.is_feasible(), plan.violations()
    reasons = {u.job_id: u.reason for u in plan.unassigned}
    assert reasons["lift"] == "no_skill"
    assert reasons["unobtainium"] == "no_part"
    assert reasons["too_far"] == "window_unreachable"
    assert "no_capacity" in {reasons.get("elec2"), reasons.get("elec3")}
    by_job = {e.job_id: e for e in explain(plan)}
    assert "LIFT" in by_job["lift"].reason
    assert "P9" in by_job["unobtainium"].reason


def test_assigned_jobs_explain_engineer_parts_travel_and_alternatives() -> None:
    plan = solve(_day(), **quick())
    by_job = {e.job_id: e for e in explain(plan)}
    near = by_job["near"]
    assert near.engineer_id == "E1"
    assert near.parts_from_van == {"P1": 1}
    assert near.travel_added_m >= 0 and near.slack_s >= 0  # on the way: may add nothing
    picked = by_job["pickup"]
    assert picked.parts_picked_up == {"P2": "W1"}
    assert "picks up P2 at W1" in picked.reason
    elec = by_job["elec"]
    assert elec.engineer_id == "E2"
    # E1 lacks ELEC: listed as an alternative that cannot take it, with the reason.
    e1 = next(a for a in elec.alternatives if a.engineer_id == "E1")
    assert not e1.feasible and "skill" in e1.note


def test_alternative_cost_is_the_objective_change_of_moving_the_job() -> None:
    # Two engineers, one job nearer to E1: moving it to E2 costs the extra travel.
    m = line_matrix([0, 10000, 1000])
    p = problem([engineer("E1", at=0), engineer("E2", at=1)], [job("J", 2)], m, deterministic=True)
    plan = solve(p, **quick())
    (e,) = explain(plan)
    assert e.engineer_id == "E1" and e.travel_added_m == 2000
    (alt,) = e.alternatives
    assert alt.engineer_id == "E2" and alt.extra_cost == 2 * 9000 - 2 * 1000


def test_one_persons_engineers_are_not_each_others_alternative_and_costs_read_in_km() -> None:
    # E1 and E1x are one person (say, a shift and an on-call cover); E2 is another.
    m = line_matrix([0, 0, 10000, 1000])
    engineers = [engineer("E1", at=0), engineer("E1x", at=1), engineer("E2", at=2)]
    p = problem(engineers, [job("J", 3)], m, deterministic=True)
    plan = solve(p, **quick())
    (e,) = explain(plan, person=lambda eid: eid[:2])
    assert [a.engineer_id for a in e.alternatives] == ["E2"]
    assert e.alternatives[0].extra_cost == 2 * 9000 - 2 * 1000
    assert e.reason.endswith("next best E2 would cost the equivalent of 16.0 km more travel"), e.reason
