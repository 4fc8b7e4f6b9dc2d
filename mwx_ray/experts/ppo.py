"""RLlib PPO config for one expert (new API stack: RLModule / Learner / EnvRunner / ConnectorV2, torch, CPU).

Env, seeding, MeanStdFilter observation normalization and resources are shared with SAC
(``mwx_ray.experts.base_config``, whose docstring lists the RLlib facts they rely on). PPO-specific RLlib 2.60
facts (checked in the installed sources under ``ray/rllib/``):
- Log-std bound: ``DefaultModelConfig.log_std_clip_param`` (default 20.0 — i.e. clipping is ON in 2.60,
  but ``exp(-20)`` is no protection). ``algorithms/ppo/ppo_catalog.py`` passes it to the pi head with
  ``clip_log_std=True`` for diagonal Gaussians; ``core/models/torch/heads.py`` clamps the log-std half of
  the head output (``TorchMLPHead``) or the free ``log_std`` parameter (``TorchFreeLogStdMLPHead``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium
import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.config.schema import ResourcesSection

# Re-exported: older checkpoints pickle the connector factory as mwx_ray.experts.ppo.mean_std_filter_connector.
from mwx_ray.experts.base_config import (  # noqa: F401
    common_settings,
    mean_std_filter_connector,
    with_frozen_obs_filter,
)
from mwx_ray.experts.env_registration import import_project_envs
from mwx_ray.experts.pipelined_ppo import PipelinedPPO
from mwx_ray.experts.ppo_learner import ACTION_BOUND_KEY, FastPPOTorchLearner


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


def initial_log_std(env_id: str, ppo: PPOSection, env_kwargs: Mapping[str, Any] | None) -> float | list[float] | None:
    """The free log-std to start from: ``log_std_init``, or per actuator from ``exploration_std_ctrl``."""
    if ppo.exploration_std_ctrl is None:
        return ppo.log_std_init
    if env_id.startswith("mwx/"):
        import_project_envs()
    env = gymnasium.make(env_id, **(env_kwargs or {}))
    try:
        ctrl_per_action = getattr(env.unwrapped, "ctrl_per_action", None)
        if ctrl_per_action is None:
            raise ValueError(f"exploration_std_ctrl needs an mwx H1 env (with ctrl_per_action); {env_id} has none")
        return np.log(ppo.exploration_std_ctrl / np.asarray(ctrl_per_action)).tolist()
    finally:
        env.close()


def initialize_policy(*, algorithm, log_std: float | list[float] | None, output_scale: float | None,
                      **_kwargs) -> None:
    """``on_algorithm_init`` callback: set the free log-std parameter and/or rescale the pi head's output layer
    on every learner's module, then push the weights to the env runners. Runs before any checkpoint restore,
    so a restored run keeps its learned weights."""
    from ray.rllib.core import DEFAULT_MODULE_ID

    def assign(learner) -> None:
        module = learner.module[DEFAULT_MODULE_ID]
        with torch.no_grad():
            if log_std is not None:
                log_std_param = dict(module.named_parameters())["pi.log_std"]
                log_std_param.copy_(torch.as_tensor(log_std, dtype=log_std_param.dtype).expand_as(log_std_param))
            if output_scale is not None:
                output_layer = [layer for layer in module.pi.modules() if isinstance(layer, torch.nn.Linear)][-1]
                output_layer.weight.mul_(output_scale)
                output_layer.bias.zero_()

    algorithm.learner_group.foreach_learner(assign)
    algorithm.env_runner_group.sync_weights(from_worker_or_learner_group=algorithm.learner_group,
                                            inference_only=True, timeout_seconds=60.0)


def build_ppo_config(
    env_id: str,
    *,
    seed: int,
    ppo: PPOSection,
    resources: ResourcesSection,
    env_kwargs: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
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
    config = (
        common_settings(PPOConfig(algo_class=PipelinedPPO if ppo.pipelined else None), env_id, seed=seed, resources=resources, obs_clip=ppo.obs_clip,
                        rollout_fragment_length=ppo.rollout_fragment_length, env_kwargs=env_kwargs,
                        plugins=plugins)
        .training(
            lr=ppo.lr if ppo.lr_schedule is None else ppo.lr_schedule,
            gamma=ppo.gamma,
            lambda_=ppo.lambda_,
            clip_param=ppo.clip_param,
            vf_clip_param=ppo.vf_clip_param,
            entropy_coeff=ppo.entropy_coeff,
            use_kl_loss=ppo.use_kl_loss,
            kl_coeff=ppo.kl_coeff,
            kl_target=ppo.kl_target,
            vf_loss_coeff=ppo.vf_loss_coeff,
            train_batch_size_per_learner=ppo.train_batch_size_per_learner,
            minibatch_size=ppo.minibatch_size,
            num_epochs=ppo.num_epochs,
            grad_clip=ppo.grad_clip,
        )
        .rl_module(model_config=model_config(ppo))
        # RLlib's PPO loss with a fused Adam and one finiteness check per minibatch (ppo_learner.py).
        .learners(learner_class=FastPPOTorchLearner, learner_config_dict={ACTION_BOUND_KEY: ppo.action_bound_coef})
    )
    log_std = initial_log_std(env_id, ppo, env_kwargs)
    if log_std is not None or ppo.pi_output_scale is not None:
        config.callbacks(on_algorithm_init=functools.partial(
            initialize_policy, log_std=log_std, output_scale=ppo.pi_output_scale))
    return config
