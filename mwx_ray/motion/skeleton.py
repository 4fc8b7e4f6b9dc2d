"""Canonical human keypoints, name maps from common mocap conventions, and frame/unit conversions.

Canonical set (19 keypoints, this order): trunk ``pelvis, spine, chest, neck, head``; legs ``{left,right}_hip,
_knee, _ankle, _toe``; arms ``{left,right}_shoulder, _elbow, _wrist``. ``pelvis`` is the root joint (BVH ``Hips``,
SMPL ``pelvis``); ``spine`` the lumbar joint; ``chest`` the upper thoracic joint; ``toe`` the toe base
(metatarsophalangeal joint, BVH ``*ToeBase``/``*Toe``, SMPL ``*_foot``); ``shoulder`` the glenohumeral joint (BVH
``*Arm``, SMPL ``*_shoulder`` — not the clavicle ``*Shoulder``/``*_collar``).

Conventions covered: CMU and LAFAN1 BVH names (and the ``mixamorig:`` prefix), SMPL/AMASS 24-joint and
SMPL-H/SMPL-X 22-joint body order, holosoma's SMPL-H names (``L_Hip``...).

Frames: human mocap is usually Y-up with the subject facing +Z and its left at +X (SMPL rest pose, most BVH).
:func:`y_up_to_z_up` maps (x, y, z) → (z, x, y), a proper rotation that turns that into the robot convention
(x forward, y left, z up).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mwx_ray.motion.errors import MotionError

CANONICAL_KEYPOINTS: tuple[str, ...] = (
    "pelvis",
    "spine",
    "chest",
    "neck",
    "head",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_toe",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_toe",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)

# Bones of the canonical skeleton (parent, child); used for bone-length checks and drawing.
CANONICAL_BONES: tuple[tuple[str, str], ...] = (
    ("pelvis", "spine"),
    ("spine", "chest"),
    ("chest", "neck"),
    ("neck", "head"),
    ("pelvis", "left_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("left_ankle", "left_toe"),
    ("pelvis", "right_hip"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("right_ankle", "right_toe"),
    ("chest", "left_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("chest", "right_shoulder"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
)

# SMPL body joint order (SMPL paper, Loper et al. 2015; AMASS uses it): 24 joints; SMPL-H/SMPL-X share the
# first 22 (their 22/23 are hand/jaw joints).
SMPL_JOINT_NAMES_24: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "spine1",
    "left_knee",
    "right_knee",
    "spine2",
    "left_ankle",
    "right_ankle",
    "spine3",
    "left_foot",
    "right_foot",
    "neck",
    "left_collar",
    "right_collar",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hand",
    "right_hand",
)
SMPL_JOINT_NAMES_22: tuple[str, ...] = SMPL_JOINT_NAMES_24[:22]


def sided(template: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Expand ``{side}`` keys into left/right; aliases may use ``{side}``, ``{Side}``, ``{S}`` (L/R), ``{s}`` (l/r)."""
    out: dict[str, tuple[str, ...]] = {}
    for key, aliases in template.items():
        if "{side}" not in key:
            out[key] = aliases
            continue
        for side, word, letter in (("left", "Left", "L"), ("right", "Right", "R")):
            out[key.format(side=side)] = tuple(a.format(side=side, Side=word, S=letter, s=letter.lower())
                                               for a in aliases)
    return out


