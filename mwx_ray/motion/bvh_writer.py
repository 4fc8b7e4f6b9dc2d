"""Animate a rig layout (:mod:`.rigs`) with a canonical human motion and write it as BVH text.

The writer is the inverse of the BVH loader for test data: given canonical keypoints (metres, z up, x forward) it
finds, per frame, each rig joint's world orientation W_j = S_j · A_j, where A_j is the joint's local-axes
orientation in the rig's standing reference pose and S_j the rotation of the body segment it belongs to:

* ``pelvis`` / ``chest``: the segment frame of the motion (hips or shoulders give left, pelvis or chest → neck
  gives up), relative to the reference pose (which faces +z with y up);
* ``blend:<f>``: the rotation a fraction f of the way from the pelvis to the chest frame (lumbar joints);
* ``bone:<a>><b>``: the parent's S turned by the smallest rotation that points this joint's bone (towards its
  first child with a non-zero offset) along keypoint b − keypoint a; the twist is inherited from the parent;
* ``parent``: the parent's S.

Local rotations R_j = W_parent^T · W_j are written as Euler angles in the rig's channel order (intrinsic, the BVH
reading of :mod:`.loaders.bvh`). Bones keep the rig's lengths and follow the motion's directions; the root is
placed so that the rig's hip centre follows the motion's and its lowest toe touches the motion's floor.
``tpose_frames`` prepends frames of the reference pose (CMU's cgspeed files start with one).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.rigs import REFERENCE_AXES, ROOT_CHANNELS, RigLayout


@dataclass(frozen=True)
class RigAnimation:
    """Per-frame channel values: ``root_pos`` [T, 3] rig units; ``local_rot`` joint name → [T, 3, 3]."""

    rig: RigLayout
    fps: float
    root_pos: np.ndarray
    local_rot: dict[str, np.ndarray]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _segment(left: np.ndarray, right: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """[T, 3, 3] frames with columns (left, up, forward) in the file frame (x left, y up, z forward)."""
    x = _unit(left - right)
    up = high - low
    up = _unit(up - np.sum(up * x, axis=-1, keepdims=True) * x)
    return np.stack([x, up, np.cross(x, up)], axis=-1)


def _turn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[T, 3, 3] smallest rotations taking unit vectors a → b ([T, 3] each)."""
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    angle = np.arctan2(sin, np.sum(a * b, axis=-1))
    fallback = np.cross(a, np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]))
    axis = np.where(sin[:, None] > 1e-9, axis, fallback)
    return Rotation.from_rotvec(_unit(axis) * angle[:, None]).as_matrix()


def _file_frame(human: HumanMotion, metres_per_unit: float) -> dict[str, np.ndarray]:
    """Canonical keypoints (z up, x forward, y left) → rig file frame (y up, z forward, x left), rig units."""
    points = np.asarray(human.keypoints, dtype=np.float64)[..., [1, 2, 0]] / metres_per_unit
    return {name: points[:, i] for i, name in enumerate(human.keypoint_names)}


