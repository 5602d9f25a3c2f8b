"""Drivers: a known difference in mean CSAT is found, sized, given an interval and ranked first."""

from __future__ import annotations

import math

import pytest

from surveys import RatedVisit, driver_effects


def _rows() -> list[RatedVisit]:
    # Late visits: CSAT 2, 3, 2, 3 (mean 2.5); on time: 5, 4, 5, 4, 5, 4 (mean 4.5).
    late = [RatedVisit(c, {"late": True, "repeat_visit": False, "sla_breach": False}) for c in (2, 3, 2, 3)]
    on_time = [
        RatedVisit(5, {"late": False, "repeat_visit": False, "sla_breach": False}),
        RatedVisit(4, {"late": False, "repeat_visit": True, "sla_breach": False}),
        RatedVisit(5, {"late": False, "repeat_visit": False, "sla_breach": False}),
        RatedVisit(4, {"late": False, "repeat_visit": True, "sla_breach": True}),
        RatedVisit(5, {"late": False, "repeat_visit": False, "sla_breach": False}),
        RatedVisit(4, {"late": False, "repeat_visit": False}),  # SLA unknown: on neither side
    ]
    return late + on_time


def test_known_difference_with_welch_interval() -> None:
    effects = {e.fact: e for e in driver_effects(_rows())}
    late = effects["late"]
    # 2.5 − 4.5 = −2.0; se² = (1/3)/4 + 0.3/6 = 0.133333, df = 6.3158 (see test_survey_stats).
    assert (late.mean_with, late.n_with, late.mean_without, late.n_without) == (2.5, 4, 4.5, 6)
    assert late.difference == pytest.approx(-2.0)
    se = math.sqrt(0.133333)
    assert late.ci_high is not None and late.ci_low is not None
    assert 2.3646 * se < late.ci_high - late.difference < 2.4469 * se  # t(7) < t(6.3158) < t(6)
    assert late.ci_high < 0  # the interval excludes "no effect"


def test_ranked_by_size_and_small_sides_get_no_interval() -> None:
    ranked = driver_effects(_rows())
    # repeat_visit: with [4, 4] → 4; without 2, 3, 2, 3, 5, 5, 5, 4 → 29/8 = 3.625; +0.375, n 2 / 8.
    # sla_breach: with [4] → 4; without 2, 3, 2, 3, 5, 4, 5, 5 → 29/8 = 3.625; +0.375, n 1 / 8
    # (the row with SLA unknown is on neither side). Same size: the better-sampled one ranks first.
    assert [e.fact for e in ranked] == ["late", "repeat_visit", "sla_breach"]
    repeat, sla = ranked[1], ranked[2]
    assert (repeat.n_with, repeat.n_without, repeat.difference) == (2, 8, pytest.approx(0.375))
    assert repeat.ci_low is not None and repeat.ci_low < 0 < repeat.ci_high  # type: ignore[operator]
    assert (sla.n_with, sla.n_without, sla.difference) == (1, 8, pytest.approx(0.375))
    assert sla.ci_low is None and sla.ci_high is None  # one answer has no variance to estimate


def test_a_fact_that_never_varies_has_no_difference() -> None:
    rows = [RatedVisit(4, {"first_time_fix": True}), RatedVisit(5, {"first_time_fix": True})]
    (e,) = driver_effects(rows)
    assert (e.n_with, e.n_without, e.difference, e.mean_without) == (2, 0, None, None)
    assert driver_effects(rows, facts=["late", "first_time_fix"])[-1].fact == "late"  # n 0 both: last


def test_a_clear_small_effect_ranks_above_a_large_one_the_data_are_unsure_of() -> None:
    # part_missing: 3 answers with it (1, 5, 3: mean 3.0) against many without (mean ~4.0):
    # −1.0, but its interval spans zero. late: −0.5 over hundreds of answers, interval clear of zero.
    rows = [RatedVisit(c, {"part_missing": True}) for c in (1, 5, 3)]
    rows += [RatedVisit(c, {"part_missing": False, "late": True}) for c in [4, 3] * 100]  # mean 3.5
    rows += [RatedVisit(c, {"part_missing": False, "late": False}) for c in [4, 4, 5, 3] * 50]  # 4.0
    by_fact = {e.fact: e for e in driver_effects(rows)}
    unsure, clear = by_fact["part_missing"], by_fact["late"]
    assert abs(unsure.difference or 0) > abs(clear.difference or 0)
    assert unsure.ci_low is not None and unsure.ci_low < 0 < (unsure.ci_high or 0)
    assert clear.ci_high is not None and clear.ci_high < 0
    assert [e.fact for e in driver_effects(rows)][:2] == ["late", "part_missing"]
