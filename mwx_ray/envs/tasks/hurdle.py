"""HumanoidBench ``hurdle``: run at 5 m/s down a walled lane over a row of low hurdles.

Reward (``course_terms.hurdle_reward``, HumanoidBench ``Hurdle``):
    small_control · standing · upright(torso_zz ≥ 0.8) · move(5 m/s) · wall_discount
with wall_discount = 0.1 on steps where the robot touches a corridor wall, else 1. Terminates when the pelvis
height ``qpos[2] < 0.2`` m; 1000 steps; success bar 700.

Scene (``envs/courses.py``, HumanoidBench ``generated_xml_hurdles.xml``): 10 hurdles 0.375 m high and 6 cm
thick every 7 m from x = 7 m, across a lane bounded by side walls at |y| ≥ 4.45 m and a wall 0.475 m behind
the start.

Which contacts are discounted: HumanoidBench's ``Hurdle.get_reward`` discounts contacts with the three
``*_barrier_collision`` walls only; hitting a hurdle costs nothing directly (the robot trips and slows down).
That is our default (parity). ``env.task.hurdle.discount_hurdle_contact: true`` (``make_env("hurdle",
task={"hurdle": {"discount_hurdle_contact": True}}``) also discounts contacts with the hurdles themselves.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs import courses
from mwx_ray.envs.context import GeomContactMask, StepContext
from mwx_ray.envs.task import Task
from mwx_ray.rewards.course_terms import hurdle_reward
from mwx_ray.robots.spec import RobotSpec

FALL_PELVIS_HEIGHT_M = 0.2  # HumanoidBench Hurdle inherits Walk: terminated when qpos[2] < 0.2

WALLS_BODY = "hurdle_course_walls"
HURDLES_BODY = "hurdles"


class HurdleTask(Task):
    name = "hurdle"
    description = (
        "Run forward along the x-axis at 5 m/s, jumping over the low hurdles placed every 7 m, "
        "without falling or touching the side walls."
    )
    episode_steps: ClassVar[int] = 1000
    success_bar = 700.0

    def __init__(self, discount_hurdle_contact: bool = False):
        self.discount_hurdle_contact = discount_hurdle_contact
        self._walls: GeomContactMask  # set in bind()

    @classmethod
    def from_config(cls, settings: TaskSection) -> HurdleTask:
        return cls(discount_hurdle_contact=settings.hurdle.discount_hurdle_contact)

    def build(self, spec, robot: RobotSpec) -> None:
        courses.add_walls(spec, courses.HURDLE_COURSE_WALLS, body_name=WALLS_BODY)
        courses.add_hurdles(spec, body_name=HURDLES_BODY)

    def bind(self, ctx: StepContext) -> None:
        geoms = [ctx.body_geom_ids(WALLS_BODY)]
        if self.discount_hurdle_contact:
            geoms.append(ctx.body_geom_ids(HURDLES_BODY))
        self._walls = GeomContactMask(ctx.model, np.concatenate(geoms))

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return hurdle_reward(
            ctx.head_z, ctx.torso_zz, ctx.actuator_force, ctx.com_vx, self._walls.touching(ctx.data)
        )

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < FALL_PELVIS_HEIGHT_M
