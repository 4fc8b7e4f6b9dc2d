"""Operator M for real motion capture: canonical human keypoints → H1 :class:`MotionClip`, with diagnostics.

Pipeline of :func:`retarget_mocap` (``mwx motion retarget`` uses it for every format that needs IK):

1. **Trunk frames** that survive real rigs (:mod:`.frames`): pelvis and torso targets from the hip centre →
   neck axis and the hip/shoulder lines, degenerate frames repaired or the clip rejected, every issue reported.
2. **Frame conversion**: heading = circular mean pelvis yaw over the first second → rotated to +x, hip centre
   of frame 0 at the origin, ground (2nd percentile of the lowest body surface, :mod:`.contacts`) at z = 0.
3. **Body scale** (``segments``): the skeleton rebuilt in H1 proportions around the hip centre, whose path is
   scaled by s = H1 leg length / human leg length; pelvis and torso rigid at H1's offsets, limbs with the human
   bone directions and H1's bone lengths. (``uniform``: every point × s; ``none``: as is.)
4. **Ground contact**: source foot contacts detected; each frame shifted so its lowest H1 surface sits at the
   human's (scaled) clearance, 0 while a foot is planted; planted foot points pinned (no skating, no hover).
5. **IK** (:mod:`.mocap_ik`): contact-consistency term, smoothness, joint ranges, joint speed limits, floor.
6. **Placement**: each frame shifted vertically so the lowest collision geom sits at the clearance.
7. **Checks**: posture (robot lying where the source stands), joint speeds, seam of cyclic clips, and the quality
   figures of :mod:`.quality`, all in ``clip.provenance["retarget"]`` (warnings also in the result).

The built-in library keeps the earlier operator (:mod:`.retarget`) so its cached clips stay byte-identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from mwx_ray.motion.clip import H1_JOINT_NAMES, H1_JOINT_RANGES_RAD, MotionClip
from mwx_ray.motion.contacts import (
    FOOT_POINTS,
    HUMAN_SURFACE_OFFSETS_M,
    foot_contacts,
    h1_surface_offsets,
    pin_planted_feet,
    surface_clearance,
)
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.frames import h1_zero_pose_points, heading_rad, posture_mismatch, trunk_frames
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.mocap_ik import IkOptions, geom_heights, solve_mocap_frames
from mwx_ray.motion.quality import QualityReport, measure
from mwx_ray.motion.retarget import RetargetSettings, _canonical_keypoints, _keypoint_costs
from mwx_ray.motion.retarget_scale import (
    BODY_SCALE_MODES,
    GROUND_PERCENTILE,
    LIMB_BONES,
    SIDES,
    h1_geometry,
    kinematic_h1_model,
    site_ids,
)
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS

MOCAP_RETARGET_VERSION = 2
SEAM_WARN_RAD = 0.15


@dataclass(frozen=True)
class MocapRetargetSettings(RetargetSettings):
    """:class:`RetargetSettings` plus the real-mocap terms (all recorded in the provenance).

    Attributes:
        acceleration_cost: pull to the constant-velocity prediction, 1/rad (smoothness, no flips).
        velocity_cost: pull to the previous frame's angles, 1/rad (damps joints the keypoints leave free).
        contact_cost_factor: cost multiplier of planted foot keypoints (contact consistency).
        velocity_limit_fraction: per-frame joint steps stay below this fraction of H1's velocity limits.
        floor_constraint: keep every collision geom above the floor inside the IK.
        contact_height_m, contact_speed_mps: source foot-contact thresholds (:mod:`.contacts`).
        max_repair_fraction, max_repair_gap_s: degenerate trunk frames repaired up to these, else rejected.
    """

    acceleration_cost: float = 0.3
    velocity_cost: float = 0.2
    contact_cost_factor: float = 4.0
    velocity_limit_fraction: float = 0.95
    floor_constraint: bool = True
    contact_height_m: float = 0.04
    contact_speed_mps: float = 0.3
    max_repair_fraction: float = 0.2
    max_repair_gap_s: float = 0.5


@dataclass(frozen=True)
class MocapRetargetResult:
    """Clip plus diagnostics: IK targets [T, 19, 3], IK fit error [T] m, source contacts [T, 4], quality, warnings."""

    clip: MotionClip
    targets: np.ndarray
    keypoint_error_m: np.ndarray
    contacts: np.ndarray
    quality: QualityReport
    warnings: tuple[str, ...]
    frames_per_s: float


def _yaw(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _as_dict(keypoints: np.ndarray) -> dict[str, np.ndarray]:
    return {name: keypoints[:, i] for i, name in enumerate(CANONICAL_KEYPOINTS)}


def _leg_scale(points: dict[str, np.ndarray]) -> tuple[float, dict[str, float]]:
    lengths = {f"{a}>{b}": float(np.median(np.linalg.norm(points[b] - points[a], axis=-1))) for a, b in LIMB_BONES}
    leg = np.mean([lengths[f"{s}_hip>{s}_knee"] + lengths[f"{s}_knee>{s}_ankle"] for s in SIDES])
    if leg < 1e-3:
        raise MotionError("body-scale fitting: the human legs have zero length (hip, knee and ankle coincide)")
    return float(h1_geometry().leg_length_m / leg), {k: round(v, 5) for k, v in lengths.items()}


def rebuild_in_h1_proportions(points: dict[str, np.ndarray], pelvis_rot: np.ndarray, torso_rot: np.ndarray,
                              root_scale: float) -> np.ndarray:
    """[T, 19, 3] targets: step 3 of the module docstring (the hip centre is the anchor)."""
    geometry, h1 = h1_geometry(), h1_zero_pose_points()
    h1_mid = 0.5 * (h1["left_hip"][0] + h1["right_hip"][0])  # pelvis body frame, body origin = torso joint
    mid = 0.5 * (points["left_hip"] + points["right_hip"]) * root_scale
    origin = mid - pelvis_rot @ h1_mid
    out = {name: origin + pelvis_rot @ h1[name][0] for name in ("pelvis", "left_hip", "right_hip")}
    out.update({name: origin + torso_rot @ offset for name, offset in geometry.torso_offsets.items()})
    for parent, child in LIMB_BONES:  # root → tip order: parents are placed first
        direction = points[child] - points[parent]
        direction = direction / np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
        out[child] = out[parent] + geometry.bone_lengths[(parent, child)] * direction
    return np.stack([out[name] for name in CANONICAL_KEYPOINTS], axis=1)


def _ik_options(settings: MocapRetargetSettings) -> IkOptions:
    return IkOptions(_keypoint_costs(settings), settings.pelvis_orientation_cost, settings.torso_orientation_cost,
                     settings.posture_cost, settings.acceleration_cost, settings.velocity_cost,
                     settings.contact_cost_factor,
                     settings.velocity_limit_fraction, settings.floor_constraint, settings.damping,
                     settings.max_iterations, settings.first_frame_iterations, settings.step_tolerance)


def _robot_keypoints(qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints [T, 19, 3], pelvis z axis [T, 3]) by FK of the kinematic model."""
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    sites = site_ids(model, "kp_", CANONICAL_KEYPOINTS)
    out = np.empty((len(qpos), len(sites), 3))
    for frame, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        out[frame] = data.site_xpos[sites]
    up = Rotation.from_quat(qpos[:, 3:7], scalar_first=True).as_matrix()[:, :, 2]
    return out, up


