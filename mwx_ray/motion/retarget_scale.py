"""Operator M, first stage: H1 keypoint frames, frame conversion and body-scale fitting (no IK here).

Human keypoints (canonical names of :mod:`mwx_ray.motion.skeleton`, [T, J, 3], metres, world z up) become IK
targets in H1 proportions in three steps:

1. **Frame conversion** (:func:`canonicalize_frame`): the heading at frame 0 — the pelvis frame built from the
   hips (``y`` = right hip → left hip, ``z`` ≈ mid-hip → pelvis, ``x = y × z``) — is rotated onto +x about the
   vertical, the pelvis is moved to xy = 0, and the ground level (a low percentile of the lowest contact point, see
   :data:`HUMAN_CONTACT_OFFSETS_M`) is moved to z = 0. Inputs must already be z up (loaders convert Y-up data).
2. **Body-scale fitting** (:func:`fit_body_scale`): human segment lengths are measured (median over frames, robust
   to marker noise; ``first_frame`` uses frame 0, e.g. a T-pose), and the skeleton is rebuilt bone by bone in H1
   proportions: parts that are one rigid body on H1 (pelvis → hips; torso → spine, chest, neck, head, shoulders)
   are placed at H1's rigid offsets rotated by the human pelvis / chest frame, and limb bones keep the human bone
   *direction* with H1's bone *length* (thigh, shank, foot, upper arm, forearm). The pelvis xy path is scaled by
   ``s = H1 leg length / human leg length`` (thigh + shank) so strides match the shorter legs (no foot skating).
   ``uniform`` scales every point by ``s``; ``none`` keeps the input as is (scale 1, used for FK round trips).
3. **Ground contact** (:func:`ground_offsets`): each frame is shifted vertically so its lowest contact point sits
   at the human's (scaled) clearance above the ground: 0 while a foot (or knee, hand) is down, the flight height in
   a running flight phase. Ankles and toes are then floored at their H1 flat-foot heights.

H1 keypoints (:data:`H1_KEYPOINT_FRAMES`) are sites added to a kinematic-only copy of our H1 model
(:func:`kinematic_h1_model`): joint centres where H1 has a joint (hips = hip-pitch link, knees, ankles, elbows;
shoulders on the shoulder-pitch axis), the HumanoidBench ``head``/``left_hand`` sites for head and wrists, points on
the torso yaw axis for spine/chest/neck, and the front of the sole for the toe (MTP joint). The pelvis keypoint sits
straight above the hip centres, so the frame built from H1 keypoints equals H1's pelvis frame (up to the hip-yaw
lever: H1's hip-pitch centres swing 12 cm about the yaw axes, a human's hips are ball joints).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mujoco
import numpy as np

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.robots.h1 import build_h1_spec

SIDES = ("left", "right")
# canonical keypoint -> (H1 body, position in that body's frame, m). See the module docstring for the choices.
H1_KEYPOINT_FRAMES: dict[str, tuple[str, tuple[float, float, float]]] = {
    "pelvis": ("pelvis", (0.0395, 0.0, 0.0)),  # above the hip-pitch centres (x = 0.0395 in the pelvis frame)
    "spine": ("torso_link", (0.0, 0.0, 0.10)),
    "chest": ("torso_link", (0.0, 0.0, 0.30)),
    "neck": ("torso_link", (0.0, 0.0, 0.48)),
    "head": ("torso_link", (0.0, 0.0, 0.70)),  # HumanoidBench's `head` site
    **{
        f"{side}_{part}": frame
        for side in SIDES
        for part, frame in {
            "hip": (f"{side}_hip_pitch_link", (0.0, 0.0, 0.0)),
            "knee": (f"{side}_knee_link", (0.0, 0.0, 0.0)),
            "ankle": (f"{side}_ankle_link", (0.0, 0.0, 0.0)),
            "toe": (f"{side}_ankle_link", (0.12, 0.0, -0.06)),  # front of the sole, 8 mm above its bottom
            # on the shoulder-pitch axis, level with the roll joint: rigid on the torso, so the chest frame
            # built from H1 keypoints is exactly the torso frame
            "shoulder": (f"{side}_shoulder_pitch_link", (0.0, 0.0565 if side == "left" else -0.0565, 0.0)),
            "elbow": (f"{side}_elbow_link", (0.0, 0.0, 0.0)),
            "wrist": (f"{side}_elbow_link", (0.31, 0.0, -0.01)),  # HumanoidBench's `left_hand`/`right_hand` site
        }.items()
    },
}
# Points that may touch the ground: (name, body, position in body frame m, radius m). Sole corners enclose
# Menagerie's three foot capsules (x −0.049…0.154, bottom z −0.07 in the ankle frame, robots/h1.py); knee and hand
# radii are those of Menagerie's knee/elbow-end collision spheres, rounded.
_SOLE_X_M, _SOLE_Y_M, _SOLE_Z_M = (-0.05, 0.155), (-0.03, 0.03), -0.068
H1_GROUND_POINTS: tuple[tuple[str, str, tuple[float, float, float], float], ...] = tuple(
    (f"{side}_sole_{i}", f"{side}_ankle_link", (x, y, _SOLE_Z_M), 0.0)
    for side in SIDES
    for i, (x, y) in enumerate((x, y) for x in _SOLE_X_M for y in _SOLE_Y_M)
) + tuple((f"{side}_knee_cap", f"{side}_knee_link", (0.0, 0.0, 0.0), 0.05) for side in SIDES) + tuple(
    (f"{side}_hand_ball", f"{side}_elbow_link", (0.28, 0.0, -0.015), 0.033) for side in SIDES
)
# Human keypoints that can carry weight and how far the joint centre sits above the contact surface, m
# (adult values: sole under the ankle ≈ 0.039 × 1.75 m, Winter 2009; patella and palm soft tissue, rounded).
HUMAN_CONTACT_OFFSETS_M = {"toe": 0.0, "ankle": 0.07, "knee": 0.05, "wrist": 0.03}
GROUND_PERCENTILE = 2.0  # robust "lowest contact" over a clip: ignores a few frames of marker noise
LIMB_BONES = tuple(
    (f"{side}_{a}", f"{side}_{b}")
    for side in SIDES
    for a, b in (("hip", "knee"), ("knee", "ankle"), ("ankle", "toe"), ("shoulder", "elbow"), ("elbow", "wrist"))
)
TORSO_KEYPOINTS = ("spine", "chest", "neck", "head", "left_shoulder", "right_shoulder")
BODY_SCALE_MODES = ("segments", "uniform", "none")
SEGMENT_LENGTH_SOURCES = ("median", "first_frame")


@functools.cache
def kinematic_h1_model() -> mujoco.MjModel:
    """Our H1 model (robots/h1.py) plus ``kp_<keypoint>`` and ``ground_<point>`` sites; used for kinematics only."""
    spec = build_h1_spec()
    for name, (body, pos) in H1_KEYPOINT_FRAMES.items():
        spec.body(body).add_site(name=f"kp_{name}", pos=pos, size=(0.02, 0.02, 0.02), group=5)
    for name, body, pos, radius in H1_GROUND_POINTS:
        spec.body(body).add_site(name=f"ground_{name}", pos=pos, size=(max(radius, 0.005),) * 3, group=5)
    return spec.compile()


def site_ids(model: mujoco.MjModel, prefix: str, names: tuple[str, ...]) -> np.ndarray:
    return np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, prefix + n) for n in names])


@dataclass(frozen=True)
class H1Geometry:
    """H1 keypoints at the zero pose, from FK of :func:`kinematic_h1_model` (pelvis at the origin, identity).

    Attributes:
        pelvis_frame_offsets: name → [3] position relative to the pelvis keypoint, pelvis frame, m.
        torso_offsets: name → [3] position relative to the torso joint (pelvis origin), torso frame, m.
        bone_lengths: (parent, child) → length, m, for :data:`LIMB_BONES`.
        leg_length_m: thigh + shank, m.
        flat_foot_heights: ``ankle``/``toe`` keypoint heights above the sole bottom with a flat foot, m.
    """

    pelvis_frame_offsets: dict[str, np.ndarray]
    torso_offsets: dict[str, np.ndarray]
    bone_lengths: dict[tuple[str, str], float]
    leg_length_m: float
    flat_foot_heights: dict[str, float]


@functools.cache
def h1_geometry() -> H1Geometry:
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    data.qpos[:] = 0.0
    data.qpos[3] = 1.0  # identity orientation, pelvis origin at the world origin
    mujoco.mj_kinematics(model, data)
    points = {n: data.site_xpos[i].copy() for n, i in zip(CANONICAL_KEYPOINTS, site_ids(
        model, "kp_", CANONICAL_KEYPOINTS), strict=True)}
    pelvis = points["pelvis"]
    lengths = {bone: float(np.linalg.norm(points[bone[1]] - points[bone[0]])) for bone in LIMB_BONES}
    sole_z = _SOLE_Z_M + points["left_ankle"][2]
    return H1Geometry(
        pelvis_frame_offsets={f"{s}_hip": points[f"{s}_hip"] - pelvis for s in SIDES},
        torso_offsets={n: points[n].copy() for n in TORSO_KEYPOINTS},  # torso joint is at the pelvis origin
        bone_lengths=lengths,
        leg_length_m=lengths[("left_hip", "left_knee")] + lengths[("left_knee", "left_ankle")],
        flat_foot_heights={"ankle": float(points["left_ankle"][2] - sole_z),
                           "toe": float(points["left_toe"][2] - sole_z)},
    )


def segment_frame(left: np.ndarray, right: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[T, 3, 3] rotation matrices (columns x forward, y left, z up) of a body segment.

    Args:
        left, right: [T, 3] left/right landmarks (hips or shoulders): y = normalize(left − right).
        low, high: [T, 3] points along the segment's up direction (mid-hips → pelvis, chest → neck).
    """
    y_axis = _unit(left - right)
    x_axis = _unit(np.cross(y_axis, high - low))
    z_axis = np.cross(x_axis, y_axis)
    return np.stack([x_axis, y_axis, z_axis], axis=-1)


