"""Imitation reward kernels and dynamic joint weights (mwx_ray.rewards.imitation), plus the task's reward mix."""

import math

import numpy as np
import pytest

from mwx_ray.rewards.imitation import (
    DynamicJointWeights,
    JointWeightSettings,
    combine,
    end_effector_reward,
    normalize_and_clip,
    pose_reward,
    quaternion_angle,
    root_height_reward,
    root_orientation_reward,
    velocity_reward,
)


def test_pose_and_velocity_kernels_match_hand_computation():
    q = np.array([0.1, -0.2, 0.3])
    q_ref = np.array([0.0, 0.0, 0.0])
    weights = np.array([1.0, 2.0, 0.0])
    # Σ w e² = 1·0.01 + 2·0.04 + 0 = 0.09
    assert pose_reward(q, q_ref, weights, alpha=2.0) == pytest.approx(math.exp(-0.18))
    assert pose_reward(q_ref, q_ref, weights) == 1.0
    qvel, qvel_ref = np.array([1.0, 0.0, 3.0]), np.array([0.0, 1.0, 0.0])
    # Σ w e² = 1 + 2 + 0 = 3
    assert velocity_reward(qvel, qvel_ref, weights, beta=0.1) == pytest.approx(math.exp(-0.3))


def test_root_and_end_effector_kernels_match_hand_computation():
    assert root_height_reward(0.9, 1.0, scale=40.0) == pytest.approx(math.exp(-0.4))
    half = math.radians(30.0)
    turned = np.array([math.cos(half), 0.0, 0.0, math.sin(half)])  # 60° about z
    assert quaternion_angle(np.array([1.0, 0, 0, 0]), turned) == pytest.approx(math.radians(60.0))
    assert quaternion_angle(turned, -turned) == pytest.approx(0.0, abs=1e-7)  # q and −q are the same rotation
    assert root_orientation_reward(np.array([1.0, 0, 0, 0]), turned, scale=2.0) == pytest.approx(
        math.exp(-2.0 * math.radians(60.0) ** 2))
    points = np.zeros((4, 3))
    reference = points.copy()
    reference[0] = [0.1, 0.0, 0.0]
    reference[3] = [0.0, 0.0, -0.2]
    assert end_effector_reward(points, reference, scale=40.0) == pytest.approx(math.exp(-40 * 0.05))


def test_combine_is_a_normalised_mix_over_enabled_terms():
    values = {"pose": 0.5, "vel": 1.0, "root_height": 0.0}
    assert combine(values, {"pose": 0.7, "vel": 0.3, "root_height": 0.0}) == pytest.approx(0.65)
    assert combine(values, {"pose": 1.0, "vel": 1.0, "root_height": 2.0}) == pytest.approx(0.375)


def test_normalize_and_clip_has_mean_one_and_respects_bounds():
    raw = np.array([1.0, 1.0, 1.0, 100.0])
    weights = normalize_and_clip(raw, 0.25, 2.5)
    assert weights.mean() == pytest.approx(1.0) and weights.max() == pytest.approx(2.5)
    np.testing.assert_allclose(weights[:3], 0.5)  # the rest share what the clipped joint leaves
    np.testing.assert_allclose(normalize_and_clip(np.full(5, 3.0), 0.25, 4.0), 1.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        w = normalize_and_clip(rng.lognormal(0, 2, size=19), 0.25, 4.0)
        assert w.mean() == pytest.approx(1.0) and w.min() >= 0.25 - 1e-12 and w.max() <= 4.0 + 1e-12
    with pytest.raises(ValueError, match="w_min <= 1 <= w_max"):
        normalize_and_clip(raw, 1.5, 4.0)


def test_dynamic_weights_raise_the_worst_tracked_joint():
    weights = DynamicJointWeights(19, control_dt=0.02)
    np.testing.assert_allclose(weights.weights, 1.0, rtol=1e-12)  # no statistics yet
    errors = np.full(19, 0.05**2)
    errors[7] = 0.2**2  # joint 7 tracks worst
    for _ in range(200):
        w = weights.update(errors)
    assert int(np.argmax(w)) == 7 and w[7] > 2.0
    assert w.mean() == pytest.approx(1.0)
    assert w.min() >= 0.25 and w.max() <= 4.0
    # exact form: m → e² (EMA converged), u = (m + ε)^p, then mean-1 normalisation (no clipping needed here)
    ema = errors * (1 - (1 - weights.rate) ** 200)
    raw = (ema + 1e-3) ** 0.5
    np.testing.assert_allclose(w, raw / raw.mean(), rtol=1e-9)


def test_dynamic_weights_are_clipped_when_one_joint_dominates():
    weights = DynamicJointWeights(19, control_dt=0.02, settings=JointWeightSettings(power=1.0))
    errors = np.zeros(19)
    errors[0] = 4.0
    for _ in range(500):
        w = weights.update(errors)
    assert w[0] == pytest.approx(4.0) and w.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(w[1:], (19 - 4.0) / 18)


def test_ema_rate_follows_the_time_constant():
    weights = DynamicJointWeights(3, control_dt=0.02, settings=JointWeightSettings(ema_time_constant_s=2.0))
    assert weights.rate == pytest.approx(1 - math.exp(-0.01))
    weights.update(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(weights.ema_sq_error, [weights.rate, 0, 0])


def test_static_switch_freezes_the_weights():
    static = DynamicJointWeights(4, 0.02, JointWeightSettings(static=True))
    for _ in range(50):
        static.update(np.array([1.0, 0.0, 0.0, 0.0]))
    np.testing.assert_array_equal(static.weights, 1.0)
    assert not static.dynamic
    given = DynamicJointWeights(4, 0.02, JointWeightSettings(static=True, static_weights=(1.0, 1.0, 2.0, 4.0)))
    np.testing.assert_allclose(given.weights, [0.5, 0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match="static_weights must be 4 positive numbers"):
        DynamicJointWeights(4, 0.02, JointWeightSettings(static_weights=(1.0, 0.0, 1.0, 1.0)))


def test_fast_normalisation_agrees_with_the_exact_kink_solution():
    from mwx_ray.rewards.imitation import _normalize_by_kinks

    rng = np.random.default_rng(1)
    for spread in (0.5, 2.0, 4.0):
        for _ in range(50):
            raw = rng.lognormal(0, spread, size=19)
            np.testing.assert_allclose(normalize_and_clip(raw, 0.25, 4.0), _normalize_by_kinks(raw, 0.25, 4.0),
                                       rtol=1e-9, atol=1e-12)