def retarget_mocap(human: HumanMotion, settings: MocapRetargetSettings | None = None) -> MocapRetargetResult:
    """Operator M for real mocap (module docstring). Raises :class:`MotionError` naming the clip and problem."""
    settings = settings or MocapRetargetSettings()
    if settings.body_scale not in BODY_SCALE_MODES:
        raise MotionError(f"retarget {human.name!r}: unknown body_scale {settings.body_scale!r}; valid: "
                          f"{list(BODY_SCALE_MODES)}")
    human = human.validate()
    if settings.fps is not None and abs(settings.fps - human.fps) > 1e-9:
        human = _resample(human, settings.fps)
    started, fps, owner = time.perf_counter(), float(human.fps), f"retarget {human.name!r}"
    keypoints = _canonical_keypoints(human)
    names = human.provenance.get("joint_names", {}).get("canonical_to_source", {})
    trunk = trunk_frames(_as_dict(keypoints), names, fps, settings.max_repair_fraction, settings.max_repair_gap_s,
                         owner)
    pelvis_rot, torso_rot = trunk.pelvis, trunk.torso
    frame_info: dict[str, Any] = {"heading_rad": 0.0, "ground_z_m": 0.0, "xy_offset_m": [0.0, 0.0]}
    if settings.align_heading:
        heading = heading_rad(pelvis_rot, fps)
        yaw = _yaw(-heading)
        keypoints = keypoints @ yaw.T
        pelvis_rot, torso_rot = yaw @ pelvis_rot, yaw @ torso_rot
        ground = float(np.percentile(surface_clearance(keypoints, HUMAN_SURFACE_OFFSETS_M), GROUND_PERCENTILE))
        mid0 = 0.5 * (keypoints[0, CANONICAL_KEYPOINTS.index("left_hip")] + keypoints[0, CANONICAL_KEYPOINTS.index(
            "right_hip")])
        keypoints = keypoints - np.array([mid0[0], mid0[1], ground])
        frame_info = {"heading_rad": heading, "ground_z_m": ground, "xy_offset_m": [float(v) for v in mid0[:2]]}
    points = _as_dict(keypoints)
    root_scale, bone_lengths = _leg_scale(points)
    if settings.body_scale == "none":
        root_scale, targets = 1.0, keypoints.copy()
    elif settings.body_scale == "uniform":
        targets = keypoints * root_scale
    else:
        targets = rebuild_in_h1_proportions(points, pelvis_rot, torso_rot, root_scale)
    contacts = foot_contacts(keypoints, fps, settings.contact_height_m, settings.contact_speed_mps)
    clearance = np.maximum(surface_clearance(keypoints, HUMAN_SURFACE_OFFSETS_M) * root_scale, 0.0)
    clearance[contacts.any(axis=1)] = 0.0
    weights = np.zeros((len(targets), len(CANONICAL_KEYPOINTS)))
    flat = contacts.copy()
    if settings.ground_contact:
        targets = targets + (clearance - surface_clearance(targets, h1_surface_offsets()))[:, None, None] * [0, 0, 1]
        pinned = pin_planted_feet(targets, contacts, fps)
        targets, flat = pinned.targets, pinned.flat
        for column, name in enumerate(FOOT_POINTS):
            weights[:, CANONICAL_KEYPOINTS.index(name)] = pinned.weights[:, column]
    solution = solve_mocap_frames(targets, weights, pelvis_rot, torso_rot, fps, _ik_options(settings),
                                  cyclic=bool(human.provenance.get("cyclic")))
    qpos = solution.qpos
    fit_error = np.linalg.norm(solution.keypoints - targets, axis=-1)  # [T, 19]
    heights, bodies = geom_heights(qpos)
    shift = clearance - heights.min(axis=1) if settings.ground_contact else np.zeros(len(qpos))
    qpos[:, 2] += shift
    foot_lowest = np.stack([heights[:, [b == f"{s}_ankle_link" for b in bodies]].min(axis=1) for s in SIDES], 1)
    foot_lowest += shift[:, None]
    joint_pos = np.clip(qpos[:, 7:26], H1_JOINT_RANGES_RAD[:, 0], H1_JOINT_RANGES_RAD[:, 1])  # solver slack only
    root_quat = qpos[:, 3:7] / np.linalg.norm(qpos[:, 3:7], axis=1, keepdims=True)
    robot_points, robot_up = _robot_keypoints(np.concatenate([qpos[:, :7], joint_pos], axis=1))
    warnings = list(human.provenance.get("warnings", [])) + [i.message() for i in trunk.issues]
    repaired = [i for i in trunk.issues if i.segment != "rig"]  # frames whose trunk frame was interpolated
    reported = sum(len(i.frames) for i in repaired if i.message() in warnings)
    quality = measure(joint_pos, qpos[:, :3], root_quat, robot_points, fit_error, keypoints, root_scale, pelvis_rot,
                      contacts, flat, foot_lowest, fps, sum(len(i.frames) for i in repaired), reported)
    posture = posture_mismatch(trunk.trunk_inclination_deg, robot_up[:, 2])
    if posture:
        warnings.append(posture)
    if solution.relaxed_frames:
        warnings.append(f"IK: the floor constraint was relaxed in {len(solution.relaxed_frames)} frame(s) "
                        f"{list(solution.relaxed_frames)[:10]} (it clashed with the joint speed limit)")
    if quality.joint_speed_ratio > 1.0:
        warnings.append(f"joint speed: {quality.fastest_joint} reaches {quality.joint_speed_ratio:.2f} x its limit")
    seam = _seam(human, joint_pos, warnings)
    elapsed = time.perf_counter() - started
    info = {
        "operator": "mwx_ray.motion.mocap_retarget (mink differential IK on H1, contact/floor/speed terms)",
        "version": MOCAP_RETARGET_VERSION, "settings": settings.as_dict(), "root_scale": root_scale,
        "human_bone_lengths_m": bone_lengths, "frame_conversion": frame_info,
        "trunk_axis": list(trunk.trunk_axis), "frame_issues": [i.message() for i in trunk.issues],
        "contact_fraction": {n: round(float(contacts[:, c].mean()), 4) for c, n in enumerate(FOOT_POINTS)},
        "keypoint_error_m": _stats(fit_error.mean(axis=1)),
        "keypoint_error_per_frame_m": [round(float(v), 5) for v in fit_error.mean(axis=1)],
        "keypoint_error_by_name_m": {n: round(float(v), 5) for n, v in zip(CANONICAL_KEYPOINTS, fit_error.mean(axis=0),
                                                                          strict=True)},
        "vertical_shift_m": _stats(np.abs(shift)), "quality": quality.as_dict(),
        "quality_failures": quality.failures(), "warnings": warnings, "seam": seam, "seconds": round(elapsed, 3),
    }
    clip = MotionClip(name=human.name, fps=fps, joint_pos=joint_pos, root_pos=qpos[:, :3].copy(), root_quat=root_quat,
                      keypoints=keypoints, keypoint_names=CANONICAL_KEYPOINTS, skill_tags=human.skill_tags,
                      provenance=_provenance(human, info, root_scale, frame_info["heading_rad"])).validate()
    return MocapRetargetResult(clip, targets, fit_error.mean(axis=1), contacts, quality, tuple(warnings),
                               len(qpos) / max(elapsed, 1e-9))


