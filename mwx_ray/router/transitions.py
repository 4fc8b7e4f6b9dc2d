"""Handling expert switches, where composition fails: action smoothing and a stabiliser fallback (Ray-free).

:class:`TransitionWrapper` sits between the router's action and the composite task, in training (the router env
on every env runner) and in evaluation alike, so the router learns with what it is evaluated with:

* ``action_smoothing`` s ∈ [0, 1): the executed action is ``s · previous + (1 − s) · router action`` (an EMA over
  control steps; s = 0.5 halves a step change within one 20 ms step) — a hand-over between experts becomes a
  ramp instead of a jump in every joint target;
* ``fallback_expert``: while the robot is at risk of falling (torso tilted past ``fallback_torso_zz_below`` or the
  head below ``fallback_head_below_m``), the named expert (stand: the balance specialist) acts alone; the router
  takes over again once the robot has recovered. ``info["router/fallback"]`` is 1 on those steps.

Both are ``router.transitions`` settings (off by default), each measured by the ablation table's transition
columns (``router/evaluation.py``: fall rate within 1 s of a stage switch, action jerk around switches).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np


class TransitionWrapper(gym.Wrapper):
    """See the module docstring. ``fallback`` is ``(ExpertPolicy, observation indices)`` or None."""

    def __init__(self, env: gym.Env, *, action_smoothing: float = 0.0, fallback=None,
                 torso_zz_below: float = 0.85, head_below_m: float = 1.3):
        super().__init__(env)
        if not 0.0 <= action_smoothing < 1.0:
            raise ValueError(f"action_smoothing must be in [0, 1), got {action_smoothing}")
        self.action_smoothing = float(action_smoothing)
        self.fallback = fallback
        self.torso_zz_below, self.head_below_m = float(torso_zz_below), float(head_below_m)
        self._previous: np.ndarray | None = None
        self._obs: np.ndarray | None = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._previous, self._obs = None, obs
        return obs, info

    def at_risk(self) -> bool:
        """Whether the robot is about to fall: torso tilted (``xmat[torso].zz``) or head low (m)."""
        ctx = self.env.unwrapped.ctx
        return ctx.torso_zz < self.torso_zz_below or ctx.head_z < self.head_below_m

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        fallback_now = self.fallback is not None and self._obs is not None and self.at_risk()
        if fallback_now:
            policy, indices = self.fallback
            action = np.asarray(policy.act(np.asarray(self._obs)[indices]), dtype=np.float64)
        if self.action_smoothing and self._previous is not None:
            action = self.action_smoothing * self._previous + (1.0 - self.action_smoothing) * action
        self._previous = action
        obs, reward, terminated, truncated, info = self.env.step(action.astype(np.float32))
        self._obs = obs
        info = {**info, "router/fallback": float(fallback_now)}
        return obs, reward, terminated, truncated, info


def wrap_transitions(env: gym.Env, settings: Mapping[str, Any] | None, fallback_folder: str | None = None) -> gym.Env:
    """``env`` wrapped per ``router.transitions`` (plain dict); unchanged when every option is off."""
    settings = dict(settings or {})
    smoothing = float(settings.get("action_smoothing", 0.0))
    if not smoothing and not settings.get("fallback_expert"):
        return env
    fallback = None
    if settings.get("fallback_expert"):
        from mwx_ray.envs.observation_layout import expert_indices_in
        from mwx_ray.experts.policy import ExpertPolicy

        if not fallback_folder:
            raise ValueError(f"router.transitions.fallback_expert {settings['fallback_expert']!r} has no folder")
        policy = ExpertPolicy.load(fallback_folder)
        indices = expert_indices_in(env, policy.manifest["env_id"], policy.obs_dim,
                                    expert_name=str(settings["fallback_expert"]))
        fallback = (policy, np.asarray(indices))
    return TransitionWrapper(env, action_smoothing=smoothing, fallback=fallback,
                             torso_zz_below=float(settings.get("fallback_torso_zz_below", 0.85)),
                             head_below_m=float(settings.get("fallback_head_below_m", 1.3)))


class TimeFeatureWrapper(gym.ObservationWrapper):
    """Appends the elapsed fraction of the episode, ``t / T`` in [0, 1], to the observation (the router's clock).

    A memoryless router cannot tell "standing for a moment" from "about to stand for a moment": composite stages
    that end after a hold (stand still for 1 s, then walk) need a clock. Time-aware observations are the standard
    fix for time-limited tasks (Pardo et al., ICML 2018). The experts never see it: their slices index the
    observation prefix.
    """

    def __init__(self, env: gym.Env, horizon: int):
        super().__init__(env)
        self.horizon = int(horizon)
        low, high = env.observation_space.low, env.observation_space.high
        self.observation_space = gym.spaces.Box(np.append(low, 0.0), np.append(high, 1.0),
                                                dtype=env.observation_space.dtype)
        self._steps = 0

    def reset(self, **kwargs):
        self._steps = 0
        return super().reset(**kwargs)

    def step(self, action):
        self._steps += 1
        return super().step(action)

    def observation(self, observation):
        return np.append(observation, elapsed_fraction(self._steps, self.horizon)).astype(observation.dtype)


def elapsed_fraction(steps, horizon: int):
    """The router's clock after ``steps`` control steps of a ``horizon``-step episode: ``min(steps / T, 1)``
    (scalar or array; label datasets rebuild it from their stored step numbers)."""
    return np.minimum(np.asarray(steps, dtype=np.float64) / horizon, 1.0)


# The clock feature's fixed normalization for the router (uniform on [0, 1]: mean 1/2, std 1/sqrt(12)).
TIME_FEATURE_MEAN, TIME_FEATURE_STD = 0.5, 0.2887


class StageFeatureWrapper(gym.ObservationWrapper):
    """Appends the one-hot of the composite task's active stage (S entries) to the observation.

    A memoryless router cannot tell "still holding the first stand" from "the stand is done, now walk" when the
    robot looks the same in both: the stage's completion depends on history (a hold counter). The stage indicator
    is the task-progress signal a task monitor (or the VLM that labels the stages) provides, like the current
    sub-instruction; the router still decides which experts act and how to blend them at each hand-over.
    The experts never see it (their slices index the observation prefix).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._task = env.unwrapped.task  # the same instance for the env's lifetime; reset() clears its stage
        stage_count = len(self._task.stages)
        low, high = env.observation_space.low, env.observation_space.high
        self.observation_space = gym.spaces.Box(np.append(low, np.zeros(stage_count)),
                                                np.append(high, np.ones(stage_count)),
                                                dtype=env.observation_space.dtype)
        self._one_hot = stage_one_hot(np.arange(stage_count), stage_count).astype(self.observation_space.dtype)

    def observation(self, observation):
        return np.concatenate([observation, self._one_hot[self._task.active]])


def stage_one_hot(stages, stage_count: int) -> np.ndarray:
    """One-hot rows ``[..., S]`` of stage indices (scalar or array; label datasets rebuild the stage feature
    from their stored stage column)."""
    return np.eye(stage_count)[np.asarray(stages, dtype=np.int64)]


def wrap_router_env(env: gym.Env, transitions: Mapping[str, Any] | None = None, fallback_folder: str | None = None,
                    time_feature: bool = False, stage_feature: bool = False) -> gym.Env:
    """The composite task as the router acts on it: hand-over options, then the clock (``router.time_feature``),
    then the stage indicator (``router.stage_feature``)."""
    env = wrap_transitions(env, transitions, fallback_folder)
    if time_feature:
        env = TimeFeatureWrapper(env, env.unwrapped.task.episode_steps)
    if stage_feature:
        if not getattr(env.unwrapped.task, "stages", ()):
            raise ValueError(f"router.stage_feature needs a composite task with stages; "
                             f"{type(env.unwrapped.task).__name__} has none")
        env = StageFeatureWrapper(env)
    return env
