"""The experts' PPO learner (lean minibatch loop, fused Adam, foreach clip, one finiteness check) computes RLlib's PPO
loss, clips and steps exactly like RLlib's PPOTorchLearner, including RLlib's handling of non-finite gradients, trains
on sampled episodes with masked rows dropped and reports RLlib's learner metrics; ``resources`` place the learner
(GPU, torch threads) without moving the env runners. No Ray runtime: learners and env runners are built in-process."""

from __future__ import annotations

import copy
import dataclasses

import gymnasium as gym
import pytest
import torch
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.torch_utils import clip_gradients

from mwx_ray.config.experts_schema import PPOSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.ppo import build_ppo_config
from mwx_ray.experts.ppo_learner import FastPPOTorchLearner, action_bound_penalty, clip_by_global_norm
from mwx_ray.experts.ppo_minibatches import minibatch_indices, trainable_rows

ENV_ID = "Pendulum-v1"
PPO_SMALL = PPOSection(fcnet_hiddens=[16, 16], train_batch_size_per_learner=64, minibatch_size=32)


def ppo_config(ppo: PPOSection = PPO_SMALL):
    return build_ppo_config(ENV_ID, seed=0, ppo=ppo, resources=ResourcesSection(env_runners_per_trial=0))


def learner(learner_class, ppo: PPOSection = PPO_SMALL):
    return ppo_config(ppo).learners(learner_class=learner_class).build_learner(env=gym.make(ENV_ID))


def random_ppo_batch(rows: int = 32) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {Columns.OBS: torch.randn(rows, 3, generator=generator),
            Columns.ACTIONS: torch.randn(rows, 1, generator=generator),
            Columns.ACTION_LOGP: torch.randn(rows, generator=generator),
            Columns.ACTION_DIST_INPUTS: torch.randn(rows, 2, generator=generator),
            Postprocessing.ADVANTAGES: torch.randn(rows, generator=generator),
            Postprocessing.VALUE_TARGETS: 3 * torch.randn(rows, generator=generator)}


@pytest.mark.parametrize("use_kl_loss", [False, True])
def test_loss_without_metrics_is_rllibs_ppo_loss(use_kl_loss):
    ours = learner(FastPPOTorchLearner, dataclasses.replace(PPO_SMALL, use_kl_loss=use_kl_loss, entropy_coeff=0.01,
                                                            vf_clip_param=0.5))
    batch = random_ppo_batch()
    mid = "default_policy"
    config = ours.config.get_config_for_module(mid)
    fwd_out = ours.module[mid].forward_train(batch)
    lean = ours.loss_without_metrics(module_id=mid, config=config, batch=batch, fwd_out=fwd_out)
    rllib = PPOTorchLearner.compute_loss_for_module(ours, module_id=mid, config=config, batch=batch, fwd_out=fwd_out)
    torch.testing.assert_close(lean, rllib)
    assert lean.requires_grad


def test_action_bound_penalty_counts_only_means_past_the_bounds():
    inputs = torch.tensor([[3.0, 0.7], [-0.5, -2.0], [-2.0, 0.0], [1.0, 5.0]])  # [mean, log std]
    assert float(action_bound_penalty(inputs)) == pytest.approx((2.0**2 + 1.0**2) / 4)


def test_action_bound_coef_adds_its_term_to_both_loss_paths_and_pulls_parked_means_back():
    coef = 2.0
    ours = learner(FastPPOTorchLearner, dataclasses.replace(PPO_SMALL, action_bound_coef=coef))
    mid = "default_policy"
    module, config = ours.module[mid], ours.config.get_config_for_module(mid)
    with torch.no_grad():  # park the mean action far past +1, as the zoo's turn expert parks a shoulder
        module.pi.net.mlp[-1].bias[0] += 4.0
    batch = random_ppo_batch()
    fwd_out = module.forward_train(batch)
    penalty = action_bound_penalty(fwd_out[Columns.ACTION_DIST_INPUTS])
    rllib = PPOTorchLearner.compute_loss_for_module(ours, module_id=mid, config=config, batch=batch, fwd_out=fwd_out)
    assert float(penalty.detach()) > 1.0
    for path in (ours.loss_without_metrics, ours.compute_loss_for_module):
        loss = path(module_id=mid, config=config, batch=batch, fwd_out=fwd_out)
        torch.testing.assert_close(loss, rllib + coef * penalty)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.05)
    for _ in range(200):  # the term alone: its gradient moves the mean back to the bound and no further
        optimizer.zero_grad()
        action_bound_penalty(module.forward_train(batch)[Columns.ACTION_DIST_INPUTS]).backward()
        optimizer.step()
    means = module.forward_train(batch)[Columns.ACTION_DIST_INPUTS][:, 0]
    assert float(means.max().detach()) < 1.05


