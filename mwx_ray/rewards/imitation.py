"""Imitation (motion-tracking) reward kernels and per-joint dynamic weights. Pure numpy, no env state.

Kernels (e = robot − reference; all in [0, 1], 1 = perfect tracking):

    pose            exp(−α · Σ_j w_j (q_j − q*_j)²)          q: [19] joint angles, rad; α in 1/rad²
    velocity        exp(−β · Σ_j w_j (q̇_j − q̇*_j)²)          q̇: [19] rad/s; β in s²/rad²
    root height     exp(−k_h · (z − z*)²)                    pelvis height, m; k_h in 1/m²
    root orientation exp(−k_o · θ²)                          θ = geodesic angle between root quaternions, rad
    end effectors   exp(−k_e · Σ_e ‖p_e − p*_e‖²)            hands/feet in the pelvis frame, m; k_e in 1/m²

The paper's tracking reward is ``exp(−α‖q − q*‖²) + λ·exp(−β‖q̇ − q̇*‖²)`` with dynamic per-joint weights it does
not define; the authors' code uses ``0.7·exp(−‖q − q*‖) + 0.3·exp(−0.03‖q̇ − q̇*‖)`` with no weights
(/work/shared/reference/metaworldx.md). We use squared norms with DeepMimic's constants (Peng et al., SIGGRAPH 2018:
pose 2, velocity 0.1, end effectors 40) and the authors' 0.7 / 0.3 mix; :func:`combine` normalises the mix so the
tracking reward stays in [0, 1] like a HumanoidBench step reward.

Dynamic joint weights (our design; the paper gives no formula) — :class:`DynamicJointWeights`::

    m_j ← (1 − λ)·m_j + λ·(q_j − q*_j)²,      λ = 1 − exp(−Δt / τ)             (EMA of the squared error, rad²)
    u_j = (m_j + ε)^p
    w_j = clip(c·u_j, w_min, w_max),  c > 0 chosen so that mean_j w_j = 1        (exact; see normalize_and_clip)

Defaults: τ = 2 s (≈100 control steps), ε = 1e-3 rad² (errors below ≈ 0.03 rad count as tracked), p = 0.5 (weights
∝ RMS error), [w_min, w_max] = [0.25, 4]. m starts at 0 (all weights 1) and persists across episodes (it measures
the policy, not an episode). The reward at step t uses the weights from errors up to t − 1, then the EMA is updated.
``static`` weights (the ablation switch) keep w fixed: all ones, or given per-joint weights normalised to mean 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# DeepMimic (Peng et al. 2018) reward scales.
DEFAULT_ALPHA = 2.0  # 1/rad², pose
DEFAULT_BETA = 0.1  # s²/rad², velocity
DEFAULT_END_EFFECTOR_SCALE = 40.0  # 1/m²
DEFAULT_ROOT_HEIGHT_SCALE = 40.0  # 1/m²: 10 cm error → 0.67 (ours)
DEFAULT_ROOT_ORIENTATION_SCALE = 2.0  # 1/rad²: 0.5 rad → 0.61 (ours)


def weighted_squared_error(value: np.ndarray, reference: np.ndarray, weights: np.ndarray) -> float:
    """Σ_j w_j (value_j − reference_j)² (units of value², weights dimensionless)."""
    diff = value - reference
    return float(np.dot(weights, diff * diff))


def pose_reward(q: np.ndarray, q_ref: np.ndarray, weights: np.ndarray, alpha: float = DEFAULT_ALPHA) -> float:
    """exp(−α ‖q − q*‖²_W); q, q_ref, weights: [J] (rad, rad, –)."""
    return math.exp(-alpha * weighted_squared_error(q, q_ref, weights))


def velocity_reward(qvel: np.ndarray, qvel_ref: np.ndarray, weights: np.ndarray, beta: float = DEFAULT_BETA) -> float:
    """exp(−β ‖q̇ − q̇*‖²_W); [J] rad/s."""
    return math.exp(-beta * weighted_squared_error(qvel, qvel_ref, weights))


def root_height_reward(height_m: float, height_ref_m: float, scale: float = DEFAULT_ROOT_HEIGHT_SCALE) -> float:
    """exp(−k_h (z − z*)²), heights in m."""
    return math.exp(-scale * (height_m - height_ref_m) ** 2)


def quaternion_angle(quat: np.ndarray, quat_ref: np.ndarray) -> float:
    """Geodesic angle (rad, [0, π]) between two wxyz unit quaternions: 2·acos(|⟨q, q*⟩|)."""
    dot = abs(float(np.dot(quat, quat_ref))) / max(float(np.linalg.norm(quat) * np.linalg.norm(quat_ref)), 1e-12)
    return 2.0 * math.acos(min(dot, 1.0))


def root_orientation_reward(quat: np.ndarray, quat_ref: np.ndarray,
                            scale: float = DEFAULT_ROOT_ORIENTATION_SCALE) -> float:
    """exp(−k_o θ²), θ = :func:`quaternion_angle`."""
    return math.exp(-scale * quaternion_angle(quat, quat_ref) ** 2)


def end_effector_reward(points: np.ndarray, points_ref: np.ndarray,
                        scale: float = DEFAULT_END_EFFECTOR_SCALE) -> float:
    """exp(−k_e Σ_e ‖p_e − p*_e‖²); points: [E, 3] m in the pelvis frame."""
    diff = points - points_ref
    return math.exp(-scale * float(np.sum(diff * diff)))


def combine(values: dict[str, float], coefficients: dict[str, float]) -> float:
    """Σ_k c_k·r_k / Σ_k c_k over terms with c_k > 0 (a convex mix, so the result stays in [0, 1])."""
    total = weight = 0.0
    for name, coefficient in coefficients.items():
        if coefficient > 0.0:
            total += coefficient * values[name]
            weight += coefficient
    return total / weight if weight > 0.0 else 0.0


def normalize_and_clip(raw: np.ndarray, w_min: float, w_max: float) -> np.ndarray:
    """w = clip(c·raw, w_min, w_max) with c > 0 such that mean(w) = 1 exactly.

    ``mean(clip(c·raw))`` is continuous, non-decreasing and piecewise linear in c, with kinks at ``w_min/raw_j`` and
    ``w_max/raw_j``; we evaluate it at the sorted kinks and interpolate linearly inside the bracketing segment.
    Requires raw > 0 and w_min ≤ 1 ≤ w_max. [J] in, [J] out.
    """
    if not w_min <= 1.0 <= w_max:
        raise ValueError(f"weight bounds must satisfy w_min <= 1 <= w_max, got [{w_min}, {w_max}]")
    raw = np.asarray(raw, dtype=np.float64)
    kinks = np.sort(np.concatenate([w_min / raw, w_max / raw]))
    means = np.clip(kinks[:, None] * raw[None, :], w_min, w_max).mean(axis=1)
    index = int(np.searchsorted(means, 1.0))
    if index == 0:
        scale = kinks[0]
    elif index >= len(kinks):
        scale = kinks[-1]
    else:
        low, high = means[index - 1], means[index]
        fraction = 0.0 if high == low else (1.0 - low) / (high - low)
        scale = kinks[index - 1] + fraction * (kinks[index] - kinks[index - 1])
    return np.clip(scale * raw, w_min, w_max)


@dataclass(frozen=True)
class JointWeightSettings:
    """Parameters of the dynamic weights (module docstring). ``static=True`` freezes w at ``static_weights``."""

    static: bool = False
    static_weights: tuple[float, ...] | None = None  # per joint; None = all ones
    ema_time_constant_s: float = 2.0
    epsilon_rad2: float = 1e-3
    power: float = 0.5
    w_min: float = 0.25
    w_max: float = 4.0


class DynamicJointWeights:
    """Per-joint tracking weights W [J] (mean 1). Call :meth:`update` once per control step with (q − q*)²."""

    def __init__(self, num_joints: int, control_dt: float, settings: JointWeightSettings | None = None):
        self.settings = settings or JointWeightSettings()
        s = self.settings
        if s.ema_time_constant_s <= 0 or s.epsilon_rad2 <= 0 or s.power < 0:
            raise ValueError(f"bad dynamic-weight settings {s}: need tau > 0, epsilon > 0, power >= 0")
        self.rate = 1.0 - math.exp(-float(control_dt) / s.ema_time_constant_s)  # λ
        self.ema_sq_error = np.zeros(num_joints)  # m_j, rad²
        if s.static_weights is not None:
            static = np.asarray(s.static_weights, dtype=np.float64)
            if static.shape != (num_joints,) or (static <= 0).any():
                raise ValueError(f"static_weights must be {num_joints} positive numbers, got {s.static_weights}")
            self.weights = static / static.mean()
        else:
            self.weights = np.ones(num_joints)
        if not s.static:
            self._recompute()

    @property
    def dynamic(self) -> bool:
        return not self.settings.static

    def update(self, squared_error: np.ndarray) -> np.ndarray:
        """Fold one step's per-joint squared error [J] (rad²) into the EMA and recompute W; returns W."""
        if not self.dynamic:
            return self.weights
        self.ema_sq_error += self.rate * (squared_error - self.ema_sq_error)
        self._recompute()
        return self.weights

    def _recompute(self) -> None:
        s = self.settings
        raw = (self.ema_sq_error + s.epsilon_rad2) ** s.power
        self.weights = normalize_and_clip(raw, s.w_min, s.w_max)
