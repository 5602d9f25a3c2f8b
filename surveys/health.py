"""Customer health score 0–100 from service signals, with the reasons behind it (docs/kpis.md).

Start at 100 and subtract points per signal, each signal capped so that no single one can sink
an account on its own except open P1s; clamp to 0..100. Every deduction is returned as a reason,
so the 360 view can say *why* an account is at risk rather than show a bare number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# (points per unit, cap) for each signal. Commented data: change the weights here, and the table in
# docs/kpis.md with them.
OPEN_P1 = (15, 30)  # an open emergency is the loudest signal there is
OPEN_P2 = (5, 15)
SLA_BREACH_90D = (4, 20)
DETRACTOR_90D = (8, 24)  # each unhappy answer in 90 days
REPEAT_VISIT_90D = (4, 12)
CSAT_DROP_PER_POINT = (10, 20)  # per CSAT point the last 90 days fell below the 90 days before
CSAT_TREND_MIN_N = 3  # answers needed on each side before a trend is believed
TICKET_LOAD_PER_ASSET = (5, 15)  # per ticket per asset in 90 days above the normal load
NORMAL_TICKETS_PER_ASSET_90D = 1.0

Band = Literal["healthy", "watch", "at_risk"]


@dataclass(frozen=True, slots=True)
class HealthSignals:
    open_p1: int = 0
    open_p2: int = 0
    sla_breaches_90d: int = 0
    detractors_90d: int = 0  # answers with NPS ≤ 6, CSAT ≤ 2 or "not solved"
    repeat_visits_90d: int = 0
    tickets_90d: int = 0
    assets: int = 0  # installed base under service
    csat_mean_90d: float | None = None
    csat_n_90d: int = 0
    csat_mean_prev_90d: float | None = None  # days 91–180 back
    csat_n_prev_90d: int = 0


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str
    points: int  # negative: points taken off 100


@dataclass(frozen=True, slots=True)
class Health:
    score: int  # 0..100
    band: Band
    reasons: tuple[Reason, ...]  # largest deduction first

    def as_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "band": self.band,
            "reasons": [{"code": r.code, "text": r.text, "points": r.points} for r in self.reasons],
        }


def _per_unit(count: float, rule: tuple[int, int]) -> int:
    per, cap = rule
    # Half up, not Python's round-half-even: 2.5 points is 3, as a person would write it.
    return min(cap, int(per * count + 0.5))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def health_score(s: HealthSignals) -> Health:
    reasons: list[Reason] = []

    def take(code: str, text: str, points: int) -> None:
        if points > 0:
            reasons.append(Reason(code, text, -points))

    take("open_p1", f"{_plural(s.open_p1, 'open P1 ticket')}", _per_unit(s.open_p1, OPEN_P1))
    take("open_p2", f"{_plural(s.open_p2, 'open P2 ticket')}", _per_unit(s.open_p2, OPEN_P2))
    take(
        "sla_breaches",
        f"{_plural(s.sla_breaches_90d, 'SLA breach')} in 90 days".replace("breachs", "breaches"),
        _per_unit(s.sla_breaches_90d, SLA_BREACH_90D),
    )
    take(
        "detractors",
        f"{_plural(s.detractors_90d, 'unhappy survey answer')} in 90 days",
        _per_unit(s.detractors_90d, DETRACTOR_90D),
    )
    take(
        "repeat_visits",
        f"{_plural(s.repeat_visits_90d, 'repeat visit')} in 90 days",
        _per_unit(s.repeat_visits_90d, REPEAT_VISIT_90D),
    )
    if (
        s.csat_mean_90d is not None
        and s.csat_mean_prev_90d is not None
        and min(s.csat_n_90d, s.csat_n_prev_90d) >= CSAT_TREND_MIN_N
        and s.csat_mean_90d < s.csat_mean_prev_90d
    ):
        drop = s.csat_mean_prev_90d - s.csat_mean_90d
        take(
            "csat_falling",
            f"satisfaction fell from {s.csat_mean_prev_90d:.1f} to {s.csat_mean_90d:.1f}",
            _per_unit(drop, CSAT_DROP_PER_POINT),
        )
    if s.assets > 0:
        load = s.tickets_90d / s.assets
        excess = load - NORMAL_TICKETS_PER_ASSET_90D
        if excess > 0:
            take(
                "ticket_load",
                f"{load:.1f} tickets per asset in 90 days",
                _per_unit(excess, TICKET_LOAD_PER_ASSET),
            )
    score = max(0, min(100, 100 + sum(r.points for r in reasons)))
    band: Band = "healthy" if score >= 75 else "watch" if score >= 50 else "at_risk"
    reasons.sort(key=lambda r: (r.points, r.code))
    return Health(score, band, tuple(reasons))
