"""Confidence intervals the results are reported with (pure numpy/math): success rates and means over seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959964  # two-sided 95% normal quantile
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}  # t(0.975, n-1)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a success rate: sensible at 0 and n successes, unlike the normal one."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def success_summary(successes: int, n: int) -> str:
    """``"k/n = p% (95% Wilson lo%-hi%)"``, how every success rate is printed."""
    low, high = wilson_interval(successes, n)
    return f"{successes}/{n} = {successes / max(n, 1):.0%} (95% Wilson {low:.0%}-{high:.0%})"


def mean_ci95(values: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its 95% Student-t interval (n ≤ 10 from the table, else z)."""
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, math.nan, math.nan
    half = T95.get(arr.size, Z95) * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return mean, mean - half, mean + half