# Canonical name -> source names, most preferred first, per convention.
NAME_MAPS: dict[str, dict[str, tuple[str, ...]]] = {
    "canonical": {name: (name,) for name in CANONICAL_KEYPOINTS},
    # CMU (cgspeed BVH): Hips, LowerBack, Spine, Spine1, Neck, Neck1, Head, LeftUpLeg, LeftLeg, LeftFoot,
    # LeftToeBase, LeftShoulder, LeftArm, LeftForeArm, LeftHand. LAFAN1: Spine, Spine1, Spine2, LeftToe.
    "bvh": sided(
        {
            "pelvis": ("Hips", "Pelvis", "Root"),
            "spine": ("Spine", "LowerBack", "Spine1"),
            "chest": ("Spine2", "Spine1", "Chest", "Spine3"),
            "neck": ("Neck", "Neck1"),
            "head": ("Head",),
            "{side}_hip": ("{Side}UpLeg", "{Side}Hip", "{Side}Thigh"),
            "{side}_knee": ("{Side}Leg", "{Side}Knee", "{Side}Shin"),
            "{side}_ankle": ("{Side}Foot", "{Side}Ankle"),
            "{side}_toe": ("{Side}ToeBase", "{Side}Toe", "{Side}Toes"),
            "{side}_shoulder": ("{Side}Arm", "{Side}UpperArm"),
            "{side}_elbow": ("{Side}ForeArm", "{Side}Elbow", "{Side}LowerArm"),
            "{side}_wrist": ("{Side}Hand", "{Side}Wrist"),
        }
    ),
    "smpl": sided(
        {
            "pelvis": ("pelvis",),
            "spine": ("spine1",),
            "chest": ("spine3", "spine2"),
            "neck": ("neck",),
            "head": ("head",),
            "{side}_hip": ("{side}_hip",),
            "{side}_knee": ("{side}_knee",),
            "{side}_ankle": ("{side}_ankle",),
            "{side}_toe": ("{side}_foot",),
            "{side}_shoulder": ("{side}_shoulder",),
            "{side}_elbow": ("{side}_elbow",),
            "{side}_wrist": ("{side}_wrist",),
        }
    ),
    # holosoma_retargeting's SMPL-H demo names (config_types/data_type.py: Pelvis, L_Hip, Torso, Spine, Chest...)
    "holosoma_smplh": sided(
        {
            "pelvis": ("Pelvis",),
            "spine": ("Torso", "Spine1"),
            "chest": ("Chest", "Spine3", "Spine"),
            "neck": ("Neck",),
            "head": ("Head",),
            "{side}_hip": ("{S}_Hip",),
            "{side}_knee": ("{S}_Knee",),
            "{side}_ankle": ("{S}_Ankle",),
            "{side}_toe": ("{S}_Toe", "{S}_Foot"),
            "{side}_shoulder": ("{S}_Shoulder",),
            "{side}_elbow": ("{S}_Elbow",),
            "{side}_wrist": ("{S}_Wrist",),
        }
    ),
}


def _normalize(name: str) -> str:
    """Case-insensitive comparison key; drops namespace prefixes such as ``mixamorig:``."""
    return name.rsplit(":", 1)[-1].strip().lower()


def detect_convention(names: Sequence[str]) -> str:
    """Name of the convention in ``NAME_MAPS`` that explains the most of ``names`` (ties: dict order)."""
    present = {_normalize(n) for n in names}

    def coverage(convention: str) -> int:
        table = NAME_MAPS[convention]
        return sum(any(_normalize(a) in present for a in aliases) for aliases in table.values())

    return max(NAME_MAPS, key=coverage)


def canonical_indices(
    names: Sequence[str],
    convention: str = "auto",
    required: Sequence[str] = CANONICAL_KEYPOINTS,
    owner: str = "motion",
) -> dict[str, int]:
    """Map canonical keypoint name -> column in ``names`` (only the ones found).

    Raises:
        MotionError: unknown convention (lists valid ones), or a ``required`` keypoint has no source joint
            (lists the missing ones and the aliases tried).
    """
    if convention == "auto":
        convention = detect_convention(names)
    if convention not in NAME_MAPS:
        raise MotionError(f"{owner}: unknown joint-name convention {convention!r}; valid: {sorted(NAME_MAPS)}")
    lookup = {_normalize(n): i for i, n in enumerate(names)}
    found: dict[str, int] = {}
    for canonical, aliases in NAME_MAPS[convention].items():
        for alias in aliases:
            column = lookup.get(_normalize(alias))
            if column is not None and column not in found.values():  # one source joint feeds one keypoint
                found[canonical] = column
                break
    missing = [k for k in required if k not in found]
    if missing:
        tried = {k: list(NAME_MAPS[convention].get(k, ())) for k in missing}
        raise MotionError(
            f"{owner}: no source joint for canonical keypoints {missing} under convention {convention!r} "
            f"(aliases tried: {tried}; source joints: {list(names)})"
        )
    return found


