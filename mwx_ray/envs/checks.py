"""Env contract checks behind ``mwx env check`` and the unit test over every registered task.

A check runs gymnasium's own env checker, verifies the spaces and seeded determinism, and does a random rollout
that records the range of every reward term, so a broken reward (NaN, always 0, out of [0, 1]) is visible.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

from mwx_ray.config.task_schema import TaskSection
from mwx_ray.envs.registry import make_env

REWARD_TERM_PREFIX = "reward_terms/"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # gymnasium colours its warnings


@dataclass
class TermRange:
    low: float = float("inf")
    high: float = float("-inf")
    finite: bool = True

    def add(self, value: float) -> None:
        self.finite &= bool(np.isfinite(value))
        self.low, self.high = min(self.low, value), max(self.high, value)


@dataclass
class EnvCheckReport:
    env_id: str
    obs_dim: int
    action_dim: int
    deterministic: bool
    seed_sensitive: bool
    steps: int
    episodes: int
    terminations: int
    divergences: int
    steps_per_s: float
    reward_range: TermRange
    term_ranges: dict[str, TermRange] = field(default_factory=dict)
    checker_warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        finite = self.reward_range.finite and all(t.finite for t in self.term_ranges.values())
        return self.deterministic and self.seed_sensitive and finite and self.divergences == 0

    def lines(self) -> list[str]:
        out = [
            f"env {self.env_id}: obs [{self.obs_dim}] float64, action [{self.action_dim}] in [-1, 1]",
            f"gymnasium check_env: passed ({len(self.checker_warnings)} warnings)",
            *[f"  warning: {w}" for w in self.checker_warnings],
            f"same seed -> identical rollout: {self.deterministic}; other seed -> different: {self.seed_sensitive}",
            f"random rollout: {self.steps} steps, {self.episodes} episodes, {self.terminations} terminations, "
            f"{self.divergences} divergences, {self.steps_per_s:,.0f} steps/s",
            f"reward per step: [{self.reward_range.low:.4f}, {self.reward_range.high:.4f}]",
        ]
        out += [f"  {name:<28} [{r.low:.4f}, {r.high:.4f}]{'' if r.finite else '  NON-FINITE'}"
                for name, r in sorted(self.term_ranges.items())]
        out.append("RESULT: " + ("ok" if self.ok else "PROBLEMS FOUND"))
        return out


def rollout_signature(env: gym.Env, seed: int, steps: int) -> np.ndarray:
    """Observations and rewards of a seeded random-action rollout, flattened (for determinism checks)."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace += [obs, np.array([reward])]
        if terminated or truncated:
            break
    return np.concatenate(trace)


def check_env(env_id: str, seed: int = 0, steps: int = 300, task: TaskSection | None = None) -> EnvCheckReport:
    """Run every contract check on ``env_id`` built with ``task`` settings (None: the schema defaults); raises on
    hard failures (gymnasium's checker), reports the rest."""
    env = make_env(env_id, task=task)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium_check_env(env, skip_render_check=True)
    first = rollout_signature(env, seed, 50)
    again = rollout_signature(env, seed, 50)
    other = rollout_signature(env, seed + 1, 50)
    deterministic = first.shape == again.shape and bool(np.array_equal(first, again))
    seed_sensitive = first.shape != other.shape or not np.array_equal(first, other)

    reward_range, term_ranges = TermRange(), {}
    episodes = terminations = divergences = 0
    env.reset(seed=seed)
    env.action_space.seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        _obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        reward_range.add(float(reward))
        for key, value in info.items():
            if key.startswith(REWARD_TERM_PREFIX):
                term_ranges.setdefault(key.removeprefix(REWARD_TERM_PREFIX), TermRange()).add(float(value))
        if terminated or truncated:
            episodes += 1
            terminations += int(terminated)
            divergences += int(bool(info.get("diverged", False)))
            env.reset()
    rate = steps / (time.perf_counter() - start)
    env.close()
    return EnvCheckReport(
        env_id=env_id, obs_dim=int(np.prod(env.observation_space.shape or ())),
        action_dim=int(np.prod(env.action_space.shape or ())),
        deterministic=deterministic, seed_sensitive=seed_sensitive, steps=steps, episodes=episodes,
        terminations=terminations, divergences=divergences, steps_per_s=rate, reward_range=reward_range,
        term_ranges=term_ranges, checker_warnings=[_ANSI.sub("", str(w.message)) for w in caught],
    )
