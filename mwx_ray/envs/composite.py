"""Composite multi-stage tasks: the tasks on which the router must compose experts.

A :class:`CompositeTask` is an ordered list of :class:`Stage` objects plus a natural-language instruction.
Each stage names the *skill* (expert) it calls for, rewards progress with the same kernels as the single-skill
tasks, and has a completion predicate. Only the active stage is rewarded; completing it pays
``STAGE_BONUS`` once and activates the next one. After the last stage completes, its reward keeps being paid
(keep standing, keep sitting, keep walking) until the episode is truncated, so finishing early is never a
reason to dawdle or to end the episode.

``info`` every step: ``stage`` (index of the active stage), ``stage_skill`` (its skill name),
``stages_completed``; at episode end: ``stage_success/<stage name>`` for every stage and ``success`` = all
stages completed. Observation: robot qpos (26) and qvel (25) first — composite scenes have no free bodies,
so this prefix is exactly a locomotion expert's observation — then the task's extra entries (targets), then
one clock entry per skill in ``clock_skills``.

Clocks: an expert that imitates a clip through its phase (the sit expert: its clip's pose plus a residual) needs
to know how long it has been at work. For each skill in ``clock_skills`` the task counts control steps since the
first stage calling for that skill became active (0 until then) and appends the count as the last extras; the
expert's own clip clock (``mwx_ray.experts.clip_clock``) turns it into its phase.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import mujoco
import numpy as np

from mwx_ray.envs.context import StepContext
from mwx_ray.envs.task import Task
from mwx_ray.robots.spec import RobotSpec

# Per-step stage rewards are in [0, 1] (HumanoidBench scale). A completed stage pays 50 = one second (50 steps)
# of perfect reward: a clear event in the return, yet small next to a 1000-step episode. Our choice.
STAGE_BONUS = 50.0


class Stage(abc.ABC):
    """One step of a composite task.

    Attributes:
        name: unique within the task, used in ``stage_success/<name>``.
        skill: the expert skill this stage calls for (``stand``, ``walk``, ``run``, ``sit``, ``reach``,
            ``crawl``); the oracle teacher labels frames with it.
        description: what the robot should do in this stage, one short sentence (VLM prompts use it).
        fall_pelvis_z_m: the episode terminates if the pelvis drops below this height (m) in this stage.
    """

    fall_pelvis_z_m: float = 0.2  # HumanoidBench locomotion termination

    def __init__(self, name: str, skill: str, description: str):
        self.name, self.skill, self.description = name, skill, description

    def bind(self, ctx: StepContext) -> None:  # noqa: B027 - optional hook
        """Cache model ids (called once after compilation)."""

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:  # noqa: B027 - optional hook
        """Clear per-episode state (hold counters); called at every env reset."""

    @abc.abstractmethod
    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        """Reward in [0, 1] while this stage is active, with its named terms."""

    @abc.abstractmethod
    def complete(self, ctx: StepContext) -> bool:
        """Whether the stage's goal is reached (checked after :meth:`reward`, every step it is active)."""


class HoldCounter:
    """Counts consecutive steps a condition has held (``hold_steps`` at 50 Hz: 50 = 1 s)."""

    def __init__(self, hold_steps: int):
        self.hold_steps = hold_steps
        self.count = 0

    def update(self, condition: bool) -> bool:
        self.count = self.count + 1 if condition else 0
        return self.count >= self.hold_steps

    def reset(self) -> None:
        self.count = 0


class HeldStage(Stage):
    """A stage complete once its condition has held for ``hold_steps`` consecutive steps: ``reward`` sets
    ``self.holding`` (it computes the terms the condition reads), ``complete`` counts it."""

    def __init__(self, name: str, skill: str, description: str, hold_steps: int):
        super().__init__(name, skill, description)
        self.hold = HoldCounter(hold_steps)
        self.holding = False

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self.hold.reset()
        self.holding = False

    def complete(self, ctx: StepContext) -> bool:
        return self.hold.update(self.holding)


