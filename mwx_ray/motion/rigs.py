"""Skeleton layouts of common mocap rigs, used to write BVH files that look like the real releases.

No mocap file can be downloaded on the machines this project targets, so tests and
``benchmarks/retarget_quality.py`` animate these layouts with synthetic walks (:mod:`.bvh_writer`) and feed the
result through the same loader and operator M a user's file would take.

=========  =================================================================================================
layout     source of the hierarchy and offsets
=========  =================================================================================================
``lafan1`` ubisoft-laforge-animation-dataset BVH release (``lafan1/*.bvh``): 22 joints, centimetres, 30 Hz,
           channels ZYX; bones lie along each joint's local +x, so the rest pose (all rotations zero) is *not*
           standing; ``Hips`` sits level with the hip joints (``LeftUpLeg`` offset 0.10 cm "up", 1.86 cm
           forward, 10.55 cm sideways in the Hips frame). Offsets as published.
``cmu``    the cgspeed BVH conversion of the CMU Graphics Lab database (MotionBuilder-friendly release),
           subject 01's skeleton: ASF length units (0.056444 m per unit), 120 Hz, T-pose rest with the
           femurs 20 degrees out; ``LHipJoint``/``LowerBack`` coincide with ``Hips`` and ``Neck``/
           ``LeftShoulder``/``RightShoulder`` with ``Spine1``. Offsets as published for subject 01.
``mixamo`` Mixamo names (``mixamorig:`` prefix, ``LeftToeBase``, ``HeadTop_End``), centimetres, T-pose rest.
           The offsets are representative adult proportions, not those of one published file.
=========  =================================================================================================

Each joint says how the writer drives it (``drive``): ``pelvis``/``chest`` follow the segment frames of the
motion, ``blend:<f>`` interpolates between them (lumbar joints), ``bone:<a>><b>`` turns its bone towards the
motion's keypoint ``b`` seen from ``a``, ``parent`` keeps the parent's orientation. ``axes`` names the
orientation of the joint's local frame in the standing reference pose (see :data:`REFERENCE_AXES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Orientation of a joint's local frame in the standing reference pose, as columns (world images of local x, y,
# z). World = BVH convention: y up, the subject faces +z, its left is +x.
REFERENCE_AXES: dict[str, np.ndarray] = {
    "identity": np.eye(3),
    # LAFAN1: local x along the bone. Trunk: x up, y forward, z left. Legs: x down, y forward, z right
    # (a half turn about y from the trunk, as in the dataset's own standing frames). Feet: x forward.
    "lafan_trunk": np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    "lafan_leg": np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    "lafan_foot": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
    "lafan_right_arm": np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]),
}
ROOT_CHANNELS = "Xposition Yposition Zposition Zrotation Yrotation Xrotation"


@dataclass(frozen=True)
class RigJoint:
    """One joint: ``offset`` in rig units in the parent's local frame; ``keypoint`` = canonical name it sits at."""

    name: str
    parent: str | None
    offset: tuple[float, float, float]
    drive: str = "parent"
    axes: str = "identity"
    keypoint: str | None = None
    end_site: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class RigLayout:
    """A rig: joints in hierarchy order (parents first), length unit, frame rate, rotation channel order."""

    name: str
    joints: tuple[RigJoint, ...]
    metres_per_unit: float
    fps: float
    rotation_channels: str = "Zrotation Yrotation Xrotation"

    def joint(self, name: str) -> RigJoint:
        return next(j for j in self.joints if j.name == name)

    def children(self, name: str) -> list[RigJoint]:
        return [j for j in self.joints if j.parent == name]

    def joint_at(self, keypoint: str) -> RigJoint:
        return next(j for j in self.joints if j.keypoint == keypoint)


def _sides(template: list[tuple], mirror_axis: int) -> list[RigJoint]:
    """Left and right copies of ``template`` rows (name, parent, offset, drive, axes, keypoint); ``{S}`` is
    ``Left``/``Right``, ``{s}`` ``left``/``right``, ``{L}`` ``L``/``R``, ``{A}`` the LAFAN1 arm axes; right offsets
    negate ``mirror_axis``."""
    out = []
    for side, word, letter in (("left", "Left", "L"), ("right", "Right", "R")):
        for name, parent, offset, drive, axes, keypoint in template:
            offset = list(offset)
            if side == "right":
                offset[mirror_axis] = -offset[mirror_axis]
            fill = {"S": word, "s": side, "L": letter, "A": "identity" if side == "left" else "lafan_right_arm"}
            out.append(RigJoint(name.format(**fill), parent.format(**fill), tuple(offset), drive.format(**fill),
                                axes.format(**fill), keypoint.format(**fill) if keypoint else None))
    return out


