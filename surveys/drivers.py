"""Which visit facts move satisfaction, and by how much (definition: docs/kpis.md, "Drivers").

For each boolean fact joined to the answers (late, repeat visit, part missing, …) compare the mean
CSAT of answers where the fact held with those where it did not: the difference with Welch's 95 %
interval, both sample sizes, ranked by the size of the difference. This is association, not proof
of cause: a late visit may also be a harder job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .stats import welch

# The facts the app joins to each answer (keys of RatedVisit.facts); others are compared as well.
VISIT_FACTS: tuple[str, ...] = (
    "late",  # arrived after the promised window
    "repeat_visit",  # a return within 30 days of an earlier completed work order
    "part_missing",  # a part was missing or a second trip was needed
    "duration_overrun",  # on site longer than planned
    "sla_breach",  # any SLA clock of the ticket breached
    "first_time_fix",  # completed at the first visit
)


@dataclass(frozen=True, slots=True)
class RatedVisit:
    csat: int  # 1..5
    facts: Mapping[str, bool]  # a fact that is unknown for this visit is left out


@dataclass(frozen=True, slots=True)
class DriverEffect:
    fact: str
    mean_with: float | None  # mean CSAT where the fact held
    n_with: int
    mean_without: float | None
    n_without: int
    difference: float | None  # mean_with − mean_without, CSAT points
    ci_low: float | None  # Welch 95 % interval for the difference; None when a side has n < 2
    ci_high: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "fact": self.fact,
            "mean_with": self.mean_with,
            "n_with": self.n_with,
            "mean_without": self.mean_without,
            "n_without": self.n_without,
            "difference": self.difference,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def driver_effects(rows: Iterable[RatedVisit], facts: Iterable[str] | None = None) -> list[DriverEffect]:
    """One :class:`DriverEffect` per fact, largest |difference| first; facts without both sides last."""
    items = list(rows)
    names = list(facts) if facts is not None else sorted({f for r in items for f in r.facts})
    effects: list[DriverEffect] = []
    for fact in names:
        yes = [float(r.csat) for r in items if r.facts.get(fact) is True]
        no = [float(r.csat) for r in items if r.facts.get(fact) is False]
        w = welch(yes, no)
        effects.append(
            DriverEffect(
                fact=fact,
                mean_with=sum(yes) / len(yes) if yes else None,
                n_with=len(yes),
                mean_without=sum(no) / len(no) if no else None,
                n_without=len(no),
                difference=w.difference if w else None,
                ci_low=w.ci_low if w else None,
                ci_high=w.ci_high if w else None,
            )
        )
    # Rank by the effect the data are sure of, in CSAT points (the unit a manager reads): the end of
    # the 95 % interval nearest zero, 0 when the interval spans zero. By the difference alone, a fact
    # seen in 3 answers (−1.0, interval −3.1 to +1.1) came first and drawn largest above one seen in
    # hundreds. Then the difference itself, then the larger sample.
    effects.sort(
        key=lambda e: (
            e.difference is None,
            -_sure(e),
            -abs(e.difference or 0.0),
            -min(e.n_with, e.n_without),
            e.fact,
        )
    )
    return effects


def _sure(e: DriverEffect) -> float:
    """How far the 95 % interval stays from zero (0: it spans zero, or there is none)."""
    if e.ci_low is None or e.ci_high is None or e.ci_low <= 0.0 <= e.ci_high:
        return 0.0
    return min(abs(e.ci_low), abs(e.ci_high))
