"""Health score: 100 minus capped deductions, each listed as a reason with its points."""

from __future__ import annotations

from surveys import HealthSignals, health_score


def test_a_quiet_account_is_fully_healthy() -> None:
    h = health_score(HealthSignals(tickets_90d=2, assets=4, csat_mean_90d=4.6, csat_n_90d=5))
    assert (h.score, h.band, h.reasons) == (100, "healthy", ())


def test_reasons_and_points_by_hand() -> None:
    s = HealthSignals(
        open_p1=1,  # 15 × 1 = 15
        sla_breaches_90d=6,  # 4 × 6 = 24, capped at 20
        detractors_90d=2,  # 8 × 2 = 16
        csat_mean_90d=3.0,
        csat_n_90d=5,
        csat_mean_prev_90d=4.2,
        csat_n_prev_90d=5,  # fell 1.2 points: 10 × 1.2 = 12
        tickets_90d=9,
        assets=3,  # 3 per asset, 2 above normal: 5 × 2 = 10
    )
    h = health_score(s)
    # 100 − (20 + 16 + 15 + 12 + 10) = 27 → at risk.
    assert (h.score, h.band) == (27, "at_risk")
    assert [(r.code, r.points) for r in h.reasons] == [
        ("sla_breaches", -20),
        ("detractors", -16),
        ("open_p1", -15),
        ("csat_falling", -12),
        ("ticket_load", -10),
    ]
    texts = {r.code: r.text for r in h.reasons}
    assert texts["sla_breaches"] == "6 SLA breaches in 90 days"
    assert texts["open_p1"] == "1 open P1 ticket"
    assert texts["csat_falling"] == "satisfaction fell from 4.2 to 3.0"


def test_watch_band_and_half_up_rounding() -> None:
    # P2 × 3 = 15, repeat visits 2 × 4 = 8; CSAT fell 0.25: 2.5 → 3 (half up) → 100 − 26 = 74.
    s = HealthSignals(
        open_p2=3,
        repeat_visits_90d=2,
        csat_mean_90d=4.0,
        csat_n_90d=3,
        csat_mean_prev_90d=4.25,
        csat_n_prev_90d=4,
    )
    h = health_score(s)
    assert (h.score, h.band) == (74, "watch")
    assert dict((r.code, r.points) for r in h.reasons) == {
        "open_p2": -15,
        "repeat_visits": -8,
        "csat_falling": -3,
    }


def test_a_trend_on_too_few_answers_is_not_believed() -> None:
    s = HealthSignals(csat_mean_90d=1.0, csat_n_90d=2, csat_mean_prev_90d=5.0, csat_n_prev_90d=10)
    assert health_score(s).score == 100


def test_score_never_below_zero() -> None:
    h = health_score(
        HealthSignals(open_p1=5, open_p2=9, sla_breaches_90d=20, detractors_90d=9, repeat_visits_90d=9)
    )
    # 30 + 15 + 20 + 24 + 12 = 101 points off → clamped to 0.
    assert h.score == 0 and sum(r.points for r in h.reasons) == -101