def _lafan1() -> RigLayout:
    legs = _sides([
        ("{S}UpLeg", "Hips", (0.103457, 1.857829, 10.548506), "bone:{s}_hip>{s}_knee", "lafan_leg", "{s}_hip"),
        ("{S}Leg", "{S}UpLeg", (43.500042, 0.0, 0.0), "bone:{s}_knee>{s}_ankle", "lafan_leg", "{s}_knee"),
        ("{S}Foot", "{S}Leg", (42.372257, 0.0, 0.0), "bone:{s}_ankle>{s}_toe", "lafan_foot", "{s}_ankle"),
        ("{S}Toe", "{S}Foot", (17.299999, 0.0, 0.0), "parent", "lafan_foot", "{s}_toe"),
    ], mirror_axis=2)
    arms = _sides([
        ("{S}Shoulder", "Spine2", (19.745899, -1.48037, 6.000108), "chest", "{A}", None),
        ("{S}Arm", "{S}Shoulder", (11.284125, 0.0, 0.0), "bone:{s}_shoulder>{s}_elbow", "{A}", "{s}_shoulder"),
        ("{S}ForeArm", "{S}Arm", (33.00005, 0.0, 0.0), "bone:{s}_elbow>{s}_wrist", "{A}", "{s}_elbow"),
        ("{S}Hand", "{S}ForeArm", (25.200008, 0.0, 0.0), "parent", "{A}", "{s}_wrist"),
    ], mirror_axis=2)  # arm bones run along local +x on both sides; the right arm's frame is turned instead
    trunk = [
        RigJoint("Hips", None, (0.0, 0.0, 0.0), "pelvis", "lafan_trunk", "pelvis"),
        *legs[:4], *legs[4:],
        RigJoint("Spine", "Hips", (6.901968, -2.603733, 0.0), "blend:0.33", "lafan_trunk", "spine"),
        RigJoint("Spine1", "Spine", (12.588099, 0.0, 0.0), "blend:0.66", "lafan_trunk"),
        RigJoint("Spine2", "Spine1", (12.343206, 0.0, 0.0), "chest", "lafan_trunk", "chest"),
        RigJoint("Neck", "Spine2", (25.832886, 0.0, 0.0), "chest", "lafan_trunk", "neck"),
        RigJoint("Head", "Neck", (11.76662, 0.0, 0.0), "parent", "lafan_trunk", "head"),
        *arms,
    ]
    return RigLayout("lafan1", tuple(trunk), metres_per_unit=0.01, fps=30.0)


def _cmu() -> RigLayout:
    # cgspeed writes right-side offsets with their own values (subject 01 is not symmetric): listed per side.
    left = [
        RigJoint("LHipJoint", "Hips", (0.0, 0.0, 0.0), "pelvis"),
        RigJoint("LeftUpLeg", "LHipJoint", (1.36306, -1.79463, 0.83929), "bone:left_hip>left_knee", keypoint="left_hip"),
        RigJoint("LeftLeg", "LeftUpLeg", (2.44811, -6.72613, 0.0), "bone:left_knee>left_ankle", keypoint="left_knee"),
        RigJoint("LeftFoot", "LeftLeg", (2.5622, -7.03959, 0.0), "bone:left_ankle>left_toe", keypoint="left_ankle"),
        RigJoint("LeftToeBase", "LeftFoot", (0.15764, -0.43311, 2.32255), keypoint="left_toe",
                 end_site=(0.0, 0.0, 1.18966)),
    ]
    right = [
        RigJoint("RHipJoint", "Hips", (0.0, 0.0, 0.0), "pelvis"),
        RigJoint("RightUpLeg", "RHipJoint", (-1.30552, -1.79463, 0.83929), "bone:right_hip>right_knee",
                 keypoint="right_hip"),
        RigJoint("RightLeg", "RightUpLeg", (-2.54253, -6.98555, 0.0), "bone:right_knee>right_ankle",
                 keypoint="right_knee"),
        RigJoint("RightFoot", "RightLeg", (-2.56826, -7.05623, 0.0), "bone:right_ankle>right_toe",
                 keypoint="right_ankle"),
        RigJoint("RightToeBase", "RightFoot", (-0.16473, -0.45259, 2.36315), keypoint="right_toe",
                 end_site=(0.0, 0.0, 1.21082)),
    ]
    spine = [
        RigJoint("LowerBack", "Hips", (0.0, 0.0, 0.0), "pelvis"),
        RigJoint("Spine", "LowerBack", (0.02827, 2.03559, -0.19338), "blend:0.5", keypoint="spine"),
        RigJoint("Spine1", "Spine", (0.05672, 2.04885, -0.04275), "chest", keypoint="chest"),
        RigJoint("Neck", "Spine1", (0.0, 0.0, 0.0), "chest"),
        RigJoint("Neck1", "Neck", (-0.05417, 1.74624, 0.17202), "chest", keypoint="neck"),
        RigJoint("Head", "Neck1", (0.10407, 1.76136, -0.12397), keypoint="head", end_site=(0.0372, 1.77044, -0.06241)),
    ]
    arms = []
    for side, word, arm, fore, hand in (("left", "Left", (3.36241, 1.20089, -0.31121), 4.983, 3.48356),
                                        ("right", "Right", (-3.1366, 1.37405, -0.40465), -5.2419, -3.44417)):
        sign = 1.0 if side == "left" else -1.0
        arms += [
            RigJoint(f"{word}Shoulder", "Spine1", (0.0, 0.0, 0.0), "chest"),
            RigJoint(f"{word}Arm", f"{word}Shoulder", arm, f"bone:{side}_shoulder>{side}_elbow", keypoint=f"{side}_shoulder"),
            RigJoint(f"{word}ForeArm", f"{word}Arm", (fore, 0.0, 0.0), f"bone:{side}_elbow>{side}_wrist",
                     keypoint=f"{side}_elbow"),
            RigJoint(f"{word}Hand", f"{word}ForeArm", (hand, 0.0, 0.0), keypoint=f"{side}_wrist"),
            RigJoint(f"{word}FingerBase", f"{word}Hand", (0.0, 0.0, 0.0)),
            RigJoint(f"{word}HandIndex1", f"{word}FingerBase", (sign * 0.71526, 0.0, 0.0),
                     end_site=(sign * 0.57666, 0.0, 0.0)),
            RigJoint(f"{'L' if side == 'left' else 'R'}Thumb", f"{word}Hand", (0.0, 0.0, 0.0),
                     end_site=(sign * 0.58547, 0.0, 0.58547)),
        ]
    joints = (RigJoint("Hips", None, (0.0, 0.0, 0.0), "pelvis", keypoint="pelvis"), *left, *right, *spine, *arms)
    # ASF ":units length 0.45": a length of 1 means 1/0.45 inch = 0.0254 / 0.45 m = 0.056444 m.
    return RigLayout("cmu", joints, metres_per_unit=0.0254 / 0.45, fps=120.0)


