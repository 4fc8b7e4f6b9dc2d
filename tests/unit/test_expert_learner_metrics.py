"""What the expert trainable reports from RLlib's learner results (``learner/*``, ``pipelined/*``)."""

from __future__ import annotations

import numpy as np
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.utils.metrics import LEARNER_RESULTS

from mwx_ray.experts.trainable import learner_metrics


def test_ppo_losses_learning_rate_and_pipelined_staleness_are_reported_and_other_learner_stats_are_not():
    result = {LEARNER_RESULTS: {DEFAULT_MODULE_ID: {"policy_loss": -0.01, "vf_loss": np.float32(2.5),
                                                    "entropy": 3.0, "num_module_steps_trained": 8192,
                                                    "default_optimizer_learning_rate": 1e-4,
                                                    "gradients_default_optimizer_global_norm": 0.3}},
              "pipelined": {"stale_abs_log_ratio": 0.4, "stale_outside_clip": 0.3}}
    assert learner_metrics(result) == {"learner/policy_loss": -0.01, "learner/vf_loss": 2.5, "learner/entropy": 3.0,
                                       "learner/lr": 1e-4,
                                       "pipelined/stale_abs_log_ratio": 0.4, "pipelined/stale_outside_clip": 0.3}


def test_fastsac_stats_are_reported_and_an_iteration_without_an_update_reports_none():
    result = {LEARNER_RESULTS: {DEFAULT_MODULE_ID: {"critic_loss": 1.5, "actor_loss": -4.0, "alpha": 0.2,
                                                    "q_mean": 12.0, "replay_size": 100}}}
    assert learner_metrics(result) == {"learner/critic_loss": 1.5, "learner/actor_loss": -4.0, "learner/alpha": 0.2,
                                       "learner/q_mean": 12.0}
    assert learner_metrics({}) == {}
