"""RLlib's own deterministic inference path, one observation at a time: the reference exported experts must match.

The same pipelines an EnvRunner uses at evaluation: env-to-module connector (MeanStdFilter with *frozen*
statistics: the training pipeline would push each observation into them before normalizing it),
``forward_inference``, module-to-env connector (deterministic action, unsquash to the env's bounds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from mwx_ray.experts.base_config import with_frozen_obs_filter
from mwx_ray.experts.env_registration import register_rllib_env
from mwx_ray.experts.export import filter_state_from_algorithm, module_state_from_algorithm


@dataclass
class ReferenceInference:
    normalized_obs: np.ndarray  # [N, obs_dim], what the module saw
    env_actions: np.ndarray  # [N, act_dim], what the env would receive
    filter_pushes: int  # observations in the filter statistics afterwards (unchanged if they stayed frozen)


def rllib_reference_inference(algo, observations: np.ndarray) -> ReferenceInference:
    """RLlib's explore=False path of a live ``algo`` on each row of ``observations``."""
    config, spaces = with_frozen_obs_filter(algo.config), algo.spaces
    env_to_module = config.build_env_to_module_connector(spaces=spaces)
    module_to_env = config.build_module_to_env_connector(spaces=spaces)
    module = config.get_rl_module_spec(spaces=spaces, inference_only=False).build()
    module.set_state(module_state_from_algorithm(algo))
    module.eval()
    env_to_module.set_state({"MeanStdFilter": {None: filter_state_from_algorithm(algo)}})
    obs_space, act_space = spaces["__env_single__"]
    normalized, actions = [], []
    for obs in observations:
        episode = SingleAgentEpisode(observation_space=obs_space, action_space=act_space)
        episode.add_env_reset(observation=obs)
        # shared_data carries the batch-item bookkeeping from one pipeline to the other, as in the EnvRunner.
        shared_data = {}
        batch = env_to_module(rl_module=module, batch={}, episodes=[episode], explore=False,
                              shared_data=shared_data)
        normalized.append(batch[Columns.OBS][0].numpy())
        with torch.no_grad():
            out = module.forward_inference(batch)
        out = module_to_env(rl_module=module, batch=out, episodes=[episode], explore=False,
                            shared_data=shared_data)
        actions.append(np.asarray(out[Columns.ACTIONS_FOR_ENV][0]))
    (stats,) = env_to_module.get_state()["MeanStdFilter"][None]["running_stats"]
    return ReferenceInference(np.asarray(normalized), np.asarray(actions), stats["num_pushes"])


def checkpoint_reference_inference(checkpoint: str | Path, env_id: str,
                                   observations: np.ndarray) -> ReferenceInference:
    """:func:`rllib_reference_inference` of the Algorithm restored from an RLlib checkpoint folder."""
    register_rllib_env(env_id)
    algo = Algorithm.from_checkpoint(str(checkpoint))
    try:
        return rllib_reference_inference(algo, observations)
    finally:
        algo.stop()


def h1_observations(env_id: str, n: int = 40) -> np.ndarray:
    """``n`` observations of a random-action rollout of ``env_id`` plus 4 of them ×50, which exercise the
    MeanStdFilter's ±10 std clip; ``[n + 4, obs_dim]`` in the env's dtype."""
    import mwx_ray.envs  # noqa: F401  (registers the mwx/ ids)

    env = gym.make(env_id)
    obs, _ = env.reset(seed=5)
    rows, rng = [], np.random.default_rng(0)
    for _ in range(n):
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    rows = np.asarray(rows)
    return np.concatenate([rows, 50.0 * rows[:4]])
