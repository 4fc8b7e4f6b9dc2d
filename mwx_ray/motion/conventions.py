"""Joint-name conventions of mocap rigs → canonical keypoints, with auto-detection and user joint maps.

A convention lists, per canonical keypoint (:data:`~mwx_ray.motion.skeleton.CANONICAL_KEYPOINTS`), the source
joint names that can stand for it, most preferred first, plus *marker* names that only that rig has (they decide
``auto`` between conventions that both resolve every keypoint, e.g. CMU files also fit the generic ``bvh``
names but only CMU has ``LHipJoint``/``LowerBack``/``Neck1``). Names compare case-insensitively after
dropping a namespace prefix (``mixamorig:Hips`` → ``hips``).

=================  ========================================================================================
convention         names (left side shown)
=================  ========================================================================================
``cmu``            cgspeed BVH of the CMU database: Hips, Spine, Spine1 (chest), **Neck1** (CMU's ``Neck``
                   coincides with ``Spine1``), Head, LeftUpLeg/Leg/Foot/ToeBase, LeftArm/ForeArm/Hand
``lafan1``         ubisoft LAFAN1: Spine, Spine2 (chest), Neck, Head, **LeftToe**
``mixamo``         Adobe Mixamo (``mixamorig:`` prefix): Spine, Spine2, Neck, Head, LeftToeBase
``bvh``            generic MotionBuilder/HumanIK-style names (the aliases of all three above)
``smpl``           SMPL/AMASS joint names (``left_hip`` ... ``left_foot`` = toe)
``holosoma_smplh`` holosoma's SMPL-H demo names (``L_Hip``, ``Torso``, ``Chest``)
``games105``       GAMES-105 course BVH (``RootJoint``, ``lHip``, ``lKnee``, ``lAnkle``, ``lToeJoint``,
                   ``lShoulder``, ``lElbow``, ``lWrist``, ``pelvis_lowerback``, ``lowerback_torso``,
                   ``torso_head``) — from the course's published skeleton, not checked on a file here
``iclone``         Reallusion iClone/Character Creator (``CC_Base_L_Thigh``, ``CC_Base_L_Calf``,
                   ``CC_Base_Spine02``, ``CC_Base_NeckTwist01``) — from the published CC3 bone names, not
                   checked on a file here
``canonical``      the canonical names themselves
=================  ========================================================================================

Any other rig: pass a joint map (YAML ``canonical: source joint``; entries override the chosen convention).
An unknown rig fails with :class:`UnknownRigError`, whose message lists the file's joints and a template map.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS, NAME_MAPS, _normalize, sided


@dataclass(frozen=True)
class JointConvention:
    name: str
    aliases: dict[str, tuple[str, ...]]
    markers: tuple[str, ...] = ()
    description: str = ""


def _limbs(hip: str, knee: str, ankle: str, toe: str, shoulder: str, elbow: str, wrist: str) -> dict:
    return {"{side}_hip": (hip,), "{side}_knee": (knee,), "{side}_ankle": (ankle,), "{side}_toe": (toe,),
            "{side}_shoulder": (shoulder,), "{side}_elbow": (elbow,), "{side}_wrist": (wrist,)}


_BVH_LIMBS = _limbs("{Side}UpLeg", "{Side}Leg", "{Side}Foot", "{Side}ToeBase", "{Side}Arm", "{Side}ForeArm",
                    "{Side}Hand")
CONVENTIONS: dict[str, JointConvention] = {
    c.name: c
    for c in (
        JointConvention("cmu", sided({"pelvis": ("Hips",), "spine": ("Spine",), "chest": ("Spine1",),
                                       "neck": ("Neck1",), "head": ("Head",), **_BVH_LIMBS}),
                        ("LHipJoint", "RHipJoint", "LowerBack", "Neck1", "LThumb", "RThumb"),
                        "CMU mocap database, cgspeed BVH release"),
        JointConvention("lafan1", sided({"pelvis": ("Hips",), "spine": ("Spine",), "chest": ("Spine2",),
                                          "neck": ("Neck",), "head": ("Head",),
                                          **_BVH_LIMBS, "{side}_toe": ("{Side}Toe",)}),
                        ("LeftToe", "RightToe"), "ubisoft LAFAN1"),
        JointConvention("mixamo", sided({"pelvis": ("Hips",), "spine": ("Spine",), "chest": ("Spine2", "Spine1"),
                                          "neck": ("Neck",), "head": ("Head",), **_BVH_LIMBS}),
                        ("mixamorig:Hips", "HeadTop_End", "LeftToe_End"), "Adobe Mixamo"),
        JointConvention("bvh", NAME_MAPS["bvh"], (), "generic MotionBuilder/HumanIK-style BVH names"),
        JointConvention("smpl", NAME_MAPS["smpl"], ("left_collar", "spine3", "left_foot"), "SMPL / AMASS"),
        JointConvention("holosoma_smplh", NAME_MAPS["holosoma_smplh"], ("L_Hip", "Torso"), "holosoma SMPL-H"),
        JointConvention("games105", sided({
            "pelvis": ("RootJoint",), "spine": ("pelvis_lowerback",), "chest": ("lowerback_torso",),
            "neck": ("torso_head",), "head": ("torso_head_end",),
            **_limbs("{s}Hip", "{s}Knee", "{s}Ankle", "{s}ToeJoint", "{s}Shoulder", "{s}Elbow", "{s}Wrist")}),
            ("RootJoint", "lToeJoint", "lTorso_Clavicle"), "GAMES-105 course data"),
        JointConvention("iclone", sided({
            "pelvis": ("CC_Base_Hip", "CC_Base_Pelvis"), "spine": ("CC_Base_Waist",), "chest": ("CC_Base_Spine02",),
            "neck": ("CC_Base_NeckTwist01",), "head": ("CC_Base_Head",),
            **_limbs("CC_Base_{S}_Thigh", "CC_Base_{S}_Calf", "CC_Base_{S}_Foot", "CC_Base_{S}_ToeBase",
                     "CC_Base_{S}_Upperarm", "CC_Base_{S}_Forearm", "CC_Base_{S}_Hand")}),
            ("CC_Base_BoneRoot", "CC_Base_Waist"), "Reallusion iClone / Character Creator"),
        JointConvention("canonical", NAME_MAPS["canonical"], (), "canonical keypoint names"),
    )
}
CONVENTION_CHOICES = ("auto", *CONVENTIONS)


class UnknownRigError(MotionError):
    """No convention names every canonical keypoint; ``template`` is a joint map (YAML) to fill in."""

    def __init__(self, message: str, template: str):
        super().__init__(message)
        self.template = template

    def __reduce__(self):  # keep the template when pickled (Ray, multiprocessing)
        return (type(self), (str(self), self.template))


@dataclass(frozen=True)
class NameResolution:
    """How source joint names became canonical keypoints.

    Attributes:
        convention: the convention used (after ``auto``). columns: canonical name → source column.
        source_names: canonical name → source joint name. report: one line for users (what was picked, why).
        joint_map: the user's overrides (canonical → source name), if any; joint_map_file / _sha256 its file.
    """

    convention: str
    columns: dict[str, int]
    source_names: dict[str, str]
    report: str
    joint_map: dict[str, str] = field(default_factory=dict)
    joint_map_file: str | None = None
    joint_map_sha256: str | None = None

    def provenance(self) -> dict:
        return {"convention": self.convention, "report": self.report, "canonical_to_source": self.source_names,
                "joint_map": self.joint_map or None, "joint_map_file": self.joint_map_file,
                "joint_map_sha256": self.joint_map_sha256}


def _resolve(names: Sequence[str], aliases: Mapping[str, tuple[str, ...]], overrides: Mapping[str, str]) -> dict:
    lookup = {_normalize(n): i for i, n in enumerate(names)}
    found: dict[str, int] = {}
    for canonical, source in overrides.items():
        found[canonical] = lookup[_normalize(source)]
    for canonical in CANONICAL_KEYPOINTS:
        if canonical in found:
            continue
        for alias in aliases.get(canonical, ()):
            column = lookup.get(_normalize(alias))
            if column is not None and column not in found.values():  # one source joint feeds one keypoint
                found[canonical] = column
                break
    return found


def _markers(names: Sequence[str], convention: JointConvention) -> list[str]:
    present = {_normalize(n) for n in names}
    raw = {n.strip().lower() for n in names}
    return [m for m in convention.markers if _normalize(m) in present and (":" not in m or m.lower() in raw)]


def load_joint_map(path: str | os.PathLike[str]) -> tuple[dict[str, str], str]:
    """(canonical → source joint name, sha256 of the file) from a YAML joint map; errors name the file."""
    import yaml

    path = Path(path)
    try:
        data = path.read_bytes()
        mapping = yaml.safe_load(data) or {}
    except (OSError, yaml.YAMLError) as err:
        raise MotionError(f"joint map {path}: cannot read: {err}") from err
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise MotionError(f"joint map {path}: expected 'canonical_keypoint: SourceJointName' lines, got {mapping!r}")
    return {str(k): v for k, v in mapping.items()}, hashlib.sha256(data).hexdigest()


def _check_overrides(overrides: Mapping[str, str], names: Sequence[str], owner: str) -> None:
    unknown = sorted(set(overrides) - set(CANONICAL_KEYPOINTS))
    if unknown:
        raise MotionError(f"{owner}: joint map keys {unknown} are not canonical keypoints; valid keys: "
                          f"{list(CANONICAL_KEYPOINTS)}")
    present = {_normalize(n) for n in names}
    for canonical, source in overrides.items():
        if _normalize(source) not in present:
            close = difflib.get_close_matches(source, list(names), n=3)
            raise MotionError(f"{owner}: joint map says {canonical}: {source!r}, but the file has no such joint"
                              f"{f' (close: {close})' if close else ''}; its joints: {list(names)}")
    sources = [_normalize(s) for s in overrides.values()]
    duplicates = sorted({s for s in sources if sources.count(s) > 1})
    if duplicates:
        raise MotionError(f"{owner}: joint map uses {duplicates} for more than one keypoint")


def joint_map_template(names: Sequence[str], guesses: Mapping[str, int]) -> str:
    """A YAML joint map: every canonical keypoint, filled with ``guesses`` (column indices) or ``FILL_ME``."""
    lines = ["# mwx joint map: canonical keypoint -> joint name in your file (replace every FILL_ME).",
             "# Keypoints: pelvis = root/hips joint, spine = lumbar, chest = upper thoracic, neck, head;",
             "# hip/knee/ankle = leg joints, toe = toe base (MTP); shoulder = upper-arm joint (not the clavicle),",
             "# elbow, wrist. Joints in the file: " + ", ".join(names)]
    lines += [f"{k}: {names[guesses[k]] if k in guesses else 'FILL_ME'}" for k in CANONICAL_KEYPOINTS]
    return "\n".join(lines) + "\n"


def resolve_joint_names(
    names: Sequence[str],
    convention: str = "auto",
    joint_map: Mapping[str, str] | str | os.PathLike[str] | None = None,
    required: Sequence[str] = CANONICAL_KEYPOINTS,
    owner: str = "motion",
) -> NameResolution:
    """Pick source columns for the canonical keypoints (see the module docstring).

    Args:
        names: the file's joint names, in column order.
        convention: a name in :data:`CONVENTIONS` or ``"auto"`` (best full match; markers break ties).
        joint_map: canonical → source name overrides, or a YAML file of them.
    Raises:
        UnknownRigError: no convention (with the overrides) names every ``required`` keypoint.
        MotionError: unknown convention, or a bad joint map (unknown keys/joints, duplicates).
    """
    map_file = map_hash = None
    if joint_map is not None and not isinstance(joint_map, Mapping):
        map_file = str(joint_map)
        joint_map, map_hash = load_joint_map(joint_map)
    overrides = dict(joint_map or {})
    _check_overrides(overrides, names, owner if map_file is None else f"{owner} (joint map {map_file})")
    if convention != "auto" and convention not in CONVENTIONS:
        raise MotionError(f"{owner}: unknown joint-name convention {convention!r}; valid: {list(CONVENTION_CHOICES)}")
    candidates = list(CONVENTIONS) if convention == "auto" else [convention]
    scored = []
    for rank, name in enumerate(candidates):
        found = _resolve(names, CONVENTIONS[name].aliases, overrides)
        complete = all(k in found for k in required)
        scored.append((complete, len(_markers(names, CONVENTIONS[name])), len(found), -rank, name, found))
    complete, _, _, _, picked, found = max(scored)
    if not complete:
        missing = [k for k in required if k not in found]
        tried = {k: list(CONVENTIONS[picked].aliases.get(k, ())) for k in missing}
        hint = f"aliases tried {tried}" if len(missing) <= 5 else f"{len(found)} found"
        guesses: dict[str, int] = {}  # the template's guesses: any convention's match, most matches first
        for *_, partial in sorted(scored, key=lambda row: -len(row[-1])):
            for key, column in partial.items():
                if key not in guesses and column not in guesses.values():
                    guesses[key] = column
        template = joint_map_template(names, guesses)
        raise UnknownRigError(
            f"{owner}: unknown rig: no source joint for canonical keypoints {missing} (best convention {picked!r}, "
            f"{hint}). The file's joints: {list(names)}. Write a joint map (YAML, canonical: source joint) and "
            f"pass it with --joint-map (Python: joint_map=...). Template:\n{template}", template)
    markers = _markers(names, CONVENTIONS[picked])
    why = f"markers {markers}" if markers else "names match"
    report = (f"convention {'auto -> ' if convention == 'auto' else ''}{picked} "
              f"({len([k for k in required if k in found])}/{len(required)} keypoints; {why}"
              f"{'; ' + str(len(overrides)) + ' from the joint map' if overrides else ''})")
    return NameResolution(picked, {k: found[k] for k in CANONICAL_KEYPOINTS if k in found},
                          {k: names[found[k]] for k in CANONICAL_KEYPOINTS if k in found}, report, overrides,  # pyright: ignore[reportArgumentType] - names[...] is a str here
                          map_file, map_hash)
