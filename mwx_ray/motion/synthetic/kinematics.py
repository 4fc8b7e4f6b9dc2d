"""Planar-plus-lateral forward kinematics of the synthetic body → canonical keypoints [T, 19, 3].

Frame: world z up, x forward, y left. Each limb moves in its sagittal plane (segment angles from the vertical,
positive when the distal end is forward), and that plane is then tilted about the forward axis by the limb's
frontal angle (leg adduction / arm abduction). The trunk pitches forward by ``lean`` about the pelvis. All
angles are radians and all arrays are [T] (angles) or [T, 3] (points, metres), vectorized over frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.motion.synthetic.body import Body

LEFT, RIGHT = 1, -1  # side sign: +y is the body's left
SIDE_NAMES = {LEFT: "left", RIGHT: "right"}


@dataclass(frozen=True)
class LegAngles:
    """Segment angles of one leg, rad, [T]: thigh/shank from vertical (+ forward), foot pitch (+ toe up),
    hip adduction (+ toward the midline)."""

    thigh: np.ndarray
    shank: np.ndarray
    foot_pitch: np.ndarray
    adduction: np.ndarray

    @classmethod
    def from_joint_angles(cls, hip_flex: np.ndarray, knee_flex: np.ndarray, ankle_dorsi: np.ndarray,
                          adduction: np.ndarray) -> LegAngles:
        """From clinical joint angles (rad): thigh = hip, shank = hip − knee, foot = ankle + hip − knee."""
        shank = hip_flex - knee_flex
        return cls(hip_flex, shank, ankle_dorsi + shank, adduction)


@dataclass(frozen=True)
class ArmAngles:
    """Segment angles of one arm, rad, [T]: upper arm / forearm from vertical (+ forward), abduction (+ outward)."""

    upper: np.ndarray
    fore: np.ndarray
    abduction: np.ndarray


def sagittal(angle: np.ndarray) -> np.ndarray:
    """[T, 3] unit vector pointing down, swung forward by ``angle`` (rad) about the y axis."""
    angle = np.asarray(angle, dtype=np.float64)
    return np.stack([np.sin(angle), np.zeros_like(angle), -np.cos(angle)], axis=-1)


def rotate_about_x(vectors: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate [T, 3] vectors by ``angle`` [T] rad about +x (y → z)."""
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    return np.stack([x, c * y - s * z, s * y + c * z], axis=-1)


def leg_points(legs: LegAngles, side: int, body: Body) -> dict[str, np.ndarray]:
    """Hip, knee, ankle, heel and toe of one leg relative to the pelvis keypoint, [T, 3] m each."""
    num_frames = len(legs.thigh)
    hip = np.tile([0.0, side * body.hip_joint_separation_m / 2, -body.pelvis_above_hips_m], (num_frames, 1))
    frontal = -side * legs.adduction  # adduction swings the leg toward the midline
    thigh = rotate_about_x(sagittal(legs.thigh), frontal)
    shank = rotate_about_x(sagittal(legs.shank), frontal)
    pitch = legs.foot_pitch
    forward = rotate_about_x(np.stack([np.cos(pitch), np.zeros_like(pitch), np.sin(pitch)], -1), frontal)
    down = rotate_about_x(sagittal(pitch), frontal)
    knee = hip + body.thigh_m * thigh
    ankle = knee + body.shank_m * shank
    sole = ankle + body.ankle_height_m * down
    return {
        "hip": hip,
        "knee": knee,
        "ankle": ankle,
        "heel": sole - body.heel_behind_ankle_m * forward,
        "toe": sole + body.toe_ahead_of_ankle_m * forward,
    }


def trunk_points(lean: np.ndarray, body: Body) -> dict[str, np.ndarray]:
    """Spine, chest, neck, head and both shoulders relative to the pelvis keypoint, [T, 3] m (lean rad, + forward)."""
    up = -sagittal(-np.asarray(lean, dtype=np.float64))  # (sin λ, 0, cos λ)
    spine = body.pelvis_to_spine_m * up
    chest = spine + body.spine_to_chest_m * up
    neck = chest + body.chest_to_neck_m * up
    head = neck + body.neck_to_head_m * up
    shoulder_centre = chest + body.chest_to_shoulder_height_m * up
    half_width = np.array([0.0, body.shoulder_width_m / 2, 0.0])
    return {
        "spine": spine,
        "chest": chest,
        "neck": neck,
        "head": head,
        "left_shoulder": shoulder_centre + half_width,
        "right_shoulder": shoulder_centre - half_width,
    }


def arm_points(shoulder: np.ndarray, arms: ArmAngles, side: int, body: Body) -> dict[str, np.ndarray]:
    """Elbow and wrist [T, 3] m from the shoulder position [T, 3] and the arm's segment angles."""
    frontal = side * arms.abduction
    elbow = shoulder + body.upper_arm_m * rotate_about_x(sagittal(arms.upper), frontal)
    wrist = elbow + body.forearm_m * rotate_about_x(sagittal(arms.fore), frontal)
    return {"elbow": elbow, "wrist": wrist}


def two_link_ik(root: np.ndarray, target: np.ndarray, upper_m: float, lower_m: float,
                pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK: (middle joint, end) [T, 3] with exact bone lengths.

    The end reaches ``target`` when it is within reach (else it stops on the line to it, at 99.9 % of full
    extension); the middle joint bends toward ``pole`` ([3] or [T, 3] direction).
    """
    offset = target - root
    distance = np.linalg.norm(offset, axis=-1, keepdims=True)
    reach = np.clip(distance, abs(upper_m - lower_m) + 1e-6, 0.999 * (upper_m + lower_m))
    axis = offset / np.maximum(distance, 1e-9)
    bend = np.broadcast_to(pole, offset.shape) - (np.broadcast_to(pole, offset.shape) * axis).sum(-1, keepdims=True) * axis
    bend = bend / np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-9)
    cos_angle = (upper_m**2 + reach**2 - lower_m**2) / (2 * upper_m * reach)
    sin_angle = np.sqrt(np.clip(1.0 - cos_angle**2, 0.0, 1.0))
    middle = root + upper_m * (cos_angle * axis + sin_angle * bend)
    end = root + reach * axis
    return middle, end


def stack_keypoints(points: dict[str, np.ndarray]) -> np.ndarray:
    """[T, 19, 3] in canonical order from a dict holding every canonical name."""
    return np.stack([points[name] for name in CANONICAL_KEYPOINTS], axis=1)


def body_keypoints(pelvis: np.ndarray, legs: dict[int, dict[str, np.ndarray]], lean: np.ndarray,
                   arms: dict[int, ArmAngles], body: Body) -> np.ndarray:
    """Whole-body keypoints [T, 19, 3] (world, m) for a pelvis path [T, 3].

    Args:
        legs: per side, the :func:`leg_points` dict (points relative to the pelvis).
        lean: [T] trunk lean, rad (+ forward).
        arms: per side, arm segment angles.
    """
    points: dict[str, np.ndarray] = {"pelvis": pelvis}
    for name, rel in trunk_points(lean, body).items():
        points[name] = pelvis + rel
    for side, rel in legs.items():
        for part in ("hip", "knee", "ankle", "toe"):
            points[f"{SIDE_NAMES[side]}_{part}"] = pelvis + rel[part]
    for side, angles in arms.items():
        prefix = SIDE_NAMES[side]
        for part, value in arm_points(points[f"{prefix}_shoulder"], angles, side, body).items():
            points[f"{prefix}_{part}"] = value
    return stack_keypoints(points)