def _mixamo() -> RigLayout:
    prefix = "mixamorig:"
    legs = _sides([
        ("{S}UpLeg", "Hips", (9.1, -6.6, -0.4), "bone:{s}_hip>{s}_knee", "identity", "{s}_hip"),
        ("{S}Leg", "{S}UpLeg", (0.0, -41.2, 0.3), "bone:{s}_knee>{s}_ankle", "identity", "{s}_knee"),
        ("{S}Foot", "{S}Leg", (0.0, -41.6, -1.8), "bone:{s}_ankle>{s}_toe", "identity", "{s}_ankle"),
        ("{S}ToeBase", "{S}Foot", (0.0, -8.2, 10.3), "parent", "identity", "{s}_toe"),
    ], mirror_axis=0)
    arms = _sides([
        ("{S}Shoulder", "Spine2", (6.1, 9.2, 0.6), "chest", "identity", None),
        ("{S}Arm", "{S}Shoulder", (12.4, 0.0, 0.0), "bone:{s}_shoulder>{s}_elbow", "identity", "{s}_shoulder"),
        ("{S}ForeArm", "{S}Arm", (27.5, 0.0, 0.0), "bone:{s}_elbow>{s}_wrist", "identity", "{s}_elbow"),
        ("{S}Hand", "{S}ForeArm", (27.0, 0.0, 0.0), "parent", "identity", "{s}_wrist"),
    ], mirror_axis=0)
    joints = [
        RigJoint("Hips", None, (0.0, 0.0, 0.0), "pelvis", keypoint="pelvis"),
        RigJoint("Spine", "Hips", (0.0, 9.9, 0.6), "blend:0.33", keypoint="spine"),
        RigJoint("Spine1", "Spine", (0.0, 11.6, 0.0), "blend:0.66"),
        RigJoint("Spine2", "Spine1", (0.0, 13.3, 0.0), "chest", keypoint="chest"),
        RigJoint("Neck", "Spine2", (0.0, 15.0, 1.0), "chest", keypoint="neck"),
        RigJoint("Head", "Neck", (0.0, 9.6, 3.0), keypoint="head", end_site=(0.0, 18.5, 6.6)),
        *arms, *legs,
    ]
    named = tuple(RigJoint(prefix + j.name, prefix + j.parent if j.parent else None, j.offset, j.drive, j.axes,
                           j.keypoint, j.end_site) for j in joints)
    return RigLayout("mixamo", named, metres_per_unit=0.01, fps=30.0, rotation_channels="Zrotation Xrotation Yrotation")


RIG_LAYOUTS: dict[str, RigLayout] = {rig.name: rig for rig in (_lafan1(), _cmu(), _mixamo())}


def rig_layout(name: str) -> RigLayout:
    """A layout of :data:`RIG_LAYOUTS` by name; the error lists the valid names."""
    if name not in RIG_LAYOUTS:
        raise KeyError(f"unknown rig layout {name!r}; valid: {sorted(RIG_LAYOUTS)}")
    return RIG_LAYOUTS[name]
