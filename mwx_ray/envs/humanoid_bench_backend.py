"""Optional backend: build the real HumanoidBench envs through our registry, for parity checks.

HumanoidBench is not on PyPI and pins gymnasium 0.29 / mujoco 3.1.6 / jax, which clash with ray[rllib]; so it
is never a dependency. Where it is importable (typically a separate venv, see ``INSTALL_RECIPE``),
``make_env("walk", backend="humanoid_bench")`` builds its ``h1-walk-v0`` and wraps it so ``info`` carries the
same ``hb/return`` and end-of-episode ``success`` keys as our envs.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import gymnasium

INSTALL_RECIPE = (
    "HumanoidBench is not installed. It is not on PyPI and its pins (gymnasium 0.29.1, mujoco 3.1.6, jax) "
    "clash with ray[rllib]; use a separate Python 3.11 venv: clone the carlosferrazza/humanoid-bench "
    "repository, `pip install -e .` inside it, then `pip install -e <mwx_ray checkout> --no-deps`, and build "
    "envs with make_env(<task>, backend='humanoid_bench')."
)
MODULE = "humanoid_bench"


def humanoid_bench_available() -> bool:
    return importlib.util.find_spec(MODULE) is not None


class HumanoidBenchInfo(gymnasium.Wrapper):
    """Adds ``hb/return`` every step and ``success`` (return ≥ bar) at episode end, like ``HumanoidEnv``."""

    def __init__(self, env: gymnasium.Env, success_bar: float):
        super().__init__(env)
        self.success_bar = success_bar
        self._return = 0.0

    def reset(self, **kwargs: Any):
        self._return = 0.0
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, "hb/return": 0.0}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        info = {**info, "hb/return": self._return}
        if terminated or truncated:
            info["success"] = self._return >= self.success_bar
        return obs, reward, terminated, truncated, info


def make_humanoid_bench_env(robot: str, task_name: str, success_bar: float, **kwargs: Any) -> gymnasium.Env:
    """The real HumanoidBench env ``{robot}-{task}-v0``; ImportError with the install recipe when absent."""
    if not humanoid_bench_available():
        raise ImportError(INSTALL_RECIPE)
    importlib.import_module(MODULE)  # registers HumanoidBench's ids with gymnasium
    return HumanoidBenchInfo(gymnasium.make(f"{robot}-{task_name}-v0", **kwargs), success_bar)
