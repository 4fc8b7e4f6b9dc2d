"""Env-runner connector pipelines that work once per vector-env step instead of once per sub-env.

Profiled on ``SingleAgentEnvRunner.sample`` (h1-walk, 16 envs per runner, PPO 256x256, one torch thread), RLlib
2.60's connector pipelines cost ~30% of sampling time on top of the env itself, most of it per sub-env item:
- ``connectors/env_to_module/mean_std_filter.py``: the filter is called once per sub-env episode, and
  ``utils/filter.py`` ``RunningStat.push`` runs Welford's update one observation at a time (plus a second push
  into the delta buffer); then the default pieces re-read every episode's observation, batch the items and
  convert them to a tensor;
- ``connectors/module_to_env/``: ``UnBatchToIndividualItems`` splits every column per episode,
  ``NormalizeAndClipActions`` deep-copies the actions and unsquashes them one ``tree.map_structure`` at a time,
  ``ListifyDataForVectorEnv`` stacks them again for the vector env.

:class:`MeanStdFilter` keeps RLlib's filter state, format and merge logic (``RunningStat`` objects, the delta
buffer merged across runners, ``get_state``/``set_state``/``merge_states``) and batches the work: one vectorised
Welford/Chan update per call for all sub-envs, one vectorised normalization, and (``emit_batch``) the module's
``OBS`` tensor. One difference from RLlib's piece, by design: the ``k`` observations of one vector step are
normalized with the statistics after all ``k`` pushes (RLlib: the i-th with those after ``i`` pushes); only the
first few hundred steps of a run see a measurable difference, and the statistics agree with sequential pushes to
floating-point rounding (unit-tested). Its class name is ``MeanStdFilter`` on purpose: RLlib keys connector state
by class name (``connector_pipeline_v2.py`` ``get_state``), so checkpoints keep the
``env_to_module_connector/MeanStdFilter/`` path that ``export.py`` reads, and old checkpoints restore into it.

:class:`BatchedNormalizeAndClipActions` computes ``ACTIONS_FOR_ENV`` on the whole ``[B, act_dim]`` action array with
exactly RLlib's per-element arithmetic (``space_utils.unsquash_action``: ``low + (a + 1) * (high - low) / 2`` then
``clip``; or ``clip`` alone), so env actions are bit-identical; :func:`module_to_env_pipeline` leaves the columns
batched. Both pipelines are for stateless single-agent modules (every expert).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter as _RLlibMeanStdFilter
from ray.rllib.connectors.module_to_env import GetActions, TensorToNumpy
from ray.rllib.core.columns import Columns
from ray.rllib.utils.filter import RunningStat
from ray.rllib.utils.numpy import SMALL_NUMBER


def push_batch(stats: RunningStat, x: np.ndarray) -> None:
    """Push the rows of ``x`` ``[k, *shape]`` into ``stats`` as ``k`` calls of ``RunningStat.push`` would.

    Mean and sum of squared deviations combine by Chan et al.'s parallel formula; the ``*_delta`` fields move
    by the same amounts as the main fields (in ``push`` they receive identical increments, except that the first
    push ever sets ``mean_delta_array`` to the observation), so ``merge_states`` across runners sees the same
    deltas as with RLlib's filter.
    """
    k = int(x.shape[0])
    if k == 0:
        return
    x = x.astype(np.float64, copy=False)
    n_old = stats.num_pushes
    n_new = n_old + k
    batch_mean = x.mean(axis=0)
    batch_m2 = ((x - batch_mean) ** 2).sum(axis=0)
    old_mean = np.array(stats.mean_array, dtype=np.float64, copy=True)
    delta = batch_mean - old_mean
    new_mean = old_mean + delta * (k / n_new)
    m2_increment = batch_m2 + delta * delta * (n_old * k / n_new)
    stats.mean_array[...] = new_mean
    stats.sum_sq_diff_array[...] += m2_increment
    if n_old == 0:
        stats.mean_delta_array[...] = new_mean
    else:
        stats.mean_delta_array[...] += new_mean - old_mean
    stats.sum_sq_diff_delta_array[...] += m2_increment
    stats.num_pushes = n_new
    stats.num_pushes_delta += k


class MeanStdFilter(_RLlibMeanStdFilter):
    """RLlib's ``MeanStdFilter`` for flat Box observations, batched over a vector env's sub-envs.

    Same state and output dtype as RLlib's; see the module docstring for the one difference. Anything but a single
    flat Box observation (dicts, discrete parts) falls back to RLlib's per-item code.

    ``emit_batch=True`` also writes the filtered ``[B, obs_dim]`` observations as the batch's ``OBS`` tensor (on
    ``device``), in episode order: what RLlib's default env-to-module pieces (``AddObservationsFromEpisodesToBatch``
    … ``NumpyToTensor``) would build for a stateless single-agent module, without re-reading every episode.
    Use it as the whole pipeline, with ``add_default_connectors_to_env_to_module_pipeline=False``.
    """

    def __init__(self, *, emit_batch: bool = False, device=None, **kwargs):
        super().__init__(**kwargs)
        if emit_batch and self._multi_agent:
            raise ValueError("emit_batch builds a single-agent batch; multi-agent needs RLlib's default pieces")
        self.emit_batch = bool(emit_batch)
        self.device = device

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, persistent_data=None,
                 **kwargs) -> Any:
        if self._filters is None:
            self._init_new_filters()
        if self._multi_agent or not isinstance(self.input_observation_space, gym.spaces.Box):
            return super().__call__(rl_module=rl_module, batch=batch, episodes=episodes, explore=explore,
                                    persistent_data=persistent_data, **kwargs)
        sa_episodes = list(self.single_agent_episode_iterator(episodes))
        if not sa_episodes:
            return batch
        obs = np.stack([episode.get_observations(indices=-1) for episode in sa_episodes])
        normalized = self.normalize(obs, update=self._update_stats)
        for episode, row in zip(sa_episodes, normalized, strict=True):
            episode.set_observations(at_indices=-1, new_data=row)
            # As RLlib's piece: the episode now holds filtered obs, so it must accept the clipped Box.
            episode.observation_space = self.observation_space
        if self.emit_batch:
            # As NumpyToTensor (utils/torch_utils.py convert_to_torch_tensor): float64 obs reach the module as float32.
            tensor = torch.from_numpy(normalized)
            batch[Columns.OBS] = (tensor.float() if tensor.dtype == torch.float64 else tensor).to(self.device or "cpu")
        return batch

    def normalize(self, obs: np.ndarray, *, update: bool) -> np.ndarray:
        """Raw observations ``[k, obs_dim]`` -> filtered ``[k, obs_dim]`` (same dtype), optionally pushing them
        into the running statistics and the delta buffer first (``utils/filter.py`` ``MeanStdFilter.__call__``
        arithmetic, vectorised)."""
        agent_filter = self._filters[None]
        stats, buffer = agent_filter.running_stats, agent_filter.buffer
        if update:
            push_batch(stats, obs)
            push_batch(buffer, obs)
        orig_dtype = obs.dtype
        x = obs
        if agent_filter.demean:
            x = x - stats.mean
        if agent_filter.destd:
            x = x / (stats.std + SMALL_NUMBER)
        if agent_filter.clip:
            x = np.clip(x, -agent_filter.clip, agent_filter.clip)
        return x.astype(orig_dtype)


class BatchedNormalizeAndClipActions(ConnectorV2):
    """RLlib's ``NormalizeAndClipActions`` for one Box action space, on the batched ``[B, act_dim]`` array.

    Must run after ``TensorToNumpy`` and before ``UnBatchToIndividualItems``. Other action spaces are passed on
    untouched by this piece; :func:`module_to_env_pipeline` only uses it for Box spaces.
    """

    def __init__(self, input_observation_space=None, input_action_space=None, *, normalize_actions: bool,
                 clip_actions: bool, **kwargs):
        super().__init__(input_observation_space, input_action_space, **kwargs)
        self.normalize_actions = bool(normalize_actions)
        self.clip_actions = bool(clip_actions)

    def __call__(self, *, rl_module, batch: dict[str, Any], episodes, explore=None, shared_data=None,
                 **kwargs) -> Any:
        space = self.action_space
        if not isinstance(space, gym.spaces.Box) or not (self.normalize_actions or self.clip_actions):
            return batch
        actions = np.asarray(batch[Columns.ACTIONS])
        if self.normalize_actions:
            # space_utils.unsquash_action: only float Boxes bounded on both sides are unsquashed.
            if (np.all(space.bounded_below) and np.all(space.bounded_above)
                    and space.dtype in (np.float32, np.float64)):
                unsquashed = space.low + (actions + 1.0) * (space.high - space.low) / 2.0
                batch[Columns.ACTIONS_FOR_ENV] = np.clip(unsquashed, space.low, space.high)
            else:
                batch[Columns.ACTIONS_FOR_ENV] = actions.copy()
        else:
            batch[Columns.ACTIONS_FOR_ENV] = np.clip(actions, space.low, space.high)
        return batch


def module_to_env_pipeline(env=None, spaces=None, device=None, *, normalize_actions: bool,
                           clip_actions: bool) -> list[ConnectorV2]:
    """``module_to_env_connector`` factory for a stateless single-agent module (the experts): RLlib 2.60's
    default pieces (``algorithm_config.py`` ``build_module_to_env_connector``) up to ``TensorToNumpy``, then the
    batched action piece, and no unbatching. ``SingleAgentEnvRunner._sample`` only indexes the output columns by
    env index (``v[env_index]``) and steps the vector env with the ``[B, act_dim]`` array, which is what
    ``UnBatchToIndividualItems`` + ``ListifyDataForVectorEnv`` rebuild item by item. Use with
    ``add_default_connectors_to_module_to_env_pipeline=False``."""
    return [
        GetActions(),
        TensorToNumpy(),
        BatchedNormalizeAndClipActions(normalize_actions=normalize_actions, clip_actions=clip_actions),
    ]
