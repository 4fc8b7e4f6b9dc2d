"""Operator A (mwx_ray.motion.alignment.ReferenceTracker): start phase, looping, heading alignment, velocities."""

import math

import numpy as np
import pytest

from mwx_ray.motion import MotionClip
from mwx_ray.motion.alignment import AlignmentSettings, ReferenceTracker, yaw_of

DT = 0.02  # HumanoidBench control period, s
H1_HOME = np.array([0, 0, -0.4, 0.8, -0.4, 0, 0, -0.4, 0.8, -0.4] + [0.0] * 9)


def walking_clip(num_frames=40, fps=50.0, speed=1.0, heading=0.0):
    """A cyclic clip: knee swings sinusoidally once per loop; pelvis moves at ``speed`` m/s along ``heading``."""
    t = np.arange(num_frames) / fps
    joint_pos = np.tile(H1_HOME, (num_frames, 1))
    joint_pos[:, 3] = 0.8 + 0.3 * np.sin(2 * np.pi * np.arange(num_frames) / num_frames)
    direction = np.array([math.cos(heading), math.sin(heading), 0.0])
    root_pos = np.array([0.0, 0.0, 1.0]) + speed * t[:, None] * direction
    root_quat = np.tile([math.cos(heading / 2), 0, 0, math.sin(heading / 2)], (num_frames, 1))
    displacement = (speed * num_frames / fps * direction).tolist()
    return MotionClip("test/walk", fps, joint_pos, root_pos, root_quat, provenance={
        "cyclic": True, "frames_per_cycle": num_frames, "cycle_root_displacement_m": displacement})


def yaw_quat(yaw):
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def test_random_start_phase_is_reproducible_from_the_seed_and_varies_across_seeds():
    tracker = ReferenceTracker(walking_clip(), DT)
    starts = []
    for seed in (0, 0, 1, 2, 3):
        tracker.reset(np.random.default_rng(seed), np.zeros(3), yaw_quat(0.0))
        starts.append(tracker.start_frame)
    assert starts[0] == starts[1]
    assert len(set(starts)) >= 3
    reference = np.random.default_rng(5)
    reference.random()
    consumed = np.random.default_rng(5)
    tracker.reset(consumed, np.zeros(3), yaw_quat(0.0))
    assert consumed.random() == reference.random()  # exactly one draw per reset (keeps env streams predictable)


def test_fixed_start_when_random_start_is_off():
    tracker = ReferenceTracker(walking_clip(), DT, AlignmentSettings(random_start=False))
    tracker.reset(np.random.default_rng(3), np.zeros(3), yaw_quat(0.0))
    assert tracker.start_frame == 0 and tracker.phase(0.0) == 0.0


def test_loops_are_continuous_and_accumulate_root_displacement():
    clip = walking_clip(num_frames=40, speed=1.0)
    tracker = ReferenceTracker(clip, DT, AlignmentSettings(random_start=False))
    tracker.reset(np.random.default_rng(0), np.array([0.0, 0.0, 1.0]), yaw_quat(0.0))
    steps = np.arange(0, 130)  # > 3 loops of 40 frames
    frames = [tracker.at(step * DT) for step in steps]
    root_x = np.array([f.root_pos[0] for f in frames])
    knee = np.array([f.joint_pos[3] for f in frames])
    np.testing.assert_allclose(np.diff(root_x), 1.0 * DT, atol=1e-9)  # steady 1 m/s through every boundary
    assert np.abs(np.diff(knee)).max() < 0.3 * 2 * np.pi / 40 + 1e-9  # no jump at the wrap
    assert root_x[-1] == pytest.approx(129 * DT)
    phases = np.array([f.phase for f in frames])
    assert phases[39] == pytest.approx(39 / 40) and phases[40] == 0.0 and phases[80] == 0.0
    velocities = np.array([f.joint_vel[3] for f in frames])
    expected = 0.3 * 2 * np.pi / (40 * DT) * np.cos(2 * np.pi * (steps % 40) / 40)
    np.testing.assert_allclose(velocities, expected, atol=0.05 * np.abs(expected).max())  # wraps smoothly


def test_root_is_aligned_to_the_robot_position_and_heading():
    clip = walking_clip(heading=0.5)  # reference walks along 0.5 rad
    tracker = ReferenceTracker(clip, DT, AlignmentSettings(random_start=False))
    robot_pos, robot_yaw = np.array([2.0, -3.0, 0.98]), -1.2
    tracker.reset(np.random.default_rng(0), robot_pos, yaw_quat(robot_yaw))
    start = tracker.at(0.0)
    np.testing.assert_allclose(start.root_pos[:2], robot_pos[:2], atol=1e-12)
    assert start.root_pos[2] == pytest.approx(1.0)  # heights stay absolute
    assert yaw_of(start.root_quat) == pytest.approx(robot_yaw, abs=1e-12)
    later = tracker.at(1.0).root_pos.copy()
    travel = later[:2] - robot_pos[:2]
    np.testing.assert_allclose(travel, [math.cos(robot_yaw), math.sin(robot_yaw)], atol=1e-9)  # 1 m/s, robot heading


def test_random_start_alignment_starts_at_the_robot_for_any_phase():
    tracker = ReferenceTracker(walking_clip(), DT)
    for seed in range(4):
        tracker.reset(np.random.default_rng(seed), np.array([1.0, 1.0, 1.0]), yaw_quat(0.3))
        np.testing.assert_allclose(tracker.at(0.0).root_pos[:2], [1.0, 1.0], atol=1e-12)


def test_non_cyclic_clip_holds_its_last_frame_with_zero_velocity():
    clip = walking_clip(num_frames=20)
    clip = MotionClip(clip.name, clip.fps, clip.joint_pos, clip.root_pos, clip.root_quat, provenance={})
    tracker = ReferenceTracker(clip, DT)
    tracker.reset(np.random.default_rng(0), np.zeros(3), yaw_quat(0.0))
    assert tracker.start_frame == 0  # non-cyclic default: no random start
    end = tracker.at(5.0)
    np.testing.assert_array_equal(end.joint_pos, clip.joint_pos[-1])
    np.testing.assert_array_equal(end.joint_vel, 0.0)
    assert tracker.at(0.0).phase == 0.0 and end.phase == 0.5
    features = tracker.phase_features(5.0)
    np.testing.assert_allclose(features, [0.0, -1.0], atol=1e-12)  # end ≠ start (0, 1)


def test_cyclic_clip_at_another_rate_is_resampled_over_the_wrap():
    clip = walking_clip(num_frames=30, fps=30.0)  # 1 s loop
    tracker = ReferenceTracker(clip, DT, AlignmentSettings(random_start=False))
    assert tracker.num_frames == 50 and tracker.rate_hz == pytest.approx(50.0)
    tracker.reset(np.random.default_rng(0), np.array([0.0, 0.0, 1.0]), yaw_quat(0.0))
    root_x = np.array([tracker.at(k * DT).root_pos[0] for k in range(120)])
    np.testing.assert_allclose(np.diff(root_x), 1.0 * DT, atol=1e-9)