def test_without_action_bound_coef_the_loss_is_rllibs():
    ours = learner(FastPPOTorchLearner)
    mid = "default_policy"
    config, batch = ours.config.get_config_for_module(mid), random_ppo_batch()
    fwd_out = ours.module[mid].forward_train(batch)
    torch.testing.assert_close(ours.compute_loss_for_module(module_id=mid, config=config, batch=batch, fwd_out=fwd_out),
                               PPOTorchLearner.compute_loss_for_module(ours, module_id=mid, config=config, batch=batch,
                                                                       fwd_out=fwd_out))


@pytest.mark.parametrize("poison", [False, True])
def test_global_norm_clip_is_rllibs(poison):
    generator = torch.Generator().manual_seed(2)
    grads = {index: 3 * torch.randn(shape, generator=generator) for index, shape in enumerate([(4, 5), (5,), (2, 3)])}
    if poison:
        grads[1][0] = float("inf")
        grads[2][0, 0] = float("nan")
    ours, rllib = ({key: value.clone() for key, value in grads.items()} for _ in range(2))
    norm_ours = clip_by_global_norm(ours, grad_clip=0.5, grad_clip_by="global_norm")
    norm_rllib = clip_gradients(rllib, grad_clip=0.5, grad_clip_by="global_norm")
    torch.testing.assert_close(norm_ours, norm_rllib)
    for key in grads:
        torch.testing.assert_close(ours[key], rllib[key], equal_nan=True)
    if not poison:  # the clip took effect: the clipped gradients have the clip's norm
        assert float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in ours.values()]))) == pytest.approx(0.5)


def test_trainable_rows_drop_masked_rows_and_bookkeeping_columns():
    batch = {Columns.OBS: torch.arange(6.0).unsqueeze(-1), Columns.REWARDS: torch.ones(6),
             Columns.LOSS_MASK: torch.tensor([True, True, False, True, True, False])}
    rows = trainable_rows(batch)
    assert set(rows) == {Columns.OBS}
    assert rows[Columns.OBS].squeeze(-1).tolist() == [0.0, 1.0, 3.0, 4.0]


def test_minibatch_indices_are_full_minibatches_of_fresh_permutations():
    generator = torch.Generator().manual_seed(0)
    epochs = list(minibatch_indices(10, 4, 3, shuffle=True, generator=generator))
    assert len(epochs) == 3 * 2 and all(len(index) == 4 for index in epochs)
    for first, second in zip(epochs[0::2], epochs[1::2], strict=True):
        assert len(set(first.tolist()) | set(second.tolist())) == 8  # one pass: distinct rows, 2 left over
    assert [index.tolist() for index in minibatch_indices(8, 4, 1, shuffle=False, generator=generator)] == \
        [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="fewer than one minibatch"):
        next(minibatch_indices(3, 4, 1, shuffle=False, generator=generator))


def test_update_trains_on_episodes_like_rllib_and_reports_its_metrics():
    """Both learners update from the same sampled episodes: ours takes exactly epochs x (unmasked rows // minibatch)
    Adam steps and reports every learner metric RLlib's PPO reports for the module."""
    config = ppo_config()
    episodes = SingleAgentEnvRunner(config=config).sample(num_timesteps=64)
    results = {}
    for learner_class in (FastPPOTorchLearner, PPOTorchLearner):
        target = learner(learner_class)
        before = [p.detach().clone() for p in target.module["default_policy"].parameters()]
        results[learner_class] = target.update(episodes=copy.deepcopy(episodes), timesteps={}, num_epochs=3,
                                               minibatch_size=32, shuffle_batch_per_epoch=True)
        after = list(target.module["default_policy"].parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), learner_class
        if learner_class is FastPPOTorchLearner:
            steps = {int(state["step"]) for state in target.get_optimizer().state.values()}
            assert steps == {3 * (sum(len(e) for e in episodes) // 32)}
    ours, rllib = (set(results[cls]["default_policy"]) for cls in (FastPPOTorchLearner, PPOTorchLearner))
    assert rllib - ours <= {"diff_num_grad_updates_vs_sampler_policy"}, rllib - ours


def test_lr_schedule_sets_the_optimizers_rate_from_the_sampled_env_steps():
    """``experts.ppo.lr_schedule`` is piecewise linear in the trial's sampled env steps and held after its last point,
    applied by the lean update path too."""
    from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

    ppo = dataclasses.replace(PPO_SMALL, lr_schedule=[[0, 1e-3], [1000, 1e-4]])
    config = ppo_config(ppo)
    episodes = SingleAgentEnvRunner(config=config).sample(num_timesteps=64)
    target = learner(FastPPOTorchLearner, ppo)
    assert target.get_optimizer().param_groups[0]["lr"] == pytest.approx(1e-3)
    for sampled, expected in ((500, 5.5e-4), (1000, 1e-4), (5000, 1e-4)):
        target.update(episodes=copy.deepcopy(episodes), timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled},
                      num_epochs=1, minibatch_size=32)
        assert target.get_optimizer().param_groups[0]["lr"] == pytest.approx(expected), sampled


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