def _segment_rotations(rig: RigLayout, points: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Joint name → S_j [T, 3, 3] (see the module docstring)."""
    mid_hips = 0.5 * (points["left_hip"] + points["right_hip"])
    pelvis = _segment(points["left_hip"], points["right_hip"], mid_hips, points["pelvis"])
    chest = _segment(points["left_shoulder"], points["right_shoulder"], points["chest"], points["neck"])
    relative = Rotation.from_matrix(np.einsum("tji,tjk->tik", pelvis, chest)).as_rotvec()
    out: dict[str, np.ndarray] = {}
    for joint in rig.joints:
        parent_s = out[joint.parent] if joint.parent else pelvis
        kind, _, arg = joint.drive.partition(":")
        if kind == "pelvis":
            out[joint.name] = pelvis
        elif kind == "chest":
            out[joint.name] = chest
        elif kind == "blend":
            out[joint.name] = pelvis @ Rotation.from_rotvec(float(arg) * relative).as_matrix()
        elif kind == "bone":
            start, end = arg.split(">")
            child = next(c for c in rig.children(joint.name) if np.linalg.norm(c.offset) > 1e-9)
            rest_dir = REFERENCE_AXES[joint.axes] @ _unit(np.asarray(child.offset))
            current = np.einsum("tij,j->ti", parent_s, rest_dir)
            out[joint.name] = _turn(current, _unit(points[end] - points[start])) @ parent_s
        elif kind == "parent":
            out[joint.name] = parent_s
        else:
            raise MotionError(f"rig {rig.name}: joint {joint.name!r} has an unknown drive {joint.drive!r}")
    return out


def _world_positions(rig: RigLayout, world_rot: dict[str, np.ndarray], root_pos: np.ndarray) -> dict[str, np.ndarray]:
    positions: dict[str, np.ndarray] = {}
    for joint in rig.joints:
        if joint.parent is None:
            positions[joint.name] = root_pos
        else:
            offset = np.asarray(joint.offset)
            positions[joint.name] = positions[joint.parent] + np.einsum("tij,j->ti", world_rot[joint.parent], offset)
    return positions


def animate_rig(rig: RigLayout, human: HumanMotion, tpose_frames: int = 0) -> RigAnimation:
    """Channel values that make ``rig`` perform ``human`` (canonical keypoints, see the module docstring)."""
    points = _file_frame(human, rig.metres_per_unit)
    segments = _segment_rotations(rig, points)
    world = {j.name: segments[j.name] @ REFERENCE_AXES[j.axes] for j in rig.joints}
    num_frames = human.num_frames
    if tpose_frames:  # reference pose: S = identity for every joint
        world = {name: np.concatenate([np.broadcast_to(REFERENCE_AXES[rig.joint(name).axes], (tpose_frames, 3, 3)),
                                       rot]) for name, rot in world.items()}
    total = num_frames + tpose_frames
    at_origin = _world_positions(rig, world, np.zeros((total, 3)))
    mid_hips = 0.5 * (at_origin[rig.joint_at("left_hip").name] + at_origin[rig.joint_at("right_hip").name])
    target_mid = 0.5 * (points["left_hip"] + points["right_hip"])
    root = np.empty((total, 3))
    root[tpose_frames:] = target_mid - mid_hips[tpose_frames:]
    toes = [at_origin[rig.joint_at(f"{s}_toe").name][tpose_frames:, 1] for s in ("left", "right")]
    floor = min(points["left_toe"][:, 1].min(), points["right_toe"][:, 1].min())
    root[tpose_frames:, 1] += floor - min((toe + root[tpose_frames:, 1]).min() for toe in toes)
    if tpose_frames:
        lowest = min(p[:tpose_frames, 1].min() for p in at_origin.values())
        root[:tpose_frames] = [root[tpose_frames, 0], floor - lowest, root[tpose_frames, 2]]
    local = {}
    for joint in rig.joints:
        parent = world[joint.parent] if joint.parent else np.broadcast_to(np.eye(3), (total, 3, 3))
        local[joint.name] = np.einsum("tji,tjk->tik", parent, world[joint.name])
    return RigAnimation(rig, human.fps, root, local)


def _dfs(rig: RigLayout) -> list[tuple[int, str]]:
    order: list[tuple[int, str]] = []

    def visit(name: str, depth: int) -> None:
        order.append((depth, name))
        for child in rig.children(name):
            visit(child.name, depth + 1)

    visit(next(j.name for j in rig.joints if j.parent is None), 0)
    return order


def bvh_text(animation: RigAnimation) -> str:
    """The BVH file (hierarchy + motion) of an animation; angles in degrees, lengths in rig units."""
    rig = animation.rig
    order = _dfs(rig)
    lines = ["HIERARCHY"]
    closers: list[int] = []
    for index, (depth, name) in enumerate(order):
        while closers and closers[-1] >= depth:
            lines.append("  " * closers.pop() + "}")
        joint = rig.joint(name)
        pad = "  " * depth
        channels = ROOT_CHANNELS if joint.parent is None else rig.rotation_channels
        lines += [f"{pad}{'ROOT' if joint.parent is None else 'JOINT'} {name}", pad + "{",
                  f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in joint.offset)}",
                  f"{pad}  CHANNELS {len(channels.split())} {channels}"]
        is_leaf = index + 1 >= len(order) or order[index + 1][0] <= depth
        if is_leaf:
            lines += [f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET {' '.join(f'{v:.6f}' for v in joint.end_site)}",
                      pad + "  }"]
        closers.append(depth)
    while closers:
        lines.append("  " * closers.pop() + "}")
    columns = []
    for _, name in order:
        joint = rig.joint(name)
        channels = (ROOT_CHANNELS if joint.parent is None else rig.rotation_channels).split()
        axes = "".join(c[0].upper() for c in channels if c.lower().endswith("rotation"))
        with warnings.catch_warnings():  # gimbal lock: scipy still returns angles of the same rotation
            warnings.simplefilter("ignore", UserWarning)
            columns.append(Rotation.from_matrix(animation.local_rot[name]).as_euler(axes, degrees=True))
    values = np.concatenate([animation.root_pos] + columns, axis=1)
    lines += ["MOTION", f"Frames: {len(values)}", f"Frame Time: {1.0 / animation.fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    return "\n".join(lines) + "\n"


def rig_leg_length_m(rig: RigLayout) -> float:
    """Mean thigh + shank length of the rig, m (to generate motion of a body with the same legs)."""
    lengths = []
    for side in ("left", "right"):
        knee, ankle = rig.joint_at(f"{side}_knee"), rig.joint_at(f"{side}_ankle")
        lengths.append(np.linalg.norm(knee.offset) + np.linalg.norm(ankle.offset))
    return float(np.mean(lengths)) * rig.metres_per_unit


def write_rig_bvh(rig: RigLayout, human: HumanMotion, path: str | os.PathLike[str], tpose_frames: int = 0) -> Path:
    """Write ``human`` performed by ``rig`` as a BVH file at ``path``; returns the path."""
    path = Path(path)
    path.write_text(bvh_text(animate_rig(rig, human, tpose_frames)))
    return path