def pelvis_frames(points: dict[str, np.ndarray]) -> np.ndarray:
    """[T, 3, 3] pelvis orientation from hips and pelvis keypoint (matches H1's pelvis body frame on H1 input)."""
    mid_hips = 0.5 * (points["left_hip"] + points["right_hip"])
    return segment_frame(points["left_hip"], points["right_hip"], mid_hips, points["pelvis"])


def chest_frames(points: dict[str, np.ndarray]) -> np.ndarray:
    """[T, 3, 3] upper-trunk orientation from shoulders and chest → neck (H1: the torso_link frame)."""
    return segment_frame(points["left_shoulder"], points["right_shoulder"], points["chest"], points["neck"])


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def as_dict(keypoints: np.ndarray) -> dict[str, np.ndarray]:
    """[T, 19, 3] canonical keypoints → name → [T, 3]."""
    return {name: keypoints[:, i] for i, name in enumerate(CANONICAL_KEYPOINTS)}


def contact_clearance(points: dict[str, np.ndarray], offsets: dict[str, float]) -> np.ndarray:
    """[T] height of the lowest contact surface, m: min over sides/parts of (keypoint z − offset[part])."""
    heights = [points[f"{side}_{part}"][:, 2] - offset for side in SIDES for part, offset in offsets.items()]
    return np.min(np.stack(heights, axis=1), axis=1)


