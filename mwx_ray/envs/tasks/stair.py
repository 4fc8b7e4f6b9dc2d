"""HumanoidBench ``stair`` and ``slide``: walk forward at 1 m/s over stairs / ramps, up and down.

Both share HumanoidBench's ``ClimbingUpwards`` reward (``course_terms.climb_reward``):
    small_control · standing' · upright(torso_zz ≥ 0.5, linear, margin 1.9) · move(1 m/s)
    standing' = tol(head_z − left_foot_z, (1.2, inf), margin 0.45) · tol(head_z − right_foot_z, ...)
Head height is measured from each foot site, so standing tall on a step is fully rewarded. Terminates when
``torso_zz < 0.1`` (torso tilted beyond ~84°); 1000 steps; success bar 700. Nothing is discounted on contact.

Scenes (``envs/courses.py``):
    stair: 4 staircases (5 steps of 0.18 m rise / 0.6 m tread up to 0.9 m, then 5 down) centred at
           x = 3.2, 9.2, 15.2, 21.2 m (HumanoidBench ``generated_xml_stairs.xml``);
    slide: 9 ridges, each a 5 m ramp up to 1.75 m then 5 m down, starting at x = 0.3 m, every 10 m
           (HumanoidBench ``assets/tasks/slide.xml``);
each in a 10 m wide lane with walls on both sides and behind the start.
"""

from __future__ import annotations

from typing import ClassVar

from mwx_ray.envs import courses
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.task import Task
from mwx_ray.rewards.course_terms import climb_reward
from mwx_ray.robots.spec import RobotSpec

FALLEN_TORSO_ZZ = 0.1  # HumanoidBench ClimbingUpwards.get_terminated: torso_upright() < 0.1


class _ClimbTask(Task):
    """Shared reward, termination and foot-site binding of stair and slide; subclasses add the terrain."""

    episode_steps: ClassVar[int] = 1000
    success_bar = 700.0

    def __init__(self):
        self._left_foot = self._right_foot = -1

    def bind(self, ctx: StepContext) -> None:
        self._left_foot = ctx.site_id("left_foot")
        self._right_foot = ctx.site_id("right_foot")

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return climb_reward(
            ctx.head_z,
            float(ctx.site_pos(self._left_foot)[2]),
            float(ctx.site_pos(self._right_foot)[2]),
            ctx.torso_zz,
            ctx.actuator_force,
            ctx.com_vx,
        )

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.torso_zz < FALLEN_TORSO_ZZ


class StairTask(_ClimbTask):
    name = "stair"
    description = (
        "Walk forward along the x-axis at 1 m/s, climbing up and down a series of staircases "
        "while staying upright."
    )

    def build(self, spec, robot: RobotSpec) -> None:
        courses.add_walls(spec, courses.STAIR_COURSE_WALLS, body_name="stair_course_walls")
        courses.add_stairs(spec)


class SlideTask(_ClimbTask):
    name = "slide"
    description = (
        "Walk forward along the x-axis at 1 m/s, up and down a series of steep ramps while staying upright."
    )

    def build(self, spec, robot: RobotSpec) -> None:
        courses.add_walls(spec, courses.SLIDE_COURSE_WALLS, body_name="slide_course_walls")
        courses.add_slide(spec)
