"""Operator M: human keypoints → Unitree H1 joint angles by inverse kinematics (``mink``).

Pipeline of :func:`retarget` (``retarget_motion`` returns only the clip):

1. frame conversion and body-scale fitting → IK targets in H1 proportions (:mod:`.retarget_scale`);
2. ground contact on the targets: per frame, the lowest contact point is put at the human's clearance above the
   ground (0 in stance, > 0 in a flight phase), then ankles/toes are floored at H1's flat-foot heights;
3. per-frame differential IK on a kinematic-only copy of our H1 model, warm-started from the previous frame:
   weighted keypoint positions (one stacked 3·19-row task, :class:`KeypointPositionTask`), pelvis and torso
   orientation from the human pelvis/chest frames (H1's torso can only yaw, so its weight is low), a weak posture
   prior (HumanoidBench's ``home`` keyframe; breaks ties such as hip yaw vs. ankle placement), joint limits as
   hard constraints (``mink.ConfigurationLimit``), QP solved by ``daqp``; iterate until the step is below
   ``step_tolerance`` or ``max_iterations`` (frame 0: ``first_frame_iterations`` from the keyframe);
4. feet kept on the ground: the solved robot is shifted vertically so its lowest ground point (sole corners,
   knees, hands) sits at the human clearance — never below the floor, on it whenever the human is on it;
5. per-frame keypoint error [T] (mean over the 19 keypoints of ‖H1 keypoint − target‖, m, before the vertical
   shift, i.e. the IK fit) and summary stats go to ``clip.provenance["retarget"]``; ``synthetic`` is propagated.

Weights (``RetargetSettings.keypoint_costs``) follow H2O/PHC practice of trusting end effectors and feet most.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import mink
import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from mwx_ray.motion.clip import H1_JOINT_RANGES_RAD, MotionClip
from mwx_ray.motion.errors import MotionError
from mwx_ray.motion.human_motion import HumanMotion
from mwx_ray.motion.retarget_scale import (
    H1_GROUND_POINTS,
    H1_KEYPOINT_FRAMES,
    HUMAN_CONTACT_OFFSETS_M,
    as_dict,
    canonicalize_frame,
    chest_frames,
    contact_clearance,
    fit_body_scale,
    floor_feet,
    ground_offsets,
    kinematic_h1_model,
    pelvis_frames,
    site_ids,
    target_contact_heights,
)
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS
from mwx_ray.robots.h1 import H1_KEYFRAME_QPOS

# Position cost per keypoint part (1/m); the QP minimises Σ (cost · error)².
DEFAULT_KEYPOINT_COSTS: dict[str, float] = {
    "pelvis": 4.0, "spine": 0.5, "chest": 0.5, "neck": 0.5, "head": 1.0,
    "hip": 2.0, "knee": 3.0, "ankle": 5.0, "toe": 4.0, "shoulder": 1.5, "elbow": 2.0, "wrist": 3.0,
}
RETARGET_VERSION = 1  # bump when the algorithm changes: part of the library cache key


@dataclass(frozen=True)
class RetargetSettings:
    """Knobs of operator M (all JSON-able; they are recorded in the clip's provenance).

    Attributes:
        body_scale: ``segments`` (H1 bone lengths, human bone directions), ``uniform`` or ``none`` (scale 1).
        segment_lengths_from: ``median`` over frames or ``first_frame`` (e.g. a T-pose).
        align_heading: rotate/translate so the clip starts at the origin facing +x.
        keypoint_costs: position cost per keypoint part (names without side), 1/m.
        pelvis_orientation_cost, torso_orientation_cost: orientation costs, 1/rad.
        posture_cost: pull towards the ``home`` keyframe, 1/rad (small: only resolves redundancy).
        damping: Levenberg–Marquardt damping of the IK step.
        max_iterations, first_frame_iterations: IK iterations per frame (warm-started / from the keyframe).
        step_tolerance: stop iterating when ‖Δq‖ < this (rad, m).
        ground_contact: apply the contact-aware vertical offsets (steps 2 and 4 of the module docstring).
        fps: resample the human motion to this rate first (None keeps the source rate).
    """

    body_scale: str = "segments"
    segment_lengths_from: str = "median"
    align_heading: bool = True
    keypoint_costs: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KEYPOINT_COSTS))
    pelvis_orientation_cost: float = 0.2
    torso_orientation_cost: float = 0.1
    posture_cost: float = 0.02
    damping: float = 1e-4
    max_iterations: int = 12
    first_frame_iterations: int = 200
    step_tolerance: float = 1e-4
    ground_contact: bool = True
    fps: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class KeypointPositionTask(mink.Task):
    """All 19 keypoint sites as one mink task: error e = p(q) − p*, [3·19]; Jacobian = stacked ``mj_jacSite``.

    Position-only (no SE3 log), so an orientation mismatch of a site never leaks into its position error.
    """

    def __init__(self, model: mujoco.MjModel, keypoint_sites: np.ndarray, costs: np.ndarray):
        super().__init__(cost=np.repeat(costs, 3).astype(np.float64))
        self.k = 3 * len(keypoint_sites)
        self._sites = keypoint_sites
        self._targets = np.zeros((len(keypoint_sites), 3))
        self._jac = np.zeros((self.k, model.nv))

    def set_targets(self, targets: np.ndarray) -> None:
        """[19, 3] target positions, m, world frame."""
        self._targets[:] = targets

    def compute_error(self, configuration: mink.Configuration) -> np.ndarray:
        return (configuration.data.site_xpos[self._sites] - self._targets).ravel()

    def compute_jacobian(self, configuration: mink.Configuration) -> np.ndarray:
        model, data = configuration.model, configuration.data
        for row, site in enumerate(self._sites):
            mujoco.mj_jacSite(model, data, self._jac[3 * row : 3 * row + 3], None, int(site))
        return self._jac


@dataclass(frozen=True)
class RetargetResult:
    """Clip plus diagnostics. ``keypoint_error_m`` [T] and ``per_keypoint_error_m`` [19] are in metres."""

    clip: MotionClip
    targets: np.ndarray  # [T, 19, 3] IK targets (after ground contact), m
    keypoint_error_m: np.ndarray
    per_keypoint_error_m: np.ndarray
    frames_per_s: float


def _keypoint_costs(settings: RetargetSettings) -> np.ndarray:
    costs = []
    for name in CANONICAL_KEYPOINTS:
        part = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
        if part not in settings.keypoint_costs:
            raise MotionError(f"retarget: keypoint_costs has no entry for {part!r}; give all of "
                              f"{sorted(DEFAULT_KEYPOINT_COSTS)}")
        costs.append(float(settings.keypoint_costs[part]))
    return np.asarray(costs)


def _canonical_keypoints(human: HumanMotion) -> np.ndarray:
    missing = [k for k in CANONICAL_KEYPOINTS if k not in human.keypoint_names]
    if missing:
        raise MotionError(f"retarget {human.name!r}: missing canonical keypoints {missing} "
                          f"(have {list(human.keypoint_names)}); map names with mwx_ray.motion.skeleton")
    return np.asarray(human.keypoints[:, [human.index(k) for k in CANONICAL_KEYPOINTS]], dtype=np.float64)


def initial_qpos(model: mujoco.MjModel, pelvis_pos: np.ndarray, pelvis_rot: np.ndarray) -> np.ndarray:
    qpos = np.zeros(model.nq)
    qpos[: len(H1_KEYFRAME_QPOS)] = H1_KEYFRAME_QPOS
    qpos[0:3] = pelvis_pos
    qpos[3:7] = Rotation.from_matrix(pelvis_rot).as_quat(scalar_first=True)
    return qpos


def solve_frames(targets: np.ndarray, pelvis_rot: np.ndarray, torso_rot: np.ndarray,
                 settings: RetargetSettings) -> tuple[np.ndarray, np.ndarray]:
    """Warm-started per-frame IK.

    Args:
        targets: [T, 19, 3] keypoint targets, m. pelvis_rot / torso_rot: [T, 3, 3] target orientations.
    Returns:
        (qpos [T, nq] of the kinematic model, robot keypoints [T, 19, 3] m).
    """
    model = kinematic_h1_model()
    kp_sites = site_ids(model, "kp_", CANONICAL_KEYPOINTS)
    keypoints_task = KeypointPositionTask(model, kp_sites, _keypoint_costs(settings))
    pelvis_task = mink.FrameTask("pelvis", "body", position_cost=0.0, orientation_cost=settings.pelvis_orientation_cost)
    torso_task = mink.FrameTask("torso_link", "body", position_cost=0.0,
                                orientation_cost=settings.torso_orientation_cost)
    posture_task = mink.PostureTask(model, cost=settings.posture_cost)
    tasks = [keypoints_task, pelvis_task, torso_task, posture_task]
    limits = [mink.ConfigurationLimit(model)]

    # Initial guess: the home keyframe with the pelvis body placed so that its kp_pelvis site is on the target.
    pelvis_offset = np.asarray(H1_KEYPOINT_FRAMES["pelvis"][1])
    configuration = mink.Configuration(model, initial_qpos(model, targets[0, 0] - pelvis_rot[0] @ pelvis_offset,
                                                            pelvis_rot[0]))
    posture_task.set_target(configuration.q.copy())
    num_frames = len(targets)
    qpos = np.zeros((num_frames, model.nq))
    robot_keypoints = np.zeros_like(targets)
    for frame in range(num_frames):
        keypoints_task.set_targets(targets[frame])
        pelvis_task.set_target(mink.SE3.from_rotation(mink.SO3.from_matrix(pelvis_rot[frame])))
        torso_task.set_target(mink.SE3.from_rotation(mink.SO3.from_matrix(torso_rot[frame])))
        iterations = settings.first_frame_iterations if frame == 0 else settings.max_iterations
        for _ in range(iterations):
            velocity = mink.solve_ik(configuration, tasks, 1.0, "daqp", damping=settings.damping, limits=limits)
            configuration.integrate_inplace(velocity, 1.0)
            if np.linalg.norm(velocity) < settings.step_tolerance:
                break
        qpos[frame] = configuration.q
        robot_keypoints[frame] = configuration.data.site_xpos[kp_sites]
    return qpos, robot_keypoints


def robot_lowest_points(qpos: np.ndarray) -> np.ndarray:
    """[T] height of the robot's lowest ground point (sole corners, knee caps, hand balls), m, for qpos [T, nq]."""
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    sites = site_ids(model, "ground_", tuple(name for name, *_ in H1_GROUND_POINTS))
    radii = np.array([radius for *_, radius in H1_GROUND_POINTS])
    lowest = np.empty(len(qpos))
    for frame, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        lowest[frame] = float(np.min(data.site_xpos[sites, 2] - radii))
    return lowest


def _stats(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "median": float(np.median(values)),
            "p95": float(np.percentile(values, 95)), "max": float(values.max())}


def retarget(human: HumanMotion, settings: RetargetSettings | None = None) -> RetargetResult:
    """Operator M on one human motion; see the module docstring. Raises :class:`MotionError` on bad input."""
    settings = settings or RetargetSettings()
    human = human.validate()
    if settings.fps is not None and abs(settings.fps - human.fps) > 1e-9:
        human = human.resample(settings.fps)
    started = time.perf_counter()
    keypoints = _canonical_keypoints(human)
    frame_info: dict[str, Any] = {"heading_rad": 0.0, "ground_z_m": 0.0, "xy_offset_m": [0.0, 0.0]}
    if settings.align_heading:
        keypoints, frame_info = canonicalize_frame(keypoints)
    fit = fit_body_scale(keypoints, settings.body_scale, settings.segment_lengths_from)
    human_points = as_dict(keypoints)
    clearance = contact_clearance(human_points, HUMAN_CONTACT_OFFSETS_M) * fit.root_scale
    targets = fit.targets
    if settings.ground_contact:
        targets = targets + ground_offsets(target_contact_heights(targets), clearance)[:, None, None] * [0, 0, 1]
        targets = floor_feet(targets)
    target_points = as_dict(targets)
    qpos, robot_keypoints = solve_frames(targets, pelvis_frames(target_points), chest_frames(target_points), settings)
    errors = np.linalg.norm(robot_keypoints - targets, axis=-1)  # [T, 19]
    vertical_shift = np.zeros(len(qpos))
    if settings.ground_contact:
        vertical_shift = ground_offsets(robot_lowest_points(qpos), clearance)
        qpos[:, 2] += vertical_shift
    elapsed = time.perf_counter() - started
    joint_pos = np.clip(qpos[:, 7:26], H1_JOINT_RANGES_RAD[:, 0], H1_JOINT_RANGES_RAD[:, 1])  # solver slack only
    frame_error = errors.mean(axis=1)
    clip = MotionClip(
        name=human.name,
        fps=float(human.fps),
        joint_pos=joint_pos,
        root_pos=qpos[:, 0:3].copy(),
        root_quat=qpos[:, 3:7] / np.linalg.norm(qpos[:, 3:7], axis=1, keepdims=True),
        keypoints=keypoints,
        keypoint_names=CANONICAL_KEYPOINTS,
        skill_tags=human.skill_tags,
        provenance=_provenance(human, settings, fit, frame_info, frame_error, errors, vertical_shift, elapsed),
    ).validate()
    return RetargetResult(clip, targets, frame_error, errors.mean(axis=0), len(qpos) / max(elapsed, 1e-9))


def retarget_motion(human: HumanMotion, settings: RetargetSettings | None = None) -> MotionClip:
    """Operator M: :class:`HumanMotion` → H1 :class:`MotionClip` (see :func:`retarget` for diagnostics)."""
    return retarget(human, settings).clip


def _provenance(human: HumanMotion, settings: RetargetSettings, fit, frame_info: dict[str, Any],
                frame_error: np.ndarray, errors: np.ndarray, vertical_shift: np.ndarray,
                elapsed_s: float) -> dict[str, Any]:
    source = dict(human.provenance)
    synthetic = bool(source.get("synthetic", False))
    retarget_info = {
        "operator": "mwx_ray.motion.retarget (mink differential IK on H1)",
        "version": RETARGET_VERSION,
        "settings": settings.as_dict(),
        "root_scale": fit.root_scale,
        "human_bone_lengths_m": fit.human_bone_lengths_m,
        "bone_scale_factors": fit.scale_factors,
        "frame_conversion": frame_info,
        "keypoint_error_m": _stats(frame_error),
        "keypoint_error_per_frame_m": [round(float(v), 5) for v in frame_error],
        "keypoint_error_by_name_m": {n: round(float(v), 5) for n, v in zip(CANONICAL_KEYPOINTS, errors.mean(axis=0),
                                                                          strict=True)},
        "vertical_shift_m": _stats(np.abs(vertical_shift)),
        "seconds": round(elapsed_s, 3),
    }
    provenance: dict[str, Any] = {
        "synthetic": synthetic,
        "source": human.source,
        "source_name": human.name,
        "source_provenance": {k: v for k, v in source.items() if k != "synthetic"},
        "retarget": retarget_info,
    }
    for key in ("cyclic", "frames_per_cycle", "period_s", "license_note"):
        if key in source:
            provenance[key] = source[key]
    if "cycle_root_displacement_m" in source:
        heading = frame_info["heading_rad"]
        dx, dy, dz = source["cycle_root_displacement_m"]
        c, s = np.cos(-heading), np.sin(-heading)
        provenance["cycle_root_displacement_m"] = [fit.root_scale * (c * dx - s * dy),
                                                   fit.root_scale * (s * dx + c * dy), float(dz)]
    if synthetic:
        provenance["notice"] = "SYNTHETIC MOTION: generated human keypoints, not motion capture of a person"
    return provenance
