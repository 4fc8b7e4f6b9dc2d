"""LAFAN1-retargeted Unitree H1 CSV → :class:`MotionClip` (already robot joint space: no retargeting).

Assumed layout (that of Unitree's ``LAFAN1_Retargeting_Dataset``, ``h1/*.csv``, as documented by holosoma's
``data_conversion/convert_csv_to_qpos.py``, which reads these files): no header; one row per frame, 26 columns:

    root_x, root_y, root_z (m, world z up), root_qx, root_qy, root_qz, root_qw (quaternion, **x y z w** order),
    19 joint angles (rad) in H1 URDF order = HumanoidBench order (left hip yaw/roll/pitch, knee, ankle, right ...,
    torso, left shoulder pitch/roll/yaw, elbow, right ...).

Frames are at 30 Hz (LAFAN1's capture rate). The quaternion is reordered to (w, x, y, z) and renormalised
(CSV rounding leaves |q| ≈ 1 ± 1e-6); rows far from unit norm are an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mwx_ray.motion.clip import H1_JOINT_NAMES, H1_JOINT_RANGES_RAD, MotionClip
from mwx_ray.motion.errors import MotionError

LAFAN1_FPS_HZ = 30.0
NUM_COLUMNS = 7 + len(H1_JOINT_NAMES)
LAFAN1_LICENSE_NOTE = (
    "LAFAN1 (Ubisoft La Forge) is CC BY-NC-ND 4.0; Unitree's H1 retargets of it inherit those terms "
    "(non-commercial, no redistribution of derivatives): check before publishing"
)


def _read_rows(path: Path) -> np.ndarray:
    """[T, 26] float rows; errors name the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise MotionError(f"{path}: cannot read H1 CSV: {err}") from err
    rows = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != NUM_COLUMNS:
            raise MotionError(
                f"{path}:{line_number}: expected {NUM_COLUMNS} columns (root xyz, quat xyzw, "
                f"{len(H1_JOINT_NAMES)} H1 joints), found {len(cells)}"
            )
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            hint = " (these CSVs have no header row)" if line_number == 1 else ""
            raise MotionError(f"{path}:{line_number}: non-numeric value in {line[:60]!r}{hint}") from None
    if not rows:
        raise MotionError(f"{path}: no data rows")
    return np.asarray(rows, dtype=np.float64)


def load_h1_csv(
    path: str | os.PathLike[str],
    fps: float = LAFAN1_FPS_HZ,
    name: str | None = None,
    skill_tags: tuple[str, ...] = (),
    clip_to_joint_limits: bool = False,
    license_note: str = LAFAN1_LICENSE_NOTE,
) -> MotionClip:
    """Read one H1 CSV (layout in the module docstring) into a validated :class:`MotionClip`.

    Args:
        fps: frame rate, Hz (30 for LAFAN1).
        clip_to_joint_limits: clamp angles into the H1 ranges (counted in provenance) instead of failing.
    """
    path = Path(path)
    rows = _read_rows(path)
    quat_xyzw = rows[:, 3:7]
    norms = np.linalg.norm(quat_xyzw, axis=1)
    bad = np.abs(norms - 1.0) > 1e-2
    if bad.any():
        frame = int(np.argmax(bad))
        raise MotionError(f"{path}: root quaternion at frame {frame} has norm {norms[frame]:.4f}, not ~1")
    root_quat = quat_xyzw[:, [3, 0, 1, 2]] / norms[:, None]
    joint_pos = rows[:, 7:]
    clamped = 0
    if clip_to_joint_limits:
        low, high = H1_JOINT_RANGES_RAD[:, 0], H1_JOINT_RANGES_RAD[:, 1]
        clamped = int(((joint_pos < low) | (joint_pos > high)).sum())
        joint_pos = np.clip(joint_pos, low, high)
    clip = MotionClip(
        name=name or path.stem,
        fps=float(fps),
        joint_pos=joint_pos,
        root_pos=rows[:, 0:3],
        root_quat=root_quat,
        skill_tags=tuple(skill_tags),
        provenance={
            "source": "h1_csv",
            "source_file": str(path),
            "license_note": license_note,
            "synthetic": False,
            "retarget": {"by": "unitreerobotics/LAFAN1_Retargeting_Dataset", "robot": "h1"},
            "quat_order_in_file": "xyzw",
            "joint_values_clamped": clamped,
        },
    )
    return clip.validate()
