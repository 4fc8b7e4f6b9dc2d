"""Hands-and-knees crawling along +x, looping seamlessly.

Model: the four contacts (knees and hands) step in a lateral sequence (limb phases: left knee 0, left hand 0.25,
right knee 0.5, right hand 0.75), one of the interlimb patterns adults use on hands and knees (S. K. Patrick,
J. A. Noah & J. F. Yang, "Interlimb coordination in human crawling reveals similarities in development and
neural control with quadrupeds", J. Neurophysiol. 101:603, 2009), each limb on the ground for
``CRAWL_DUTY_FACTOR`` of the cycle. A contact is fixed while in stance and moves one stride forward in swing
(minimum-jerk, with a ``SWING_LIFT_M`` arc). The trunk advances at constant speed; each hip sits exactly one
thigh length above its knee (hip height follows the knee's fore-aft offset, the pelvis rolls to match), the
trunk pitches so the shoulders sit at ``SHOULDER_HEIGHT_ARM_FRACTION`` of the arm length above the hands, and
the elbows are placed by two-bone IK. Shins lie on the ground behind the knees, feet plantarflexed.
Assumed values (not from a study): stride 0.30 × height, duty factor 0.7, 5 cm swing lift.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.synthetic.body import Body
from mwx_ray.motion.synthetic.kinematics import stack_keypoints, trunk_points, two_link_ik
from mwx_ray.motion.synthetic.postures import minimum_jerk

CRAWL_DUTY_FACTOR = 0.7
CRAWL_STRIDE_HEIGHT_FRACTION = 0.30
LIMB_PHASES = {"left_knee": 0.0, "left_wrist": 0.25, "right_knee": 0.5, "right_wrist": 0.75}
SWING_LIFT_M = 0.05
KNEE_CENTRE_HEIGHT_M = 0.05  # knee joint centre above the floor when kneeling (≈ half the knee's depth)
WRIST_CENTRE_HEIGHT_M = 0.03  # wrist joint centre above the floor with the palm flat
SHOULDER_HEIGHT_ARM_FRACTION = 0.85  # elbows slightly bent at mid-stance, so the hands keep reach as the body moves


def _contact_x(time_s: np.ndarray, period_s: float, stride_m: float, phase: float) -> tuple[np.ndarray, np.ndarray]:
    """([T] world x of one limb's contact, m; [T] lift above its resting height, m)."""
    cycles = time_s / period_s - phase
    lap = np.floor(cycles)
    within = cycles - lap
    swing = np.clip((within - CRAWL_DUTY_FACTOR) / (1.0 - CRAWL_DUTY_FACTOR), 0.0, 1.0)
    in_swing = within >= CRAWL_DUTY_FACTOR
    x = stride_m * (lap + np.where(in_swing, minimum_jerk(swing), 0.0))
    return x, np.where(in_swing, SWING_LIFT_M * np.sin(np.pi * swing), 0.0)


def crawl(body: Body, fps: float, speed_mps: float = 0.5, n_cycles: int = 2,
          start_frame: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Crawl at ``speed_mps`` (m/s) for ``n_cycles`` gait cycles; keypoints [T, 19, 3] and metadata."""
    if not speed_mps > 0:
        raise MotionError(f"synthetic crawl: speed must be > 0 m/s, got {speed_mps}")
    num = max(8, int(round(CRAWL_STRIDE_HEIGHT_FRACTION * body.height_m / speed_mps * fps)))
    period_s = num / fps
    stride_m = speed_mps * period_s
    time_s = (start_frame + np.arange(n_cycles * num)) / fps
    cycle_t = np.arange(num) / fps
    arm_m = body.upper_arm_m + body.forearm_m
    shoulder_height = WRIST_CENTRE_HEIGHT_M + SHOULDER_HEIGHT_ARM_FRACTION * arm_m
    pelvis_to_shoulder = body.pelvis_to_spine_m + body.spine_to_chest_m + body.chest_to_shoulder_height_m

    total_trunk = pelvis_to_shoulder + body.pelvis_above_hips_m  # hip centre -> shoulder centre along the trunk
    nominal_lean = np.arccos((shoulder_height - KNEE_CENTRE_HEIGHT_M - body.thigh_m) / total_trunk)
    contacts: dict[str, np.ndarray] = {}
    for limb, phase in LIMB_PHASES.items():
        x, lift = _contact_x(time_s, period_s, stride_m, phase)
        centre = np.mean(_contact_x(cycle_t, period_s, stride_m, phase)[0] - speed_mps * cycle_t)
        if limb.endswith("knee"):  # knees under the hips, hands under the shoulders on average
            base, ahead = KNEE_CENTRE_HEIGHT_M, 0.0
        else:
            base, ahead = WRIST_CENTRE_HEIGHT_M, total_trunk * np.sin(nominal_lean)
        contacts[limb] = np.column_stack([x - centre + ahead, np.zeros_like(x), base + lift])

    body_x = speed_mps * time_s
    hip_z = {}
    for side in ("left", "right"):
        knee = contacts[f"{side}_knee"]
        dx = body_x - knee[:, 0]
        if np.abs(dx).max() >= body.thigh_m:
            raise MotionError(f"synthetic crawl: stride too long for the thigh at {speed_mps} m/s")
        hip_z[side] = knee[:, 2] + np.sqrt(body.thigh_m**2 - dx**2)
    roll = np.arcsin((hip_z["left"] - hip_z["right"]) / body.hip_joint_separation_m)
    half = body.hip_joint_separation_m / 2
    hip_mid = np.column_stack([body_x, np.zeros_like(body_x), (hip_z["left"] + hip_z["right"]) / 2])
    points: dict[str, np.ndarray] = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        points[f"{side}_hip"] = hip_mid + sign * half * np.column_stack([0 * roll, np.cos(roll), np.sin(roll)])
        knee = contacts[f"{side}_knee"].copy()
        knee[:, 1] = points[f"{side}_hip"][:, 1]  # knees straight under the hips
        points[f"{side}_knee"] = knee
        # shin flat on the floor behind the knee; foot plantarflexed, toes behind the ankle (same bone lengths)
        rise = (0.06 - KNEE_CENTRE_HEIGHT_M) / body.shank_m
        points[f"{side}_ankle"] = knee + body.shank_m * np.array([-np.sqrt(1 - rise**2), 0.0, rise])
        toe_m = np.hypot(body.toe_ahead_of_ankle_m, body.ankle_height_m)
        points[f"{side}_toe"] = points[f"{side}_ankle"] + toe_m * np.array([-0.995, 0.0, -0.0999])

    # pelvis keypoint sits "above" the hips in the trunk frame; the trunk pitches forward by ``lean``
    lean = np.arccos(np.clip((shoulder_height - hip_mid[:, 2]) / total_trunk, -1.0, 1.0))
    up = np.column_stack([np.sin(lean), np.zeros_like(lean), np.cos(lean)])
    points["pelvis"] = hip_mid + body.pelvis_above_hips_m * up
    for name, rel in trunk_points(lean, body).items():
        points[name] = points["pelvis"] + rel
    for side in ("left", "right"):
        wrist = contacts[f"{side}_wrist"].copy()
        wrist[:, 1] = points[f"{side}_shoulder"][:, 1]  # hands under the shoulders
        pole = np.array([-1.0, 0.0, 0.0])  # elbows point backward
        points[f"{side}_elbow"], points[f"{side}_wrist"] = two_link_ik(
            points[f"{side}_shoulder"], wrist, body.upper_arm_m, body.forearm_m, pole
        )
    keypoints = stack_keypoints(points)
    meta = {
        "cyclic": True,
        "period_s": period_s,
        "frames_per_cycle": num,
        "n_cycles": n_cycles,
        "cycle_root_displacement_m": [stride_m, 0.0, 0.0],
        "speed_mps": speed_mps,
        "stride_m": stride_m,
        "duty_factor": CRAWL_DUTY_FACTOR,
        "limb_phases": LIMB_PHASES,
    }
    return keypoints, meta
