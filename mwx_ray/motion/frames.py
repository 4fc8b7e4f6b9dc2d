"""Trunk frames that survive real rigs, degenerate-frame detection and repair, posture and up-axis checks.

H1's torso joint only yaws, so H1's pelvis and torso always share pitch and roll: both follow the human *trunk
axis*, the hip centre → neck vector (about 50 cm on any adult rig, and made of joints every rig has). Its left
axes come from the hip joints (pelvis) and the upper-arm joints (torso). Short vectors that real rigs make
degenerate are never used: LAFAN1's ``Hips`` sits level with the hip joints (hip centre → Hips is 1.9 cm and
mostly horizontal), CMU's ``Spine1`` and ``Neck`` coincide (chest → neck is 0). If the neck is unusable the trunk
axis falls back to hip centre → head, → chest, → spine (first with a median length ≥ 15 cm).

Frames are built as columns (forward, left, up) = (y × z, unit(left − right), trunk axis ⟂ y) and mapped to H1
body orientations by the constant rotation C that the same construction gives on H1's own keypoints at the zero
pose (R_body = R_keypoints · Cᵀ), so the frames are exact on H1 input.

A frame is degenerate when its left vector or trunk axis is shorter than 3 cm or they are within 20° of
parallel (or not finite). Degenerate frames are repaired by slerp between the nearest good frames (held at the
clip ends) when they are at most ``max_fraction`` of the clip and no run is longer than ``max_gap_s``; otherwise
the clip is rejected. Every issue names the segment, the source joints and the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.retarget_scale import H1_KEYPOINT_FRAMES, h1_geometry

MIN_VECTOR_M = 0.03
MIN_AXIS_SIN = np.sin(np.radians(20.0))
MIN_TRUNK_AXIS_M = 0.15
TRUNK_AXES = (("mid_hips", "neck"), ("mid_hips", "head"), ("mid_hips", "chest"), ("mid_hips", "spine"))
LATERALS = {"pelvis": (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")),
            "torso": (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"))}
# Vectors the earlier frame construction used; a rig where one is degenerate is reported (not an error).
DIAGNOSTIC_VECTORS = (("mid_hips", "pelvis"), ("chest", "neck"), ("spine", "chest"), ("neck", "head"))
POSTURE_MISMATCH_DEG = 45.0


@dataclass(frozen=True)
class FrameIssue:
    """A degenerate vector: ``segment`` (pelvis/torso/rig), the vector, source joints, affected frames, action."""

    segment: str
    vector: str
    joints: str
    frames: tuple[int, ...]
    detail: str
    action: str

    def message(self) -> str:
        return (f"{self.segment} frame: {self.vector} ({self.joints}) {self.detail} in {len(self.frames)} frame(s) "
                f"{_ranges(self.frames)}: {self.action}")


@dataclass(frozen=True)
class TrunkFrames:
    """Target orientations [T, 3, 3] of H1's pelvis and torso bodies, the trunk axis used, and the issues."""

    pelvis: np.ndarray
    torso: np.ndarray
    trunk_axis: tuple[str, str]
    trunk_inclination_deg: np.ndarray
    issues: tuple[FrameIssue, ...]


def _ranges(frames) -> str:
    frames = sorted(frames)
    if not frames:
        return "[]"
    spans, start, prev = [], frames[0], frames[0]
    for f in frames[1:] + [None]:
        if f is None or f != prev + 1:
            spans.append(f"{start}" if start == prev else f"{start}-{prev}")
            if f is not None:
                start = f
        if f is not None:
            prev = f
    return "[" + ", ".join(spans[:8]) + (", ..." if len(spans) > 8 else "") + "]"


def _get(points: dict[str, np.ndarray], name: str) -> np.ndarray:
    return 0.5 * (points["left_hip"] + points["right_hip"]) if name == "mid_hips" else points[name]


def _joint_names(pair: tuple[str, str], source: dict[str, str]) -> str:
    def one(name: str) -> str:
        if name == "mid_hips":
            return f"hip centre of {source.get('left_hip', 'left_hip')}/{source.get('right_hip', 'right_hip')}"
        return source.get(name, name)
    return f"{one(pair[0])} -> {one(pair[1])}"


