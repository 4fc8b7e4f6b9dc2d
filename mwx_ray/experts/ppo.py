"""RLlib PPO config for one expert (new API stack: RLModule / Learner / EnvRunner / ConnectorV2, torch, CPU).

RLlib 2.60 facts this builder relies on (checked in the installed sources under ``ray/rllib/``):
- New stack is the default (``algorithms/algorithm_config.py``: ``enable_rl_module_and_learner`` and
  ``enable_env_runner_and_connector_v2`` are True); ``.api_stack(...)`` below only makes it explicit.
- Observation normalization: ``connectors/env_to_module/mean_std_filter.py`` ``MeanStdFilter`` added through
  ``.env_runners(env_to_module_connector=fn(env, spaces, device))``. It rewrites the episodes' observations
  in place, so the Learner trains on the same normalized obs the runner acted on. Its state is merged
  from the remote runners and broadcast back after every ``training_step`` (``env/env_runner_group.py``
  ``sync_env_runner_states``; ``merge_env_runner_states="training_only"``, ``broadcast_env_runner_states``).
  In a checkpoint it lives under ``env_runner/env_to_module_connector/MeanStdFilter/`` (local EnvRunner,
  the default ``create_local_env_runner=True``) or ``env_to_module_connector/MeanStdFilter/`` (no local
  runner) — ``algorithms/algorithm.py`` ``get_checkpointable_components``.
- Log-std bound: ``DefaultModelConfig.log_std_clip_param`` (default 20.0 — i.e. clipping is ON in 2.60,
  but ``exp(-20)`` is no protection). ``algorithms/ppo/ppo_catalog.py`` passes it to the pi head with
  ``clip_log_std=True`` for diagonal Gaussians; ``core/models/torch/heads.py`` clamps the log-std half of
  the head output (``TorchMLPHead``) or the free ``log_std`` parameter (``TorchFreeLogStdMLPHead``).
- Seeding: ``.debugging(seed=s)`` seeds the Learner (``core/learner/learner.py``) and each EnvRunner with
  ``s + worker_index`` (``env/env_runner.py``); sub-env seeds are made independent by
  ``env_registration.PerEnvSeedWrapper`` (see that module for why RLlib's own scheme collides).
- Actions: ``normalize_actions=True`` (default) means the module acts in [-1, 1] and the module-to-env
  connector maps to the Box bounds, then clips (``utils/spaces/space_utils.py`` ``unsquash_action``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.env_registration import BASE_SEED_KEY, register_rllib_env


def model_config(ppo: PPOSection) -> DefaultModelConfig:
    """RLlib's default-model settings for an expert's network (also what ExpertPolicy rebuilds)."""
    return DefaultModelConfig(
        fcnet_hiddens=list(ppo.fcnet_hiddens),
        fcnet_activation=ppo.activation,
        head_fcnet_hiddens=list(ppo.head_fcnet_hiddens),
        head_fcnet_activation=ppo.activation,
        free_log_std=ppo.free_log_std,
        log_std_clip_param=ppo.log_std_clip_param,
        vf_share_layers=ppo.vf_share_layers,
    )


def set_initial_log_std(*, algorithm, value: float, **_kwargs) -> None:
    """``on_algorithm_init`` callback: set the free log-std parameter of every learner's module, then push the
    weights to the env runners. Runs before any checkpoint restore, so a restored run keeps its learned std."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    def assign(learner) -> None:
        module = learner.module[DEFAULT_MODULE_ID]
        log_std = dict(module.named_parameters())["pi.log_std"]
        with torch.no_grad():
            log_std.fill_(value)

    algorithm.learner_group.foreach_learner(assign)
    algorithm.env_runner_group.sync_weights(from_worker_or_learner_group=algorithm.learner_group,
                                            inference_only=True, timeout_seconds=60.0)


