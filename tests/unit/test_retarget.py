"""Operator M (mwx_ray.motion.retarget): FK → keypoints → IK round trip, limits, ground contact, error reporting.

Stated tolerance of the round trip: joint angles recovered to < 0.01 rad RMS and < 0.05 rad worst case over
60 frames of smooth random H1 motion (measured ≈ 0.003 rad RMS with the default settings; the residual is the
weak posture prior and the orientation cues, see RetargetSettings).
"""

import mujoco
import numpy as np
import pytest

from mwx_ray.motion import (
    CANONICAL_KEYPOINTS,
    H1_JOINT_RANGES_RAD,
    HumanMotion,
    MotionError,
    generate_synthetic,
)
from mwx_ray.motion.retarget import RetargetSettings, retarget, retarget_motion, robot_lowest_points
from mwx_ray.motion.retarget_scale import canonicalize_frame, fit_body_scale, kinematic_h1_model, site_ids
from mwx_ray.robots.h1 import H1_KEYFRAME_QPOS

FPS = 50.0


def h1_trajectory(num_frames=60, seed=0):
    """Smooth H1 joint angles [T, 19] inside the limits around a bent-arm home pose, and a turning root path."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / FPS
    low, high = H1_JOINT_RANGES_RAD.T
    centre = np.array(H1_KEYFRAME_QPOS[7:])
    centre[[14, 18]] = 0.6  # elbows bent: the forearm plane then shows the shoulder yaw
    centre[12], centre[16] = 0.3, -0.3  # shoulder roll away from the body
    amplitude = np.minimum(0.25 * np.minimum(centre - low, high - centre), 0.4)
    phase, freq = rng.uniform(0, 2 * np.pi, 19), rng.uniform(0.3, 1.0, 19)
    joint_pos = centre + amplitude * np.sin(2 * np.pi * freq * t[:, None] + phase)
    yaw = 0.7 + 0.3 * t
    root_pos = np.stack([0.3 + 0.5 * t, 0.2 + 0 * t, 1.0 + 0.02 * np.sin(3 * t)], axis=1)
    root_quat = np.stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)], axis=1)
    return joint_pos, root_pos, root_quat


def h1_keypoints(joint_pos, root_pos, root_quat):
    """[T, 19, 3] canonical keypoints of H1 by forward kinematics (the sites operator M aims at)."""
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    sites = site_ids(model, "kp_", CANONICAL_KEYPOINTS)
    out = np.zeros((len(joint_pos), 19, 3))
    for frame in range(len(joint_pos)):
        data.qpos[0:3], data.qpos[3:7], data.qpos[7:26] = root_pos[frame], root_quat[frame], joint_pos[frame]
        mujoco.mj_kinematics(model, data)
        out[frame] = data.site_xpos[sites]
    return out


@pytest.fixture(scope="module")
def round_trip():
    joint_pos, root_pos, root_quat = h1_trajectory()
    human = HumanMotion("h1_fk", FPS, h1_keypoints(joint_pos, root_pos, root_quat), CANONICAL_KEYPOINTS, "test")
    return joint_pos, retarget(human, RetargetSettings(body_scale="none"))


def test_fk_keypoints_ik_round_trip_recovers_joint_angles(round_trip):
    joint_pos, result = round_trip
    error = result.clip.joint_pos - joint_pos
    assert np.sqrt(np.mean(error**2)) < 0.01
    assert np.abs(error).max() < 0.05
    assert result.keypoint_error_m.shape == (60,) and result.keypoint_error_m.max() < 0.005


def test_round_trip_heading_is_aligned_to_plus_x_at_the_origin(round_trip):
    _, result = round_trip
    clip = result.clip
    # The heading comes from the hips; on H1 the hip-pitch centres swing with hip yaw (a 12 cm lever), so the
    # estimate of the input's 0.7 rad is off by a few hundredths here (human hips are ball joints: no such lever).
    np.testing.assert_allclose(clip.root_quat[0], [1, 0, 0, 0], atol=0.02)
    assert result.clip.provenance["retarget"]["frame_conversion"]["heading_rad"] == pytest.approx(0.7, abs=0.04)
    assert np.abs(clip.root_pos[0, :2]).max() < 0.06  # pelvis body origin sits 4 cm behind the pelvis keypoint


def test_segment_rescaling_of_h1_input_is_the_identity():
    joint_pos, root_pos, root_quat = h1_trajectory(num_frames=5)
    keypoints, _ = canonicalize_frame(h1_keypoints(joint_pos, root_pos, root_quat))
    fit = fit_body_scale(keypoints, "segments")
    assert fit.root_scale == pytest.approx(1.0, abs=1e-9)
    # legs are exact; H1's shoulder axes do not meet in one point, so "upper arm length" varies by < 1 %
    assert all(v == pytest.approx(1.0, abs=0.01) for v in fit.scale_factors.values())
    assert fit.scale_factors["left_hip>left_knee"] == pytest.approx(1.0, abs=1e-5)
    # limb bones are rebuilt exactly; rigid torso/pelvis offsets move by at most the shoulder-pitch lever (≈2 cm)
    assert np.abs(fit.targets - keypoints).max() < 0.03


def test_human_motion_respects_limits_keeps_feet_on_ground_and_reports_error():
    human = generate_synthetic("walk", fps=FPS, n_cycles=1)
    result = retarget(human)
    clip = result.clip
    low, high = H1_JOINT_RANGES_RAD.T
    assert ((clip.joint_pos >= low - 1e-6) & (clip.joint_pos <= high + 1e-6)).all()
    qpos = np.concatenate([clip.root_pos, clip.root_quat, clip.joint_pos], axis=1)
    lowest = robot_lowest_points(qpos)
    assert lowest.min() > -1e-6  # never below the floor
    assert np.percentile(lowest, 50) < 0.005  # a foot is on the floor in (at least) stance
    retarget_info = clip.provenance["retarget"]
    assert len(retarget_info["keypoint_error_per_frame_m"]) == clip.num_frames
    assert 0 < retarget_info["keypoint_error_m"]["mean"] < 0.03  # H1 cannot bend its trunk: a few mm remain
    assert clip.provenance["synthetic"] is True and "SYNTHETIC" in clip.provenance["notice"]
    assert clip.keypoints.shape == (clip.num_frames, 19, 3)
    # 1 m/s human → H1 legs are 7 % shorter: the pelvis path is scaled by root_scale
    speed = (clip.root_pos[-1, 0] - clip.root_pos[0, 0]) / clip.duration_s
    assert speed == pytest.approx(retarget_info["root_scale"] * 1.0, rel=0.1)


def test_infeasible_pose_is_clamped_to_joint_limits():
    human = generate_synthetic("stand", fps=FPS, n_cycles=1)
    keypoints = human.keypoints[:3].copy()
    wrist = CANONICAL_KEYPOINTS.index("left_wrist")
    elbow = CANONICAL_KEYPOINTS.index("left_elbow")
    keypoints[:, wrist] = keypoints[:, elbow] + [0.0, -0.25, 0.05]  # forearm bent through the body
    clip = retarget_motion(HumanMotion("bad_arm", FPS, keypoints, CANONICAL_KEYPOINTS, "test"))
    low, high = H1_JOINT_RANGES_RAD.T
    assert ((clip.joint_pos >= low - 1e-6) & (clip.joint_pos <= high + 1e-6)).all()


def test_missing_keypoints_are_named():
    human = generate_synthetic("stand", fps=FPS, n_cycles=1)
    partial = HumanMotion("partial", FPS, human.keypoints[:2, :-1], CANONICAL_KEYPOINTS[:-1], "test")
    with pytest.raises(MotionError, match="missing canonical keypoints \\['right_wrist'\\]"):
        retarget(partial)
