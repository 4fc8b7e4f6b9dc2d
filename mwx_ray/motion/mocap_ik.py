"""Per-frame IK of operator M for real mocap: contact-consistent, floor-aware, within H1's joint speed limits.

One warm-started differential-IK solve per frame (``mink`` + ``daqp``) on a kinematic copy of our H1 model.
Objective (QP, Σ (cost · error)²):

* keypoint positions (:class:`~mwx_ray.motion.retarget.KeypointPositionTask`), per-frame costs: planted foot
  points get ``contact_cost_factor`` × their cost (the contact-consistency term of :mod:`.contacts`);
* pelvis and torso orientation targets (:mod:`.frames`), a weak pull to the ``home`` keyframe;
* smoothness: a pull to the constant-velocity prediction q̂_t = 2 q_{t−1} − q_{t−2} (``acceleration_cost``,
  1/rad: penalises joint accelerations) and a weaker pull to q_{t−1} (``velocity_cost``: penalises speed).
  Together they stop redundant joints (shoulder yaw with a straight arm, whose angle the keypoints do not
  determine) from flipping or oscillating between frames.

Hard constraints: joint ranges (``mink.ConfigurationLimit``); :class:`FrameStepLimit`, which keeps every hinge
within ``velocity_limit_fraction`` × its velocity limit × frame time of the previous frame's angle (so no
retargeted joint can exceed H1's speed limits); :class:`FloorLimit`, which keeps the lowest point of every
collision geom at or above the floor (linearised, per iteration).
"""

from __future__ import annotations

from dataclasses import dataclass

import mink
import mujoco
import numpy as np

from mwx_ray.motion.clip import H1_JOINT_NAMES
from mwx_ray.motion.contacts import GroundGeoms, geom_lowest_points
from mwx_ray.motion.retarget import KeypointPositionTask, initial_qpos
from mwx_ray.motion.retarget_scale import H1_KEYPOINT_FRAMES, kinematic_h1_model, site_ids
from mwx_ray.motion.skeleton import CANONICAL_KEYPOINTS

# Joint speed limits, rad/s, from Unitree's URDF (unitree_ros, robots/h1_description/urdf/h1.urdf, <limit
# velocity=...>): hips and torso 23, knees 14, ankles 9, shoulder pitch/roll 9, shoulder yaw and elbows 20.
_VELOCITY_BY_PART = {"hip_yaw": 23.0, "hip_roll": 23.0, "hip_pitch": 23.0, "knee": 14.0, "ankle": 9.0, "torso": 23.0,
                     "shoulder_pitch": 9.0, "shoulder_roll": 9.0, "shoulder_yaw": 20.0, "elbow": 20.0}
H1_JOINT_VELOCITY_LIMITS_RAD_S = np.array(
    [_VELOCITY_BY_PART[n.split("_", 1)[1] if n.startswith(("left_", "right_")) else n] for n in H1_JOINT_NAMES])
FLOOR_ACTIVE_BELOW_M = 0.25  # geoms higher than this cannot reach the floor within one IK step
NUM_HINGES = len(H1_JOINT_NAMES)


class FrameStepLimit(mink.Limit):
    """|q_j + Δq_j − q_prev_j| ≤ v_j · dt_frame for every hinge (inactive until ``set_reference``)."""

    def __init__(self, model: mujoco.MjModel, max_step_rad: np.ndarray):
        self._max_step = np.asarray(max_step_rad, dtype=np.float64)
        self._reference: np.ndarray | None = None
        self._select = np.zeros((NUM_HINGES, model.nv))
        self._select[:, 6:6 + NUM_HINGES] = np.eye(NUM_HINGES)

    def set_reference(self, hinge_q: np.ndarray | None) -> None:
        self._reference = None if hinge_q is None else np.asarray(hinge_q, dtype=np.float64).copy()

    def compute_qp_inequalities(self, configuration: mink.Configuration, dt: float) -> mink.Constraint:
        if self._reference is None:
            return mink.Constraint()
        q = configuration.q[7:7 + NUM_HINGES]
        upper = self._reference + self._max_step - q
        lower = q - (self._reference - self._max_step)
        return mink.Constraint(G=np.vstack([self._select, -self._select]),
                               h=np.concatenate([np.maximum(upper, 0.0), np.maximum(lower, 0.0)]))


