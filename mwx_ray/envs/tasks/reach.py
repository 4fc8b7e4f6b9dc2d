"""HumanoidBench ``reach``: bring the left hand to a random 3-D goal and keep it there.

Reward (``mwx_ray.rewards.skill_terms.reach_reward``)::

    5·pelvis_zz − 1e-4·‖qvel_robot‖² + 5·[‖hand − goal‖ < 1 m] + 10·[‖hand − goal‖ < 0.05 m]

Never terminates; 1000 steps; success bar 12000.

Goal: uniform in [−2, 2] × [−2, 2] × [0.2, 2] m (world frame), drawn once per episode in ``reset`` from the env's
generator and **kept fixed for the episode** — HumanoidBench's ``Reach.reset_model`` samples it only on reset
(never on reaching it). A visual-only mocap sphere (``props.add_goal_marker``) shows it in videos; it has no qpos,
so the observation is concat(qpos 26, qvel 25, left-hand position 3, goal 3) = 57, as in HumanoidBench.

The upright term reads ``xmat[1].zz``: body 1 is the pelvis in HumanoidBench's model (the reference table calls it
torso_zz); we read the root body explicitly, which is the pelvis here too.
"""

from __future__ import annotations

from typing import ClassVar

import mujoco
import numpy as np

from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_goal_marker, mocap_index, set_mocap_pos
from mwx_ray.envs.task import Task
from mwx_ray.rewards.skill_terms import reach_reward
from mwx_ray.robots.spec import RobotSpec

REACH_GOAL_LOW_M = (-2.0, -2.0, 0.2)  # HumanoidBench Reach.target_low
REACH_GOAL_HIGH_M = (2.0, 2.0, 2.0)  # HumanoidBench Reach.target_high


class ReachTask(Task):
    name = "reach"
    description = "Stay upright and move your left hand to the red goal sphere, then hold it there."
    episode_steps: ClassVar[int] = 1000
    success_bar = 12000.0
    extra_obs_dim: ClassVar[int] = 6

    def __init__(self) -> None:
        self.goal = np.zeros(3)  # world frame, m; resampled every reset
        self._obs = np.zeros(self.extra_obs_dim)

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self._marker_body_name = add_goal_marker(spec)

    def bind(self, ctx: StepContext) -> None:
        self._hand_pos = ctx.data.site_xpos[ctx.site_id("left_hand")]  # live view, [3]
        self._root_body = ctx.body_id(ctx.robot.root_body)
        self._robot_qvel = ctx.data.qvel[: ctx.robot_nv]  # live view
        self._marker = mocap_index(ctx.model, self._marker_body_name)

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self.goal[:] = rng.uniform(REACH_GOAL_LOW_M, REACH_GOAL_HIGH_M)
        set_mocap_pos(ctx.data, self._marker, self.goal)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return reach_reward(
            hand_pos=self._hand_pos,
            goal_pos=self.goal,
            root_zz=float(ctx.data.xmat[self._root_body, 8]),
            robot_qvel=self._robot_qvel,
        )

    def terminated(self, ctx: StepContext) -> bool:
        return False  # HumanoidBench Reach never terminates

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Left-hand site position then goal, world frame, m, [6] (reused buffer; the env copies it)."""
        self._obs[0:3] = self._hand_pos
        self._obs[3:6] = self.goal
        return self._obs
