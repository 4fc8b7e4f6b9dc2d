"""Expert algorithms by name (``experts.algorithm``): RLlib config builder, Algorithm class, trial-state extras.

The schema side (name → section class) is ``mwx_ray.config.experts_schema.ALGORITHM_SECTIONS``; this module is
the Ray side. A trial config names its algorithm under ``algorithm`` (absent in sweeps from before SAC: PPO)
and carries that algorithm's section under the same key (``ppo: {...}`` or ``sac: {...}``).

Extras beyond ``Algorithm.save_to_path`` (see ``sac.py`` for the RLlib 2.60 gaps they fill):
- SAC saves its learned entropy temperature next to the checkpoint and restores it;
- a restored SAC trial refills its (never checkpointed) replay buffer with as many env steps as a fresh
  trial collects before learning starts.
fastsac needs neither: its entropy temperature is a module parameter (in the checkpoint), and its learner refills
its empty buffer up to the learning start before it updates again (``experts/fastsac/learner.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.config.typed import build

DEFAULT_ALGORITHM = "ppo"  # trial configs written before the algorithm became a choice


def trial_algorithm(trial_config: Mapping[str, Any]) -> str:
    """The algorithm of a trial config (``ppo`` when the key is absent)."""
    name = str(trial_config.get("algorithm", DEFAULT_ALGORITHM))
    if name not in ALGORITHM_SECTIONS:
        raise ValueError(f"unknown expert algorithm {name!r}; valid: {sorted(ALGORITHM_SECTIONS)}")
    return name


def trial_section(trial_config: Mapping[str, Any], where: str):
    """The validated algorithm section of a trial config (a PBT mutation out of bounds fails here)."""
    name = trial_algorithm(trial_config)
    return build(ALGORITHM_SECTIONS[name], trial_config[name], lambda _key: where, prefix=f"{name}.")


def build_expert_config(algorithm: str, env_id: str, *, seed: int, section, resources: ResourcesSection,
                        env_kwargs: Mapping[str, Any] | None = None, plugins: Sequence[str] = ()):
    """``build_ppo_config``, ``build_sac_config`` or ``build_fastsac_config`` by name (same arguments, ``section`` = its hyperparameters)."""
    if algorithm == "fastsac":
        from mwx_ray.experts.fastsac import build_fastsac_config

        return build_fastsac_config(env_id, seed=seed, fastsac=section, resources=resources, env_kwargs=env_kwargs,
                                    plugins=plugins)
    if algorithm == "sac":
        from mwx_ray.experts.sac import build_sac_config

        return build_sac_config(env_id, seed=seed, sac=section, resources=resources, env_kwargs=env_kwargs,
                                plugins=plugins)
    from mwx_ray.experts.ppo import build_ppo_config

    return build_ppo_config(env_id, seed=seed, ppo=section, resources=resources, env_kwargs=env_kwargs,
                            plugins=plugins)


def algorithm_class(algorithm: str) -> type:
    """RLlib's Algorithm class (for ``default_resource_request``)."""
    if algorithm == "fastsac":
        from mwx_ray.experts.fastsac import FastSAC

        return FastSAC
    if algorithm == "sac":
        from ray.rllib.algorithms.sac import SAC

        return SAC
    from ray.rllib.algorithms.ppo import PPO

    return PPO


def extra_state(algo, algorithm: str) -> dict[str, Any]:
    """Learner state that ``Algorithm.save_to_path`` misses (JSON-able; empty for PPO)."""
    if algorithm == "sac":
        from mwx_ray.experts.sac import entropy_temperature

        return {"log_alpha": entropy_temperature(algo)}
    return {}


def after_restore(algo, algorithm: str, section, state: Mapping[str, Any]) -> int:
    """Put ``extra_state`` back and prepare a restored algorithm to train; returns the env steps it sampled
    (RLlib reports them with the next ``train()``, like any sampled step)."""
    if algorithm != "sac":
        return 0
    from mwx_ray.experts.sac import refill_replay_buffer, set_entropy_temperature

    if state.get("log_alpha"):
        set_entropy_temperature(algo, state["log_alpha"])
    return refill_replay_buffer(algo, section.num_steps_sampled_before_learning_starts)