def _frame(lateral: np.ndarray, up: np.ndarray) -> np.ndarray:
    y = lateral / np.maximum(np.linalg.norm(lateral, axis=-1, keepdims=True), 1e-12)
    z = up - np.sum(up * y, axis=-1, keepdims=True) * y
    z = z / np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    return np.stack([np.cross(y, z), y, z], axis=-1)


def h1_zero_pose_points() -> dict[str, np.ndarray]:
    """H1 keypoints at the zero pose, pelvis body at the origin with identity orientation, [1, 3] each."""
    geometry = h1_geometry()
    pelvis = np.asarray(H1_KEYPOINT_FRAMES["pelvis"][1])
    points = {"pelvis": pelvis}
    points.update({k: pelvis + v for k, v in geometry.pelvis_frame_offsets.items()})
    points.update(geometry.torso_offsets)
    return {k: np.asarray(v, dtype=np.float64)[None] for k, v in points.items()}


def _calibration(lateral: tuple[str, str], axis: tuple[str, str]) -> np.ndarray:
    h1 = h1_zero_pose_points()
    return _frame(_get(h1, lateral[0]) - _get(h1, lateral[1]), _get(h1, axis[1]) - _get(h1, axis[0]))[0]


def _bad_frames(lateral: np.ndarray, up: np.ndarray) -> np.ndarray:
    lat_len, up_len = np.linalg.norm(lateral, axis=-1), np.linalg.norm(up, axis=-1)
    sin = np.linalg.norm(np.cross(lateral, up), axis=-1) / np.maximum(lat_len * up_len, 1e-12)
    finite = np.isfinite(lateral).all(-1) & np.isfinite(up).all(-1)
    return ~finite | (lat_len < MIN_VECTOR_M) | (up_len < MIN_VECTOR_M) | (sin < MIN_AXIS_SIN)


def _repair(rotations: np.ndarray, bad: np.ndarray) -> np.ndarray:
    good = np.flatnonzero(~bad)
    times = np.arange(len(rotations))
    if len(good) == 1:
        return np.repeat(rotations[good], len(rotations), axis=0)
    slerp = Slerp(good.astype(float), Rotation.from_matrix(rotations[good]))
    return slerp(np.clip(times, good[0], good[-1]).astype(float)).as_matrix()


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def trunk_frames(points: dict[str, np.ndarray], source_names: dict[str, str], fps: float,
                 max_fraction: float = 0.2, max_gap_s: float = 0.5, owner: str = "motion") -> TrunkFrames:
    """Pelvis and torso target orientations from canonical keypoints [T, 3] (see the module docstring)."""
    issues: list[FrameIssue] = []
    for pair in DIAGNOSTIC_VECTORS:
        length = np.linalg.norm(_get(points, pair[1]) - _get(points, pair[0]), axis=-1)
        short = length < MIN_VECTOR_M
        if short.mean() > 0.5:
            issues.append(FrameIssue("rig", f"{pair[0]}->{pair[1]}", _joint_names(pair, source_names),
                                     tuple(np.flatnonzero(short).tolist()),
                                     f"is {100 * np.median(length):.1f} cm long (joints coincide or are level)",
                                     "not used to build frames"))
    axis = next((p for p in TRUNK_AXES if np.median(np.linalg.norm(
        _get(points, p[1]) - _get(points, p[0]), axis=-1)) >= MIN_TRUNK_AXIS_M), None)
    if axis is None:
        raise MotionError(f"{owner}: no usable trunk axis: hip centre -> neck/head/chest/spine are all shorter than "
                          f"{100 * MIN_TRUNK_AXIS_M:.0f} cm ({_joint_names(TRUNK_AXES[0], source_names)}); check the "
                          "joint mapping (--joint-map) and units")
    up = _get(points, axis[1]) - _get(points, axis[0])
    out = {}
    for segment, laterals in LATERALS.items():
        pair = laterals[0]
        lateral = _get(points, pair[0]) - _get(points, pair[1])
        bad = _bad_frames(lateral, up)
        rotations = _frame(lateral, up) @ _calibration(pair, axis).T
        if bad.any():
            frames = tuple(np.flatnonzero(bad).tolist())
            longest = max(e - s for s, e in _runs(bad)) / fps
            vectors = f"{pair[0]}->{pair[1]} / {axis[0]}->{axis[1]}"
            joints = f"{_joint_names(pair, source_names)}; {_joint_names(axis, source_names)}"
            detail = "is degenerate (shorter than 3 cm, or within 20 deg of parallel)"
            if bad.all() or bad.mean() > max_fraction or longest > max_gap_s:
                issue = FrameIssue(segment, vectors, joints, frames, detail, "rejected")
                raise MotionError(f"{owner}: {issue.message()}; repair needs at most {100 * max_fraction:.0f} % "
                                  f"of the frames and gaps of at most {max_gap_s} s (longest {longest:.2f} s)")
            rotations = _repair(rotations, bad)
            issues.append(FrameIssue(segment, vectors, joints, frames, detail,
                                     "repaired by interpolating between the nearest good frames"))
        out[segment] = rotations
    unit_up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-12)
    inclination = np.degrees(np.arccos(np.clip(unit_up[:, 2], -1.0, 1.0)))
    return TrunkFrames(out["pelvis"], out["torso"], axis, inclination, tuple(issues))


