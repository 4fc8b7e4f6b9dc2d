"""Router math (pure torch: mwx_ray.router.gating) and the router's Ray-free pieces (observation adapters,
task-prior label tables, hashing instruction embedding)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mwx_ray.router import gating


def test_soft_weights_are_on_the_simplex_and_sharpen_with_low_temperature():
    logits = torch.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    w = gating.soft_weights(logits)
    torch.testing.assert_close(w.sum(-1), torch.ones(2))
    torch.testing.assert_close(w[1], torch.full((3,), 1 / 3))
    assert gating.soft_weights(logits, 0.1)[0, 1] > 0.99 > w[0, 1]
    with pytest.raises(ValueError):
        gating.soft_weights(logits, 0.0)


def test_mix_actions_is_the_weighted_sum_of_expert_actions():
    actions = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # [B=2, K=3, A=4]
    weights = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    mixed = gating.mix_actions(actions, weights)
    assert mixed.shape == (2, 4)
    torch.testing.assert_close(mixed[0], 0.2 * actions[0, 0] + 0.3 * actions[0, 1] + 0.5 * actions[0, 2])
    torch.testing.assert_close(mixed[1], actions[1, 0])
    with pytest.raises(ValueError, match=r"\[B, K, A\]"):
        gating.mix_actions(actions, weights[:, :2])


def test_gumbel_top1_samples_the_router_distribution_with_one_hot_rows_and_st_gradients():
    generator = torch.Generator().manual_seed(0)
    logits = torch.log(torch.tensor([0.6, 0.3, 0.1])).expand(20000, 3).clone().requires_grad_(True)
    sample = gating.gumbel_top1(logits, gumbel_temperature=0.5, generator=generator)
    assert torch.equal(sample.detach().sum(-1), torch.ones(20000))
    assert set(sample.detach().unique().tolist()) == {0.0, 1.0}
    frequencies = sample.detach().mean(0)
    torch.testing.assert_close(frequencies, torch.tensor([0.6, 0.3, 0.1]), atol=0.015, rtol=0)
    (sample[:, 0]).sum().backward()  # straight-through: the hard sample still passes a gradient
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_argmax_top1_is_deterministic_one_hot():
    logits = torch.tensor([[0.1, 3.0, -1.0], [2.0, 1.0, 1.5]])
    torch.testing.assert_close(gating.argmax_top1(logits), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))


def test_entropy_uniform_is_log_k_and_one_hot_is_zero():
    k = 5
    assert gating.weight_entropy(torch.full((1, k), 1 / k)).item() == pytest.approx(math.log(k), rel=1e-6)
    assert gating.weight_entropy(torch.eye(k)).abs().max().item() == 0.0
    logits = torch.randn(4, k)
    torch.testing.assert_close(gating.entropy_from_logits(logits), gating.weight_entropy(torch.softmax(logits, -1)))


def test_kl_label_to_router_matches_torch_and_handles_zero_label_mass():
    label = torch.tensor([[0.7, 0.3, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    logits = torch.randn(2, 3)
    log_q = torch.log_softmax(logits, -1)
    kl = gating.kl_label_to_router(label, log_q)
    p = torch.distributions.Categorical(probs=label)
    q = torch.distributions.Categorical(logits=logits)
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(p, q))
    assert torch.isfinite(kl).all()
    assert gating.kl_label_to_router(label[1:], torch.log(label[1:])).item() == pytest.approx(0.0, abs=1e-7)


def test_kl_gradient_pulls_router_weights_towards_the_label():
    label = torch.tensor([[0.9, 0.1]])
    logits = torch.zeros(1, 2, requires_grad=True)
    optimizer = torch.optim.SGD([logits], lr=0.5)
    for _ in range(200):
        optimizer.zero_grad()
        terms = gating.router_supervision_loss(logits, label, lam=1.0, beta=0.0)
        terms.loss.backward()
        optimizer.step()
    torch.testing.assert_close(torch.softmax(logits, -1), label, atol=1e-3, rtol=0)


def test_supervision_lambda_decays_geometrically():
    assert gating.supervision_lambda(2.0, 0.5, 0) == 2.0
    assert gating.supervision_lambda(2.0, 0.5, 3) == pytest.approx(0.25)
    assert gating.supervision_lambda(1.0, 0.99, 100) == pytest.approx(0.99**100)
    with pytest.raises(ValueError):
        gating.supervision_lambda(1.0, 0.9, -1)


def test_supervision_loss_combines_kl_and_entropy_and_respects_the_mask():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0], [5.0, -5.0]])
    label = torch.tensor([[0.5, 0.5]] * 3)
    mask = torch.tensor([True, True, False])
    terms = gating.router_supervision_loss(logits, label, lam=3.0, beta=0.5, mask=mask)
    log_q = torch.log_softmax(logits[:2], -1)
    kl = gating.kl_label_to_router(label[:2], log_q).mean()
    entropy = gating.weight_entropy(torch.softmax(logits[:2], -1)).mean()
    torch.testing.assert_close(terms.kl, kl)
    torch.testing.assert_close(terms.entropy, entropy)
    torch.testing.assert_close(terms.loss, 3.0 * kl - 0.5 * entropy)
    no_label = gating.router_supervision_loss(logits, None, lam=3.0, beta=0.5)
    assert no_label.kl.item() == 0.0


def test_usage_reports_mean_weight_and_top1_fraction():
    weights = torch.tensor([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1], [0.8, 0.2]])
    mean, top1 = gating.usage(weights)
    torch.testing.assert_close(mean, torch.tensor([0.7, 0.3]))
    torch.testing.assert_close(top1, torch.tensor([0.75, 0.25]))


def test_mixture_log_prob_matches_torch_mixture_same_family():
    torch.manual_seed(0)
    b, k, a = 4, 3, 2
    expert_actions = torch.randn(b, k, a)
    logits = torch.randn(b, k)
    log_std = torch.tensor([-0.5, 0.2])
    actions = torch.randn(b, a)
    ours = gating.mixture_log_prob(actions, expert_actions, torch.log_softmax(logits, -1), log_std)
    components = torch.distributions.Independent(torch.distributions.Normal(expert_actions, log_std.exp()), 1)
    mixture = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=logits), components)
    torch.testing.assert_close(ours, mixture.log_prob(actions))


# ---- Ray-free router pieces ---------------------------------------------------------------------------------

def test_observation_adapters_slice_the_expert_layout_and_never_zero_pad():
    from mwx_ray.envs.observation_layout import adapter_indices, observation_layout

    walk = observation_layout("mwx/h1-walk-v0", 51)
    reach = observation_layout("mwx/h1-reach-v0", 57)
    walk_reach = observation_layout("mwx/h1-walk_reach-v0", 57)
    stand_walk_stand = observation_layout("mwx/h1-stand_walk_stand-v0", 51)
    assert (reach.robot_dim, reach.extra_dim) == (51, 6)
    assert adapter_indices(walk, walk_reach, expert_name="walk", task_name="walk_reach") == list(range(51))
    assert adapter_indices(reach, walk_reach, expert_name="reach", task_name="walk_reach") == list(range(57))
    with pytest.raises(ValueError, match="never zero-padded"):
        adapter_indices(reach, stand_walk_stand, expert_name="reach", task_name="stand_walk_stand")


def test_task_prior_tables():
    from mwx_ray.router.labels import oracle_table, smooth

    table = oracle_table(["stand", "walk", "stand"], ["stand", "walk"], label_smoothing=0.1)
    np.testing.assert_allclose(table, [[0.95, 0.05], [0.05, 0.95], [0.95, 0.05]], atol=1e-6)
    with pytest.raises(ValueError, match="not router experts"):
        oracle_table(["sit"], ["stand", "walk"], 0.0)
    np.testing.assert_allclose(smooth(np.array([[1.0, 0.0, 0.0]]), 0.3), [[0.8, 0.1, 0.1]], atol=1e-6)


def test_hashing_instruction_embedding_is_deterministic_and_normalized():
    from mwx_ray.router.instruction import hashing_embedding

    a = hashing_embedding("Walk forward, then stand still.", 64)
    assert a.shape == (64,) and np.linalg.norm(a) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_array_equal(a, hashing_embedding("walk FORWARD then stand still", 64))
    assert not np.array_equal(a, hashing_embedding("Crawl through the tunnel.", 64))


def _random_expert(seed: int, obs_dim: int, env_id: str):
    from mwx_ray.experts.policy import MANIFEST_FORMAT, ExpertPolicy

    g = torch.Generator().manual_seed(seed)
    sizes = [obs_dim, 16, 19]
    tensors = {f"actor.{i}.weight": torch.randn(o, n, generator=g) for i, (n, o) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))}
    tensors.update({f"actor.{i}.bias": torch.randn(o, generator=g) for i, o in enumerate(sizes[1:])})
    tensors.update({"actor.log_std": torch.zeros(19), "normalizer.std": torch.rand(obs_dim, generator=g) + 0.1,
                    "normalizer.mean": torch.randn(obs_dim, generator=g, dtype=torch.float64)})
    manifest = {"format": MANIFEST_FORMAT, "env_id": env_id,
                "network": {"input_dim": obs_dim, "act_dim": 19, "free_log_std": True, "log_std_clip_param": 5.0,
                            "hidden_sizes": [16], "activation": "tanh", "head_hidden_sizes": [],
                            "head_activation": "tanh", "output_dim": 19},
                "normalizer": {"clip": 10.0, "de_mean": True, "de_std": True},
                "actions": {"normalize_actions": True, "clip_actions": False},
                "action_space": {"low": [-1.0] * 19, "high": [1.0] * 19}}
    return ExpertPolicy(manifest, tensors)


def test_fused_expert_pool_is_bit_identical_to_per_expert_inference():
    from mwx_ray.router.experts_frozen import FrozenExpertPool

    experts = {"walk": _random_expert(0, 51, "mwx/h1-walk-v0"), "reach": _random_expert(1, 57, "mwx/h1-reach-v0")}
    pool = FrozenExpertPool(experts, {k: f"<{k}>" for k in experts}, task_env_id="mwx/h1-walk_reach-v0",
                            task_obs_dim=57)
    obs = torch.from_numpy(np.random.default_rng(0).normal(scale=30.0, size=(9, 57)))  # hits the ±10 clip
    fused = pool(obs)
    assert fused.shape == (9, 2, 19)
    assert torch.equal(fused, pool.forward_per_expert(obs))
    assert torch.equal(fused[:, 1], experts["reach"](obs))
    assert torch.equal(fused[:, 0], experts["walk"](obs[:, :51]))
    assert not any(p.requires_grad for p in pool.parameters())
    pool.train()
    assert not pool.training and not any(m.training for m in pool.modules())


def test_expert_pool_of_one_layout_runs_its_experts_as_one_batched_pass():
    from mwx_ray.router.experts_frozen import STACKED_MAX_BATCH, FrozenExpertPool

    experts = {name: _random_expert(seed, 51, "mwx/h1-walk-v0") for seed, name in enumerate(("stand", "walk", "run"))}
    pool = FrozenExpertPool(experts, {k: f"<{k}>" for k in experts}, task_env_id="mwx/h1-walk-v0", task_obs_dim=51)
    assert pool.stacked
    rng = np.random.default_rng(0)
    for batch in (1, 9, STACKED_MAX_BATCH + 1):
        obs = torch.from_numpy(rng.normal(scale=30.0, size=(batch, 51)))
        fused = pool(obs)
        assert fused.shape == (batch, 3, 19)
        # Batched GEMM sums in another order than one GEMM per expert: equal to float32 rounding, not bit for bit.
        torch.testing.assert_close(fused, pool.forward_per_expert(obs), rtol=0, atol=1e-5)
        for k, expert in enumerate(experts.values()):
            torch.testing.assert_close(fused[:, k], expert(obs), rtol=0, atol=1e-5)


def test_expert_pool_refuses_a_clip_clock_expert_on_a_task_without_its_clock():
    from mwx_ray.router.experts_frozen import FrozenExpertPool

    sit = _random_expert(2, 53, "mwx/h1-sit_simple_imitation-v0")
    sit.manifest["task"] = {"imitation": {"phase_clock": True, "reference_feedforward": True}}
    experts = {"walk": _random_expert(0, 51, "mwx/h1-walk-v0"), "sit": sit}
    with pytest.raises(ValueError, match="keeps no clock for skill 'sit'"):
        FrozenExpertPool(experts, {k: f"<{k}>" for k in experts}, task_env_id="mwx/h1-stand_walk_stand-v0",
                         task_obs_dim=51)
    sit.manifest["task"]["imitation"] = {"phase_clock": False}
    with pytest.raises(ValueError, match="not the same robot/scene layout"):  # then the 53-d layout is refused
        FrozenExpertPool(experts, {k: f"<{k}>" for k in experts}, task_env_id="mwx/h1-walk_to_chair_sit-v0",
                         task_obs_dim=52)


def _choices(hold: gating.SwitchHold, top_choices: list[int], experts: int = 3) -> list[int]:
    """The acting expert per step for a sequence of the router's top-1 choices."""
    return [int(hold(torch.eye(experts)[[choice]]).argmax()) for choice in top_choices]


