"""Task abstraction: what a skill adds to the scene, how it is rewarded, when it ends.

In the style of MuJoCo Playground / mjlab, an env is ``robot × task``. :class:`HumanoidEnv` drives a task
through this life cycle::

    task.build(spec, robot)        # once: add scene bodies/geoms/sites/sensors to the robot's MjSpec
    model = spec.compile()
    task.bind(ctx)                 # once: cache ids (ctx.site_id/body_id/geom_id) — never look names up per step
    per episode:
        keyframe, +U(±0.01) qpos noise, mj_forward
        task.reset(ctx, rng)       # randomise task state (goal, chair pose...) with the env's Generator
        mj_forward
        per step (after frame_skip mj_step calls, no mj_forward — see envs/context.py for timing):
            task.reward(ctx)       -> (reward, {term_name: value})
            task.terminated(ctx)   -> bool
            task.extra_obs(ctx)    -> appended to concat(qpos, qvel) when extra_obs_dim > 0
            task.step_info(ctx)    -> extra info entries (e.g. a composite task's stage)
        at episode end:
            task.episode_end_info(ctx), task.is_success(episode_return) -> info["success"]

Options come from the typed ``env.task`` section (``mwx_ray/config/task_schema.py``, where their defaults live):
``Task.from_config(settings)`` builds the task from it.

Adding a task = subclass :class:`Task` (set the class attributes), then ``register_task(MyTask)``
(``mwx_ray.envs.registry``; add the call to ``mwx_ray/envs/tasks/__init__.py``).
Tasks hold per-episode state (set it in ``reset``), so each env owns its own task instance.

Randomness: use only the ``rng`` passed to ``reset`` (the env's seeded ``np_random``), never numpy's global RNG.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import mujoco
import numpy as np

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.context import StepContext
from mwx_ray.robots.spec import RobotSpec

_NO_INFO: Mapping[str, Any] = {}


class Task(abc.ABC):
    """Base class of every task (single skill or composite).

    Class attributes to set in subclasses:
        name: registry name, e.g. ``"walk"`` (env id ``mwx/h1-walk-v0``).
        description: one natural-language sentence of what the robot should do (used as VLM/expert text).
        episode_steps: env steps before truncation (HumanoidBench: 1000; 500 for manipulation tasks).
        success_bar: episode return (sum of per-step rewards) at or above which the episode counts as solved.
        extra_obs_dim: length of :meth:`extra_obs` (0 → observation is just concat(qpos, qvel)).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    episode_steps: ClassVar[int] = 1000
    success_bar: ClassVar[float]
    extra_obs_dim: ClassVar[int] = 0
    # Name of the reward term that holds the plain HumanoidBench reward when the env reward is something else
    # (imitation variants); HumanoidEnv then sums that term into ``hb/return``. None: the env reward is it.
    hb_reward_term: ClassVar[str | None] = None

    @classmethod
    def from_config(cls, settings: TaskSection) -> Task:
        """The task built from its typed settings (``env.task``); tasks without options ignore them."""
        return cls()

    # ---- model construction ----
    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:  # noqa: B027 - optional hook
        """Add scene elements to the (uncompiled) robot MjSpec. Default: plain floor, nothing added.

        Added free bodies must be children of ``spec.worldbody`` so their qpos follows the robot's.
        """

    def bind(self, ctx: StepContext) -> None:  # noqa: B027 - optional hook
        """Cache model ids after compilation (``ctx.site_id(...)``, ``ctx.body_geom_ids(...)``)."""

    # ---- episode ----
    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:  # noqa: B027 - optional hook
        """Reset per-episode state; may write ``ctx.data.qpos``/``qvel`` (the env calls mj_forward after)."""

    def restart(self, ctx: StepContext, rng: np.random.Generator) -> None:  # noqa: B027 - optional hook
        """The episode proper begins from the current state, not from the reset (a training prelude moved the
        robot: ``experts/handover.py``): re-place what the task sets relative to the robot. Default: nothing."""

    def begin_from_recorded_state(self, ctx: StepContext, rng: np.random.Generator) -> None:
        """The reset put the robot in a recorded state (``envs/start_states.py``); the episode begins from it.
        Default: as after a prelude (``restart``)."""
        self.restart(ctx, rng)

    @abc.abstractmethod
    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        """Per-step reward and its named components (logged as ``reward_terms/<name>``)."""

    @abc.abstractmethod
    def terminated(self, ctx: StepContext) -> bool:
        """True when the episode must end (fall, leaving the course...)."""

    @property
    def action_scale(self) -> float:
        """How far one unit of the policy's action moves the executed action (1 unless ``transform_action``
        scales it)."""
        return 1.0

    def transform_action(self, ctx: StepContext, action: np.ndarray) -> np.ndarray:
        """The action executed for the policy's ``action`` (both [nu] in [-1, 1]); default: itself. Imitation
        tasks with a reference feedforward add the reference pose here."""
        return action

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Task state appended to the observation, shape [extra_obs_dim], float64."""
        return np.empty(0)

    def step_info(self, ctx: StepContext) -> Mapping[str, Any]:
        """Extra ``info`` entries for this step (default none)."""
        return _NO_INFO

    def episode_end_info(self, ctx: StepContext) -> Mapping[str, Any]:
        """Extra ``info`` entries on the last step of an episode (e.g. per-stage success); default none."""
        return _NO_INFO

    def is_success(self, episode_return: float) -> bool:
        """HumanoidBench success: episode return ≥ ``success_bar``."""
        return episode_return >= self.success_bar

    @classmethod
    def success_criterion(cls) -> str:
        """Human-readable success rule (``mwx env list``, reports)."""
        return f"return >= {cls.success_bar:g}"
