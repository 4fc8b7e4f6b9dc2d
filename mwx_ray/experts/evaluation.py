"""Deterministic evaluation of a policy on a gymnasium env: HumanoidBench return, success rate, reward terms.

Ray-free: the trainable calls it with an exported expert's ``act``, and so can ``mwx eval`` or a notebook.

- Episode ``i`` resets with seed ``seed + i``: evaluating two policies with the same ``seed`` compares them on
  the same initial states (the trainable uses one seed for every trial, so trials are ranked fairly).
- Return: ``info["hb/return"]`` of the last step (mwx envs: the HumanoidBench episode return); for envs
  without that key, the sum of rewards.
- Success: ``info["success"]`` at episode end (mwx envs: ``hb/return ≥ success_bar``); an env that never
  reports it (e.g. ``Pendulum-v1``) gets ``success_rate = nan`` ("not applicable", not 0%).
- Reward terms: for every ``info["reward_terms/<term>"]`` key, the per-step mean over the episode, averaged
  over episodes (dimensionless per-step values, e.g. ``reward_terms/upright`` 0.93).
- Falls: episodes the env ended (terminated) before its time limit.
- Video: the first ``video_steps`` frames of episode 0, rendered at ``render_quality="fast"`` (224×224),
  written with ``write_mp4`` at the env's control rate (50 fps for mwx envs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mwx_ray.video_io import write_mp4

ActFn = Callable[[np.ndarray], np.ndarray]  # observation [obs_dim] -> action [act_dim]
REWARD_TERM_PREFIX = "reward_terms/"


@dataclass
class EvalResult:
    """Outcome of ``episodes`` deterministic episodes (returns in reward units, lengths in env steps)."""

    return_mean: float
    return_std: float
    success_rate: float
    episode_returns: list[float]
    episode_lengths: list[int]
    reward_term_means: dict[str, float] = field(default_factory=dict)
    video_path: str | None = None
    falls: int = 0  # episodes that ended by termination (a fall), not by the time limit

    def metrics(self) -> dict[str, float]:
        """The metric names the sweep reports: ``hb/return``, ``hb/return_std``, ``hb/success``,
        ``eval/episode_length`` (control steps: how long the robot lasted), ``reward_terms/<term>``."""
        out = {"hb/return": self.return_mean, "hb/return_std": self.return_std, "hb/success": self.success_rate,
               "eval/episode_length": float(np.mean(self.episode_lengths))}
        out.update({f"{REWARD_TERM_PREFIX}{term}": value for term, value in self.reward_term_means.items()})
        return out


def expert_eval_env_kwargs(manifest: Mapping[str, Any], task_name: str | None = None) -> dict[str, Any]:
    """``gymnasium.make`` keyword arguments to evaluate an exported expert: the task settings it trained with
    (its observation layout, reward settings) in their evaluation form (``TaskSection.for_evaluation``:
    HumanoidBench reset and termination), optionally on another task (``task_name``). Empty for experts of
    non-mwx envs or folders exported before task settings were recorded."""
    from mwx_ray.config.task_schema import TaskSection
    from mwx_ray.config.typed import build
    from mwx_ray.envs.plugins import import_plugins

    import_plugins(manifest.get("plugins") or ())  # the modules that register the expert's task
    recorded = manifest.get("task")
    if recorded is None:
        return {"task": {"name": task_name}} if task_name else {}
    settings = build(TaskSection, {**recorded, **({"name": task_name} if task_name else {})},
                     lambda _key: f"manifest of {manifest.get('env_id')}", prefix="task.")
    return settings.for_evaluation().env_kwargs()


def make_eval_env(env_id: str, *, render: bool, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env:
    """``gymnasium.make(env_id, **env_kwargs)``; mwx ids get ``render_quality="fast"`` when rendering."""
    kwargs = dict(env_kwargs or {})
    if env_id.startswith("mwx/"):
        import mwx_ray.envs  # noqa: F401  (registers the mwx/ gymnasium ids in this process)

        if render:
            kwargs["render_quality"] = "fast"
    if render:
        kwargs["render_mode"] = "rgb_array"
    return gym.make(env_id, **kwargs)


def run_episode(env: gym.Env, act_fn: ActFn, seed: int, frames: list[np.ndarray] | None = None,
                max_frames: int = 0) -> tuple[float, int, bool | None, dict[str, float], bool]:
    """One episode → (return, length, success (None if the env reports none), per-step term means, whether it
    ended by termination)."""
    obs, info = env.reset(seed=seed)
    reward_sum, length, done, terminated = 0.0, 0, False, False
    term_sums: dict[str, float] = defaultdict(float)
    if frames is not None and max_frames > 0:
        frames.append(env.render())
    while not done:
        action = np.asarray(act_fn(obs), dtype=np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        reward_sum += float(reward)
        length += 1
        done = terminated or truncated
        for key, value in info.items():
            if key.startswith(REWARD_TERM_PREFIX):
                term_sums[key[len(REWARD_TERM_PREFIX):]] += float(value)
        if frames is not None and len(frames) < max_frames:
            frames.append(env.render())
    episode_return = float(info.get("hb/return", reward_sum))
    term_means = {term: total / length for term, total in term_sums.items()}
    success = bool(info["success"]) if "success" in info else None
    return episode_return, length, success, term_means, bool(terminated)


def evaluate_policy(
    act_fn: ActFn,
    env_id: str,
    *,
    episodes: int,
    seed: int,
    video_path: str | Path | None = None,
    video_steps: int = 250,
    env_kwargs: Mapping[str, Any] | None = None,
    wrap_env: Callable[[gym.Env], gym.Env] | None = None,
) -> EvalResult:
    """Run ``episodes`` deterministic episodes of ``act_fn`` on ``env_id`` (seeds ``seed + i``).

    ``video_steps`` frames (250 = 5 s at 50 Hz) of episode 0 go to ``video_path`` if given; ``env_kwargs`` go to
    ``gymnasium.make`` (an mwx env's ``task`` settings); ``wrap_env`` wraps the env (e.g. a handover start).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = make_eval_env(env_id, render=video_path is not None, env_kwargs=env_kwargs)
    env = wrap_env(env) if wrap_env is not None else env
    returns, lengths, successes, falls = [], [], [], 0
    term_totals: dict[str, float] = defaultdict(float)
    frames: list[np.ndarray] = []
    try:
        for i in range(episodes):
            record = video_path is not None and i == 0
            ret, length, success, term_means, fell = run_episode(
                env, act_fn, seed + i, frames if record else None, video_steps if record else 0)
            falls += fell
            returns.append(ret)
            lengths.append(length)
            successes.append(success)
            for term, value in term_means.items():
                term_totals[term] += value
        fps = float(env.metadata.get("render_fps", 30))
    finally:
        env.close()
    written = str(write_mp4(frames, video_path, fps=fps)) if video_path is not None else None
    return EvalResult(
        return_mean=float(np.mean(returns)),
        return_std=float(np.std(returns)),
        success_rate=float(np.mean(successes)) if None not in successes else float("nan"),
        episode_returns=returns,
        episode_lengths=lengths,
        reward_term_means={term: total / episodes for term, total in term_totals.items()},
        video_path=written,
        falls=falls,
    )
