"""Feet-fixed skills: sit down on a chair, squat, reach with the left hand.

Both feet stay flat and fixed (the left heel is pinned to its frame-0 spot; the legs are mirror images, so the
right foot is fixed too); joint motion follows minimum-jerk or cosine profiles between postures read off the
biomechanics literature cited per skill. Segment angles are from the vertical (+ forward), see
:mod:`.kinematics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.motion.synthetic.body import Body
from mwx_ray.motion.synthetic.kinematics import (
    LEFT,
    RIGHT,
    ArmAngles,
    LegAngles,
    arm_points,
    body_keypoints,
    leg_points,
    two_link_ik,
)
from mwx_ray.motion.synthetic.locomotion import STEP_WIDTH_M

KP = {name: i for i, name in enumerate(CANONICAL_KEYPOINTS)}


def minimum_jerk(progress: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 10s³ − 15s⁴ + 6s⁵ for s ∈ [0, 1] (Flash & Hogan, J. Neurosci. 5:1688, 1985)."""
    s = np.clip(progress, 0.0, 1.0)
    return s**3 * (10 - 15 * s + 6 * s**2)


def _timeline(fps: float, lead_s: float, move_s: float, hold_s: float) -> np.ndarray:
    """[T] movement progress 0→1: still for ``lead_s``, minimum-jerk over ``move_s``, then held ``hold_s``."""
    t = np.arange(int(round((lead_s + move_s + hold_s) * fps)) + 1) / fps
    return minimum_jerk((t - lead_s) / move_s)


def _feet_fixed(thigh: np.ndarray, shank: np.ndarray, lean: np.ndarray, arms: dict[int, ArmAngles],
                body: Body) -> np.ndarray:
    """Keypoints [T, 19, 3] for symmetric legs with flat feet pinned to the ground."""
    adduction = np.full_like(thigh, np.arcsin((body.hip_joint_separation_m - STEP_WIDTH_M) / 2 / body.leg_length_m))
    legs = LegAngles(thigh, shank, np.zeros_like(thigh), adduction)
    rel = {side: leg_points(legs, side, body) for side in (LEFT, RIGHT)}
    pelvis = rel[LEFT]["heel"][0] * [1, 1, 0] - rel[LEFT]["heel"]
    return body_keypoints(pelvis, rel, lean, arms, body)


def _hanging_arms(count: int, upper: np.ndarray | None = None, elbow_deg: float = 10.0) -> dict[int, ArmAngles]:
    upper = np.zeros(count) if upper is None else upper
    arm = ArmAngles(upper, upper + np.radians(elbow_deg), np.full(count, np.radians(5.0)))
    return {LEFT: arm, RIGHT: arm}


# Stand-to-sit: trunk flexes forward (peak ≈ 35–45°) while the knees travel forward over the feet (peak ankle
# dorsiflexion ≈ 15°), then thighs come to horizontal on the seat; ≈2 s movement. Values after the sit-to-stand
# literature (Schenkman et al., Phys. Ther. 70:638, 1990; Kralj et al., J. Biomed. Eng. 12:369, 1990).
SIT_PEAK_TRUNK_LEAN_DEG = 40.0
SIT_SEATED_TRUNK_LEAN_DEG = 10.0
SIT_PEAK_SHANK_TILT_DEG = 15.0
ISCHIAL_BELOW_HIP_JOINT_FRACTION = 0.045  # ischial tuberosities ≈0.08 m below the hip centres at 1.75 m (assumed)


def sit(body: Body, fps: float, seated_knee_flexion_deg: float = 90.0, duration_s: float = 2.0,
        lead_s: float = 0.5, hold_s: float = 1.5) -> tuple[np.ndarray, dict[str, Any]]:
    """Stand → sit on a chair behind the person; ends seated with thighs horizontal (by default)."""
    s = _timeline(fps, lead_s, duration_s, hold_s)
    bell = np.sin(np.pi * s)
    shank = -np.radians(SIT_PEAK_SHANK_TILT_DEG) * bell + np.radians(90.0 - seated_knee_flexion_deg) * s
    thigh = np.radians(90.0) * s
    lean = np.radians(SIT_PEAK_TRUNK_LEAN_DEG) * bell + np.radians(SIT_SEATED_TRUNK_LEAN_DEG) * s
    keypoints = _feet_fixed(thigh, shank, lean, _hanging_arms(len(s), np.radians(30.0) * bell), body)
    hip_z = keypoints[-1, [KP["left_hip"], KP["right_hip"]], 2].mean()
    meta = {
        "cyclic": False,
        "duration_s": (len(s) - 1) / fps,
        "movement_s": duration_s,
        "seated_knee_flexion_deg": seated_knee_flexion_deg,
        "hip_joint_height_seated_m": float(hip_z),
        "seat_height_m": float(hip_z - ISCHIAL_BELOW_HIP_JOINT_FRACTION * body.height_m),
        "seat_front_x_m": float(keypoints[-1, [KP["left_knee"], KP["right_knee"]], 0].mean() - 0.05),
    }
    return keypoints, meta


