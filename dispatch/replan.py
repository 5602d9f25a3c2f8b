"""Re-plan during the day: frozen past, new and cancelled jobs, fast emergency insertion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import Job, Location, Plan, Problem


@dataclass(frozen=True, slots=True)
class Position:
    """Where an engineer is at ``now`` (or will be free: after the started visit)."""

    engineer_id: str
    location: Location
    available_at: int


def replan(
    plan: Plan,
    problem: Problem,
    *,
    now: int,
    positions: Iterable[Position] = (),
    done: Iterable[str] = (),
    started: Iterable[str] = (),
    new_jobs: Iterable[Job] = (),
    cancelled: Iterable[str] = (),
    time_limit: float = 1.0,
    seed: int = 0,
) -> Plan:
    raise NotImplementedError("work in progress")