def _resample(human: HumanMotion, fps: float) -> HumanMotion:
    """Resample; a cyclic clip keeps its number of cycles (``frames_per_cycle`` follows the new frame count)."""
    resampled = human.resample(fps)
    provenance = dict(resampled.provenance)
    if provenance.get("cyclic") and "frames_per_cycle" in provenance:
        cycles = human.num_frames / float(provenance["frames_per_cycle"])
        provenance["frames_per_cycle"] = resampled.num_frames / cycles
        provenance["period_s"] = provenance["frames_per_cycle"] / fps
    return replace(resampled, provenance=provenance)


def _seam(human: HumanMotion, joint_pos: np.ndarray, warnings: list[str]) -> dict[str, Any] | None:
    """Joint-space seam of a cyclic clip: the step |q_0 − q_{T−1}| taken when the clip wraps, per joint,
    against the larger of the two neighbouring steps (a seam is bad when it is a jump, not a normal step)."""
    if not human.provenance.get("cyclic") or len(joint_pos) < 3:
        return None
    wrap = np.abs(joint_pos[0] - joint_pos[-1])
    neighbours = np.maximum(np.abs(joint_pos[-1] - joint_pos[-2]), np.abs(joint_pos[1] - joint_pos[0]))
    excess = wrap - 2.0 * neighbours
    worst = int(np.argmax(excess))
    if wrap[worst] > SEAM_WARN_RAD and excess[worst] > 0:
        warnings.append(f"loop seam: {H1_JOINT_NAMES[worst]} jumps {wrap[worst]:.2f} rad when the clip wraps "
                        f"(neighbouring steps {neighbours[worst]:.3f} rad)")
    return {"max_wrap_step_rad": round(float(wrap.max()), 4), "worst_joint": H1_JOINT_NAMES[worst],
            "wrap_step_rad": round(float(wrap[worst]), 4), "neighbour_step_rad": round(float(neighbours[worst]), 4)}


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def _provenance(human: HumanMotion, info: dict[str, Any], root_scale: float, heading: float) -> dict[str, Any]:
    source = dict(human.provenance)
    provenance: dict[str, Any] = {
        "synthetic": bool(source.get("synthetic", False)), "source": human.source, "source_name": human.name,
        "source_provenance": {k: v for k, v in source.items() if k != "synthetic"}, "retarget": info,
    }
    for key in ("cyclic", "frames_per_cycle", "period_s", "license", "license_note", "source_file",
                "source_sha256"):
        if key in source:
            provenance[key] = source[key]
    if source.get("cyclic") and "cycle_root_displacement_m" in source:
        dx, dy, dz = source["cycle_root_displacement_m"]
        c, s = np.cos(-heading), np.sin(-heading)  # into the aligned frame, then scaled like the pelvis path
        provenance["cycle_root_displacement_m"] = [root_scale * (c * dx - s * dy), root_scale * (s * dx + c * dy),
                                                   float(dz)]
    if provenance["synthetic"]:
        provenance["notice"] = "SYNTHETIC MOTION: generated human keypoints, not motion capture of a person"
    return provenance
