"""Joint-position arrays (AMASS/SMPL-style) from ``.npy`` / ``.npz`` → :class:`HumanMotion`.

Accepted inputs:

* ``.npy`` holding [T, J, 3] positions; joint names must then be passed (``joint_names=``) or default to the
  SMPL 24/22-joint order when J is 24 or 22;
* ``.npz`` with a positions array under one of ``joints``, ``positions``, ``global_joint_positions``,
  ``joint_positions`` (or ``array_key=``), optional ``joint_names`` ([J] strings) and ``fps`` / ``mocap_framerate``
  (AMASS's key) scalars. Loaded with ``allow_pickle=False``.

AMASS is z up and in metres, so that is the default (``up_axis="z"``, ``unit_scale=1``); pass ``up_axis="y"`` for
Y-up data (e.g. raw SMPL output), ``unit_scale=None`` to infer centimetres/millimetres from the first frame's
height, or ``units=`` for a preset / pose-independent inference (:mod:`mwx_ray.motion.units`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mwx_ray.motion.conventions import resolve_joint_names
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.frames import up_axis_warning
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.provenance import file_provenance
from mwx_ray.motion.skeleton import (
    CANONICAL_KEYPOINTS,
    SMPL_JOINT_NAMES_22,
    SMPL_JOINT_NAMES_24,
    converted_axis_names,
    infer_unit_scale,
    to_z_up,
)
from mwx_ray.motion.units import resolve_units

POSITION_KEYS = ("joints", "positions", "global_joint_positions", "joint_positions")
FPS_KEYS = ("fps", "mocap_framerate", "frame_rate")


def _default_names(num_joints: int, path: str) -> tuple[str, ...]:
    if num_joints == 24:
        return SMPL_JOINT_NAMES_24
    if num_joints == 22:
        return SMPL_JOINT_NAMES_22
    raise MotionError(
        f"{path}: {num_joints} joints and no joint_names; pass joint_names (only 24/22-joint SMPL order is assumed)"
    )


def _read_arrays(path: Path, array_key: str | None) -> tuple[np.ndarray, tuple[str, ...] | None, float | None]:
    """(positions [T, J, 3], names or None, fps or None) from a .npy/.npz file."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise MotionError(f"{path}: cannot read keypoint array: {err}") from err
    if isinstance(data, np.ndarray):
        return data, None, None
    with data:
        keys = (array_key,) if array_key else POSITION_KEYS
        key = next((k for k in keys if k in data.files), None)
        if key is None:
            raise MotionError(f"{path}: no positions array under {list(keys)}; keys present: {data.files}")
        names = tuple(str(n) for n in data["joint_names"]) if "joint_names" in data.files else None
        fps_key = next((k for k in FPS_KEYS if k in data.files), None)
        fps = float(data[fps_key]) if fps_key else None
        return data[key], names, fps


def load_keypoints(
    path: str | os.PathLike[str],
    fps: float | None = None,
    joint_names: Sequence[str] | None = None,
    convention: str = "auto",
    up_axis: str = "z",
    unit_scale: float | None = 1.0,
    array_key: str | None = None,
    map_to_canonical: bool = True,
    required: Sequence[str] = CANONICAL_KEYPOINTS,
    skill_tags: tuple[str, ...] = (),
    license: str | None = None,
    units: str | None = None,
    joint_map: Mapping[str, str] | str | os.PathLike[str] | None = None,
) -> HumanMotion:
    """Joint positions [T, J, 3] from ``path`` → :class:`HumanMotion` in canonical order, metres, z up.

    Args:
        fps: frame rate in Hz; overrides the file's ``fps``/``mocap_framerate``; required if the file has none.
        joint_names: J source joint names (override the file's ``joint_names``).
        convention: name convention (:mod:`mwx_ray.motion.conventions`; ``"auto"`` picks and reports).
        up_axis: ``"z"`` (AMASS), ``"y"`` or ``"x"``.
        unit_scale: metres per source unit; ``None`` infers it from the first frame's height.
        units: a unit preset or ``"auto"`` (pose-independent inference, :mod:`mwx_ray.motion.units`); when
            given it replaces ``unit_scale``'s default.
        license: the licence the user states. joint_map: canonical → source name overrides (dict or YAML file).
    """
    path = Path(path)
    positions, file_names, file_fps = _read_arrays(path, array_key)
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[2] != 3:
        raise MotionError(f"{path}: positions must be [T, J, 3], got shape {positions.shape}")
    names = tuple(joint_names) if joint_names is not None else file_names
    if names is None:
        names = _default_names(positions.shape[1], str(path))
    if len(names) != positions.shape[1]:
        raise MotionError(f"{path}: {len(names)} joint names for {positions.shape[1]} joints")
    rate = fps if fps is not None else file_fps
    if rate is None:
        raise MotionError(f"{path}: no fps in the file; pass fps (Hz)")
    positions = to_z_up(positions, up_axis, str(path))
    provenance: dict = {"warnings": []}
    if map_to_canonical:
        resolution = resolve_joint_names(names, convention, joint_map, required, owner=str(path))
        names = tuple(resolution.columns)
        positions = positions[:, list(resolution.columns.values())]
        provenance["joint_names"] = resolution.provenance()
        if units is not None:
            points = dict(zip(names, np.moveaxis(positions, 1, 0), strict=True))
            unit_scale, provenance["units"] = resolve_units(points, units, None, resolution.convention, str(path))
    elif units is not None:
        unit_scale = resolve_units({}, units, None, None, str(path))[0]
    if unit_scale is None:
        unit_scale = infer_unit_scale(positions, 2, str(path))
    positions = positions * unit_scale
    if map_to_canonical and set(CANONICAL_KEYPOINTS) <= set(names):
        warning = up_axis_warning(dict(zip(names, np.moveaxis(positions, 1, 0), strict=True)),
                                  converted_axis_names(up_axis), up_axis)
        provenance["warnings"] = [warning] if warning else []
    return HumanMotion(
        name=path.stem,
        fps=float(rate),
        keypoints=positions,
        keypoint_names=tuple(names),
        source="keypoints",
        skill_tags=tuple(skill_tags),
        provenance={
            **file_provenance(path, license),
            "synthetic": False,
            "unit_scale_m_per_unit": float(unit_scale),
            "up_axis_in_file": up_axis,
            **provenance,
        },
    ).validate()