class CompositeTask(Task):
    """An ordered sequence of stages with an instruction (``description``). Subclasses set ``make_stages``.

    ``success_bar`` is not a return threshold here: success means every stage was completed.
    """

    success_bar: ClassVar[float] = float("nan")
    stage_bonus: ClassVar[float] = STAGE_BONUS
    clock_skills: ClassVar[tuple[str, ...]] = ()  # skills whose clock entries end the extras (module docstring)

    def __init__(self) -> None:
        self.stages: tuple[Stage, ...] = tuple(self.make_stages())
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"{type(self).__name__}: stage names must be unique, got {names}")
        self.active = 0
        self.completed = [False] * len(self.stages)
        skills = {stage.skill for stage in self.stages}
        if missing := [skill for skill in self.clock_skills if skill not in skills]:
            raise ValueError(f"{type(self).__name__}: clock_skills {missing} are not the skill of any stage")
        if self.extra_obs_dim < len(self.clock_skills):
            raise ValueError(f"{type(self).__name__}: extra_obs_dim {self.extra_obs_dim} has no room for the "
                             f"{len(self.clock_skills)} clock entries of {list(self.clock_skills)}")
        self._clock_steps = np.zeros(len(self.clock_skills))
        self._clock_running = np.zeros(len(self.clock_skills), dtype=bool)
        # "<stage>/<term>" names, built once per term instead of every env step (reward() is on the hot path).
        self._term_names: list[dict[str, str]] = [{} for _ in self.stages]

    @property
    def instruction(self) -> str:
        return self.description

    @classmethod
    def success_criterion(cls) -> str:
        return "all stages completed"

    @abc.abstractmethod
    def make_stages(self) -> Sequence[Stage]:
        """The stages, in order."""

    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:  # noqa: B027 - optional hook
        """Add scene props (chair, tunnel, target marker) the stages refer to by name."""

    def bind(self, ctx: StepContext) -> None:
        for stage in self.stages:
            stage.bind(ctx)

    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self.active = 0
        self.completed = [False] * len(self.stages)
        for stage in self.stages:
            stage.reset(ctx, rng)
        self._clock_steps[:] = 0.0
        self._clock_running[:] = False
        self._start_clock_of_active_stage()

    def _start_clock_of_active_stage(self) -> None:
        skill = self.stages[self.active].skill
        if skill in self.clock_skills:
            self._clock_running[self.clock_skills.index(skill)] = True  # a running clock keeps its count

    @classmethod
    def clock_entry(cls, skill: str, task_obs_dim: int) -> int | None:
        """Index of ``skill``'s clock entry in this task's observations of ``task_obs_dim`` entries (None: the
        task keeps no clock for it)."""
        if skill not in cls.clock_skills:
            return None
        return task_obs_dim - len(cls.clock_skills) + cls.clock_skills.index(skill)

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """The clock entries: control steps since each of ``clock_skills`` was first called for, [len(clock_skills)]
        (a subclass with extras of its own puts them first)."""
        return self._clock_steps

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        if self.clock_skills:  # hot path: composite tasks without clocks skip the masked update
            self._clock_steps[self._clock_running] += 1.0  # one more control step since the last observation
        index = self.active
        stage = self.stages[index]
        reward, terms = stage.reward(ctx)
        bonus = 0.0
        if not self.completed[self.active] and stage.complete(ctx):
            self.completed[self.active] = True
            bonus = self.stage_bonus
            if self.active + 1 < len(self.stages):
                self.active += 1
                self._start_clock_of_active_stage()
        names = self._term_names[index]  # the stage that produced `terms`, even if it just completed
        out = {names.get(key) or names.setdefault(key, f"{stage.name}/{key}"): value for key, value in terms.items()}
        out["stage_reward"] = reward
        out["stage_bonus"] = bonus
        return reward + bonus, out

    def terminated(self, ctx: StepContext) -> bool:
        return ctx.pelvis_z < self.stages[self.active].fall_pelvis_z_m

    def step_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return {
            "stage": self.active,
            "stage_skill": self.stages[self.active].skill,
            "stages_completed": sum(self.completed),
        }

    def episode_end_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return {f"stage_success/{s.name}": done for s, done in zip(self.stages, self.completed, strict=True)}

    def is_success(self, episode_return: float) -> bool:
        return all(self.completed)
