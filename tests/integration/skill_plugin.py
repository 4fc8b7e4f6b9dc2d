"""A skill added from outside the package, the way a user adds one: one module, named in ``run.plugins``.

``squat``: a new task (head height follows a slow squat rhythm while the feet stay put), a new skill imitating
the built-in ``squat`` motion, and a composite task ``stand_then_squat`` that calls for stand, then squat. Nothing
in mwx_ray is edited for it (``tests/integration/test_skill_plugin.py`` trains, evaluates and routes it).
"""

from __future__ import annotations

import math

from mwx_ray.envs import register_task
from mwx_ray.envs.composite import CompositeTask, HoldCounter, Stage
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.skills import SkillSpec, register_skill
from mwx_ray.envs.stages import StandStill
from mwx_ray.envs.task import Task
from mwx_ray.rewards import humanoid_terms as terms
from mwx_ray.rewards.kernels import tolerance

SQUAT_PERIOD_S = 2.0
SQUAT_HEAD_RANGE_M = (1.2, 1.65)  # head height between a half squat and standing tall


def squat_reward(ctx: StepContext) -> tuple[float, dict[str, float]]:
    """Upright torso × head at the height of a 2 s squat rhythm × little horizontal motion, in [0, 1]."""
    low, high = SQUAT_HEAD_RANGE_M
    phase = 0.5 * (1.0 + math.cos(2.0 * math.pi * float(ctx.data.time) / SQUAT_PERIOD_S))
    target = low + (high - low) * phase
    height = tolerance(ctx.head_z, bounds=(target - 0.05, target + 0.05), margin=0.3)
    upright, still = terms.upright(ctx.torso_zz), terms.dont_move(ctx.com_velocity[:2])
    return upright * height * still, {"height": height, "upright": upright, "dont_move": still}


class SquatTask(Task):
    name = "squat"
    description = "Squat down and stand up again in a slow steady rhythm without stepping."
    success_bar = 700.0
    episode_steps = 500

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        return squat_reward(ctx)

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < 0.4


class SquatStage(Stage):
    """Squat for 2 s; complete once the rhythm was followed for 1 s."""

    def __init__(self, name: str = "squat", description: str = SquatTask.description):
        super().__init__(name, "squat", description)
        self.hold = HoldCounter(50)

    def reset(self, ctx, rng) -> None:
        self.hold.reset()

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        reward, parts = squat_reward(ctx)
        self._following = parts["height"] > 0.5
        return reward, parts

    def complete(self, ctx: StepContext) -> bool:
        return self.hold.update(self._following)


class StandThenSquat(CompositeTask):
    name = "stand_then_squat"
    description = "Stand still for a moment, then squat down and up in a slow rhythm."
    episode_steps = 400

    def make_stages(self):
        return (StandStill("stand", hold_steps=25), SquatStage("squat"))


register_skill(SkillSpec(name="squat", task="squat", clip="squat", cyclic=True, task_cls=SquatTask,
                         stage=SquatStage))
register_task(StandThenSquat)
