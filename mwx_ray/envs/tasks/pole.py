"""HumanoidBench ``pole``: walk forward at ≥ 0.5 m/s through a forest of thin vertical poles.

Reward (``course_terms.pole_reward``, HumanoidBench ``envs/pole.py``):
    (0.5 · small_control · standing · upright + 0.5 · move(0.5 m/s)) · collision_discount
with collision_discount = 0.1 on steps where the robot touches any pole (not the corridor walls), else 1.
Terminates when ``qpos[2] < 0.5`` m; 1000 steps; success bar 700.

Scene (``envs/courses.py``, HumanoidBench ``generated_xml_poles.xml``): 41 rows of 2 m tall, 5 cm radius
poles every 1 m from x = 1 m, alternating 4 poles (y = ±0.75, ±2.25) and 3 poles (y = 0, ±1.5), in a lane
bounded by walls at |y| ≥ 3 m and a wall 0.45 m behind the start.
"""

from __future__ import annotations

from typing import ClassVar

from mwx_ray.envs import courses
from mwx_ray.envs.context import GeomContactMask, StepContext
from mwx_ray.envs.task import Task
from mwx_ray.rewards.course_terms import pole_reward
from mwx_ray.robots.spec import RobotSpec

FALL_PELVIS_HEIGHT_M = 0.5  # HumanoidBench Pole.get_terminated: qpos[2] < 0.5

POLES_BODY = "poles"
WALLS_BODY = "pole_course_walls"


class PoleTask(Task):
    name = "pole"
    description = (
        "Walk forward along the x-axis at 0.5 m/s or faster through a dense forest of thin vertical poles "
        "without touching any of them."
    )
    episode_steps: ClassVar[int] = 1000
    success_bar = 700.0

    def __init__(self):
        self._poles: GeomContactMask  # set in bind()

    def build(self, spec, robot: RobotSpec) -> None:
        courses.add_walls(spec, courses.POLE_COURSE_WALLS, body_name=WALLS_BODY)
        courses.add_poles(spec, body_name=POLES_BODY)

    def bind(self, ctx: StepContext) -> None:
        self._poles = GeomContactMask(ctx.model, ctx.body_geom_ids(POLES_BODY))

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return pole_reward(
            ctx.head_z, ctx.torso_zz, ctx.actuator_force, ctx.com_vx, self._poles.touching(ctx.data)
        )

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < FALL_PELVIS_HEIGHT_M
