"""Pipelined PPO (``experts.ppo.pipelined``) on a real local Ray: the env runner samples the next batch while the
learner trains, so each batch after the first was sampled by the policy one update behind the one it trains.

One tiny run on Pendulum-v1 (1 remote env runner x 2 envs, 256 steps per iteration)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from ray.rllib.core import DEFAULT_MODULE_ID  # noqa: E402
from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME  # noqa: E402

from mwx_ray.config.schema import ResourcesSection  # noqa: E402
from mwx_ray.experts.pipelined_ppo import PipelinedPPO, refresh_behaviour_outputs  # noqa: E402
from mwx_ray.experts.ppo import build_ppo_config  # noqa: E402
from tests.integration.test_expert_core import ENV_ID, TINY_PPO  # noqa: E402

pytestmark = pytest.mark.ray

ONE_RUNNER = ResourcesSection(env_runners_per_trial=1, envs_per_env_runner=2, cpus_per_env_runner=0.5)


def learner_weights(algo) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in algo.learner_group.get_weights()[DEFAULT_MODULE_ID].items()}


def runner_weights(algo) -> dict[str, np.ndarray]:
    (state,) = algo.env_runner_group.foreach_env_runner(
        lambda runner: {k: v.detach().cpu().numpy().copy() for k, v in runner.module.state_dict().items()},
        local_env_runner=False)
    return state


def dist_inputs(algo, weights: dict[str, np.ndarray], observations: np.ndarray) -> np.ndarray:
    """The action-distribution inputs a module with ``weights`` computes for ``observations`` (normalized)."""
    module = algo.learner_group._learner.module[DEFAULT_MODULE_ID]
    saved = {k: v.clone() for k, v in module.state_dict().items()}
    module.load_state_dict({k: torch.as_tensor(weights[k]) for k in saved}, strict=True)
    with torch.no_grad():
        out = module.forward_inference({Columns.OBS: torch.as_tensor(observations, dtype=torch.float32)})
    module.load_state_dict(saved)
    return out[Columns.ACTION_DIST_INPUTS].numpy()


def test_runners_sample_the_next_batch_with_the_previous_weights_while_the_learner_trains(ray_runtime):
    ppo = dataclasses.replace(TINY_PPO, pipelined=True)
    algo = build_ppo_config(ENV_ID, seed=3, ppo=ppo, resources=ONE_RUNNER).build_algo()
    try:
        assert isinstance(algo, PipelinedPPO)
        before = learner_weights(algo)
        result = algo.train()
        after = learner_weights(algo)
        assert result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED_LIFETIME] == 256  # only the trained batch counts
        assert "pipelined" not in result  # the first batch is sampled synchronously: on-policy, nothing to measure
        assert any(not np.allclose(before[k], after[k]) for k in before), "the learner updated"
        # After the step the runner holds the new weights, and the batch it sampled meanwhile is waiting...
        synced = runner_weights(algo)
        assert all(np.allclose(synced[k], after[k]) for k in synced)  # the runner's inference-only actor
        episodes, _metrics = algo._next_batch
        assert sum(len(e) for e in episodes) >= 256
        # ... sampled by the weights from before the update (one update behind), not by the new ones.
        episode = next(e for e in episodes if len(e) > 4)
        observations = np.asarray(episode.get_observations(slice(0, 4)))
        recorded = np.asarray(episode.get_extra_model_outputs(Columns.ACTION_DIST_INPUTS, slice(0, 4)))
        np.testing.assert_allclose(dist_inputs(algo, before, observations), recorded, atol=1e-5)
        assert not np.allclose(dist_inputs(algo, after, observations), recorded, atol=1e-5)
        # Before the update the batch's outputs are recomputed with the learner's weights: PPO's ratio starts at 1.
        staleness = refresh_behaviour_outputs(algo.learner_group, episodes)
        assert staleness["stale_abs_log_ratio"] > 0 and 0 <= staleness["stale_outside_clip"] <= 1
        # Recomputed again with the same weights, the batch is on-policy: every ratio is 1.
        again = refresh_behaviour_outputs(algo.learner_group, episodes)
        assert again["stale_abs_log_ratio"] < 1e-4 and again["stale_outside_clip"] == 0
        refreshed = np.asarray(episode.get_extra_model_outputs(Columns.ACTION_DIST_INPUTS, slice(0, 4)))
        np.testing.assert_allclose(refreshed, dist_inputs(algo, after, observations), atol=1e-5)
        logp = np.asarray(episode.get_extra_model_outputs(Columns.ACTION_LOGP, slice(0, 4)))
        mean, log_std = np.split(refreshed, 2, axis=-1)
        actions = np.asarray(episode.get_actions(slice(0, 4)))
        gaussian = -0.5 * (((actions - mean) / np.exp(log_std)) ** 2 + 2 * log_std + np.log(2 * np.pi))
        np.testing.assert_allclose(logp, gaussian.sum(-1), rtol=1e-4, atol=1e-4)
        result = algo.train()  # trains on that batch; the next one is sampled meanwhile
        assert set(result["pipelined"]) == {"stale_abs_log_ratio", "stale_outside_clip"}  # measured, reported
        assert algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME)) == 512
    finally:
        algo.stop()
