"""fastsac: an off-policy (SAC) expert that trains at CPU speed, built from RLlib's extension points.

``experts.algorithm: fastsac`` (hyperparameters: ``mwx_ray.config.fastsac_schema.FastSACSection``). What is RLlib's
and what is ours:
- sampling: RLlib ``SingleAgentEnvRunner``s with the experts' connectors (``base_config.common_settings``: batched
  MeanStdFilter, batched action unsquash), seeding, resources and checkpoint layout, like PPO and SAC;
- module (``module.py``): a ``TorchRLModule`` whose actor RLlib's SAC catalog builds (same state keys and action
  distribution as RLlib's SAC, so ``export.py`` writes it as a SAC actor and ``ExpertPolicy`` runs it), plus an
  ensemble of critics and the entropy temperature, learner-only;
- learner (``learner.py``): a ``TorchLearner`` with a flat replay buffer on its device and a fused update;
- algorithm (``algorithm.py``): ``AlgorithmConfig`` + ``Algorithm.training_step`` (sample, store, update, sync).
Exported experts use the ordinary expert format (manifest + safetensors, ``algorithm: fastsac``, tanh squashing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from mwx_ray.config.fastsac_schema import FastSACSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.base_config import common_settings
from mwx_ray.experts.fastsac.algorithm import FastSAC, FastSACConfig, episodes_to_transitions

__all__ = ["FastSAC", "FastSACConfig", "build_fastsac_config", "episodes_to_transitions", "fastsac_model_config"]


def fastsac_model_config(section: FastSACSection) -> dict[str, Any]:
    """The module's ``model_config``: RLlib's default-model keys for the actor (what the SAC catalog and the
    exporter read) plus the critic settings (``module.CRITIC_KEYS``)."""
    actor = DefaultModelConfig(
        fcnet_hiddens=list(section.fcnet_hiddens),
        fcnet_activation=section.activation,
        head_fcnet_hiddens=list(section.head_fcnet_hiddens),
        head_fcnet_activation=section.activation,
        free_log_std=False,  # the squashed Gaussian's log-std is state dependent, as in RLlib's SAC
    )
    return {
        **asdict(actor),
        "twin_q": section.num_critics >= 2,  # read by SACCatalog's (unused) Q-network configs
        "critic_hiddens": list(section.critic_hiddens),
        "critic_activation": section.critic_activation,
        "critic_layer_norm": section.critic_layer_norm,
        "num_critics": section.num_critics,
        "initial_alpha": section.initial_alpha,
    }


def build_fastsac_config(
    env_id: str,
    *,
    seed: int,
    fastsac: FastSACSection,
    resources: ResourcesSection,
    env_kwargs: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
) -> FastSACConfig:
    """fastsac config for training one expert on ``env_id`` (arguments as ``build_ppo_config``'s)."""
    config = common_settings(FastSACConfig(), env_id, seed=seed, resources=resources, obs_clip=fastsac.obs_clip,
                             rollout_fragment_length=fastsac.rollout_fragment_length, env_kwargs=env_kwargs,
                             plugins=plugins)
    return (
        config
        .training(
            actor_lr=fastsac.actor_lr,
            critic_lr=fastsac.critic_lr,
            alpha_lr=fastsac.alpha_lr,
            gamma=fastsac.gamma,
            tau=fastsac.tau,
            target_entropy=fastsac.target_entropy,
            train_batch_size_per_learner=fastsac.train_batch_size_per_learner,
            num_steps_sampled_before_learning_starts=fastsac.num_steps_sampled_before_learning_starts,
            replay_ratio=fastsac.replay_ratio,
            replay_buffer_capacity=fastsac.replay_buffer_capacity,
            q_target=fastsac.q_target,
            grad_clip=fastsac.grad_clip,
        )
        .rl_module(model_config=fastsac_model_config(fastsac))
        .reporting(min_time_s_per_iteration=0,
                   min_sample_timesteps_per_iteration=fastsac.min_sample_timesteps_per_iteration)
    )
