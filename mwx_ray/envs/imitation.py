"""``ImitationTask``: a HumanoidBench task plus motion tracking of an H1 reference clip (MetaWorld-X experts).

Composition, not inheritance: the wrapper holds the plain task (``base_task``) and delegates ``build``, ``bind``,
``reset``, ``step_info``, ``episode_end_info`` and ``is_success`` to it. Its settings are the typed
``env.task.imitation`` section (``mwx_ray/config/task_schema.py``, where every default lives). On top it:

* aligns the clip to every episode with operator A (:class:`mwx_ray.motion.alignment.ReferenceTracker`; start
  phase from the env's generator, drawn *after* the base task's own draws so goals/chair poses match the plain
  task for the same seed), uniformly or weighted towards phases where episodes failed
  (``failure_weighted_starts``, :class:`mwx_ray.envs.reference_start.StartPhaseSampler`);
* optionally starts training episodes in the reference state (``reference_state_init``: pose and velocities of
  the drawn frame, with noise; frame 0 of the clip is anchored at the robot so the clip leads where it should);
* rewards ``w_track · r_track + w_task · r_task`` with r_track = convex mix of the kernels of
  :mod:`mwx_ray.rewards.imitation` under per-joint dynamic weights W (``enabled: false`` → r_task alone);
* optionally ends training episodes that lost the reference (``tracking_termination``), on top of the plain
  task's own termination;
* optionally appends the clip phase (sin 2πφ, cos 2πφ) to the observation (``phase_clock``), and with
  ``reference_feedforward`` executes the clip's next pose plus the scaled action (a residual policy). The clock
  runs from the episode's start frame (frame 0 in evaluation), so an expert trained with it runs on this task's
  env; the router's stateless expert pool has no per-expert clock and refuses such experts
  (``mwx_ray.router.experts_frozen.clip_clock_problem``). :meth:`clock` is the clock's definition.

:meth:`TaskSection.for_evaluation` switches the training-only tricks off (no reference-state starts, no tracking
termination, clip from frame 0), so evaluation keeps HumanoidBench's reset and termination.

The dynamic weights' error statistics and the start-phase failure rates persist across episodes of one env (they
measure the policy) and restart when the env is re-seeded (``reset(seed=...)``), so seeded rollouts stay
reproducible.

HumanoidBench comparability: the plain task reward is returned as the term ``task`` and named by
``hb_reward_term``; :class:`~mwx_ray.envs.base.HumanoidEnv` sums that term (not the mixed env reward) into
``info["hb/return"]`` and judges ``success`` on it. The training reward is the env reward.

Logged terms (``info["reward_terms/<name>"]``): ``task``, ``task/<base term>``, ``track``, ``track/pose``,
``track/vel``, ``track/root_height`` / ``track/root_orientation`` / ``track/end_effectors`` (when their coefficient
is > 0), ``track/pose_error_rms`` (rad), ``track/weight_max``, ``track/weight_min``, ``phase``; on the last step
``imitation/reference_start`` (1 = the episode started in the reference state) and ``imitation/tracking_lost``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import mujoco
import numpy as np

from mwx_ray.config.task_schema import ImitationSection, TaskSection
from mwx_ray.envs.base import FRAME_SKIP
from mwx_ray.envs.context import StepContext
from mwx_ray.envs.reference_start import StartPhaseSampler, set_reference_state
from mwx_ray.envs.task import Task
from mwx_ray.motion.alignment import END_EFFECTOR_SITES, AlignmentSettings, ReferenceTracker
from mwx_ray.motion.clip import MotionClip
from mwx_ray.motion.phase import NUM_PHASE_FEATURES, PhaseClock
from mwx_ray.rewards import imitation as kernels
from mwx_ray.robots.spec import RobotSpec


def load_reference_clip(spec: str | MotionClip) -> MotionClip:
    """A MotionClip, a built-in skill name, or a path to a ``.npz`` clip."""
    if isinstance(spec, MotionClip):
        return spec
    if spec.endswith(".npz") or Path(spec).exists():
        return MotionClip.load(spec)
    from mwx_ray.motion.library import builtin_clip  # deferred: generating clips imports mink

    return builtin_clip(spec)


class ImitationTask(Task):
    """Plain task + tracking reward. Subclasses set ``base_task_cls`` and ``default_clip`` (``imitation_variants.py``, made by the skill registry)."""

    name: ClassVar[str] = "imitation"
    description: ClassVar[str] = "Imitate a reference motion while doing the task."
    success_bar: ClassVar[float] = 0.0
    base_task_cls: ClassVar[type[Task] | None] = None
    default_clip: ClassVar[str] = ""
    default_cyclic: ClassVar[bool | None] = None  # the skill's declaration; None = the clip's provenance says
    hb_reward_term: ClassVar[str] = "task"  # read by HumanoidEnv for hb/return and success

    def __init__(self, base_task: Task, clip: MotionClip | str, settings: ImitationSection | None = None):
        self.settings = settings or ImitationSection()
        self.base_task = base_task
        self.clip = load_reference_clip(clip)
        self._default_clip_used = isinstance(clip, str) and clip == self.default_clip
        self.extra_obs_dim = base_task.extra_obs_dim + (NUM_PHASE_FEATURES if self.settings.phase_clock else 0)
        self._obs = np.zeros(self.extra_obs_dim)
        s = self.settings
        self._coefficients = {"pose": s.pose_coef, "vel": s.vel_coef, "root_height": s.root_height_coef,
                              "root_orientation": s.root_orientation_coef, "end_effectors": s.end_effector_coef}

    @classmethod
    def from_config(cls, settings: TaskSection) -> ImitationTask:
        if cls.base_task_cls is None:
            raise TypeError(f"{cls.__name__} has no base_task_cls; build ImitationTask(base_task, clip) directly")
        return cls(cls.base_task_cls.from_config(settings), settings.clip or cls.default_clip, settings.imitation)

    # ---- model construction ----
    def build(self, spec: mujoco.MjSpec, robot: RobotSpec) -> None:
        self.base_task.build(spec, robot)

    def bind(self, ctx: StepContext) -> None:
        self.base_task.bind(ctx)
        s = self.settings
        self._control_dt = ctx.model.opt.timestep * FRAME_SKIP  # lookups use MjData.time, so frame_skip may differ
        self.tracker = ReferenceTracker(self.clip, self._control_dt, AlignmentSettings(
            random_start=s.random_start_phase, noncyclic_max_start_fraction=s.noncyclic_max_start_fraction,
            velocity_window_s=s.velocity_window_s, cyclic=self._clip_cyclic()))
        weights = s.dynamic_weights
        num_joints = len(ctx.robot.joints)
        self.joint_weights = kernels.DynamicJointWeights(num_joints, self._control_dt, kernels.JointWeightSettings(
            static=not weights.enabled, ema_time_constant_s=weights.ema_time_constant_s,
            epsilon_rad2=weights.epsilon_rad2, power=weights.power, w_min=weights.min, w_max=weights.max,
            refresh_steps=weights.refresh_steps))
        self.start_sampler = StartPhaseSampler(s.failure_weighted_starts)
        # Reference joint angles as normalized actions (HumanoidEnv maps a in [-1, 1] linearly onto each position
        # servo's ctrlrange, the joint's range): the feedforward of `reference_feedforward`. [frames, nu]
        low, high = ctx.model.actuator_ctrlrange[:, 0], ctx.model.actuator_ctrlrange[:, 1]
        self.reference_actions = np.clip(2.0 * (self.tracker.joint_pos - low) / (high - low) - 1.0, -1.0, 1.0)
        self._executed = np.zeros(len(low))
        self._joint_qpos = ctx.data.qpos[7 : 7 + num_joints]  # live views (robot joints follow the free joint)
        self._joint_qvel = ctx.data.qvel[6 : 6 + num_joints]
        self._root_body = ctx.body_id(ctx.robot.root_body)
        self._ee_sites = np.array([ctx.site_id(name) for name in END_EFFECTOR_SITES])
        self._seeded_rng: np.random.Generator | None = None
        self._episode_running = False
        self._reference_start = False
        self._tracking_lost = False

    def _clip_cyclic(self) -> bool | None:
        """Whether the reference loops: the clip's provenance, which must agree with the skill's declaration;
        the declaration for clips that do not say (user clips without provenance)."""
        recorded = self.clip.provenance.get("cyclic")
        declared = self.default_cyclic
        if recorded is not None and declared is not None and bool(recorded) != declared and self._default_clip_used:
            raise ValueError(f"{self.name}: clip {self.clip.name!r} says cyclic={bool(recorded)} but the skill "
                             f"declares cyclic={declared}")
        return bool(recorded) if recorded is not None else declared

    def clock(self) -> PhaseClock:
        """The phase clock an expert trained on this task carries (needs ``bind``)."""
        return self.tracker.clock()

    # ---- episode ----
    def reset(self, ctx: StepContext, rng: np.random.Generator) -> None:
        self.base_task.reset(ctx, rng)  # first: the base task's draws match the plain task's
        # The weight statistics and start-phase failure rates persist across episodes, but gymnasium's
        # reset(seed=...) builds a new generator: restart them then, so a seeded rollout is reproducible.
        if rng is not self._seeded_rng:
            self._seeded_rng = rng
            self.joint_weights.reset_statistics()
            self.start_sampler.reset_statistics()
        elif self._episode_running:  # an episode that was not terminated ran to its end (or was cut off)
            self.start_sampler.record_episode_end(failed=False)
        s = self.settings
        rsi = s.reference_state_init
        self._reference_start = rsi.probability > 0 and float(rng.random()) < rsi.probability
        root_pos, root_quat = ctx.data.qpos[0:3].copy(), ctx.data.qpos[3:7].copy()
        if self._reference_start:
            start = self.start_sampler.draw(rng, self.tracker.num_frames)
            self.tracker.reset(rng, root_pos, root_quat, start_frame=start, anchor_frame=0)
            set_reference_state(ctx.model, ctx.data, self.tracker, control_dt=self._control_dt, settings=rsi,
                                rng=rng)
        elif s.failure_weighted_starts.enabled and s.random_start_phase:
            start = self.start_sampler.draw(rng, self._keyframe_start_span())
            self.tracker.reset(rng, root_pos, root_quat, start_frame=start)
        else:
            self.tracker.reset(rng, root_pos, root_quat)
        if not self._reference_start:
            self._perturb_start(ctx, rng)
        self._episode_running = True
        self._tracking_lost = False

    def begin_from_recorded_state(self, ctx: StepContext, rng: np.random.Generator) -> None:
        """The clip starts over at its first frame, anchored where the recorded state put the robot (the reset's
        time is 0): an expert that plays its clip from a hand-over starts it there, as in a composite task."""
        self.base_task.begin_from_recorded_state(ctx, rng)
        self._reference_start = False
        self.tracker.reset(rng, ctx.data.qpos[0:3].copy(), ctx.data.qpos[3:7].copy(), start_frame=0)

    @property
    def action_scale(self) -> float:
        return self.settings.residual_scale if self.settings.reference_feedforward else 1.0

    def transform_action(self, ctx: StepContext, action: np.ndarray) -> np.ndarray:
        """With ``reference_feedforward``: reference pose of the next control step + ``residual_scale`` × action."""
        s = self.settings
        if not s.reference_feedforward:
            return action
        frame, _ = self.tracker.frame_index(float(ctx.data.time) + self._control_dt)
        np.multiply(action, s.residual_scale, out=self._executed)
        self._executed += self.reference_actions[frame]
        return np.clip(self._executed, -1.0, 1.0, out=self._executed)

    def _perturb_start(self, ctx: StepContext, rng: np.random.Generator) -> None:
        """``start_perturbation``: a keyframe start already in motion (pelvis and joint velocities)."""
        perturb = self.settings.start_perturbation
        if perturb.probability <= 0 or float(rng.random()) >= perturb.probability:
            return
        joints = len(self._joint_qvel)
        ctx.data.qvel[0:2] += rng.uniform(-1.0, 1.0, 2) * perturb.root_velocity_mps
        ctx.data.qvel[6 : 6 + joints] += rng.uniform(-1.0, 1.0, joints) * perturb.joint_velocity_rad_s

    def _keyframe_start_span(self) -> int:
        """Frames a keyframe (HumanoidBench) start may begin at: the whole loop, or the clip's allowed prefix."""
        if self.tracker.cyclic:
            return self.tracker.num_frames
        return int(self.settings.noncyclic_max_start_fraction * (self.tracker.num_frames - 1)) + 1

    def reward(self, ctx: StepContext) -> tuple[float, dict[str, float]]:
        task_reward, base_terms = self.base_task.reward(ctx)
        reference = self.tracker.at(float(ctx.data.time))
        weights = self.joint_weights.weights
        error = self._joint_qpos - reference.joint_pos
        squared_error = error * error
        s = self.settings
        values = {
            "pose": math.exp(-s.alpha * float(np.dot(weights, squared_error))),
            "vel": kernels.velocity_reward(self._joint_qvel, reference.joint_vel, weights, s.beta),
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
        reward = s.w_track * track + s.w_task * task_reward if s.enabled else task_reward
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
        ended = self.base_task.terminated(ctx) or self._lost_the_reference(ctx)
        if ended and self._episode_running:
            self.start_sampler.record_episode_end(failed=True)
            self._episode_running = False
        return ended

    def _lost_the_reference(self, ctx: StepContext) -> bool:
        """Tracking termination (training only): pelvis height/orientation or end effectors too far off."""
        bounds = self.settings.tracking_termination
        if not bounds.enabled or ctx.step_count <= bounds.grace_steps:
            return False
        reference = self.tracker.at(float(ctx.data.time))
        lost = (
            (bounds.root_height_m is not None
             and abs(ctx.pelvis_z - float(reference.root_pos[2])) > bounds.root_height_m)
            or (bounds.root_orientation_rad is not None
                and kernels.quaternion_angle(ctx.root_quat, reference.root_quat) > bounds.root_orientation_rad)
            or (bounds.end_effector_m is not None and float(np.linalg.norm(
                self._end_effectors(ctx) - reference.end_effectors, axis=1).mean()) > bounds.end_effector_m)
        )
        self._tracking_lost = self._tracking_lost or lost
        return lost

    def extra_obs(self, ctx: StepContext) -> np.ndarray:
        """Base task's extra observation, then (sin 2πφ, cos 2πφ) with ``phase_clock``; [extra_obs_dim]."""
        base_dim = self.base_task.extra_obs_dim
        if base_dim:
            self._obs[:base_dim] = self.base_task.extra_obs(ctx)
        if self.settings.phase_clock:
            self.tracker.phase_features(float(ctx.data.time), self._obs[base_dim:])
        return self._obs

    def step_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return self.base_task.step_info(ctx)

    def episode_end_info(self, ctx: StepContext) -> Mapping[str, Any]:
        return {**self.base_task.episode_end_info(ctx), "imitation/reference_start": float(self._reference_start),
                "imitation/tracking_lost": float(self._tracking_lost)}

    def is_success(self, episode_return: float) -> bool:
        return self.base_task.is_success(episode_return)
