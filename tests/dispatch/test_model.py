"""Bad input is refused with a message a dispatcher can act on."""

from __future__ import annotations

import pytest

from dispatch import Engineer, Job, Problem, Settings, Warehouse
from tests.dispatch.world import H, engineer, job, line_matrix, problem

M = line_matrix([0, 100, 200])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: problem([], [job("J1", 1)], M), "no engineers"),
        (lambda: problem([engineer("E1"), engineer("E1")], [], M), "engineer id 'E1' is used twice"),
        (lambda: problem([engineer("E1")], [job("J1", 1), job("J1", 2)], M), "job id 'J1'"),
        (
            lambda: problem([engineer("E1")], [job("J1", 1, windows=((9 * H, 8 * H),))], M),
            "job J1: window 09:00-08:00 ends before it starts",
        ),
        (lambda: problem([engineer("E1", shift=(5 * H, 4 * H))], [], M), "shift"),
        (lambda: problem([engineer("E1")], [job("J1", 1, priority=7)], M), "priority must be 1"),
        (
            lambda: problem([engineer("E1")], [job("J1", 1, pinned_engineer="E9")], M),
            "pinned to unknown engineer 'E9'",
        ),
        (lambda: problem([engineer("E1")], [job("J1", 1, parts={"P1": -1})], M), "part P1"),
        (lambda: problem([engineer("E1")], [job("J1", 5)], M), "row of the travel matrix"),
        (lambda: problem([engineer("E1")], [job("J1", 1, dur=-5)], M), "duration"),
        (
            lambda: problem([engineer("E1", stock={"P1": 1.5})], [], M),
            "quantity of part P1 must be a whole number",
        ),
        (
            lambda: problem([engineer("E1")], [], M, priority_weights={1: 10, 2: 5}),
            "priority weights miss priorities [3, 4]",
        ),
        (
            lambda: problem([engineer("E1")], [], M, warehouses=[Warehouse("W1", 0, (10, 5), stock={})]),
            "warehouse W1 opening hours",
        ),
    ],
)
def test_malformed_input_is_a_value_error_naming_the_culprit(build, message: str) -> None:
    with pytest.raises(ValueError, match=None) as err:
        build()
    assert message in str(err.value)


def test_coordinates_must_be_latitude_longitude_without_matrix() -> None:
    with pytest.raises(ValueError, match="not a valid"):
        Problem([Engineer("E1", start=(91.0, 0.0))], [])
    with pytest.raises(ValueError, match="latitude, longitude"):
        Problem([Engineer("E1", start=(48.1, 11.5))], [Job("J1", location="Marienplatz", duration_s=60)])


def test_inputs_are_frozen_and_copied() -> None:
    stock = {"P1": 2}
    e = Engineer("E1", start=(48.1, 11.5), stock=stock, skills=["HVAC"])
    stock["P1"] = 99
    assert e.stock == {"P1": 2}
    assert e.skills == frozenset({"HVAC"})
    with pytest.raises(AttributeError):
        e.id = "E2"  # type: ignore[misc]
    j = Job("J1", (48.1, 11.5), 60, windows=[(50, 60), (10, 20)])
    assert j.windows == ((10, 20), (50, 60))  # sorted, tuples


def test_settings_reject_negative_costs() -> None:
    with pytest.raises(ValueError, match="travel_cost_per_m"):
        Problem([Engineer("E1", start=(48.1, 11.5))], [], settings=Settings(travel_cost_per_m=-1))
