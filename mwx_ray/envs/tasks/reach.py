"""HumanoidBench ``reach``: bring the left hand to a random 3-D goal and keep it there.

Reward (``mwx_ray.rewards.skill_terms.reach_reward``)::

    5·pelvis_zz − 1e-4·‖qvel_robot‖² + 5·[‖hand − goal‖ < 1 m] + 10·[‖hand − goal‖ < 0.05 m]

Never terminates; 1000 steps; success bar 12000.

Goal: uniform in [−2, 2] × [−2, 2] × [0.2, 2] m (world frame), drawn once per episode in ``reset`` from the env's
generator and **kept fixed for the episode** — HumanoidBench's ``Reach.reset_model`` samples it only on reset
(never on reaching it). A visual-only mocap sphere (``props.add_goal_marker``) shows it in videos; it has no qpos,
so the observation is concat(qpos 26, qvel 25, left-hand position 3, goal 3) = 57, as in HumanoidBench.

Training only (``env.task.reach``, dropped by ``TaskSection.for_evaluation``): goals within arm's reach of where
the episode starts (``goal_from_pelvis_m``, re-placed by ``restart`` after a hand-over prelude), a dense reward
(``dense_reward``: the stand task's reward, at-rest term included when ``env.task.stand.rest_margin_mps`` is set,
times ``(1 + closeness) / 2`` with the closeness of composite reach stages; HumanoidBench's upright-only term let
an earlier try walk away from its goals), and an end to fallen episodes (``min_pelvis_height_m``).

The upright term reads ``xmat[1].zz``: body 1 is the pelvis in HumanoidBench's model (the reference table calls it
torso_zz); we read the root body explicitly, which is the pelvis here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import mujoco
import numpy as np

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_goal_marker, mocap_index, set_mocap_pos
from mwx_ray.envs.task import Task
from mwx_ray.envs.tasks.locomotion import StandTask, half_paid
from mwx_ray.rewards.skill_terms import reach_closeness, reach_reward
from mwx_ray.robots.spec import RobotSpec

REACH_GOAL_LOW_M = (-2.0, -2.0, 0.2)  # HumanoidBench Reach.target_low
REACH_GOAL_HIGH_M = (2.0, 2.0, 2.0)  # HumanoidBench Reach.target_high


class ReachTask(Task):
    name = "reach"
    description = "Stay upright and move your left hand to the red goal sphere, then hold it there."
    episode_steps: ClassVar[int] = 1000
    success_bar = 12000.0
    extra_obs_dim: ClassVar[int] = 6

    def __init__(self, goal_from_pelvis_m: Sequence[Sequence[float]] | None = None, dense_reward: bool = False,
                 min_pelvis_height_m: float | None = None, rest_margin_mps: float | None = None):
        # All training-only (TaskSection.reach, .stand); None/False = HumanoidBench.
        self.goal_box = None if goal_from_pelvis_m is None else np.asarray(goal_from_pelvis_m, dtype=float)
        self.stand = StandTask(rest_margin_mps=rest_margin_mps) if dense_reward else None
        self.min_pelvis_height_m = min_pelvis_height_m
        self.goal = np.zeros(3)  # world frame, m; resampled every reset
        self._obs = np.zeros(self.extra_obs_dim)

    @classmethod
    def from_config(cls, settings: TaskSection) -> ReachTask:
        reach = settings.reach
        return cls(goal_from_pelvis_m=reach.goal_from_pelvis_m, dense_reward=reach.dense_reward,
                   min_pelvis_height_m=reach.min_pelvis_height_m, rest_margin_mps=settings.stand.rest_margin_mps)

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self._marker_body_name = add_goal_marker(spec)

    def bind(self, ctx: StepContext) -> None:
        self._hand_pos = ctx.data.site_xpos[ctx.site_id("left_hand")]  # live view, [3]
        self._root_body = ctx.body_id(ctx.robot.root_body)
        self._robot_qvel = ctx.data.qvel[: ctx.robot_nv]  # live view
        self._marker = mocap_index(ctx.model, self._marker_body_name)

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        if self.goal_box is None:
            self.goal[:] = rng.uniform(REACH_GOAL_LOW_M, REACH_GOAL_HIGH_M)
            set_mocap_pos(ctx.data, self._marker, self.goal)
        else:
            self.restart(ctx, rng)

    def restart(self, ctx: StepContext, rng: np.random.Generator) -> None:
        if self.goal_box is None:
            return  # HumanoidBench's goal is drawn once per reset, in world coordinates
        self.goal[:] = rng.uniform(self.goal_box[0], self.goal_box[1])
        self.goal[:2] += ctx.root_pos[:2]
        set_mocap_pos(ctx.data, self._marker, self.goal)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        if self.stand is not None:
            stand, parts = self.stand.reward(ctx)
            closeness, closeness_parts = reach_closeness(float(np.linalg.norm(self._hand_pos - self.goal)))
            return stand * half_paid(closeness), {**parts, **closeness_parts, "reach_closeness": closeness}
        return reach_reward(
            hand_pos=self._hand_pos,
            goal_pos=self.goal,
            root_zz=float(ctx.data.xmat[self._root_body, 8]),
            robot_qvel=self._robot_qvel,
        )

    def terminated(self, ctx: StepContext) -> bool:
        # HumanoidBench's Reach never terminates; the optional floor is a training-only shaping.
        return self.min_pelvis_height_m is not None and ctx.pelvis_z < self.min_pelvis_height_m

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Left-hand site position then goal, world frame, m, [6] (reused buffer; the env copies it)."""
        self._obs[0:3] = self._hand_pos
        self._obs[3:6] = self.goal
        return self._obs
