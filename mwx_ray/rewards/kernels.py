"""Pure reward kernels (numpy only).

``tolerance`` reproduces dm_control's ``dm_control.utils.rewards.tolerance`` exactly (HumanoidBench's reward
building block, HumanoidBench's reward building block, HumanoidBench (Sferrazza et al. 2024, arXiv 2403.10506; github.com/carlosferrazza/humanoid-bench)): 1 inside ``bounds``;
outside, a sigmoid of the distance to the nearest bound in units of ``margin`` that equals ``value_at_margin``
at distance == margin. With ``margin == 0`` it is 1 inside and 0 outside.

Python floats/ints take a ``math``-based fast path (the env calls this a few times per step on scalars);
arrays take the vectorised numpy path. Both give the same values (tested).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import overload

import numpy as np

SIGMOIDS = ("gaussian", "hyperbolic", "long_tail", "reciprocal", "cosine", "linear", "quadratic", "tanh_squared")
_SCALAR_TYPES = (float, int, np.floating, np.integer)
_ALLOW_ZERO_VALUE = ("cosine", "linear", "quadratic")  # sigmoids that may reach exactly 0 at the margin


@functools.lru_cache(maxsize=256)
def _scale(sigmoid: str, value_at_1: float) -> float:
    """Scale that makes ``sigmoid(1) == value_at_1`` (dm_control's ``_sigmoids`` constants); validates inputs."""
    if sigmoid not in SIGMOIDS:
        raise ValueError(f"unknown sigmoid {sigmoid!r}; valid sigmoids: {list(SIGMOIDS)}")
    if sigmoid in _ALLOW_ZERO_VALUE:
        if not 0.0 <= value_at_1 < 1.0:
            raise ValueError(f"`value_at_margin` must be in [0, 1) for {sigmoid!r}, got {value_at_1}")
    elif not 0.0 < value_at_1 < 1.0:
        raise ValueError(f"`value_at_margin` must be in (0, 1) for {sigmoid!r}, got {value_at_1}")
    if sigmoid == "gaussian":
        return math.sqrt(-2.0 * math.log(value_at_1))
    if sigmoid == "hyperbolic":
        return math.acosh(1.0 / value_at_1)
    if sigmoid == "long_tail":
        return math.sqrt(1.0 / value_at_1 - 1.0)
    if sigmoid == "reciprocal":
        return 1.0 / value_at_1 - 1.0
    if sigmoid == "cosine":
        return math.acos(2.0 * value_at_1 - 1.0) / math.pi
    if sigmoid == "linear":
        return 1.0 - value_at_1
    if sigmoid == "quadratic":
        return math.sqrt(1.0 - value_at_1)
    return math.atanh(math.sqrt(1.0 - value_at_1))  # tanh_squared


def _cosine_scalar(s: float) -> float:
    return (1.0 + math.cos(math.pi * s)) / 2.0 if abs(s) < 1.0 else 0.0


_SCALAR_SIGMOIDS: dict[str, Callable[[float], float]] = {
    # each takes s = distance/margin · scale
    "gaussian": lambda s: math.exp(-0.5 * s * s),
    "hyperbolic": lambda s: 1.0 / math.cosh(s) if abs(s) < 710.0 else 0.0,  # cosh overflows past ~710
    "long_tail": lambda s: 1.0 / (s * s + 1.0),
    "reciprocal": lambda s: 1.0 / (abs(s) + 1.0),
    "cosine": _cosine_scalar,
    "linear": lambda s: 1.0 - s if abs(s) < 1.0 else 0.0,
    "quadratic": lambda s: 1.0 - s * s if abs(s) < 1.0 else 0.0,
    "tanh_squared": lambda s: 1.0 - math.tanh(s) ** 2,
}


def _sigmoid_array(s: np.ndarray, sigmoid: str) -> np.ndarray:
    """Sigmoid of the scaled distance ``s ≥ 0`` (NaN allowed); every sigmoid is exactly 1.0 at s = 0.

    ``fmax(·, 0)`` equals dm_control's ``where(|s| < 1, ·, 0)`` for s ≥ 0 (and maps NaN to 0 as it does).
    np.errstate costs several µs, so it only wraps the sigmoids that can overflow on large finite input.
    """
    if sigmoid == "gaussian":
        return np.exp(-0.5 * s * s)
    if sigmoid == "linear":
        return np.fmax(1.0 - s, 0.0)
    if sigmoid == "quadratic":
        return np.fmax(1.0 - s * s, 0.0)
    if sigmoid == "long_tail":
        return 1.0 / (s * s + 1.0)
    if sigmoid == "reciprocal":
        return 1.0 / (np.abs(s) + 1.0)
    if sigmoid == "tanh_squared":
        return 1.0 - np.tanh(s) ** 2
    with np.errstate(over="ignore", invalid="ignore"):
        if sigmoid == "hyperbolic":
            return 1.0 / np.cosh(s)
        return np.where(np.abs(s) < 1.0, (1.0 + np.cos(np.pi * s)) / 2.0, 0.0)  # cosine


@overload
def tolerance(x: float, bounds: tuple[float, float] = ..., margin: float = ..., sigmoid: str = ...,
              value_at_margin: float = ...) -> float: ...
@overload
def tolerance(x: np.ndarray, bounds: tuple[float, float] = ..., margin: float = ..., sigmoid: str = ...,
              value_at_margin: float = ...) -> np.ndarray: ...
def tolerance(
    x: float | np.ndarray,
    bounds: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.0,
    sigmoid: str = "gaussian",
    value_at_margin: float = 0.1,
) -> float | np.ndarray:
    """dm_control ``rewards.tolerance``: 1 when ``bounds[0] <= x <= bounds[1]``, decaying outside.

    Args:
        x: scalar or array, any unit (same unit as ``bounds`` and ``margin``).
        bounds: (lower, upper) of the target interval; either may be ±inf.
        margin: distance outside the bounds at which the reward equals ``value_at_margin``; 0 → hard 0/1 reward.
        sigmoid: one of :data:`SIGMOIDS`.
        value_at_margin: reward at distance == margin; in (0, 1) ([0, 1) for cosine/linear/quadratic).

    Returns:
        float for scalar ``x`` (Python or numpy scalar), else an array of ``x``'s shape, values in [0, 1].
    """
    lower, upper = bounds
    if lower > upper:
        raise ValueError(f"lower bound must be <= upper bound, got bounds={bounds}")
    if margin < 0:
        raise ValueError(f"`margin` must be non-negative, got {margin}")
    scale = _scale(sigmoid, float(value_at_margin))

    if isinstance(x, _SCALAR_TYPES):
        x = float(x)
        if lower <= x <= upper:
            return 1.0
        if margin == 0:
            return 0.0
        distance = (lower - x) if x < lower else (x - upper)
        return _SCALAR_SIGMOIDS[sigmoid](distance / margin * scale)

    x = np.asarray(x, dtype=np.float64)
    if margin == 0:
        return ((lower <= x) & (x <= upper)).astype(np.float64)
    # Distance to the interval, 0 inside (every sigmoid is exactly 1 at 0, so no separate in-bounds mask).
    # An infinite bound contributes no distance; skipping it also avoids inf − inf for infinite x.
    if upper == math.inf:
        if lower == -math.inf:
            return np.ones_like(x)
        distance = lower - x
    elif lower == -math.inf:
        distance = x - upper
    else:
        distance = np.maximum(lower - x, x - upper)
    distance = np.maximum(distance, 0.0)  # keeps NaN, like dm_control
    return _sigmoid_array(distance / margin * scale, sigmoid)
