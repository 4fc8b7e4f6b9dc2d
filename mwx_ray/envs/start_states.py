"""Recorded start states: training episodes that begin where other experts handed the robot over.

A composite task hands the robot to the next expert in whatever stance the previous one left it, and an expert
trained from HumanoidBench's keyframe may fail from there although it succeeds from the keyframe (measured: the
zoo sit expert sits from 1 of 7 stances the turn expert leaves in ``walk_to_chair_sit``, and from 6 of those 7
once the robot is reset to its keyframe stance in place; docs/results.md). A handover prelude
(``experts/handover.py``) can only run experts whose observations the training task provides; a turn expert
needs its spot, which a sit task does not have. Recorded starts take the states from the composite task's own
rollouts instead (``mwx rollouts start-states``: the robot's state in the first step of a stage) and place them
in the training task relative to a body both scenes have (the chair).

File format (``.npz``, nothing pickled): ``qpos`` [N, robot nq] and ``qvel`` [N, robot nv], the robot's state with
its root expressed in the frame of the reference body (x, y and yaw; heights unchanged), and ``meta``, a JSON
string (format, source rollouts, task, stage, reference body, number of episodes). MuJoCo's free joint keeps its
linear velocity in the world frame (rotated with the root) and its angular velocity in the pelvis frame (kept).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from mwx_ray.atomic_io import atomic_path
from mwx_ray.envs.heading_frame import ROOT_QUAT, ROOT_XY
from mwx_ray.envs.props import yaw_quat
from mwx_ray.motion.alignment import quat_multiply
from mwx_ray.rewards.heading import yaw_of

START_STATES_FORMAT = "mwx-start-states/1"
ROOT_LINVEL_XY = slice(0, 2)  # qvel: the free joint's linear velocity (world frame) comes first


class StartStatesError(ValueError):
    """A start-states file that is missing or malformed (the message names the file and the problem)."""


@dataclass(frozen=True)
class StartStates:
    """Recorded robot states, roots in the reference body's frame (module docstring)."""

    qpos: np.ndarray  # [N, nq]
    qvel: np.ndarray  # [N, nv]
    meta: dict[str, Any]

    def __len__(self) -> int:
        return int(self.qpos.shape[0])

    @property
    def reference_body(self) -> str | None:
        return self.meta.get("reference_body")


def body_xy_yaw(model: mujoco.MjModel, data: mujoco.MjData, body: str | None) -> tuple[np.ndarray, float]:
    """World (x, y) and yaw of ``body`` (after ``mj_forward``); the world origin for None. ValueError naming
    the body when the scene has none of that name."""
    if body is None:
        return np.zeros(2), 0.0
    body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    if body_id < 0:
        raise ValueError(f"the scene has no body {body!r} to place recorded start states against")
    return data.xpos[body_id, :2].copy(), yaw_of(data.xquat[body_id])


def moved_root(qpos: np.ndarray, qvel: np.ndarray, *, rotate_rad: float, shift_xy: np.ndarray,
               about_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Copies of a free-root robot state with the root rotated by ``rotate_rad`` about the vertical through
    ``about_xy``, then shifted by ``shift_xy`` (joints and heights unchanged)."""
    qpos, qvel = np.array(qpos, dtype=np.float64), np.array(qvel, dtype=np.float64)
    c, s = math.cos(rotate_rad), math.sin(rotate_rad)
    rotation = np.array([[c, -s], [s, c]])
    qpos[ROOT_XY] = rotation @ (qpos[ROOT_XY] - about_xy) + about_xy + shift_xy
    qpos[ROOT_QUAT] = quat_multiply(np.array(yaw_quat(rotate_rad)), qpos[ROOT_QUAT])
    qvel[ROOT_LINVEL_XY] = rotation @ qvel[ROOT_LINVEL_XY]
    return qpos, qvel


def into_body_frame(qpos, qvel, body_xy: np.ndarray, body_yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """World-frame robot state -> the same state with its root in the body's frame."""
    return moved_root(qpos, qvel, rotate_rad=-body_yaw, shift_xy=-np.asarray(body_xy), about_xy=np.asarray(body_xy))


def out_of_body_frame(qpos, qvel, body_xy: np.ndarray, body_yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`into_body_frame`: a state recorded in the body's frame, placed at the body."""
    return moved_root(qpos, qvel, rotate_rad=body_yaw, shift_xy=np.asarray(body_xy), about_xy=np.zeros(2))


def save_start_states(path: str | Path, qpos: np.ndarray, qvel: np.ndarray, meta: dict[str, Any]) -> Path:
    """Write a start-states file atomically (temporary sibling, then rename)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, qpos=np.asarray(qpos, dtype=np.float64), qvel=np.asarray(qvel, dtype=np.float64),
                            meta=np.array(json.dumps({"format": START_STATES_FORMAT, **meta})))
    return path


def load_start_states(path: str | Path, *, nq: int, nv: int) -> StartStates:
    """Read and check a start-states file for a robot with ``nq``/``nv`` state entries."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise StartStatesError(f"start states {path}: no such file (write one with `mwx rollouts start-states`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError) as error:
        raise StartStatesError(f"start states {path}: not a readable .npz ({error})") from None
    missing = [key for key in ("qpos", "qvel", "meta") if key not in arrays]
    if missing:
        raise StartStatesError(f"start states {path}: missing arrays {missing}")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as error:
        raise StartStatesError(f"start states {path}: meta is not JSON ({error})") from None
    if meta.get("format") != START_STATES_FORMAT:
        raise StartStatesError(f"start states {path}: format {meta.get('format')!r}, expected {START_STATES_FORMAT!r}")
    qpos, qvel = arrays["qpos"], arrays["qvel"]
    if qpos.ndim != 2 or qvel.ndim != 2 or qpos.shape[0] != qvel.shape[0] or qpos.shape[0] == 0:
        raise StartStatesError(f"start states {path}: expected qpos [N, {nq}] and qvel [N, {nv}] with N >= 1, got "
                               f"{list(qpos.shape)} and {list(qvel.shape)}")
    if qpos.shape[1] != nq or qvel.shape[1] != nv:
        raise StartStatesError(f"start states {path}: recorded for a robot with {qpos.shape[1]} qpos / "
                               f"{qvel.shape[1]} qvel entries, this one has {nq} / {nv}")
    if not (np.isfinite(qpos).all() and np.isfinite(qvel).all()):
        raise StartStatesError(f"start states {path}: non-finite values")
    return StartStates(qpos=qpos, qvel=qvel, meta=meta)
