"""Small statistics, standard library only: Wilson and Welch intervals, quantiles, Student's t.

scipy is not installed and these few functions do not justify it. Student's t quantile is found
by bisection on its CDF, written through the regularised incomplete beta function (continued
fraction, modified Lentz); the tests hold it to published table values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)  # 1.959963…


@dataclass(frozen=True, slots=True)
class Figure:
    """One reported number and the sample behind it.

    ``value`` is None when ``n`` is 0 (nothing to report, never a made-up 0). ``ci_low``/``ci_high``
    are the 95 % interval where one is meaningful and computable, else None. ``unit`` says what the
    number is: "percent", "points" (an NPS), "score" (a mean rating), "minutes", "share".
    """

    value: float | None
    n: int
    unit: str
    ci_low: float | None = None
    ci_high: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "n": self.n,
            "unit": self.unit,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
        }


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion, as fractions in [0, 1]; None when n is 0.

    Chosen over the textbook normal interval because it stays inside [0, 1] and behaves at
    p = 0 or 1 and at the small n a single engineer's month produces.
    """
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def quantile(values: Sequence[float], q: float) -> float | None:
    """Quantile by linear interpolation between order statistics (Hyndman–Fan type 7).

    The same definition as numpy's default and spreadsheet PERCENTILE.INC, so a manager can check
    a figure in a spreadsheet. The median (q = 0.5) is the usual middle value / mean of the two.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile {q} outside 0..1")
    xs = sorted(values)
    if not xs:
        return None
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def sample_variance(values: Sequence[float]) -> float | None:
    """Unbiased (n − 1) variance; None below two values."""
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return sum((x - m) ** 2 for x in values) / (len(values) - 1)


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        # odd step
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution for any real df > 0."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """Inverse of :func:`t_cdf` (bisection to about 1e-12).

    Kept per (p, df): ~40 incomplete-beta evaluations cost 1–5 ms, and a dashboard asks for the
    same few degrees of freedom on every request (CES's interval for each period: a third of a
    page's server time before this). A pure function, so a cached value is the computed one."""
    if not 0 < p < 1:
        raise ValueError(f"probability {p} outside (0, 1)")
    if p < 0.5:
        return -t_quantile(1 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def mean_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95 % t interval for a mean; None below two values or when all values are equal."""
    n = len(values)
    var = sample_variance(values)
    if var is None or var == 0:
        return None
    m = sum(values) / n
    half = t_quantile(0.975, n - 1) * math.sqrt(var / n)
    return m - half, m + half


@dataclass(frozen=True, slots=True)
class Welch:
    """Difference of two means (a − b) with Welch's 95 % interval (None when not computable)."""

    difference: float
    ci_low: float | None
    ci_high: float | None
    df: float | None


def welch(a: Sequence[float], b: Sequence[float]) -> Welch | None:
    """Welch's unequal-variance interval for mean(a) − mean(b).

    None if either side is empty. With fewer than two values on a side there is no variance to
    estimate, so the difference is reported with no interval rather than a false-precise one;
    likewise when both sides have zero variance.
    """
    if not a or not b:
        return None
    diff = sum(a) / len(a) - sum(b) / len(b)
    va, vb = sample_variance(a), sample_variance(b)
    if va is None or vb is None:
        return Welch(diff, None, None, None)
    sa, sb = va / len(a), vb / len(b)
    se2 = sa + sb
    if se2 == 0:
        return Welch(diff, None, None, None)
    # Welch–Satterthwaite degrees of freedom; a zero-variance side contributes 0 to the sum.
    df = se2 * se2 / (sa * sa / (len(a) - 1) + sb * sb / (len(b) - 1))
    half = t_quantile(0.975, df) * math.sqrt(se2)
    return Welch(diff, diff - half, diff + half, df)
