"""fastsac on a local Ray: it trains through ``experts.algorithm: fastsac`` (the expert registry of algorithms), its
exported expert acts like RLlib's own explore=False inference, and a checkpoint restores everything but the replay
buffer, which the restored learner refills before it updates again."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, LEARNER_RESULTS, NUM_ENV_STEPS_SAMPLED

from mwx_ray.config.fastsac_schema import FastSACSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts import algorithms
from mwx_ray.experts.export import export_algorithm
from mwx_ray.experts.policy import ExpertPolicy
from tests.integration.rllib_reference import rllib_reference_inference

pytestmark = pytest.mark.ray

ENV_ID = "Pendulum-v1"
START = 128  # env steps before learning starts, and per iteration
SECTION = FastSACSection(fcnet_hiddens=[32, 32], critic_hiddens=[32, 32], critic_layer_norm=True, num_critics=3,
                         train_batch_size_per_learner=32, num_steps_sampled_before_learning_starts=START,
                         replay_ratio=0.5, min_sample_timesteps_per_iteration=START)
RESOURCES = ResourcesSection(env_runners_per_trial=0, envs_per_env_runner=2)  # no actor start-up: fast


def build():
    assert algorithms.algorithm_class("fastsac").__name__ == "FastSAC"
    section = algorithms.trial_section({"algorithm": "fastsac", "fastsac": SECTION.__dict__}, "test")
    return algorithms.build_expert_config("fastsac", ENV_ID, seed=0, section=section,
                                          resources=RESOURCES).build_algo()


def learner_state(algo) -> dict[str, torch.Tensor]:
    def read(learner):
        return {k: v.detach().clone() for k, v in learner.module["default_policy"].state_dict().items()}
    return [r.get() for r in algo.learner_group.foreach_learner(read)][0]


def test_fastsac_trains_exports_and_restores(ray_runtime, tmp_path):
    algo = build()
    try:
        first = algo.train()  # START steps: learning starts at the end of this iteration
        second = algo.train()
        stats = second[LEARNER_RESULTS]["default_policy"]
        assert second[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED] >= START
        lifetime = stats["num_updates_lifetime"]  # 0.5 updates per env step once START are stored
        total = first[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED] + second[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED]
        assert lifetime == int(0.5 * (total - START))
        assert np.isfinite(stats["critic_loss"]) and 0 < stats["alpha"] < 1.0  # the temperature is learned

        obs = np.random.default_rng(0).normal(0.0, 1.0, size=(32, 3)).astype(np.float32)
        reference = rllib_reference_inference(algo, obs)
        policy = ExpertPolicy.load(export_algorithm(algo, tmp_path / "expert"))
        assert policy.algorithm == "fastsac"
        np.testing.assert_allclose(policy.normalize(obs).numpy(), reference.normalized_obs, rtol=0, atol=1e-6)
        np.testing.assert_allclose(policy.act(obs), reference.env_actions, rtol=0, atol=1e-5)

        saved = learner_state(algo)
        algo.save_to_path(str(tmp_path / "ckpt"))
    finally:
        algo.stop()

    restored = build()
    try:
        restored.restore_from_path(str(tmp_path / "ckpt"))
        state = learner_state(restored)
        for key in ("log_alpha", "critic.weights.0", "target_critic.weights.2", "pi.net.mlp.0.weight"):
            torch.testing.assert_close(state[key], saved[key], rtol=0, atol=0, msg=key)
        # The buffer is not in the checkpoint: the restored learner refills START transitions before updating.
        result = restored.train()
        steps, refill = result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED], result[LEARNER_RESULTS]["default_policy"]
        assert refill["replay_size"] == steps and refill["num_updates_lifetime"] == int(0.5 * (steps - START))
    finally:
        restored.stop()
