"""fastsac's ``AlgorithmConfig`` and ``Algorithm``: RLlib env runners + connectors sample, the learner replays.

``training_step`` (called until ``min_sample_timesteps_per_iteration`` env steps were sampled, like RLlib's
DQN/SAC): one ``synchronous_parallel_sample`` round (``rollout_fragment_length`` steps per sub-env on every
runner), the episode chunks flattened to transitions (:func:`episodes_to_transitions`), handed to the learner
(``LearnerGroup.foreach_learner``: a direct call for the local learner) which stores them and runs
``replay_ratio`` updates per new transition once the buffer holds ``num_steps_sampled_before_learning_starts``,
then the actor weights go back to the runners.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig, NotProvided
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.rl_module import RLModuleSpec
from ray.rllib.execution.rollout_ops import synchronous_parallel_sample
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)

from mwx_ray.experts.fastsac.learner import FastSACTorchLearner
from mwx_ray.experts.fastsac.module import FastSACTorchRLModule
from mwx_ray.experts.sac import SquashedModeCatalog

# AlgorithmConfig attributes fastsac adds (values come from FastSACSection; the defaults here are only RLlib's
# requirement that a config be constructible without them).
FASTSAC_TRAINING_FIELDS = {
    "actor_lr": 3e-4, "critic_lr": 1e-3, "alpha_lr": 3e-4, "tau": 0.005, "target_entropy": "auto",
    "replay_ratio": 1.0, "replay_buffer_capacity": 1_000_000, "num_steps_sampled_before_learning_starts": 5000,
    "q_target": "min",
}


class FastSACConfig(AlgorithmConfig):
    """``AlgorithmConfig`` of :class:`FastSAC`; ``training()`` also takes ``FASTSAC_TRAINING_FIELDS``."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or FastSAC)
        for name, value in FASTSAC_TRAINING_FIELDS.items():
            setattr(self, name, value)
        self.lr = None  # three learning rates instead (actor_lr, critic_lr, alpha_lr)
        self.train_batch_size_per_learner = 256
        self.rollout_fragment_length = 8
        self.min_time_s_per_iteration = 0  # iterations end on env steps, not wall time

    def training(self, **kwargs) -> FastSACConfig:
        for name in FASTSAC_TRAINING_FIELDS:
            value = kwargs.pop(name, NotProvided)
            if value is not NotProvided:
                setattr(self, name, value)
        super().training(**kwargs)
        return self

    def get_default_rl_module_spec(self) -> RLModuleSpec:
        return RLModuleSpec(module_class=FastSACTorchRLModule, catalog_class=SquashedModeCatalog)

    def get_default_learner_class(self):
        return FastSACTorchLearner

    def validate(self) -> None:
        super().validate()
        if self.num_learners > 1:
            self._value_error("fastsac trains on one learner (num_learners 0 or 1): its replay buffer lives there")


def episodes_to_transitions(episodes) -> dict[str, np.ndarray]:
    """Episode chunks from ``EnvRunner.sample`` -> flat ``{obs, actions, rewards, next_obs, terminateds}``.

    A chunk of ``T`` steps holds ``T + 1`` observations (its first is the previous chunk's last); only the last
    step of a terminated episode is terminal (a truncated one bootstraps from its final observation).
    """
    parts: dict[str, list[np.ndarray]] = {key: [] for key in ("obs", "actions", "rewards", "next_obs", "terminateds")}
    for episode in episodes:
        steps = len(episode)
        if steps == 0:
            continue
        obs = np.asarray(episode.get_observations(), dtype=np.float32).reshape(steps + 1, -1)
        terminated = np.zeros(steps, dtype=np.float32)
        terminated[-1] = float(episode.is_terminated)
        parts["obs"].append(obs[:-1])
        parts["next_obs"].append(obs[1:])
        parts["actions"].append(np.asarray(episode.get_actions(), dtype=np.float32).reshape(steps, -1))
        parts["rewards"].append(np.asarray(episode.get_rewards(), dtype=np.float32).reshape(steps))
        parts["terminateds"].append(terminated)
    if not parts["rewards"]:
        return {key: np.zeros((0,), dtype=np.float32) for key in parts}
    return {key: np.concatenate(values) for key, values in parts.items()}


def _add_and_update(learner, data: dict[str, np.ndarray], num_updates: int | None) -> dict[str, Any]:
    return learner.add_and_update(data, num_updates)


class FastSAC(Algorithm):
    """Off-policy SAC expert trainer (see the package docstring)."""

    @classmethod
    def get_default_config(cls) -> FastSACConfig:
        return FastSACConfig()

    def training_step(self) -> None:
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            episodes, runner_metrics = synchronous_parallel_sample(
                worker_set=self.env_runner_group, sample_timeout_s=self.config.sample_timeout_s,
                _uses_new_env_runners=True, _return_metrics=True)
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            stats = self.add_transitions(episodes_to_transitions(episodes))
        self.metrics.log_dict(stats, key=(LEARNER_RESULTS, DEFAULT_MODULE_ID), window=1)
        if stats.get("num_updates", 0) > 0:
            with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                self.env_runner_group.sync_weights(from_worker_or_learner_group=self.learner_group,
                                                   inference_only=True)

    def add_transitions(self, data: dict[str, np.ndarray], num_updates: int | None = None) -> dict[str, Any]:
        """Store transitions in the learner's buffer and run ``num_updates`` updates (None: by replay ratio)."""
        results = self.learner_group.foreach_learner(_add_and_update, data=data, num_updates=num_updates)
        return [result.get() for result in results][0]