def heading_rad(pelvis_rotations: np.ndarray, fps: float, window_s: float = 1.0) -> float:
    """Circular mean heading (rad) over the first ``window_s`` (one gait cycle smooths the pelvis sway).

    The heading is the yaw of the pelvis x axis (facing); where the body lies (x axis within 45° of vertical)
    it is the yaw of the trunk axis (head direction) instead, which is then the horizontal one.
    """
    count = max(1, min(len(pelvis_rotations), int(round(window_s * fps))))
    x_axes, z_axes = pelvis_rotations[:count, :, 0], pelvis_rotations[:count, :, 2]
    axes = np.where((np.abs(x_axes[:, 2]) < np.sqrt(0.5))[:, None], x_axes, z_axes)
    return float(np.angle(np.mean(np.exp(1j * np.arctan2(axes[:, 1], axes[:, 0])))))


def up_axis_warning(points: dict[str, np.ndarray], axis_names: tuple[str, str, str], up_axis: str) -> str | None:
    """A warning when the trunk is vertical along another file axis in most frames but not along ``up_axis``.

    Args:
        points: canonical keypoints after the up-axis conversion (z up). axis_names: the file axis each
            converted axis came from (x, y, z order).
    """
    up = _get(points, "neck") - _get(points, "mid_hips")
    up = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-12)
    along = np.median(up, axis=0)  # per converted axis
    if along[2] >= 0.5:
        return None
    other = int(np.argmax(np.abs(along[:2])))
    if abs(along[other]) < 0.8:
        return None
    sign = "" if along[other] > 0 else "-"
    return (f"posture: with up axis {up_axis!r} the trunk is upright in few frames (median vertical component "
            f"{along[2]:.2f}) but points along the file's {sign}{axis_names[other]} axis (median {abs(along[other]):.2f})"
            f": if the subject stands in this clip, the up axis is wrong (try --up-axis {axis_names[other]})")


def posture_mismatch(human_inclination_deg: np.ndarray, robot_up_z: np.ndarray) -> str | None:
    """A warning when the robot's trunk is lying where the source's stands (or vice versa) by > 45 degrees."""
    robot = np.degrees(np.arccos(np.clip(robot_up_z, -1.0, 1.0)))
    bad = np.abs(robot - human_inclination_deg) > POSTURE_MISMATCH_DEG
    if not bad.any():
        return None
    frames = np.flatnonzero(bad)
    return (f"posture: the robot's trunk inclination differs from the source's by more than "
            f"{POSTURE_MISMATCH_DEG:.0f} deg in {len(frames)} frame(s) {_ranges(frames.tolist())} (e.g. frame "
            f"{frames[0]}: robot {robot[frames[0]]:.0f} deg from vertical, source {human_inclination_deg[frames[0]]:.0f})")
