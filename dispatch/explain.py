"""Why each job went where it did (or nowhere)."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Plan


@dataclass(frozen=True, slots=True)
class Alternative:
    engineer_id: str
    extra_cost: int  # objective increase over the chosen engineer, if moved there
    feasible: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Explanation:
    job_id: str
    engineer_id: str | None
    reason: str  # human readable
    skills: tuple[str, ...] = ()
    parts_from_van: dict[str, int] | None = None
    parts_picked_up: dict[str, str] | None = None  # part -> warehouse id
    travel_added_m: int = 0
    slack_s: int = 0
    alternatives: tuple[Alternative, ...] = ()


def explain(plan: Plan, *, alternatives: int = 3) -> list[Explanation]:
    raise NotImplementedError("work in progress")
