"""The small statistics underneath every figure, against published tables and hand arithmetic."""

from __future__ import annotations

import math

import pytest

from surveys.stats import betainc, mean_interval, quantile, t_cdf, t_quantile, welch, wilson


@pytest.mark.parametrize(
    ("df", "expected"),
    # Two-sided 95 % critical values of Student's t from printed tables.
    [(1, 12.7062), (2, 4.3027), (3, 3.1824), (10, 2.2281), (30, 2.0423), (120, 1.9799)],
)
def test_t_quantile_matches_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_t_cdf_is_symmetric_and_inverts() -> None:
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(-2.0, 4.5) == pytest.approx(1 - t_cdf(2.0, 4.5))
    assert t_cdf(t_quantile(0.9, 6.3), 6.3) == pytest.approx(0.9, abs=1e-10)
    # I_x(1, 1) is the uniform CDF: x itself.
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)


def test_wilson_by_hand() -> None:
    # 8 of 10, z = 1.959964: z²/n = 0.384146, denominator 1.384146;
    # centre = (0.8 + 0.192073) / 1.384146 = 0.716738;
    # half = z·sqrt(0.8·0.2/10 + z²/400) / 1.384146 = 1.959964·0.160011 / 1.384146 = 0.226577.
    lo, hi = wilson(8, 10)  # type: ignore[misc]
    assert lo == pytest.approx(0.716738 - 0.226577, abs=1e-5)
    assert hi == pytest.approx(0.716738 + 0.226577, abs=1e-5)
    # At p = 0 the interval starts at 0 and is not empty: 0 of 5 does not prove "never".
    lo0, hi0 = wilson(0, 5)  # type: ignore[misc]
    # centre = (3.8415/10) / 1.7683 = 0.21724 and half the same, so [0, 0.43448].
    assert lo0 == pytest.approx(0.0, abs=1e-12)
    assert hi0 == pytest.approx(0.43448, abs=1e-4)
    assert wilson(0, 0) is None
    with pytest.raises(ValueError):
        wilson(6, 5)


def test_quantile_type7() -> None:
    # [10, 20, 30, 40, 100]: h = 4·0.9 = 3.6 → 40 + 0.6·(100 − 40) = 76.
    assert quantile([100, 10, 30, 20, 40], 0.9) == pytest.approx(76.0)
    assert quantile([100, 10, 30, 20, 40], 0.5) == 30
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([7], 0.9) == 7
    assert quantile([], 0.5) is None


def test_mean_interval_by_hand() -> None:
    # [7, 6, 5, 6]: mean 6, squared deviations 1+0+1+0 = 2, variance 2/3, se = sqrt(2/3/4) = 0.408248,
    # t(0.975, 3) = 3.182446 → half 1.299230.
    lo, hi = mean_interval([7, 6, 5, 6])  # type: ignore[misc]
    assert lo == pytest.approx(6 - 1.299230, abs=1e-5)
    assert hi == pytest.approx(6 + 1.299230, abs=1e-5)
    assert mean_interval([4]) is None
    assert mean_interval([4, 4, 4]) is None  # no spread, no interval pretending to know it


def test_welch_by_hand() -> None:
    # a = [2, 3, 2, 3]: mean 2.5, var 1/3; b = [5, 4, 5, 4, 5, 4]: mean 4.5, var 1.5/5 = 0.3.
    # se² = (1/3)/4 + 0.3/6 = 0.083333 + 0.05 = 0.133333;
    # df = 0.133333² / (0.083333²/3 + 0.05²/5) = 0.0177778 / 0.0028148 = 6.3158.
    w = welch([2, 3, 2, 3], [5, 4, 5, 4, 5, 4])
    assert w is not None
    assert w.difference == pytest.approx(-2.0)
    assert w.df == pytest.approx(6.3158, abs=1e-3)
    half = (w.ci_high - w.ci_low) / 2  # type: ignore[operator]
    se = math.sqrt(0.133333)
    # t(0.975) lies between the table values for 7 (2.3646) and 6 (2.4469) degrees of freedom.
    assert 2.3646 * se < half < 2.4469 * se
    assert (w.ci_low + w.ci_high) / 2 == pytest.approx(-2.0)  # type: ignore[operator]


def test_welch_small_sides_are_honest() -> None:
    one = welch([1], [4, 5, 4])
    assert one is not None and one.difference == pytest.approx(-3.3333, abs=1e-4)
    assert one.ci_low is None and one.ci_high is None and one.df is None
    assert welch([], [4, 5]) is None