def canonicalize_frame(keypoints: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Rotate/translate [T, 19, 3] human keypoints: heading +x and pelvis xy = 0 at frame 0, ground at z = 0.

    Returns:
        (keypoints [T, 19, 3], info with ``heading_rad`` (input heading at frame 0), ``ground_z_m`` (input
        ground level) and the xy offset removed).
    """
    rotation = pelvis_frames(as_dict(keypoints[:1]))[0]
    heading = float(np.arctan2(rotation[1, 0], rotation[0, 0]))
    cos_h, sin_h = np.cos(-heading), np.sin(-heading)
    yaw = np.array([[cos_h, -sin_h, 0.0], [sin_h, cos_h, 0.0], [0.0, 0.0, 1.0]])
    rotated = keypoints @ yaw.T
    ground = float(np.percentile(contact_clearance(as_dict(rotated), HUMAN_CONTACT_OFFSETS_M), GROUND_PERCENTILE))
    origin = np.array([rotated[0, 0, 0], rotated[0, 0, 1], ground])
    info = {"heading_rad": heading, "ground_z_m": ground,
            "xy_offset_m": [float(v) for v in (keypoints[0, 0, :2])]}
    return rotated - origin, info


@dataclass(frozen=True)
class ScaleFit:
    """Result of body-scale fitting.

    Attributes:
        targets: [T, 19, 3] IK targets (canonical order), m, world z up, ground at z = 0 (before ground offsets).
        root_scale: s = H1 leg length / human leg length (1 for ``none``).
        human_bone_lengths_m / scale_factors: per limb bone (``"left_hip>left_knee"``), JSON-able.
    """

    targets: np.ndarray
    root_scale: float
    human_bone_lengths_m: dict[str, float]
    scale_factors: dict[str, float]


def fit_body_scale(keypoints: np.ndarray, mode: str = "segments", lengths_from: str = "median") -> ScaleFit:
    """Rebuild canonical human keypoints [T, 19, 3] (after :func:`canonicalize_frame`) in H1 proportions."""
    if mode not in BODY_SCALE_MODES:
        raise MotionError(f"unknown body_scale {mode!r}; valid: {list(BODY_SCALE_MODES)}")
    if lengths_from not in SEGMENT_LENGTH_SOURCES:
        raise MotionError(f"unknown segment_lengths_from {lengths_from!r}; valid: {list(SEGMENT_LENGTH_SOURCES)}")
    geometry = h1_geometry()
    points = as_dict(keypoints)
    lengths = {}
    for parent, child in LIMB_BONES:
        per_frame = np.linalg.norm(points[child] - points[parent], axis=-1)
        lengths[(parent, child)] = float(per_frame[0] if lengths_from == "first_frame" else np.median(per_frame))
    human_leg = np.mean([lengths[(f"{s}_hip", f"{s}_knee")] + lengths[(f"{s}_knee", f"{s}_ankle")] for s in SIDES])
    if human_leg < 1e-3:
        raise MotionError("body-scale fitting: the human legs have zero length (hip, knee and ankle coincide)")
    root_scale = 1.0 if mode == "none" else float(geometry.leg_length_m / human_leg)
    factors = {bone: geometry.bone_lengths[bone] / max(length, 1e-9) for bone, length in lengths.items()}
    if mode == "none":
        targets = keypoints.copy()
    elif mode == "uniform":
        targets = keypoints * root_scale
    else:
        targets = _rebuild_in_h1_proportions(points, root_scale, geometry)
    return ScaleFit(
        targets=targets,
        root_scale=root_scale,
        human_bone_lengths_m={f"{a}>{b}": round(v, 5) for (a, b), v in lengths.items()},
        scale_factors={f"{a}>{b}": round(v, 5) for (a, b), v in factors.items()},
    )


def _rebuild_in_h1_proportions(points: dict[str, np.ndarray], root_scale: float, geometry: H1Geometry) -> np.ndarray:
    """The ``segments`` rebuild described in the module docstring; returns [T, 19, 3]."""
    pelvis_rot, chest_rot = pelvis_frames(points), chest_frames(points)
    pelvis = points["pelvis"] * np.array([root_scale, root_scale, 1.0])  # height is set by ground_offsets
    out: dict[str, np.ndarray] = {"pelvis": pelvis}
    for name, offset in geometry.pelvis_frame_offsets.items():
        out[name] = pelvis + pelvis_rot @ offset
    torso_origin = pelvis - pelvis_rot @ np.asarray(H1_KEYPOINT_FRAMES["pelvis"][1])
    for name, offset in geometry.torso_offsets.items():
        out[name] = torso_origin + chest_rot @ offset
    for parent, child in LIMB_BONES:  # ordered root → tip, so the parent is always placed first
        direction = _unit(points[child] - points[parent])
        out[child] = out[parent] + geometry.bone_lengths[(parent, child)] * direction
    return np.stack([out[name] for name in CANONICAL_KEYPOINTS], axis=1)


def ground_offsets(lowest_contact_z: np.ndarray, human_clearance_m: np.ndarray) -> np.ndarray:
    """[T] vertical shift, m, that puts each frame's lowest contact point at the human's clearance (≥ 0)."""
    return np.maximum(human_clearance_m, 0.0) - lowest_contact_z


def target_contact_heights(targets: np.ndarray) -> np.ndarray:
    """[T] lowest contact surface of H1-proportioned targets (flat-foot heights for ankle/toe, radii else)."""
    geometry = h1_geometry()
    offsets = {"toe": geometry.flat_foot_heights["toe"], "ankle": geometry.flat_foot_heights["ankle"],
               "knee": 0.05, "wrist": 0.03}
    return contact_clearance(as_dict(targets), offsets)


def floor_feet(targets: np.ndarray) -> np.ndarray:
    """Copy of targets [T, 19, 3] with ankle/toe z raised to at least their H1 flat-foot heights (m)."""
    geometry = h1_geometry()
    out = targets.copy()
    for part in ("ankle", "toe"):
        for side in SIDES:
            column = CANONICAL_KEYPOINTS.index(f"{side}_{part}")
            np.maximum(out[:, column, 2], geometry.flat_foot_heights[part], out=out[:, column, 2])
    return out
