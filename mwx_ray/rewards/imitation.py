"""Imitation (motion-tracking) reward kernels and per-joint dynamic weights. Pure numpy, no env state.

Kernels (e = robot − reference; all in [0, 1], 1 = perfect tracking):

    pose            exp(−α · Σ_j w_j (q_j − q*_j)²)          q: [19] joint angles, rad; α in 1/rad²
    velocity        exp(−β · Σ_j w_j (q̇_j − q̇*_j)²)          q̇: [19] rad/s; β in s²/rad²
    root height     exp(−k_h · (z − z*)²)                    pelvis height, m; k_h in 1/m²
    root orientation exp(−k_o · θ²)                          θ = geodesic angle between root quaternions, rad
    end effectors   exp(−k_e · Σ_e ‖p_e − p*_e‖²)            hands/feet in the pelvis frame, m; k_e in 1/m²

The paper's tracking reward is ``exp(−α‖q − q*‖²) + λ·exp(−β‖q̇ − q̇*‖²)`` with dynamic per-joint weights it does
not define; the authors' code uses ``0.7·exp(−‖q − q*‖) + 0.3·exp(−0.03‖q̇ − q̇*‖)`` with no weights
(MetaWorld-X (arXiv 2603.08572) and its authors' code (github.com/syt2004/MetaWorld)). We use the paper's squared norms, summed over H1's 19 hinges, with
α = 0.5 /rad² and β = 0.05 s²/rad²: DeepMimic's (Peng et al., SIGGRAPH 2018) pose 2 / velocity 0.1 are for a few
3-D joint rotations and give ~0 reward to an untrained H1 (a zero action is mid-range: ≈ 0.45 rad RMS from the
reference), while with ours 0.3 rad RMS earns 0.43, 0.1 rad RMS 0.91, 1 rad/s RMS velocity error 0.39. End effectors
use DeepMimic's 40 /m². The mix is the authors' 0.7 / 0.3; :func:`combine` normalises it so the tracking reward stays
in [0, 1] like a HumanoidBench step reward.

Dynamic joint weights (our design; the paper gives no formula) — :class:`DynamicJointWeights`::

    m_j ← (1 − λ)·m_j + λ·(q_j − q*_j)²,      λ = 1 − exp(−Δt / τ)             (EMA of the squared error, rad²)
    u_j = (m_j + ε)^p
    w_j = clip(c·u_j, w_min, w_max),  c > 0 chosen so that mean_j w_j = 1        (exact; see normalize_and_clip)

Defaults: τ = 2 s (≈100 control steps), ε = 1e-3 rad² (errors below ≈ 0.03 rad count as tracked), p = 0.5 (weights
∝ RMS error), [w_min, w_max] = [0.25, 4]. m starts at 0 (all weights 1) and persists across episodes (it measures
the policy, not an episode) — except that an env re-seeded with ``reset(seed=...)`` restarts it, so seeded
rollouts are reproducible (envs/imitation.py). The reward at step t uses the current weights, then the EMA is updated with step t's
error; m is updated every step but w is recomputed every ``refresh_steps`` = 10 updates (0.2 s ≪ τ, and it keeps
the reward overhead small).
``static`` weights (the ablation switch) keep w fixed: all ones, or given per-joint weights normalised to mean 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_ALPHA = 0.5  # 1/rad², pose (see the module docstring for the choice)
DEFAULT_BETA = 0.05  # s²/rad², velocity
DEFAULT_END_EFFECTOR_SCALE = 40.0  # 1/m², DeepMimic (Peng et al. 2018)
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
    """w = clip(c·raw, w_min, w_max) with the c > 0 that makes mean(w) = 1 exactly (the projection used for W).

    ``mean(clip(c·raw))`` is continuous and non-decreasing in c. Fast path: no clipping needed. Else an active-set
    pass: clip the joints above the top bound and rescale the free ones with the remaining budget until none is
    above (this only raises c, so clipped joints stay clipped), then the same at the bottom (only lowers c). The
    result is checked, and if a top-clipped joint would no longer be clipped at the final c it is solved exactly
    by :func:`_normalize_by_kinks`. Requires raw > 0 and w_min ≤ 1 ≤ w_max. [J] in, [J] out.
    """
    if not w_min <= 1.0 <= w_max:
        raise ValueError(f"weight bounds must satisfy w_min <= 1 <= w_max, got [{w_min}, {w_max}]")
    raw = np.asarray(raw, dtype=np.float64)
    count = raw.size
    scale = count / raw.sum()
    if w_min <= scale * raw.min() and scale * raw.max() <= w_max:  # common case: nothing to clip
        return raw * scale
    low = np.zeros(count, dtype=bool)
    high = np.zeros(count, dtype=bool)
    for _ in range(count):
        free = ~(low | high)
        free_sum = raw[free].sum()
        if free_sum <= 0.0:
            break
        scale = (count - w_min * low.sum() - w_max * high.sum()) / free_sum
        new_high = free & (scale * raw > w_max)
        if new_high.any():  # top first: clipping it raises c, which may lift joints off the bottom bound
            high |= new_high
            continue
        new_low = free & (scale * raw < w_min)
        if not new_low.any():
            break
        low |= new_low
    consistent = (scale * raw[low] <= w_min).all() and (scale * raw[high] >= w_max).all() and scale > 0
    return np.clip(scale * raw, w_min, w_max) if consistent else _normalize_by_kinks(raw, w_min, w_max)


def _normalize_by_kinks(raw: np.ndarray, w_min: float, w_max: float) -> np.ndarray:
    """Exact solve of mean(clip(c·raw)) = 1: evaluate at the sorted kinks w_min/raw_j, w_max/raw_j (where the
    piecewise-linear function changes slope) and interpolate inside the bracketing segment."""
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
    refresh_steps: int = 10


class DynamicJointWeights:
    """Per-joint tracking weights W [J] (mean 1). Call :meth:`update` once per control step with (q − q*)²."""

    def __init__(self, num_joints: int, control_dt: float, settings: JointWeightSettings | None = None):
        self.settings = settings or JointWeightSettings()
        s = self.settings
        if s.ema_time_constant_s <= 0 or s.epsilon_rad2 <= 0 or s.power < 0 or s.refresh_steps < 1:
            raise ValueError(f"bad dynamic-weight settings {s}: need tau > 0, epsilon > 0, power >= 0, refresh >= 1")
        self._updates = 0
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

    def reset_statistics(self) -> None:
        """Forget the EMA (all weights back to their initial values), e.g. when the env is re-seeded."""
        self.ema_sq_error[:] = 0.0
        self._updates = 0
        if self.dynamic:
            self._recompute()

    def update(self, squared_error: np.ndarray) -> np.ndarray:
        """Fold one step's per-joint squared error [J] (rad²) into the EMA and recompute W; returns W."""
        if not self.dynamic:
            return self.weights
        self.ema_sq_error += self.rate * (squared_error - self.ema_sq_error)
        self._updates += 1
        if self._updates % self.settings.refresh_steps == 0:
            self._recompute()
        return self.weights

    def _recompute(self) -> None:
        s = self.settings
        raw = (self.ema_sq_error + s.epsilon_rad2) ** s.power
        self.weights = normalize_and_clip(raw, s.w_min, s.w_max)
