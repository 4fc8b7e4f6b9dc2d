"""HumanoidBench ``crawl``: move forward through a low tunnel.

Reward (``mwx_ray.rewards.skill_terms.crawl_reward``)::

    (0.1·small_control + 0.25·min(crawling, crawling_head) + 0.4·move(1 m/s) + 0.25·pelvis_orientation) · in_tunnel
    crawling / crawling_head = tol(imu z / head z, (0.6, 1.0), margin 1)
    pelvis_orientation      = tol(‖pelvis xquat − (0.75, 0, 0.65, 0)‖, margin 1)
    in_tunnel               = [−1 ≤ imu y ≤ 1]

Never terminates (training may end episodes whose head drops below ``env.task.crawl.min_head_height_m``, and
may move the tunnel's entrance per episode within ``env.task.crawl.tunnel_start_x_m``); 1000 steps; success bar 700.

Scene (``mwx_ray.envs.props.add_tunnel``, HumanoidBench ``crawl.xml``): a 16 m tunnel from x = 2.2 m along +x,
inner width 2.3 m, ceiling underside at 1.15 m (the robot must lower its head from ~1.68 m to get in).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import mujoco
import numpy as np

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.props import add_tunnel
from mwx_ray.envs.task import Task
from mwx_ray.rewards.skill_terms import crawl_reward
from mwx_ray.robots.spec import RobotSpec


class CrawlTask(Task):
    name = "crawl"
    description = "Crouch low and crawl forward along the x-axis through the low tunnel ahead."
    episode_steps: ClassVar[int] = 1000
    success_bar = 700.0

    def __init__(self, min_head_height_m: float | None = None, tunnel_start_x_m: Sequence[float] | None = None):
        # Both training-only (TaskSection.crawl); None = HumanoidBench.
        self.min_head_height_m = min_head_height_m
        self.tunnel_start_x_m = tunnel_start_x_m

    @classmethod
    def from_config(cls, settings: TaskSection) -> CrawlTask:
        return cls(min_head_height_m=settings.crawl.min_head_height_m,
                   tunnel_start_x_m=settings.crawl.tunnel_start_x_m)

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self._tunnel_name = add_tunnel(spec)

    def bind(self, ctx: StepContext) -> None:
        # The tunnel is a static body: moving its model position moves its geoms at the next mj_forward.
        self._tunnel_pos = ctx.model.body_pos[ctx.body_id(self._tunnel_name)]  # live view, [3]
        self._imu_pos = ctx.data.site_xpos[ctx.site_id("imu")]  # live view, [3]
        # HumanoidBench reads the pelvis body's xquat (derived, start of the last substep), not qpos[3:7].
        self._pelvis_quat = ctx.data.xquat[ctx.body_id(ctx.robot.root_body)]  # live view, [4]

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        if self.tunnel_start_x_m is not None:
            low, high = self.tunnel_start_x_m
            self._tunnel_pos[0] = rng.uniform(low, high)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        imu = self._imu_pos
        return crawl_reward(
            actuator_force=ctx.actuator_force,
            com_vx=ctx.com_vx,
            head_z=ctx.head_z,
            imu_z=float(imu[2]),
            pelvis_quat=self._pelvis_quat,
            imu_y=float(imu[1]),
        )

    def terminated(self, ctx: StepContext) -> bool:
        # HumanoidBench's Crawl.get_terminated is always False; the optional floor is a training-only shaping.
        return self.min_head_height_m is not None and ctx.head_z < self.min_head_height_m
