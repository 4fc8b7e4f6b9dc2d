"""RLlib SAC config for one expert (new API stack, torch, CPU): the off-policy alternative to ``ppo.py``.

Env, seeding, MeanStdFilter and resources come from ``base_config.common_settings`` (shared with PPO).
SAC-specific RLlib 2.60 facts (checked in the installed sources under ``ray/rllib/``):
- ``algorithms/sac/sac.py`` ``SACConfig``: ``lr`` must stay None (``actor_lr``/``critic_lr``/``alpha_lr``
  instead); on the new stack the replay buffer must be an ``*EpisodeReplayBuffer``; ``rollout_fragment_length``
  must be ≥ ``n_step``; ``min_time_s_per_iteration`` defaults to 1 s (we set 0: iterations end on env steps).
- ``algorithms/dqn/dqn.py`` ``_training_step_new_api_stack`` (SAC subclasses DQN): each ``training_step``
  samples ``store_weight`` times (rollout_fragment_length × envs per runner × remote runners — or the local
  runner when there are none) into the buffer, then, once ``num_steps_sampled_before_learning_starts`` env
  steps were sampled, runs ``train_weight`` updates of ``train_batch_size_per_learner`` transitions, then syncs
  weights to the runners. ``calculate_rr_weights`` derives the two weights from ``training_intensity`` via the
  "native ratio" ``batch / (fragment × envs × (num_env_runners + 1))``; :func:`training_intensity` inverts it.
- ``algorithms/sac/sac_catalog.py``: the actor is ``pi_encoder`` (MLP over ``fcnet_hiddens``, activation after
  every layer) + ``pi`` head (``head_fcnet_hiddens``, linear output ``[mean ‖ log_std]`` of 2 × act_dim) feeding
  ``TorchSquashedGaussian``; ``free_log_std`` is refused (asserts a DiagGaussian). Critics: obs MLP + action MLP
  joined by a ``fusionnet_hiddens`` MLP (``MultiStreamEncoder``), then a head; ``twin_q`` doubles them.
- ``core/distribution/torch/torch_distribution.py`` ``TorchSquashedGaussian``: ``from_logits`` clamps the
  log-std to [-5, 2] (``utils/numpy.py`` MIN/MAX_LOG_NN_OUTPUT); samples are ``tanh``-squashed into [-1, 1].
  But ``to_deterministic()`` returns the *pre-tanh* mean (ray-project/ray#51544, open for 2.60), which the
  module-to-env connector then maps linearly and clips: RLlib's explore=False action would not be the mode of
  the policy SAC trained. :class:`SquashedModeCatalog` makes it ``squash(mean)``; training is unchanged
  (it only uses ``rsample``/``sample``/``logp``).

Observation normalization and the replay buffer: the MeanStdFilter normalizes observations in the episodes
*before* they reach the buffer, so each stored transition keeps the statistics of the moment it was collected;
one sampled batch mixes normalizations of different ages. Unlike PPO (always a fresh batch), the critic sees
slightly inconsistent inputs while the running statistics still move (mostly in the first ~10⁴ steps). The
exported expert and the router use the final statistics, which is what the latest policy was trained towards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.rllib.algorithms.sac import SACConfig
from ray.rllib.algorithms.sac.sac_catalog import SACCatalog
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic, TorchSquashedGaussian
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
from ray.rllib.core.rl_module.rl_module import RLModuleSpec

from mwx_ray.config.sac_schema import SACSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.base_config import common_settings


class SquashedModeGaussian(TorchSquashedGaussian):
    """RLlib's squashed Gaussian whose deterministic action is ``squash(mean)`` (in [-1, 1]), not the raw mean."""

    def to_deterministic(self) -> TorchDeterministic:
        return TorchDeterministic(loc=self._squash(self.loc))


class SquashedModeCatalog(SACCatalog):
    """``SACCatalog`` with :class:`SquashedModeGaussian` for Box actions (everything else unchanged)."""

    def get_action_dist_cls(self, framework: str):
        dist_cls = super().get_action_dist_cls(framework)
        return SquashedModeGaussian if dist_cls is TorchSquashedGaussian else dist_cls


def sac_model_config(sac: SACSection) -> DefaultModelConfig:
    """RLlib's default-model settings of the SAC networks (the actor part is what ExpertPolicy rebuilds)."""
    return DefaultModelConfig(
        fcnet_hiddens=list(sac.fcnet_hiddens),
        fcnet_activation=sac.activation,
        head_fcnet_hiddens=list(sac.head_fcnet_hiddens),
        head_fcnet_activation=sac.activation,
        fusionnet_hiddens=list(sac.fusionnet_hiddens),
        free_log_std=False,  # SACCatalog asserts a DiagGaussian for a free log-std; SAC's is state dependent
    )


def steps_per_sample_call(sac: SACSection, resources: ResourcesSection) -> int:
    """Env steps one SAC sample call collects: fragment × envs per runner × sampling runners."""
    fragment = sac.n_step if sac.rollout_fragment_length == "auto" else int(sac.rollout_fragment_length)
    return fragment * resources.envs_per_env_runner * max(resources.env_runners_per_trial, 1)


