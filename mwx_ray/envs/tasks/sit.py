"""HumanoidBench ``sit_simple`` and ``sit_hard``: sit down on a chair and stay seated.

Reward (``mwx_ray.rewards.skill_terms.sit_reward``)::

    small_control · (0.5·sitting + 0.5·on_chair) · upright95 · posture · dont_move
    sitting   = tol(pelvis z, (0.68, 0.72), margin 0.2)
    on_chair  = tol(pelvis x − chair x, (−0.19, 0.19), margin 0.2) · tol(pelvis y − chair y, margin 0.1)
    posture   = tol(head z − imu z, (0.35, 0.45), margin 0.3)
    upright95 = tol(torso zz, (0.95, inf), linear, margin 0.9, value 0)

Terminates when ``qpos[2] < 0.5`` m; 1000 steps; success bar 750.

Scene (``mwx_ray.envs.props.add_chair``, HumanoidBench ``sit_simple.xml``/``sit_hard.xml``): the chair's seat centre
is 0.25 m behind the robot's start (chair origin (−0.25, 0), backrest towards −x), seat top 0.475 m. On our
primitive-collision H1 a seated pose (hips and knees at 90°) rests at pelvis z ≈ 0.70 m with head − imu ≈ 0.41 m,
i.e. inside both reward bands, so HumanoidBench's dimensions are kept unchanged.

sit_hard, as HumanoidBench's ``SitHard.reset_model`` actually does it: the chair is a **free** body left at
(−0.25, 0), and the **robot** starts at a random pose: pelvis x ∈ U[0.2, 0.4], y ∈ U[−0.15, 0.15] m, yaw ∈
U[−1.8, 1.8] rad (HumanoidBench overwrites ``qpos[0]``, ``qpos[1]``, ``qpos[3:7]``, the robot's free joint, after
the reset noise). So the chair is 0.45–0.65 m away, behind or beside the robot. Draws come from the env's
generator (HumanoidBench uses numpy's global RNG).
"""

from __future__ import annotations

import math
from typing import ClassVar

import mujoco
import numpy as np

from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import CHAIR_DEFAULT_XY, add_chair
from mwx_ray.envs.task import Task
from mwx_ray.rewards.skill_terms import sit_reward
from mwx_ray.robots.spec import RobotSpec

SIT_FALL_PELVIS_HEIGHT_M = 0.5  # HumanoidBench Sit.get_terminated: qpos[2] < 0.5

# sit_hard start pose ranges (HumanoidBench SitHard.reset_model), world frame.
SIT_HARD_ROBOT_X_RANGE_M = (0.2, 0.4)
SIT_HARD_ROBOT_Y_RANGE_M = (-0.15, 0.15)
SIT_HARD_ROBOT_YAW_RANGE_RAD = (-1.8, 1.8)


class SitSimpleTask(Task):
    """Sit on a fixed chair placed just behind the robot."""

    name = "sit_simple"
    description = "Sit down on the chair just behind you and stay seated upright and still."
    episode_steps: ClassVar[int] = 1000
    success_bar = 750.0
    chair_is_free: ClassVar[bool] = False

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self._chair_body_name = add_chair(spec, CHAIR_DEFAULT_XY, yaw=0.0, free=self.chair_is_free)

    def bind(self, ctx: StepContext) -> None:
        self._imu_site = ctx.site_id("imu")
        self._chair_body = ctx.body_id(self._chair_body_name)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        qpos = ctx.qpos
        chair = ctx.body_pos(self._chair_body)
        return sit_reward(
            pelvis_xy=qpos[0:2],
            pelvis_z=float(qpos[2]),
            head_z=ctx.head_z,
            imu_z=float(ctx.site_pos(self._imu_site)[2]),
            torso_zz=ctx.torso_zz,
            chair_xy=chair[0:2],
            com_vel_xy=ctx.com_velocity[0:2],
            actuator_force=ctx.actuator_force,
        )

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < SIT_FALL_PELVIS_HEIGHT_M


class SitHardTask(SitSimpleTask):
    """Sit on a free (pushable) chair from a random start position and heading."""

    name = "sit_hard"
    description = (
        "Turn and walk to the movable chair near you, then sit down on it and stay seated upright and still."
    )
    chair_is_free: ClassVar[bool] = True

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        # Same draw order as HumanoidBench (x, y, yaw); overwrites the noisy root pose, keeps the noisy height.
        qpos = ctx.data.qpos
        qpos[0] = rng.uniform(*SIT_HARD_ROBOT_X_RANGE_M)
        qpos[1] = rng.uniform(*SIT_HARD_ROBOT_Y_RANGE_M)
        half_yaw = 0.5 * rng.uniform(*SIT_HARD_ROBOT_YAW_RANGE_RAD)
        qpos[3:7] = (math.cos(half_yaw), 0.0, 0.0, math.sin(half_yaw))
