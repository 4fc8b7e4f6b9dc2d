"""The experts' PPO learner (fused Adam, one finiteness check) steps exactly like RLlib's PPOTorchLearner, including
RLlib's handling of non-finite gradients, and ``resources`` place the learner (GPU, torch threads) without moving
the env runners. No Ray runtime: learners are built in-process."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner

from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.ppo import build_ppo_config
from mwx_ray.experts.ppo_learner import FastPPOTorchLearner

ENV_ID = "Pendulum-v1"
PPO_SMALL = PPOSection(fcnet_hiddens=[16, 16], train_batch_size_per_learner=64, minibatch_size=32)


def learner(learner_class):
    config = build_ppo_config(ENV_ID, seed=0, ppo=PPO_SMALL, resources=ResourcesSection(env_runners_per_trial=0))
    return config.learners(learner_class=learner_class).build_learner(env=gym.make(ENV_ID))


@pytest.mark.parametrize("poison", [False, True])
def test_fast_learner_steps_like_rllibs(poison):
    ours, rllib = learner(FastPPOTorchLearner), learner(PPOTorchLearner)
    assert type(ours).__name__ == "FastPPOTorchLearner" and ours.get_optimizer().defaults["fused"]
    rllib.module.set_state(ours.module.get_state())  # same start
    generator = torch.Generator().manual_seed(0)
    for step in range(3):
        grads = {pid: torch.randn(p.shape, generator=generator) for pid, p in ours._params.items()}
        if poison and step == 1:  # RLlib's default: non-finite entries become finite (nan -> 0) and it still steps
            first = next(iter(grads))
            grads[first].view(-1)[:3] = torch.tensor([float("nan"), float("inf"), -float("inf")])
        for target in (ours, rllib):
            mapped = {pid: grads[pid_ours].clone()
                      for pid, pid_ours in zip(target._params, ours._params, strict=True)}
            target.apply_gradients(mapped)
    mid = "default_policy"
    for (name, a), b in zip(ours.module[mid].state_dict().items(), rllib.module[mid].state_dict().values(),
                            strict=True):
        assert torch.isfinite(a).all(), name
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_resources_place_the_learner_and_leave_env_runners_alone():
    resources = ResourcesSection(env_runners_per_trial=2, envs_per_env_runner=8, cpus_per_env_runner=0.5,
                                 gpus_per_learner=1.0, torch_threads_per_learner=2)
    config = build_ppo_config("mwx/h1-walk-v0", seed=0, ppo=PPOSection(), resources=resources)
    assert config.learner_class is FastPPOTorchLearner and config.learner_config_dict["torch_threads"] == 2
    assert config.num_gpus_per_learner == 1.0 and config.num_gpus_per_env_runner == 0
    bundles = PPO.default_resource_request(config).bundles
    assert bundles[0] == {"CPU": 1.0, "GPU": 1.0} and bundles[1:] == [{"CPU": 0.5}, {"CPU": 0.5}]
    # the batched pipelines replace RLlib's default per-item pieces on both sides of the module
    assert not config.add_default_connectors_to_env_to_module_pipeline
    assert not config.add_default_connectors_to_module_to_env_pipeline