def training_intensity(sac: SACSection, resources: ResourcesSection) -> float:
    """RLlib's ``training_intensity`` (replayed ÷ sampled transitions) that yields ``sac.replay_ratio``
    gradient updates per sampled env step under ``calculate_rr_weights``' native-ratio formula.

    RLlib runs ``training_intensity / native_ratio`` updates per sample call (rounded; below 1 it samples
    ``round(1 / that)`` times per update instead), with ``native_ratio = batch / (fragment × envs ×
    (runners + 1))``. We want ``replay_ratio × steps_per_sample_call`` updates per call.
    """
    fragment = sac.n_step if sac.rollout_fragment_length == "auto" else int(sac.rollout_fragment_length)
    native_ratio = sac.train_batch_size_per_learner / (
        fragment * resources.envs_per_env_runner * max(resources.env_runners_per_trial + 1, 1))
    return sac.replay_ratio * steps_per_sample_call(sac, resources) * native_ratio


def build_sac_config(
    env_id: str,
    *,
    seed: int,
    sac: SACSection,
    resources: ResourcesSection,
    env_kwargs: Mapping[str, Any] | None = None,
    plugins: Sequence[str] = (),
) -> SACConfig:
    """SAC config for training one expert on gymnasium id ``env_id`` (arguments as ``build_ppo_config``'s).

    Returns:
        A ``SACConfig``; ``config.build_algo()`` trains it.
    """
    buffer = "PrioritizedEpisodeReplayBuffer" if sac.prioritized_replay else "EpisodeReplayBuffer"
    buffer_config: dict[str, Any] = {"type": buffer, "capacity": int(sac.replay_buffer_capacity)}
    if sac.prioritized_replay:
        buffer_config.update(alpha=0.6, beta=0.4)  # RLlib's SACConfig defaults
    return (
        common_settings(SACConfig(), env_id, seed=seed, resources=resources, obs_clip=sac.obs_clip,
                        rollout_fragment_length=sac.rollout_fragment_length, env_kwargs=env_kwargs,
                        plugins=plugins)
        .training(
            actor_lr=sac.actor_lr,
            critic_lr=sac.critic_lr,
            alpha_lr=sac.alpha_lr,
            gamma=sac.gamma,
            tau=sac.tau,
            initial_alpha=sac.initial_alpha,
            target_entropy=sac.target_entropy,
            train_batch_size_per_learner=sac.train_batch_size_per_learner,
            num_steps_sampled_before_learning_starts=sac.num_steps_sampled_before_learning_starts,
            training_intensity=training_intensity(sac, resources),
            # RLlib replaces its whole default buffer dict when `type` changes (deep_update's
            # override_all_if_type_changes), so uniform replay carries no stray PER keys.
            replay_buffer_config=buffer_config,
            n_step=sac.n_step,
            twin_q=sac.twin_q,
            grad_clip=sac.grad_clip,
        )
        .rl_module(model_config=sac_model_config(sac), rl_module_spec=RLModuleSpec(catalog_class=SquashedModeCatalog))
        .reporting(min_time_s_per_iteration=0, min_sample_timesteps_per_iteration=sac.min_sample_timesteps_per_iteration)
    )


def entropy_temperature(algo) -> dict[str, float]:
    """``{module_id: log alpha}`` of the (local) Learner.

    RLlib 2.60 keeps SAC's learned temperature in ``SACLearner.curr_log_alpha``, a tensor outside the RLModule
    and outside ``Learner.get_state`` (only its Adam state is saved), so ``Algorithm.save_to_path`` drops it and a
    restored Learner starts again from ``initial_alpha`` (measured: log alpha -2.6 → 0.0). The trainable saves
    this dict next to the checkpoint and puts it back with :func:`set_entropy_temperature`.
    """
    def read(learner) -> dict[str, float]:
        return {mid: float(value.detach().reshape(-1)[0]) for mid, value in learner.curr_log_alpha.items()}

    # Every Learner holds the same value (they sync gradients); the trainable runs one, local.
    return [result.get() for result in algo.learner_group.foreach_learner(read)][0]


def set_entropy_temperature(algo, log_alpha: Mapping[str, float]) -> None:
    """Write ``{module_id: log alpha}`` into every Learner, in place (its optimizer keeps the same tensor)."""
    import torch

    def write(learner) -> None:
        with torch.no_grad():
            for mid, value in log_alpha.items():
                learner.curr_log_alpha[mid].fill_(float(value))

    algo.learner_group.foreach_learner(write)


def refill_replay_buffer(algo, env_steps: int) -> int:
    """Sample ``env_steps`` with the current policy into the replay buffer, without updates; returns the count.

    New-stack checkpoints never hold the replay buffer (``Algorithm.get_state`` has no buffer component;
    ``store_buffer_in_checkpoints`` acts on the old stack's ``__getstate__`` only), and a restored Algorithm's
    lifetime step counter is already past ``num_steps_sampled_before_learning_starts``: without this, a
    restored trial would take gradient steps on a buffer of a few transitions. The runners report these steps
    with their next metrics, so the next ``train()`` counts them in its sampled env steps (and towards
    ``min_sample_timesteps_per_iteration``): measured, the MeanStdFilter count and RLlib's lifetime counter agree.
    """
    from ray.rllib.execution.rollout_ops import synchronous_parallel_sample

    if env_steps <= 0:
        return 0
    episodes = synchronous_parallel_sample(worker_set=algo.env_runner_group, max_env_steps=env_steps, concat=True,
                                           _uses_new_env_runners=True)
    algo.local_replay_buffer.add(episodes)
    return sum(len(episode) for episode in episodes)