def mean_std_filter_connector(
    env=None, spaces=None, device=None, *, obs_clip: float, update_stats: bool = True
) -> MeanStdFilter:
    """``env_to_module_connector`` factory (module level, so it pickles cleanly to remote runners)."""
    return MeanStdFilter(multi_agent=False, clip_by_value=obs_clip, update_stats=update_stats)


def with_frozen_obs_filter(config: PPOConfig) -> PPOConfig:
    """Copy of a ``build_ppo_config`` config whose MeanStdFilter normalizes without updating its stats.

    RLlib's filter pushes every observation into its running stats *before* normalizing it, on
    evaluation runners too (``ray/rllib/utils/filter.py``), so evaluation with the training config drifts
    from a deployed expert. Use this copy for evaluation runners or reference inference.
    """
    factory = config._env_to_module_connector
    if not (isinstance(factory, functools.partial) and factory.func is mean_std_filter_connector):
        raise ValueError("config was not built by build_ppo_config (no mwx MeanStdFilter connector)")
    frozen = functools.partial(
        mean_std_filter_connector, obs_clip=factory.keywords["obs_clip"], update_stats=False
    )
    return config.copy(copy_frozen=False).env_runners(env_to_module_connector=frozen)


def build_ppo_config(
    env_id: str,
    *,
    seed: int,
    ppo: PPOSection,
    resources: ResourcesSection,
    env_kwargs: Mapping[str, Any] | None = None,
) -> PPOConfig:
    """PPO config for training one expert on gymnasium id ``env_id``.

    Args:
        env_id: a gymnasium id (``mwx/h1-stand-v0``, ``Pendulum-v1``); registered with Tune here.
        seed: trial seed: Learner init, per-runner RNGs, and (via PerEnvSeedWrapper) per-sub-env resets.
        ppo: hyperparameters (``experts.ppo`` of the config, with the skill's overrides).
        resources: env runners per trial, envs per runner, CPUs/GPUs (``resources`` of the config).
        env_kwargs: keyword arguments for ``gymnasium.make(env_id, **env_kwargs)`` (task options).

    Returns:
        A ``PPOConfig``; ``config.build_algo()`` (or ``tune.Tuner("PPO", param_space=config)``) trains it.
    """
    register_rllib_env(env_id)
    config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env=env_id, env_config={**(env_kwargs or {}), BASE_SEED_KEY: int(seed)})
        .env_runners(
            num_env_runners=resources.env_runners_per_trial,
            num_envs_per_env_runner=resources.envs_per_env_runner,
            num_cpus_per_env_runner=resources.cpus_per_env_runner,
            rollout_fragment_length=ppo.rollout_fragment_length,
            env_to_module_connector=functools.partial(mean_std_filter_connector, obs_clip=ppo.obs_clip),
        )
        .resources(num_cpus_for_main_process=resources.cpus_per_learner)
        # One local Learner in the trial's driver process: no extra actor on a 2-core box.
        # num_cpus_per_learner too: with num_learners=0 RLlib sizes the trial-process bundle as
        # max(num_cpus_per_learner ("auto" = 1 CPU), num_cpus_for_main_process), so 0.5 alone would still ask 1.
        .learners(num_learners=0, num_cpus_per_learner=resources.cpus_per_learner,
                  num_gpus_per_learner=resources.gpus_per_learner)
        .training(
            lr=ppo.lr,
            gamma=ppo.gamma,
            lambda_=ppo.lambda_,
            clip_param=ppo.clip_param,
            vf_clip_param=ppo.vf_clip_param,
            entropy_coeff=ppo.entropy_coeff,
            vf_loss_coeff=ppo.vf_loss_coeff,
            train_batch_size_per_learner=ppo.train_batch_size_per_learner,
            minibatch_size=ppo.minibatch_size,
            num_epochs=ppo.num_epochs,
            grad_clip=ppo.grad_clip,
        )
        .rl_module(model_config=model_config(ppo))
        .debugging(seed=int(seed))
    )
    if ppo.log_std_init is not None:
        config.callbacks(on_algorithm_init=functools.partial(set_initial_log_std, value=ppo.log_std_init))
    return config
