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

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter
from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

from mwx_ray.experts.env_registration import BASE_SEED_KEY, register_rllib_env

# Activations that both RLlib (models/utils.py get_activation_fn) and ExpertPolicy rebuild identically.
SUPPORTED_ACTIVATIONS = ("tanh", "relu", "silu", "swish", "elu")


@dataclasses.dataclass(frozen=True)
class PPOHyperparams:
    """PPO + network hyperparameters for one expert trial. Defaults fit a 2-core CPU machine.

    The PPO numbers follow common MuJoCo-locomotion PPO settings (cleanrl ppo_continuous_action:
    lr 3e-4, gamma 0.99, lambda 0.95, clip 0.2, 10 epochs); per-skill values belong in tune_configs.
    """

    lr: float = 3e-4
    gamma: float = 0.99
    lambda_: float = 0.95
    clip_param: float = 0.2
    vf_clip_param: float = 10.0
    entropy_coeff: float = 0.0
    vf_loss_coeff: float = 0.5
    train_batch_size_per_learner: int = 4000
    minibatch_size: int = 256
    num_epochs: int = 10
    grad_clip: float | None = 0.5
    fcnet_hiddens: tuple[int, ...] = (256, 256)
    activation: str = "tanh"
    head_fcnet_hiddens: tuple[int, ...] = ()
    free_log_std: bool = True
    vf_share_layers: bool = False
    # |log std| bound of the Gaussian policy: std in [e^-5, e^5] = [0.0067, 148]; low enough for fine
    # control, high enough that a collapsing std never produces inf/NaN log-probs.
    log_std_clip_param: float = 5.0
    # MeanStdFilter output clip (RLlib's default 10.0, in standard deviations).
    obs_clip: float = 10.0
    # One CPU for the driver (which also hosts the local Learner), one per EnvRunner.
    num_cpus_per_env_runner: float = 1.0
    num_cpus_for_main_process: float = 1.0
    rollout_fragment_length: int | str = "auto"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PPOHyperparams:
        """Build from a plain mapping (YAML / Tune param space); unknown keys are an error."""
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - valid)
        if unknown:
            raise ValueError(f"unknown PPO hparams {unknown}; valid names: {sorted(valid)}")
        values = dict(values)
        for key in ("fcnet_hiddens", "head_fcnet_hiddens"):
            if key in values:
                values[key] = tuple(int(h) for h in values[key])
        hparams = cls(**values)
        hparams.validate()
        return hparams

    def validate(self) -> None:
        if self.activation not in SUPPORTED_ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r} unsupported; valid: {SUPPORTED_ACTIVATIONS}")
        if not self.fcnet_hiddens:
            raise ValueError("fcnet_hiddens must list at least one hidden layer size")
        if self.minibatch_size > self.train_batch_size_per_learner:
            raise ValueError(
                f"minibatch_size {self.minibatch_size} > train_batch_size_per_learner "
                f"{self.train_batch_size_per_learner}"
            )
        if not 0.0 < self.log_std_clip_param < 20.0:
            raise ValueError("log_std_clip_param must be in (0, 20): RLlib's 20.0 does not prevent collapse")

    def model_config(self) -> DefaultModelConfig:
        return DefaultModelConfig(
            fcnet_hiddens=list(self.fcnet_hiddens),
            fcnet_activation=self.activation,
            head_fcnet_hiddens=list(self.head_fcnet_hiddens),
            head_fcnet_activation=self.activation,
            free_log_std=self.free_log_std,
            log_std_clip_param=self.log_std_clip_param,
            vf_share_layers=self.vf_share_layers,
        )


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
    num_env_runners: int,
    num_envs_per_env_runner: int,
    hparams: Mapping[str, Any] | PPOHyperparams,
    env_kwargs: Mapping[str, Any] | None = None,
) -> PPOConfig:
    """PPO config for training one expert on gymnasium id ``env_id``.

    Args:
        env_id: a gymnasium id (``mwx/h1-stand-v0``, ``Pendulum-v1``); registered with Tune here.
        seed: trial seed: Learner init, per-runner RNGs, and (via PerEnvSeedWrapper) per-sub-env resets.
        num_env_runners: remote sampling actors (0 samples in the driver's local EnvRunner).
        num_envs_per_env_runner: gymnasium sync-vectorized copies per runner.
        hparams: ``PPOHyperparams`` or a mapping of its field names (unknown names raise).
        env_kwargs: keyword arguments for ``gymnasium.make(env_id, **env_kwargs)`` (task options).

    Returns:
        A ``PPOConfig``; ``config.build_algo()`` (or ``tune.Tuner("PPO", param_space=config)``) trains it.
    """
    hp = hparams if isinstance(hparams, PPOHyperparams) else PPOHyperparams.from_dict(hparams)
    hp.validate()
    register_rllib_env(env_id)
    config = (
        PPOConfig()
        .api_stack(enable_rl_module_and_learner=True, enable_env_runner_and_connector_v2=True)
        .framework("torch")
        .environment(env=env_id, env_config={**(env_kwargs or {}), BASE_SEED_KEY: int(seed)})
        .env_runners(
            num_env_runners=num_env_runners,
            num_envs_per_env_runner=num_envs_per_env_runner,
            num_cpus_per_env_runner=hp.num_cpus_per_env_runner,
            rollout_fragment_length=hp.rollout_fragment_length,
            env_to_module_connector=functools.partial(mean_std_filter_connector, obs_clip=hp.obs_clip),
        )
        .resources(num_cpus_for_main_process=hp.num_cpus_for_main_process)
        # One local Learner in the driver process: no extra actor on a 2-core box, no GPU.
        .learners(num_learners=0, num_gpus_per_learner=0)
        .training(
            lr=hp.lr,
            gamma=hp.gamma,
            lambda_=hp.lambda_,
            clip_param=hp.clip_param,
            vf_clip_param=hp.vf_clip_param,
            entropy_coeff=hp.entropy_coeff,
            vf_loss_coeff=hp.vf_loss_coeff,
            train_batch_size_per_learner=hp.train_batch_size_per_learner,
            minibatch_size=hp.minibatch_size,
            num_epochs=hp.num_epochs,
            grad_clip=hp.grad_clip,
        )
        .rl_module(model_config=hp.model_config())
        .debugging(seed=int(seed))
    )
    return config