class FloorLimit(mink.Limit):
    """z_g(q) + J_z Δq ≥ 0 for the lowest point of each collision geom within reach of the floor."""

    def __init__(self, model: mujoco.MjModel):
        self._model = model
        self._geoms = GroundGeoms.of(model)
        self._jac = np.zeros((3, model.nv))

    def compute_qp_inequalities(self, configuration: mink.Configuration, dt: float) -> mink.Constraint:
        heights, points = geom_lowest_points(configuration.data, self._geoms)
        near = np.flatnonzero(heights < FLOOR_ACTIVE_BELOW_M)
        if len(near) == 0:
            return mink.Constraint()
        rows = np.zeros((len(near), self._model.nv))
        for row, i in enumerate(near):
            mujoco.mj_jac(self._model, configuration.data, self._jac, None, points[i], int(self._geoms.bodies[i]))
            rows[row] = -self._jac[2]
        return mink.Constraint(G=rows, h=np.maximum(heights[near], 0.0))


@dataclass(frozen=True)
class IkOptions:
    """Costs and limits of :func:`solve_mocap_frames` (copied from the retarget settings)."""

    keypoint_costs: np.ndarray  # [19] 1/m
    pelvis_orientation_cost: float
    torso_orientation_cost: float
    posture_cost: float
    acceleration_cost: float
    velocity_cost: float
    contact_cost_factor: float
    velocity_limit_fraction: float
    floor_constraint: bool
    damping: float
    max_iterations: int
    first_frame_iterations: int
    step_tolerance: float


@dataclass(frozen=True)
class IkSolution:
    """qpos [T, 26] of the kinematic model, robot keypoints [T, 19, 3] m, and solver notes."""

    qpos: np.ndarray
    keypoints: np.ndarray
    relaxed_frames: tuple[int, ...]


def _before(qpos: np.ndarray, history: list[np.ndarray], frame: int, k: int) -> np.ndarray | None:
    """The solution k frames before ``frame``: this pass's, else the loop end's (``history``), else None."""
    if frame >= k:
        return qpos[frame - k]
    return history[frame - k] if len(history) >= k - frame else None


