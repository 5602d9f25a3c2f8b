"""Spare parts: from the van, or picked up at a warehouse on the way; stock never over-used."""

from __future__ import annotations

from dispatch import Warehouse, solve
from tests.dispatch.world import H, engineer, job, line_matrix, problem, quick


def test_a_job_needing_a_part_not_in_the_van_gets_a_pickup_before_it() -> None:
    # Home at 0, warehouse at 1 km, customer at 3 km. The van has no P1.
    p = problem(
        [engineer("E1", shift=(8 * H, 17 * H), stock={"P2": 1})],
        [job("J1", 2, parts={"P1": 2})],
        line_matrix([0, 1000, 3000]),
        warehouses=[Warehouse("W1", 1, open=(7 * H, 18 * H), pickup_s=600, stock={"P1": 5})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    stops = plan.route_of("E1").stops
    assert [(s.kind, s.id) for s in stops] == [("pickup", "W1"), ("job", "J1")]
    assert stops[0].parts == {"P1": 2}
    assert stops[0].end - stops[0].start == 600
    assert plan.is_feasible(), plan.violations()


def test_van_stock_is_used_first_and_never_goes_negative() -> None:
    p = problem(
        [engineer("E1", stock={"P1": 1})],
        [job("J1", 1, parts={"P1": 1}), job("J2", 2, parts={"P1": 1})],
        line_matrix([0, 100, 200]),
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert len(plan.route_of("E1").job_ids) == 1  # no warehouse: one part, one job
    (u,) = plan.unassigned
    assert u.reason == "no_capacity" or u.reason == "no_part"
    assert plan.is_feasible()


def test_shared_warehouse_stock_is_not_over_used_by_two_engineers() -> None:
    # Two engineers on opposite sides, one unit at the central warehouse.
    p = problem(
        [engineer("E1", at=0), engineer("E2", at=4)],
        [job("J1", 1, parts={"P1": 1}), job("J2", 3, parts={"P1": 1})],
        line_matrix([0, 1000, 5000, 9000, 10000]),
        warehouses=[Warehouse("W1", 2, open=(0, 24 * H), pickup_s=300, stock={"P1": 1})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    picked = sum(s.parts.get("P1", 0) for r in plan.routes for s in r.stops if s.kind == "pickup")
    assert picked == 1
    assert len(plan.unassigned) == 1
    assert plan.unassigned[0].reason == "no_part"
    assert "already allocated" in plan.unassigned[0].detail
    assert plan.is_feasible(), plan.violations()


def test_pickup_must_fit_opening_hours() -> None:
    # The warehouse closes before anyone can get there: the job cannot be served.
    p = problem(
        [engineer("E1", shift=(8 * H, 17 * H))],
        [job("J1", 2, parts={"P1": 1})],
        line_matrix([0, 30000, 31000]),
        warehouses=[Warehouse("W1", 1, open=(6 * H, 8 * H + 600), stock={"P1": 3})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    assert plan.unassigned and plan.unassigned[0].job_id == "J1"
    assert plan.is_feasible()


def test_one_visit_picks_up_for_several_jobs() -> None:
    p = problem(
        [engineer("E1")],
        [job(f"J{i}", 2 + i, parts={"P1": 1}) for i in range(3)],
        line_matrix([0, 500, 2000, 2100, 2200]),
        warehouses=[Warehouse("W1", 1, open=(0, 24 * H), pickup_s=600, stock={"P1": 9})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    pickups = [s for s in plan.route_of("E1").stops if s.kind == "pickup"]
    assert len(pickups) == 1 and pickups[0].parts == {"P1": 3}
    assert not plan.unassigned and plan.is_feasible()


def test_replan_does_not_repeat_a_pickup_already_made() -> None:
    from dispatch import replan

    # The only P1 in the warehouse is picked up at the start of the day for J1 (at 3 km).
    p = problem(
        [engineer("E1", shift=(8 * H, 17 * H))],
        [job("J1", 2, dur=3600, parts={"P1": 1}), job("J2", 3, dur=600)],
        line_matrix([0, 1000, 3000, 3500]),
        warehouses=[Warehouse("W1", 1, open=(7 * H, 18 * H), pickup_s=600, stock={"P1": 1})],
        deterministic=True,
    )
    plan = solve(p, **quick())
    pickup = plan.route_of("E1").stops[0]
    assert (pickup.kind, pickup.id) == ("pickup", "W1")
    now = pickup.end + 60  # the part is in the van now; J1 has not started
    new = replan(plan, p, now=now, time_limit=0.5, seed=1)
    assert "J1" in new.route_of("E1").job_ids
    assert all(s.kind != "pickup" for s in new.route_of("E1").stops)
    assert new.is_feasible(), new.violations()
