"""Where a training episode of an imitation task starts: the start phase, and optionally the reference state.

* :class:`StartPhaseSampler` draws the start frame of the reference — uniformly over the allowed range, or
  partly in proportion to how often episodes started in each phase bin failed (failure-weighted starts). The
  per-bin failure rates are an EMA over this env's finished episodes; like the dynamic joint weights they
  measure the policy, persist across episodes and restart when the env is re-seeded.
* :func:`set_reference_state` writes the reference pose and velocity of the start frame into ``MjData``
  (reference state initialization, DeepMimic §5): pelvis height and orientation, joint angles and velocities
  with uniform noise, pelvis linear and angular velocity by finite difference of the aligned reference over one
  control step, then lifts the robot so that nothing penetrates the floor.

Both use only the generator they are given (the env's seeded ``np_random``).
"""

from __future__ import annotations

import mujoco
import numpy as np

from mwx_ray.config.task_schema import FailureWeightedStartsSection, ReferenceStateInitSection
from mwx_ray.motion.alignment import ReferenceTracker, quat_multiply

FLOOR_CLEARANCE_M = 0.002  # lift above the deepest floor penetration after placing the reference pose


class StartPhaseSampler:
    """Start frames in ``[0, span)`` of a clip, uniform or failure-weighted over ``bins`` phase bins."""

    def __init__(self, settings: FailureWeightedStartsSection):
        self.settings = settings
        self.failure_rate = np.zeros(settings.bins)  # per bin, EMA of "the episode ended in a failure"
        self._last_bin: int | None = None

    def reset_statistics(self) -> None:
        self.failure_rate[:] = 0.0
        self._last_bin = None

    def record_episode_end(self, failed: bool) -> None:
        """Fold the episode that started in the last drawn bin into that bin's failure rate."""
        if self._last_bin is not None:
            rate = self.settings.rate
            self.failure_rate[self._last_bin] += rate * (float(failed) - self.failure_rate[self._last_bin])
        self._last_bin = None

    def bin_probabilities(self) -> np.ndarray:
        """[bins] probability of each bin: ``(1 − mix)·uniform + mix·failure share`` (uniform while no failures)."""
        bins = self.settings.bins
        uniform = np.full(bins, 1.0 / bins)
        total = float(self.failure_rate.sum())
        if not self.settings.enabled or total <= 0.0:
            return uniform
        return (1.0 - self.settings.mix) * uniform + self.settings.mix * self.failure_rate / total

    def draw(self, rng: np.random.Generator, span: int) -> int:
        """A start frame in ``[0, span)``; two draws from ``rng`` (bin, position in the bin)."""
        bins = self.settings.bins
        chosen = int(rng.choice(bins, p=self.bin_probabilities()))
        position = float(rng.random())
        self._last_bin = chosen
        frame = int((chosen + position) * span / bins)
        return min(max(frame, 0), span - 1)


def set_reference_state(model: mujoco.MjModel, data: mujoco.MjData, tracker: ReferenceTracker, *,
                        control_dt: float, settings: ReferenceStateInitSection, rng: np.random.Generator,
                        joint_qpos_start: int = 7, joint_qvel_start: int = 6) -> None:
    """Put the robot in the (already aligned) reference state at the tracker's start frame, with noise.

    Only the robot's free joint and hinges are written (props such as a chair keep the base task's state).
    Three draws from ``rng``: joint-angle noise, joint-velocity noise (one array each), nothing else.
    """
    now, nxt = tracker.at(0.0), tracker.at(control_dt)
    joints = len(now.joint_pos)
    qpos, qvel = data.qpos, data.qvel
    qpos[0:3] = now.root_pos
    qpos[3:7] = now.root_quat
    angles = now.joint_pos + rng.uniform(-1, 1, joints) * settings.joint_pos_noise_rad
    # Joint ranges of the robot's hinges (the free joint has none): the noisy pose stays feasible.
    ranges = model.jnt_range[1 : 1 + joints]
    qpos[joint_qpos_start : joint_qpos_start + joints] = np.clip(angles, ranges[:, 0], ranges[:, 1])
    qvel[0:3] = (nxt.root_pos - now.root_pos) / control_dt  # world frame, m/s
    qvel[3:6] = body_angular_velocity(now.root_quat, nxt.root_quat, control_dt)
    qvel[joint_qvel_start : joint_qvel_start + joints] = (
        now.joint_vel + rng.uniform(-1, 1, joints) * settings.joint_vel_noise_rad_s)
    lift_out_of_floor(model, data)


def body_angular_velocity(quat_now: np.ndarray, quat_next: np.ndarray, dt: float) -> np.ndarray:
    """[3] angular velocity (rad/s) in the body frame taking wxyz ``quat_now`` to ``quat_next`` in ``dt`` s
    (MuJoCo's free-joint convention: qvel[3:6] is the local angular velocity)."""
    conjugate = quat_now * np.array([1.0, -1.0, -1.0, -1.0])
    delta = quat_multiply(conjugate, quat_next)  # body-frame rotation over dt
    if delta[0] < 0:
        delta = -delta
    sin_half = float(np.linalg.norm(delta[1:]))
    if sin_half < 1e-12:
        return np.zeros(3)
    angle = 2.0 * np.arctan2(sin_half, float(delta[0]))
    return delta[1:] / sin_half * angle / dt


def lift_out_of_floor(model: mujoco.MjModel, data: mujoco.MjData) -> float:
    """Raise the root so the deepest robot-scene penetration becomes ``FLOOR_CLEARANCE_M``; returns the lift, m.

    Contacts come from ``mj_forward`` (collision detection); only penetrations (negative distance) between the
    robot and something else (floor, chair) count, so a robot already clear of the scene is not moved.
    """
    mujoco.mj_forward(model, data)
    robot_root = int(model.body_rootid[model.jnt_bodyid[0]])  # the free joint's body tree = the robot
    on_robot = model.body_rootid[model.geom_bodyid] == robot_root
    geoms, distances = data.contact.geom[: data.ncon], data.contact.dist[: data.ncon]
    across = on_robot[geoms[:, 0]] != on_robot[geoms[:, 1]]
    deepest = float(distances[across].min()) if across.any() else 0.0
    lift = max(0.0, -deepest) + (FLOOR_CLEARANCE_M if deepest < 0 else 0.0)
    if lift > 0:
        data.qpos[2] += lift
        mujoco.mj_forward(model, data)
    return lift
