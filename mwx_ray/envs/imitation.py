"""``ImitationTask``: a HumanoidBench task plus motion tracking of an H1 reference clip (MetaWorld-X experts).

Composition, not inheritance: the wrapper holds the plain task (``base_task``) and delegates ``build``, ``bind``,
``reset``, ``terminated``, ``step_info``, ``episode_end_info`` and ``is_success`` to it. On top it:

* aligns the clip to every episode with operator A (:class:`mwx_ray.motion.alignment.ReferenceTracker`; random
  start phase from the env's generator, drawn *after* the base task's own draws so goals/chair poses match the
  plain task for the same seed);
* rewards ``w_track · r_track + w_task · r_task`` with r_track = convex mix of the kernels of
  :mod:`mwx_ray.rewards.imitation` under per-joint dynamic weights W (``imitation=False`` → r_task alone);
* optionally appends the phase features (sin 2πφ, cos 2πφ) to the base task's extra observation (``phase_obs``,
  off by default so imitation experts keep the plain task's observation and stay routable).

The dynamic weights' error statistics persist across episodes of one env (they measure the policy) and restart
when the env is re-seeded (``reset(seed=...)``), so seeded rollouts stay reproducible.

HumanoidBench comparability: the plain task reward is returned as the term ``task`` and named by
``hb_reward_term``; :class:`~mwx_ray.envs.base.HumanoidEnv` sums that term (not the mixed env reward) into
``info["hb/return"]`` and judges ``success`` on it. The training reward is the env reward.

Logged terms (``info["reward_terms/<name>"]``): ``task``, ``task/<base term>``, ``track``, ``track/pose``,
``track/vel``, ``track/root_height`` / ``track/root_orientation`` / ``track/end_effectors`` (when their coefficient
is > 0), ``track/pose_error_rms`` (rad), ``track/weight_max``, ``track/weight_min``, ``phase``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import mujoco
import numpy as np

from mwx_ray.envs.base import FRAME_SKIP
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.task import Task
from mwx_ray.motion.alignment import END_EFFECTOR_SITES, AlignmentSettings, ReferenceTracker
from mwx_ray.motion.clip import MotionClip
from mwx_ray.rewards import imitation as kernels
from mwx_ray.robots.spec import RobotSpec

NUM_PHASE_FEATURES = 2


@dataclasses.dataclass(frozen=True)
class ImitationSettings:
    """Task options; every field is a keyword of the task constructor (``make_env(..., task_kwargs={...})``).

    Attributes:
        imitation: False → env reward = plain task reward (ablation "without imitation"); terms still logged.
        static_weights: True → W = 1 for every joint (ablation "without dynamic weights").
        w_track, w_task: mix of the tracking and task rewards (authors' code: 0.6–0.8 / 0.2–0.4).
        alpha, beta: pose (1/rad²) and velocity (s²/rad²) kernel scales.
        pose_coef, vel_coef, root_height_coef, root_orientation_coef, end_effector_coef: convex mix inside r_track
            (authors' code 0.7 / 0.3; the optional terms are off by default).
        ema_time_constant_s, weight_epsilon_rad2, weight_power, weight_min, weight_max, weight_refresh_steps:
            dynamic weights (rewards/imitation.py gives the formula).
        random_start, noncyclic_max_start_fraction, velocity_window_s: operator A.
        phase_obs: append (sin 2πφ, cos 2πφ) to the observation. Off by default, as in MetaWorld-X (its experts
            observe HumanoidBench's state; the reference is indexed by time): an expert with phase features has
            an observation no composite task provides, so the router could not use it.
        clip: built-in skill name (``mwx motion list``) or path to a MotionClip ``.npz``; None = the variant's
            default clip.
    """

    imitation: bool = True
    static_weights: bool = False
    w_track: float = 0.7
    w_task: float = 0.3
    alpha: float = kernels.DEFAULT_ALPHA
    beta: float = kernels.DEFAULT_BETA
    pose_coef: float = 0.7
    vel_coef: float = 0.3
    root_height_coef: float = 0.0
    root_orientation_coef: float = 0.0
    end_effector_coef: float = 0.0
    ema_time_constant_s: float = 2.0
    weight_epsilon_rad2: float = 1e-3
    weight_power: float = 0.5
    weight_min: float = 0.25
    weight_max: float = 4.0
    weight_refresh_steps: int = 10
    random_start: bool = True
    noncyclic_max_start_fraction: float = 0.0
    velocity_window_s: float = 0.1
    phase_obs: bool = False
    clip: str | None = None

    @classmethod
    def from_options(cls, base: ImitationSettings | None = None, **options: Any) -> ImitationSettings:
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise TypeError(f"unknown imitation task options {unknown}; valid options: {sorted(valid)}")
        return dataclasses.replace(base or cls(), **options)


def load_reference_clip(spec: str | MotionClip) -> MotionClip:
    """A MotionClip, a built-in skill name, or a path to a ``.npz`` clip."""
    if isinstance(spec, MotionClip):
        return spec
    if spec.endswith(".npz") or Path(spec).exists():
        return MotionClip.load(spec)
    from mwx_ray.motion.library import builtin_clip  # deferred: generating clips imports mink

    return builtin_clip(spec)


class ImitationTask(Task):
    """Plain task + tracking reward. Subclasses set ``base_task_cls`` and ``default_clip`` (imitation_tasks.py)."""

    name: ClassVar[str] = "imitation"
    description: ClassVar[str] = "Imitate a reference motion while doing the task."
    success_bar: ClassVar[float] = 0.0
    base_task_cls: ClassVar[type[Task] | None] = None
    default_clip: ClassVar[str] = ""
    hb_reward_term: ClassVar[str] = "task"  # read by HumanoidEnv for hb/return and success

    def __init__(self, base_task: Task | None = None, clip: MotionClip | str | None = None,
                 settings: ImitationSettings | None = None, **options: Any):
        if clip is not None and not isinstance(clip, MotionClip):
            options["clip"] = clip
        self.settings = ImitationSettings.from_options(settings, **options)
        if base_task is None:
            if self.base_task_cls is None:
                raise TypeError(f"{type(self).__name__} needs a base_task (or a subclass with base_task_cls)")
            base_task = self.base_task_cls()
        self.base_task = base_task
        reference = clip if isinstance(clip, MotionClip) else (self.settings.clip or self.default_clip)
        if not reference:
            raise TypeError(f"{type(self).__name__} needs a reference clip (clip=...)")
        self.clip = load_reference_clip(reference)
        self.extra_obs_dim = base_task.extra_obs_dim + (NUM_PHASE_FEATURES if self.settings.phase_obs else 0)
        self._obs = np.zeros(self.extra_obs_dim)
        self._coefficients = {
            "pose": self.settings.pose_coef, "vel": self.settings.vel_coef,
            "root_height": self.settings.root_height_coef, "root_orientation": self.settings.root_orientation_coef,
            "end_effectors": self.settings.end_effector_coef,
        }

    # ---- model construction ----
    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self.base_task.build(spec, robot)

    def bind(self, ctx: StepContext) -> None:
        self.base_task.bind(ctx)
        s = self.settings
        control_dt = ctx.model.opt.timestep * FRAME_SKIP  # lookups use MjData.time, so frame_skip may differ
        self.tracker = ReferenceTracker(self.clip, control_dt, AlignmentSettings(
            random_start=s.random_start, noncyclic_max_start_fraction=s.noncyclic_max_start_fraction,
            velocity_window_s=s.velocity_window_s))
        num_joints = len(ctx.robot.joints)
        self.joint_weights = kernels.DynamicJointWeights(num_joints, control_dt, kernels.JointWeightSettings(
            static=s.static_weights, ema_time_constant_s=s.ema_time_constant_s, epsilon_rad2=s.weight_epsilon_rad2,
            power=s.weight_power, w_min=s.weight_min, w_max=s.weight_max, refresh_steps=s.weight_refresh_steps))
        self._joint_qpos = ctx.data.qpos[7 : 7 + num_joints]  # live views (robot joints follow the free joint)
        self._joint_qvel = ctx.data.qvel[6 : 6 + num_joints]
        self._root_body = ctx.body_id(ctx.robot.root_body)
        self._ee_sites = np.array([ctx.site_id(name) for name in END_EFFECTOR_SITES])
        self._seeded_rng: np.random.Generator | None = None

    # ---- episode ----
    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self.base_task.reset(ctx, rng)  # first: the base task's draws match the plain task's
        self.tracker.reset(rng, ctx.data.qpos[0:3], ctx.data.qpos[3:7])
        # The weight statistics persist across episodes, but gymnasium's reset(seed=...) builds a new generator:
        # restart them then, so that a seeded rollout is reproducible (the env contract).
        if rng is not self._seeded_rng:
            self._seeded_rng = rng
            self.joint_weights.reset_statistics()

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        task_reward, base_terms = self.base_task.reward(ctx)
        reference = self.tracker.at(float(ctx.data.time))
        weights = self.joint_weights.weights
        error = self._joint_qpos - reference.joint_pos
        squared_error = error * error
        values = {
            "pose": math.exp(-self.settings.alpha * float(np.dot(weights, squared_error))),
            "vel": kernels.velocity_reward(self._joint_qvel, reference.joint_vel, weights, self.settings.beta),
        }
        coefficients = self._coefficients
        if coefficients["root_height"] > 0:
            values["root_height"] = kernels.root_height_reward(ctx.pelvis_z, float(reference.root_pos[2]))
        if coefficients["root_orientation"] > 0:
            values["root_orientation"] = kernels.root_orientation_reward(ctx.root_quat, reference.root_quat)
        if coefficients["end_effectors"] > 0:
            values["end_effectors"] = kernels.end_effector_reward(self._end_effectors(ctx), reference.end_effectors)
        track = kernels.combine(values, coefficients)
        self.joint_weights.update(squared_error)  # after use: step t is scored with weights from steps < t
        task_reward = float(task_reward)
        s = self.settings
        reward = s.w_track * track + s.w_task * task_reward if s.imitation else task_reward
        terms = {"task": task_reward, **{f"task/{k}": v for k, v in base_terms.items()}, "track": track}
        terms.update({f"track/{k}": v for k, v in values.items()})
        terms["track/pose_error_rms"] = math.sqrt(float(squared_error.mean()))
        terms["track/weight_max"] = float(weights.max())
        terms["track/weight_min"] = float(weights.min())
        terms["phase"] = reference.phase
        return reward, terms

    def _end_effectors(self, ctx: StepContext) -> np.ndarray:
        """[4, 3] hand/foot sites relative to the pelvis, pelvis frame, m (same convention as the tracker)."""
        rotation = ctx.data.xmat[self._root_body].reshape(3, 3)
        return (ctx.data.site_xpos[self._ee_sites] - ctx.data.xpos[self._root_body]) @ rotation

    def terminated(self, ctx: StepContext) -> bool:
        return self.base_task.terminated(ctx)

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Base task's extra observation, then (sin 2πφ, cos 2πφ) when ``phase_obs``; [extra_obs_dim]."""
        base_dim = self.base_task.extra_obs_dim
        if base_dim:
            self._obs[:base_dim] = self.base_task.extra_obs(ctx)
        if self.settings.phase_obs:
            self.tracker.phase_features(float(ctx.data.time), self._obs[base_dim:])
        return self._obs

    def step_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return self.base_task.step_info(ctx)

    def episode_end_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return self.base_task.episode_end_info(ctx)

    def is_success(self, episode_return: float) -> bool:
        return self.base_task.is_success(episode_return)