def to_canonical(
    positions: np.ndarray,
    names: Sequence[str],
    convention: str = "auto",
    required: Sequence[str] = CANONICAL_KEYPOINTS,
    owner: str = "motion",
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Select and reorder joints into canonical order.

    Args:
        positions: [T, J, 3] source joint positions (any unit/frame; untouched).
        names: J source joint names.
    Returns:
        ([T, K, 3] positions, K canonical names) for the K canonical keypoints found, in canonical order.
    """
    found = canonical_indices(names, convention, required, owner)
    ordered = [k for k in CANONICAL_KEYPOINTS if k in found]
    return positions[:, [found[k] for k in ordered]], tuple(ordered)


def y_up_to_z_up(points: np.ndarray) -> np.ndarray:
    """[..., 3] Y-up points (facing +Z, left +X) → Z-up (facing +X, left +Y): (x, y, z) → (z, x, y)."""
    points = np.asarray(points, dtype=np.float64)
    return points[..., [2, 0, 1]]


UNITS_TO_METRES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}


def infer_unit_scale(positions: np.ndarray, up_axis: int, owner: str) -> float:
    """Metres per source unit from the body's vertical extent in the first frame.

    A standing adult spans about 1–2.5 m head to toe; 100–250 units means centimetres, 1000–2500 millimetres.
    Anything else (e.g. a crouched first frame, or inches) raises and asks for an explicit ``unit_scale``.

    Args:
        positions: [T, J, 3] joint positions in source units.
        up_axis: index (0, 1, 2) of the vertical axis in ``positions``.
    """
    extent = float(np.ptp(positions[0, :, up_axis]))
    for low, high, scale in ((0.8, 2.5, 1.0), (80.0, 250.0, 0.01), (800.0, 2500.0, 0.001)):
        if low <= extent <= high:
            return scale
    raise MotionError(
        f"{owner}: cannot infer length units from a first-frame body height of {extent:.3g} source units; "
        f"pass --units {{m,cm,mm,in,cmu}} or --unit-scale <metres per unit> on the command line (Python: units=... "
        f"or unit_scale=...; presets in m/unit: {UNITS_TO_METRES}, cmu 0.056444)"
    )


# File axis that each converted axis (x, y, z) comes from, per up axis: proper rotations (cyclic permutations).
UP_AXIS_SOURCES: dict[str, tuple[int, int, int]] = {"z": (0, 1, 2), "y": (2, 0, 1), "x": (1, 2, 0)}


def to_z_up(points: np.ndarray, up_axis: str, owner: str = "motion") -> np.ndarray:
    """[..., 3] points with ``up_axis`` (``x``/``y``/``z``) vertical → z up (``y``: see :func:`y_up_to_z_up`)."""
    if up_axis not in UP_AXIS_SOURCES:
        raise MotionError(f"{owner}: up axis must be one of {sorted(UP_AXIS_SOURCES)}, got {up_axis!r}")
    return np.asarray(points, dtype=np.float64)[..., list(UP_AXIS_SOURCES[up_axis])]


def converted_axis_names(up_axis: str) -> tuple[str, str, str]:
    """Names of the file axes that became x, y, z after :func:`to_z_up`."""
    return tuple("xyz"[i] for i in UP_AXIS_SOURCES[up_axis])  # type: ignore[return-value]
