"""HumanoidBench locomotion tasks on flat ground: ``stand``, ``walk``, ``run``.

Per humanoidbench.md "Tasks (h1)":
    stand: small_control · stand_reward · dont_move          success bar 800
    walk : small_control · stand_reward · move(1 m/s)         success bar 700
    run  : small_control · stand_reward · move(5 m/s)         success bar 700
All terminate when the pelvis height ``qpos[2] < 0.2`` m and last 1000 steps (20 s at 50 Hz).
"""

from __future__ import annotations

import math
from typing import ClassVar

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.task import Task
from mwx_ray.rewards import humanoid_terms as terms
from mwx_ray.rewards.kernels import tolerance

FALL_PELVIS_HEIGHT_M = 0.2  # HumanoidBench: terminated when qpos[2] < 0.2


class _FlatGroundTask(Task):
    """Shared reward head (small_control · stand_reward) and fall termination."""

    episode_steps: ClassVar[int] = 1000

    def _stand_terms(self, ctx: StepContext) -> tuple[float, float, float]:
        standing = terms.standing(ctx.head_z)
        upright = terms.upright(ctx.torso_zz)
        small_control = terms.small_control(ctx.actuator_force)
        return standing, upright, small_control

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < FALL_PELVIS_HEIGHT_M


def half_paid(term: float) -> float:
    """``(term + 1) / 2``: a training-only shaping factor in [0.5, 1] (a floor like the one in HumanoidBench's
    ``(5·move + 1) / 6``, but at one half), so a robot that misses the shaped condition keeps half its reward and
    still learns not to fall."""
    return (term + 1.0) / 2.0


class StandTask(_FlatGroundTask):
    name = "stand"
    description = "Stand still and upright on flat ground without moving."
    success_bar = 800.0

    def __init__(self, rest_margin_mps: float | None = None):
        self.rest_margin_mps = rest_margin_mps  # training-only shaping (TaskSection.stand); None = HumanoidBench

    @classmethod
    def from_config(cls, settings: TaskSection) -> StandTask:
        return cls(rest_margin_mps=settings.stand.rest_margin_mps)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        standing, upright, small_control = self._stand_terms(ctx)
        dont_move = terms.dont_move(ctx.com_velocity[:2])
        reward = small_control * standing * upright * dont_move
        parts = {"standing": standing, "upright": upright, "small_control": small_control, "dont_move": dont_move}
        if self.rest_margin_mps is not None:
            # (at_rest + 1) / 2, the shape of HumanoidBench's move term: a moving robot keeps half its reward, so
            # not falling still pays while it slows down (a plain product paid ~0 above 1 m/s and training forgot
            # to stay up: stand evaluation 396 -> 94 in 120k steps).
            parts["at_rest"] = tolerance(math.hypot(*ctx.com_velocity[:2]), margin=self.rest_margin_mps)
            reward *= half_paid(parts["at_rest"])
        return reward, parts


class _MoveForwardTask(_FlatGroundTask):
    target_speed_mps: ClassVar[float]

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        standing, upright, small_control = self._stand_terms(ctx)
        move = terms.move(ctx.com_vx, self.target_speed_mps)
        reward = small_control * standing * upright * move
        return reward, {
            "standing": standing,
            "upright": upright,
            "small_control": small_control,
            "move": move,
        }


class WalkTask(_MoveForwardTask):
    name = "walk"
    description = "Walk forward along the x-axis at about 1 m/s while staying upright."
    success_bar = 700.0
    target_speed_mps = terms.WALK_SPEED_MPS
    # Where the training-only speed-limit term (TaskSection.walk) has fallen to 0.1: 0.5 m/s over the limit.
    SLOW_MARGIN_MPS: ClassVar[float] = 0.5

    def __init__(self, max_speed_mps: float | None = None):
        self.max_speed_mps = max_speed_mps  # training-only shaping (TaskSection.walk); None = HumanoidBench

    @classmethod
    def from_config(cls, settings: TaskSection) -> WalkTask:
        return cls(max_speed_mps=settings.walk.max_speed_mps)

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        reward, parts = super().reward(ctx)
        if self.max_speed_mps is not None:
            # Too fast still pays half, so slowing down from a run is learned without first learning to fall.
            parts["slow"] = tolerance(ctx.com_vx, bounds=(-math.inf, self.max_speed_mps),
                                      margin=self.SLOW_MARGIN_MPS)
            reward *= half_paid(parts["slow"])
        return reward, parts


class RunTask(_MoveForwardTask):
    name = "run"
    description = "Run forward along the x-axis at 5 m/s or faster while staying upright."
    success_bar = 700.0
    target_speed_mps = terms.RUN_SPEED_MPS
