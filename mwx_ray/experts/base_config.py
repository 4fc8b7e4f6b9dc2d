"""What every expert algorithm's RLlib config shares: env, seeding, MeanStdFilter, resources, one local Learner.

``build_ppo_config`` (ppo.py), ``build_sac_config`` (sac.py) and ``build_fastsac_config`` (fastsac/) start from
:func:`common_settings` and add only their algorithm's training and model settings, so every algorithm sees the
same env, seeds, normalization, connector pipelines and resource request.

RLlib 2.60 facts relied on (checked in the installed sources under ``ray/rllib/``):
- New stack is the default (``algorithms/algorithm_config.py``: ``enable_rl_module_and_learner`` and
  ``enable_env_runner_and_connector_v2`` are True); ``.api_stack(...)`` below only makes it explicit.
- Observation normalization: ``connectors/env_to_module/mean_std_filter.py`` ``MeanStdFilter`` (our batched
  subclass of it, ``connectors.py``, which also builds the module's obs batch) added through
  ``.env_runners(env_to_module_connector=fn(env, spaces, device))``. It rewrites the episodes' observations
  in place (the final observation of a finished episode too: ``env/single_agent_env_runner.py`` runs the
  env-to-module pipeline on every ongoing episode after each step), so the Learner trains on the normalized
  obs the runner acted on. Its state is merged from the remote runners and broadcast back after every
  ``training_step`` (``env/env_runner_group.py`` ``sync_env_runner_states``). In a checkpoint it lives under
  ``env_runner/env_to_module_connector/MeanStdFilter/`` (local EnvRunner, the default
  ``create_local_env_runner=True``) or ``env_to_module_connector/MeanStdFilter/`` (no local runner) —
  ``algorithms/algorithm.py`` ``get_checkpointable_components``.
- Seeding: ``.debugging(seed=s)`` seeds the Learner (``core/learner/learner.py``) and each EnvRunner with
  ``s + worker_index`` (``env/env_runner.py``); sub-env seeds are made independent by
  ``env_registration.PerEnvSeedWrapper`` (see that module for why RLlib's own scheme collides).
- Actions: ``normalize_actions=True`` (default) means the module acts in [-1, 1] and the module-to-env
  connector maps to the Box bounds, then clips (``utils/spaces/space_utils.py`` ``unsquash_action``; done on the
  whole batch by ``connectors.BatchedNormalizeAndClipActions``, same arithmetic).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.connectors import MeanStdFilter, module_to_env_pipeline
from mwx_ray.experts.env_registration import BASE_SEED_KEY, PLUGINS_KEY, register_rllib_env
from mwx_ray.experts.ppo_learner import TORCH_THREADS_KEY

ConfigT = TypeVar("ConfigT", bound=AlgorithmConfig)


def mean_std_filter_connector(
    env=None, spaces=None, device=None, *, obs_clip: float, update_stats: bool = True
) -> MeanStdFilter:
    """``env_to_module_connector`` factory (module level, so it pickles cleanly to remote runners): the batched
    filter of ``mwx_ray.experts.connectors`` (RLlib's state and checkpoint layout, one vectorised update per
    vector-env step)."""
    return MeanStdFilter(multi_agent=False, clip_by_value=obs_clip, update_stats=update_stats, emit_batch=True,
                         device=device)


def with_frozen_obs_filter(config: ConfigT) -> ConfigT:
    """Copy of an expert config (``build_ppo_config``/``build_sac_config``) whose MeanStdFilter normalizes
    without updating its stats.

    RLlib's filter pushes every observation into its running stats *before* normalizing it, on
    evaluation runners too (``ray/rllib/utils/filter.py``), so evaluation with the training config drifts
    from a deployed expert. Use this copy for evaluation runners or reference inference.
    """
    factory = config._env_to_module_connector
    if not (isinstance(factory, functools.partial) and factory.func is mean_std_filter_connector):
        raise ValueError("config was not built by build_ppo_config/build_sac_config (no mwx MeanStdFilter connector)")
    frozen = functools.partial(
        mean_std_filter_connector, obs_clip=factory.keywords["obs_clip"], update_stats=False
    )
    return config.copy(copy_frozen=False).env_runners(env_to_module_connector=frozen)


def common_settings(
    config: ConfigT,
    env_id: str,
    *,
    seed: int,
    resources: ResourcesSection,
    obs_clip: float,
    rollout_fragment_length: int | str,
    env_kwargs: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
) -> ConfigT:
    """``config`` (a fresh ``PPOConfig()``/``SACConfig()``) with the env, seeds, MeanStdFilter and resources set.

    Args:
        env_id: a gymnasium id (``mwx/h1-stand-v0``, ``Pendulum-v1``); registered with Tune here.
        seed: trial seed: Learner init, per-runner RNGs, and (via PerEnvSeedWrapper) per-sub-env resets.
        resources: env runners per trial, envs per runner, CPUs/GPUs (``resources`` of the config).
        obs_clip: MeanStdFilter output clip in standard deviations.
        env_kwargs: keyword arguments for ``gymnasium.make(env_id, **env_kwargs)`` (task settings).
        plugins: modules every env runner imports before building its envs (``run.plugins``).
    """
    register_rllib_env(env_id)
    return (
        config
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env=env_id, env_config={**(env_kwargs or {}), BASE_SEED_KEY: int(seed),
                                             PLUGINS_KEY: list(plugins)})
        .env_runners(
            num_env_runners=resources.env_runners_per_trial,
            num_envs_per_env_runner=resources.envs_per_env_runner,
            num_cpus_per_env_runner=resources.cpus_per_env_runner,
            rollout_fragment_length=rollout_fragment_length,
            # The batched filter also builds the module's OBS batch, replacing RLlib's default env-to-module
            # pieces (connectors.py); with the module-to-env pieces below, a vector step costs one pass per call.
            env_to_module_connector=functools.partial(mean_std_filter_connector, obs_clip=obs_clip),
            add_default_connectors_to_env_to_module_pipeline=False,
            # RLlib's default module-to-env pieces with the action unsquash/clip done once on the [B, act_dim]
            # array (bit-identical actions; connectors.py), following the config's normalize_actions/clip_actions
            # (RLlib's defaults True/False), which export.py records for ExpertPolicy.
            module_to_env_connector=functools.partial(module_to_env_pipeline,
                                                      normalize_actions=config.normalize_actions,
                                                      clip_actions=config.clip_actions),
            add_default_connectors_to_module_to_env_pipeline=False,
        )
        .resources(num_cpus_for_main_process=resources.cpus_per_learner)
        # One local Learner in the trial's driver process: no extra actor on a 2-core box.
        # num_cpus_per_learner too: with num_learners=0 RLlib sizes the trial-process bundle as
        # max(num_cpus_per_learner ("auto" = 1 CPU), num_cpus_for_main_process), so 0.5 alone would still ask 1.
        # gpus_per_learner > 0 puts the local learner on cuda: the trial-process bundle asks for the GPU
        # (algorithms/utils.py _get_main_process_bundle) and TorchLearner.build picks get_device(config, n).
        .learners(num_learners=0, num_cpus_per_learner=resources.cpus_per_learner,
                  num_gpus_per_learner=resources.gpus_per_learner,
                  learner_config_dict={TORCH_THREADS_KEY: resources.torch_threads_per_learner})
        .debugging(seed=int(seed))
    )