def solve_mocap_frames(targets: np.ndarray, contact_weights: np.ndarray, pelvis_rot: np.ndarray,
                       torso_rot: np.ndarray, fps: float, options: IkOptions, cyclic: bool = False) -> IkSolution:
    """Warm-started IK over frames (see the module docstring).

    Args:
        targets: [T, 19, 3] keypoint targets, m. contact_weights: [T, 19] in [0, 1], 1 = planted.
        pelvis_rot, torso_rot: [T, 3, 3] body orientation targets. fps: frame rate, Hz.
        cyclic: the clip loops: solve it twice, the second pass continuing from the end of the first (its
            smoothness terms and speed limits see the last frames as frame 0's predecessors), so the pose at
            the seam does not carry the start-up transient from the ``home`` keyframe.
    """
    model = kinematic_h1_model()
    kp_sites = site_ids(model, "kp_", CANONICAL_KEYPOINTS)
    keypoints_task = KeypointPositionTask(model, kp_sites, options.keypoint_costs)
    pelvis_task = mink.FrameTask("pelvis", "body", position_cost=0.0, orientation_cost=options.pelvis_orientation_cost)
    torso_task = mink.FrameTask("torso_link", "body", position_cost=0.0,
                                orientation_cost=options.torso_orientation_cost)
    posture_task = mink.PostureTask(model, cost=options.posture_cost)
    smooth_task = mink.PostureTask(model, cost=options.acceleration_cost)
    still_task = mink.PostureTask(model, cost=options.velocity_cost)
    step_limit = FrameStepLimit(model, options.velocity_limit_fraction * H1_JOINT_VELOCITY_LIMITS_RAD_S / fps)
    limits: list[mink.Limit] = [mink.ConfigurationLimit(model), step_limit]
    if options.floor_constraint:
        limits.append(FloorLimit(model))
    pelvis_offset = np.asarray(H1_KEYPOINT_FRAMES["pelvis"][1])
    configuration = mink.Configuration(model, initial_qpos(model, targets[0, 0] - pelvis_rot[0] @ pelvis_offset,
                                                            pelvis_rot[0]))
    posture_task.set_target(configuration.q.copy())
    base_costs = np.repeat(options.keypoint_costs, 3)
    num = len(targets)
    history: list[np.ndarray] = []  # the frames before frame 0: none, or the end of the loop (second pass)
    for _ in range(2 if cyclic and num >= 3 else 1):
        qpos, robot_keypoints, relaxed = np.zeros((num, model.nq)), np.zeros_like(targets), []
        for frame in range(num):
            boost = 1.0 + (options.contact_cost_factor - 1.0) * np.repeat(contact_weights[frame], 3)
            keypoints_task.cost[:] = base_costs * boost
            keypoints_task.set_targets(targets[frame])
            pelvis_task.set_target(mink.SE3.from_rotation(mink.SO3.from_matrix(pelvis_rot[frame])))
            torso_task.set_target(mink.SE3.from_rotation(mink.SO3.from_matrix(torso_rot[frame])))
            tasks = [keypoints_task, pelvis_task, torso_task, posture_task]
            previous, previous2 = _before(qpos, history, frame, 1), _before(qpos, history, frame, 2)
            if previous is not None and options.velocity_cost > 0:
                still_task.set_target(previous)
                tasks.append(still_task)
            if previous2 is not None and options.acceleration_cost > 0:
                smooth_task.set_target(2 * previous - previous2)  # pyright: ignore[reportOptionalOperand, reportOperatorIssue] - previous2 set implies previous set
                tasks.append(smooth_task)
            step_limit.set_reference(None if previous is None else previous[7:7 + NUM_HINGES])
            iterations = options.first_frame_iterations if frame == 0 else options.max_iterations
            for _ in range(iterations):
                try:
                    velocity = mink.solve_ik(configuration, tasks, 1.0, "daqp", damping=options.damping,
                                             limits=limits)
                except mink.NoSolutionFound:  # linearised floor + step limits can clash: keep the step limit
                    relaxed.append(frame)
                    velocity = mink.solve_ik(configuration, tasks, 1.0, "daqp", damping=options.damping,
                                             limits=limits[:2])
                configuration.integrate_inplace(velocity, 1.0)
                if np.linalg.norm(velocity) < options.step_tolerance:
                    break
            qpos[frame] = configuration.q
            robot_keypoints[frame] = configuration.data.site_xpos[kp_sites]
        history = [qpos[-2].copy(), qpos[-1].copy()]
    return IkSolution(qpos, robot_keypoints, tuple(sorted(set(relaxed))))


def geom_heights(qpos: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """(lowest point of each collision geom [T, G] m, the body name of each geom) for qpos [T, 26]."""
    model = kinematic_h1_model()
    data = mujoco.MjData(model)
    geoms = GroundGeoms.of(model)
    out = np.empty((len(qpos), len(geoms.ids)))
    for frame, q in enumerate(qpos):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        out[frame] = geom_lowest_points(data, geoms)[0]
    return out, tuple(model.body(int(b)).name for b in geoms.bodies)


def lowest_geom_heights(qpos: np.ndarray) -> np.ndarray:
    """[T] height of the robot's lowest collision-geom point, m, for qpos [T, 26]."""
    return geom_heights(qpos)[0].min(axis=1)
