"""Fieldline dispatch engine: field-service routing on Google OR-Tools.

    from dispatch import Engineer, Job, Problem, solve
    plan = solve(Problem(engineers=[...], jobs=[...]), time_limit=10, seed=1)
    plan.is_feasible(); print(plan.summary())

Only the standard library, numpy and ortools are imported here (geopy is a test-only check).
"""

from .engine import solve
from .explain import Alternative, Candidate, Explanation, explain
from .matrix import GreatCircle, MatrixProvider, OsrmTable
from .model import (
    DEFAULT_PRIORITY_WEIGHTS,
    Break,
    Engineer,
    Job,
    Plan,
    Problem,
    Route,
    Settings,
    Stop,
    TravelMatrix,
    Unassigned,
    Warehouse,
)
from .replan import Position, replan

__all__ = [
    "DEFAULT_PRIORITY_WEIGHTS",
    "Alternative",
    "Break",
    "Candidate",
    "Engineer",
    "Explanation",
    "GreatCircle",
    "Job",
    "MatrixProvider",
    "OsrmTable",
    "Plan",
    "Position",
    "Problem",
    "Route",
    "Settings",
    "Stop",
    "TravelMatrix",
    "Unassigned",
    "Warehouse",
    "explain",
    "replan",
    "solve",
]