# Bodyweight squat to ≈100° knee flexion with heels down: ankle dorsiflexion ≈25°, trunk lean ≈40°, arms raised
# forward as counterweight (ranges reviewed by B. J. Schoenfeld, J. Strength Cond. Res. 24:3497, 2010).
SQUAT_SHANK_TILT_DEG = 25.0
SQUAT_TRUNK_LEAN_DEG = 40.0
SQUAT_ARM_RAISE_DEG = 80.0


def squat(body: Body, fps: float, depth_knee_deg: float = 100.0, period_s: float = 3.0, n_cycles: int = 2,
          start_frame: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Repeated squats (stand → bottom → stand, cosine profile); loops every ``period_s``."""
    num = max(4, int(round(period_s * fps)))
    frames = start_frame + np.arange(n_cycles * num)
    s = 0.5 * (1.0 - np.cos(2 * np.pi * (frames % num) / num))
    shank = -np.radians(SQUAT_SHANK_TILT_DEG) * s
    thigh = shank + np.radians(depth_knee_deg) * s
    lean = np.radians(SQUAT_TRUNK_LEAN_DEG) * s
    keypoints = _feet_fixed(thigh, shank, lean, _hanging_arms(len(s), np.radians(SQUAT_ARM_RAISE_DEG) * s), body)
    meta = {
        "cyclic": True,
        "period_s": num / fps,
        "frames_per_cycle": num,
        "n_cycles": n_cycles,
        "cycle_root_displacement_m": [0.0, 0.0, 0.0],
        "depth_knee_deg": depth_knee_deg,
        "pelvis_height_bottom_m": float(keypoints[:, 0, 2].min()),
    }
    return keypoints, meta


# Point-to-point reaching: straight hand path with a bell-shaped speed profile (minimum jerk, Flash & Hogan 1985),
# ≈1 s for a full-arm reach. The elbow is placed by two-bone IK, bending down and out.
REACH_ELBOW_POLE = np.array([-0.3, 0.6, -1.0])


def reach_left(body: Body, fps: float, target_m: tuple[float, float, float] = (0.45, 0.25, 1.3),
               movement_s: float = 1.0, lead_s: float = 0.25, hold_s: float = 1.0) -> tuple[np.ndarray, dict[str, Any]]:
    """Standing reach of the left wrist to ``target_m`` (world, m; the person stands at the origin facing +x)."""
    s = _timeline(fps, lead_s, movement_s, hold_s)
    count = len(s)
    zeros = np.zeros(count)
    arms = _hanging_arms(count)
    keypoints = _feet_fixed(zeros, zeros, zeros, arms, body)
    offset = np.array([-keypoints[0, 0, 0], -keypoints[0, 0, 1], 0.0])  # pelvis above the origin
    keypoints = keypoints + offset
    shoulder = keypoints[:, KP["left_shoulder"]]
    rest = arm_points(shoulder[:1], ArmAngles(zeros[:1], zeros[:1] + np.radians(10.0), zeros[:1] + np.radians(5.0)),
                      LEFT, body)["wrist"][0]
    wrist_path = rest + s[:, None] * (np.asarray(target_m, dtype=np.float64) - rest)
    elbow, wrist = two_link_ik(shoulder, wrist_path, body.upper_arm_m, body.forearm_m, REACH_ELBOW_POLE)
    keypoints[:, KP["left_elbow"]], keypoints[:, KP["left_wrist"]] = elbow, wrist
    error = float(np.linalg.norm(wrist[-1] - np.asarray(target_m)))
    meta = {
        "cyclic": False,
        "duration_s": (count - 1) / fps,
        "movement_s": movement_s,
        "target_m": [float(v) for v in target_m],
        "final_wrist_error_m": error,
        "target_reached": error < 0.01,
        "shoulder_m": shoulder[0].tolist(),
    }
    return keypoints, meta
