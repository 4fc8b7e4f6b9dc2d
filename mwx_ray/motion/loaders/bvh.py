"""Biovision Hierarchy (BVH) reader: parser, forward kinematics, and mapping to canonical keypoints.

BVH layout (CMU, LAFAN1, MotionBuilder exports)::

    HIERARCHY
    ROOT Hips { OFFSET x y z  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
        JOINT Spine { OFFSET ...  CHANNELS 3 Zrotation Xrotation Yrotation  ...  End Site { OFFSET ... } } }
    MOTION
    Frames: T
    Frame Time: dt
    <T lines of floats, channels in hierarchy order>

Semantics used here (those of the common exporters):

* rotations are in degrees; a joint's local rotation is the product of its rotation channels *in the order
  listed* (``Zrotation Xrotation Yrotation`` → ``R = Rz · Rx · Ry``), i.e. intrinsic Euler angles;
* position channels, when present, give the joint's local translation and replace its OFFSET (MotionBuilder
  and LAFAN1 write the full translation there; for a root with a zero OFFSET both readings agree);
* ``End Site`` blocks become extra joints named ``<parent>_end`` with no channels.

Errors (:class:`MotionError`) name the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from mwx_ray.motion.conventions import resolve_joint_names
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.frames import up_axis_warning
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.provenance import file_provenance
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS, converted_axis_names, infer_unit_scale, to_z_up
from mwx_ray.motion.units import resolve_units

_POSITION_CHANNELS = {"xposition": 0, "yposition": 1, "zposition": 2}
_ROTATION_CHANNELS = {"xrotation": "X", "yrotation": "Y", "zrotation": "Z"}


@dataclass(frozen=True)
class BvhJoint:
    """One joint of the hierarchy. ``channels`` are lower-case names; ``channel_start`` indexes a frame row."""

    name: str
    parent: int  # index into BvhMotion.joints, -1 for the root
    offset: np.ndarray  # [3] source units
    channels: tuple[str, ...]
    channel_start: int


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: hierarchy plus the raw channel matrix ``channel_values`` [T, C] (degrees / units)."""

    path: str
    joints: tuple[BvhJoint, ...]
    frame_time_s: float
    channel_values: np.ndarray

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time_s

    def world_positions(self) -> np.ndarray:
        """[T, J, 3] joint positions in the file's own frame and units, by forward kinematics."""
        num_frames = self.channel_values.shape[0]
        world_rot = np.empty((len(self.joints), num_frames, 3, 3))
        world_pos = np.empty((len(self.joints), num_frames, 3))
        for index, joint in enumerate(self.joints):
            local_pos, local_rot = self._local_transform(joint, num_frames)
            if joint.parent < 0:
                world_rot[index], world_pos[index] = local_rot, local_pos
            else:
                parent_rot = world_rot[joint.parent]
                world_rot[index] = parent_rot @ local_rot
                world_pos[index] = world_pos[joint.parent] + np.einsum("tij,tj->ti", parent_rot, local_pos)
        return np.transpose(world_pos, (1, 0, 2))

    def _local_transform(self, joint: BvhJoint, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """([T, 3] local translation, [T, 3, 3] local rotation) of one joint."""
        values = self.channel_values[:, joint.channel_start : joint.channel_start + len(joint.channels)]
        translation = np.repeat(joint.offset[None, :], num_frames, axis=0)
        rot_axes = ""
        rot_columns: list[int] = []
        for column, channel in enumerate(joint.channels):
            if channel in _POSITION_CHANNELS:
                translation[:, _POSITION_CHANNELS[channel]] = values[:, column]
            else:
                rot_axes += _ROTATION_CHANNELS[channel]
                rot_columns.append(column)
        if rot_axes:
            # upper-case axes = intrinsic rotations, applied in the listed order: R = R_a1 · R_a2 · R_a3
            rotation = Rotation.from_euler(rot_axes, values[:, rot_columns], degrees=True).as_matrix()
        else:
            rotation = np.broadcast_to(np.eye(3), (num_frames, 3, 3)).copy()
        return translation, rotation


class _Tokens:
    """Whitespace tokens with their 1-based line numbers, for error messages."""

    def __init__(self, lines: list[str], path: str) -> None:
        self.items = [(tok, n) for n, line in enumerate(lines, start=1) for tok in line.split()]
        self.pos = 0
        self.path = path

    def error(self, message: str, line: int | None = None) -> MotionError:
        if line is None:
            line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 1
        return MotionError(f"{self.path}:{line}: {message}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.items):
            raise self.error(f"unexpected end of file, expected {what}")
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, keyword: str) -> int:
        token, line = self.next(keyword)
        if token.upper() != keyword.upper():
            raise self.error(f"expected {keyword!r}, found {token!r}", line)
        return line

    def number(self, what: str) -> float:
        token, line = self.next(what)
        try:
            return float(token)
        except ValueError:
            raise self.error(f"expected a number for {what}, found {token!r}", line) from None


def _parse_joint(tokens: _Tokens, name: str, parent: int, joints: list[BvhJoint], channel_count: list[int]) -> None:
    """Parse ``{ OFFSET ... CHANNELS ... children }`` after a ROOT/JOINT name; appends to ``joints``."""
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = np.array([tokens.number(f"OFFSET of {name}") for _ in range(3)])
    token, line = tokens.next("CHANNELS")
    if token.upper() != "CHANNELS":
        raise tokens.error(f"joint {name!r}: expected CHANNELS, found {token!r}", line)
    count = int(tokens.number(f"channel count of {name}"))
    channels = []
    for _ in range(count):
        channel, line = tokens.next(f"a channel name of {name}")
        key = channel.lower()
        if key not in _POSITION_CHANNELS and key not in _ROTATION_CHANNELS:
            raise tokens.error(f"joint {name!r}: unknown channel {channel!r}", line)
        channels.append(key)
    index = len(joints)
    joints.append(BvhJoint(name, parent, offset, tuple(channels), channel_count[0]))
    channel_count[0] += count
    while True:
        token, line = tokens.next(f"JOINT, End Site or '}}' in {name}")
        keyword = token.upper()
        if keyword == "}":
            return
        if keyword == "JOINT":
            child_name, _ = tokens.next("joint name")
            _parse_joint(tokens, child_name, index, joints, channel_count)
        elif keyword == "END":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            end_offset = np.array([tokens.number(f"End Site OFFSET of {name}") for _ in range(3)])
            tokens.expect("}")
            joints.append(BvhJoint(f"{name}_end", index, end_offset, (), channel_count[0]))
        else:
            raise tokens.error(f"joint {name!r}: unexpected {token!r}", line)


def parse_bvh(path: str | os.PathLike[str]) -> BvhMotion:
    """Read a BVH file into a :class:`BvhMotion` (hierarchy + [T, C] channel values). Errors name file:line."""
    path_str = str(path)
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise MotionError(f"{path_str}: cannot read BVH file: {err}") from err
    motion_line = next((i for i, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_line is None:
        raise MotionError(f"{path_str}: no MOTION section")
    tokens = _Tokens(lines[:motion_line], path_str)
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    root_name, _ = tokens.next("root name")
    joints: list[BvhJoint] = []
    channel_count = [0]
    _parse_joint(tokens, root_name, -1, joints, channel_count)
    if tokens.pos != len(tokens.items):
        raise tokens.error(f"unexpected {tokens.items[tokens.pos][0]!r} after the root joint")
    num_frames, frame_time_s, first_data_line = _parse_motion_header(lines, motion_line, path_str)
    values = _parse_frames(lines, first_data_line, num_frames, channel_count[0], path_str)
    return BvhMotion(path_str, tuple(joints), frame_time_s, values)


def _parse_motion_header(lines: list[str], motion_line: int, path: str) -> tuple[int, float, int]:
    """(frame count, frame time s, index of the first data line) from the two lines after MOTION."""
    fields: dict[str, str] = {}
    index = motion_line + 1
    while len(fields) < 2 and index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or key.strip().lower() not in ("frames", "frame time"):
            raise MotionError(f"{path}:{index}: expected 'Frames:' or 'Frame Time:', found {line!r}")
        fields[key.strip().lower()] = value.strip()
    try:
        num_frames = int(fields["frames"])
        frame_time_s = float(fields["frame time"])
    except (KeyError, ValueError) as err:
        raise MotionError(f"{path}:{index}: bad MOTION header {fields}: {err}") from err
    if num_frames < 1 or not frame_time_s > 0:
        raise MotionError(f"{path}:{index}: need Frames >= 1 and Frame Time > 0, got {num_frames}, {frame_time_s}")
    return num_frames, frame_time_s, index


def _parse_frames(lines: list[str], start: int, num_frames: int, num_channels: int, path: str) -> np.ndarray:
    """[T, C] channel values; each non-empty line after the header is one frame."""
    rows = [(i + 1, line) for i, line in enumerate(lines[start:], start=start) if line.strip()]
    if len(rows) < num_frames:
        raise MotionError(f"{path}: header says {num_frames} frames but the file has {len(rows)} frame lines")
    values = np.empty((num_frames, num_channels))
    for frame, (line_number, line) in enumerate(rows[:num_frames]):
        parts = line.split()
        if len(parts) != num_channels:
            raise MotionError(f"{path}:{line_number}: expected {num_channels} values, found {len(parts)}")
        try:
            values[frame] = [float(p) for p in parts]
        except ValueError as err:
            raise MotionError(f"{path}:{line_number}: non-numeric frame value: {err}") from err
    return values


def load_bvh(
    path: str | os.PathLike[str],
    unit_scale: float | None = None,
    up_axis: str = "y",
    convention: str = "auto",
    map_to_canonical: bool = True,
    required: tuple[str, ...] = CANONICAL_KEYPOINTS,
    skill_tags: tuple[str, ...] = (),
    license: str | None = None,
    units: str = "auto",
    joint_map: Mapping[str, str] | str | os.PathLike[str] | None = None,
) -> HumanMotion:
    """BVH file → :class:`HumanMotion` (canonical keypoints [T, 19, 3], metres, z up).

    Args:
        unit_scale: metres per file unit (wins over ``units``).
        up_axis: the file's vertical axis, ``"y"`` (BVH default), ``"z"`` or ``"x"`` (:func:`to_z_up`).
        convention: joint-name convention (:mod:`mwx_ray.motion.conventions`), ``"auto"`` picks and reports.
        map_to_canonical: if False keep every BVH joint (incl. ``*_end`` sites) in file order (units inferred
            from the first frame's height then).
        required: canonical keypoints that must be found.
        license: the licence the user states for the file (stored in the provenance).
        units: ``auto`` or a preset of :data:`~mwx_ray.motion.units.UNIT_PRESETS` (``cmu`` = 0.056444 m).
        joint_map: canonical → file joint name overrides, or a YAML file of them.
    Provenance: absolute source path, sha256, size, licence, convention report and mapping, units and how they
    were chosen, up axis, and ``warnings`` (e.g. an up axis the posture contradicts).
    """
    bvh = parse_bvh(path)
    positions = bvh.world_positions()
    source = file_provenance(path, license)
    if not map_to_canonical:
        if unit_scale is None and units == "auto":
            unit_scale = infer_unit_scale(to_z_up(positions, up_axis, bvh.path), 2, bvh.path)
        elif unit_scale is None:
            unit_scale = resolve_units({}, units, None, None, bvh.path)[0]
        keypoints, names, provenance = to_z_up(positions, up_axis, bvh.path) * unit_scale, bvh.joint_names, {}
    else:
        resolution = resolve_joint_names(bvh.joint_names, convention, joint_map, required, owner=bvh.path)
        names = tuple(resolution.columns)
        keypoints = to_z_up(positions[:, list(resolution.columns.values())], up_axis, bvh.path)
        points = dict(zip(names, np.moveaxis(keypoints, 1, 0), strict=True))
        unit_scale, units_note = resolve_units(points, units, unit_scale, resolution.convention, bvh.path)
        keypoints = keypoints * unit_scale
        warning = up_axis_warning({k: v * unit_scale for k, v in points.items()}, converted_axis_names(up_axis),
                                  up_axis) if set(CANONICAL_KEYPOINTS) <= set(names) else None
        provenance = {"joint_names": resolution.provenance(), "units": units_note,
                      "warnings": [warning] if warning else []}
    motion = HumanMotion(
        name=Path(path).stem,
        fps=bvh.fps,
        keypoints=keypoints,
        keypoint_names=tuple(names),
        source="bvh",
        skill_tags=tuple(skill_tags),
        provenance={
            **source,
            "synthetic": False,
            "unit_scale_m_per_unit": float(unit_scale),
            "up_axis_in_file": up_axis,
            "source_fps": bvh.fps,
            "source_frames": int(len(positions)),
            **provenance,
            "bvh_joints": list(bvh.joint_names),
        },
    )
    return motion.validate()