def test_switch_hold_ignores_flicker_and_switches_after_a_sustained_choice():
    hold = gating.SwitchHold(3)
    assert _choices(hold, [2, 2, 0, 2, 0, 0, 2, 0, 0, 0, 0]) == [2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0]
    hold.begin_episode()  # a new episode: the first choice acts at once
    assert _choices(hold, [1, 1]) == [1, 1]
    assert _choices(gating.SwitchHold(1), [0, 1, 2, 2]) == [0, 1, 2, 2], "a hold of 1 step is plain top-1"
    with pytest.raises(ValueError, match="one episode at a time"):
        hold(torch.eye(3)[[0, 1]])
    with pytest.raises(ValueError, match=">= 0"):
        gating.SwitchHold(-1)


def test_router_evaluation_begins_each_episode_of_a_stateful_policy():
    from mwx_ray.envs import make_env
    from mwx_ray.router.evaluation import run_router_episode

    class CountingPolicy:  # the router evaluation loop's contract with RouterPolicy (begin_episode, then act)
        def __init__(self):
            self.begun, self.steps_since_begin = 0, 0

        def begin_episode(self):
            self.begun, self.steps_since_begin = self.begun + 1, 0

        def act_with_weights(self, obs):
            self.steps_since_begin += 1
            return np.zeros(19, dtype=np.float32), None

    policy, env = CountingPolicy(), make_env("stand_walk_stand")
    for seed in (1, 2):
        episode = run_router_episode(env, policy, seed, max_steps=5)
        assert episode.length == policy.steps_since_begin == 5
    assert policy.begun == 2
    stateless = run_router_episode(env, lambda obs: (np.zeros(19, dtype=np.float32), None), 3, max_steps=2)
    assert stateless.length == 2 and policy.begun == 2  # a plain act callable (the monolithic policy's) runs as is
