"""fastsac without a Ray runtime: its critic ensemble is N ordinary MLPs, its actor samples RLlib's squashed Gaussian,
its learner updates what it should at the configured replay ratio, its buffer keeps the newest transitions, and an
exported fastsac expert acts exactly like RLlib's explore=False path. Config: YAML reaches the built config, and
``resources.gpus_per_learner`` puts the learner (only) on a GPU."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.spaces.space_utils import unsquash_action

from mwx_ray.config import load_config
from mwx_ray.config.fastsac_schema import FastSACSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.export import write_expert_folder
from mwx_ray.experts.fastsac import FastSAC, build_fastsac_config, episodes_to_transitions
from mwx_ray.experts.fastsac.learner import FlatReplayBuffer
from mwx_ray.experts.fastsac.module import EnsembleCritic
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.experts.sac import SquashedModeGaussian
from tests.unit.test_sac_export import identity_filter_state

ENV_ID = "Pendulum-v1"  # obs [3], action Box(-2, 2, (1,)): the unsquash to env bounds is not the identity
SMALL = FastSACSection(fcnet_hiddens=[16, 16], head_fcnet_hiddens=[8], critic_hiddens=[32, 32],
                       num_steps_sampled_before_learning_starts=0, train_batch_size_per_learner=32)
LOCAL = ResourcesSection(env_runners_per_trial=0)


@pytest.mark.parametrize("layer_norm", [False, True])
def test_critic_ensemble_equals_independent_mlps(layer_norm):
    torch.manual_seed(0)
    critic = EnsembleCritic(7, [16, 16], num_critics=3, activation="relu", layer_norm=layer_norm)
    with torch.no_grad():  # non-trivial LayerNorm affine parameters
        for p in [*critic.norm_scales, *critic.norm_shifts]:
            p.normal_()
    obs, actions = torch.randn(5, 4), torch.randn(5, 3)
    x0 = torch.cat((obs, actions), dim=-1)
    for n in range(3):
        x = x0
        for i, (w, b) in enumerate(zip(critic.weights, critic.biases, strict=True)):
            x = x @ w[n] + b[n, 0]
            if i < 2:
                if layer_norm:
                    x = torch.nn.functional.layer_norm(x, (16,)) * critic.norm_scales[i][n, 0] + critic.norm_shifts[i][n, 0]
                x = torch.relu(x)
        torch.testing.assert_close(critic.q_values(obs, actions)[n], x.squeeze(-1))
    # The actor loss path: gradients reach the actions, never the critics' parameters.
    actions.requires_grad_(True)
    critic.q_values(obs, actions, detach_params=True).sum().backward()
    assert actions.grad is not None and all(p.grad is None for p in critic.parameters())


@pytest.fixture(scope="module")
def built():
    env = gym.make(ENV_ID)
    config = build_fastsac_config(ENV_ID, seed=0, fastsac=SMALL, resources=LOCAL)
    module = config.get_rl_module_spec(env=env, inference_only=False).build()
    return config, module, env


def test_actor_samples_rllibs_squashed_gaussian(built):
    _, module, _ = built
    obs = torch.randn(512, 3)
    actions, logp = module.sample_actions(obs)
    dist = module.get_inference_action_dist_cls().from_logits(module.actor_logits(obs))
    assert module.get_inference_action_dist_cls() is SquashedModeGaussian
    inside = actions.abs().max(dim=-1).values < 0.99  # atanh in RLlib's logp is ill-conditioned at ±1
    assert inside.sum() > 100 and actions.abs().max() <= 1.0
    torch.testing.assert_close(logp[inside], dist.logp(actions)[inside], atol=2e-3, rtol=1e-4)


def test_exported_fastsac_actor_acts_like_rllibs_deterministic_path(built, tmp_path):
    config, module, env = built
    with torch.no_grad():  # many means in tanh's flat part
        [m for m in module.pi.modules() if isinstance(m, torch.nn.Linear)][-1].weight.mul_(8.0)
    state = {key: value.detach().numpy() for key, value in module.state_dict().items()}
    folder = write_expert_folder(tmp_path / "expert", env_id=ENV_ID, module_state=state,
                                 model_config=config.model_config, observation_space=env.observation_space,
                                 action_space=env.action_space, filter_agent_state=identity_filter_state(3),
                                 normalize_actions=True, clip_actions=False, source_checkpoint=None,
                                 algorithm="fastsac")
    policy = ExpertPolicy.load(folder)
    obs = torch.from_numpy(np.random.default_rng(0).normal(0.0, 3.0, size=(256, 3)).astype(np.float32))
    obs_norm = policy.normalize(obs)
    with torch.no_grad():
        dist_inputs = module.forward_inference({Columns.OBS: obs_norm})[Columns.ACTION_DIST_INPUTS]
    module_actions = SquashedModeGaussian.from_logits(dist_inputs).to_deterministic().sample()
    rllib_actions = unsquash_action(module_actions.numpy(), env.action_space)
    np.testing.assert_array_equal(policy.forward_normalized(obs_norm).numpy(), module_actions.numpy())
    np.testing.assert_allclose(policy(obs).numpy(), rllib_actions, rtol=0, atol=1e-6)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["algorithm"] == "fastsac" and manifest["network"]["action_squashing"] == "tanh"
    from safetensors.torch import load_file

    assert not any("critic" in name or "alpha" in name for name in load_file(str(folder / "weights.safetensors")))


def transitions(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"obs": rng.normal(size=(n, 3)), "actions": rng.uniform(-1, 1, size=(n, 1)),
            "rewards": rng.normal(size=n), "next_obs": rng.normal(size=(n, 3)),
            "terminateds": (rng.uniform(size=n) < 0.1).astype(np.float32)}


def test_learner_updates_at_the_replay_ratio_and_moves_every_network():
    env = gym.make(ENV_ID)
    section = FastSACSection(**{**SMALL.__dict__, "replay_ratio": 0.5, "num_steps_sampled_before_learning_starts": 64})
    learner = build_fastsac_config(ENV_ID, seed=0, fastsac=section, resources=LOCAL).build_learner(env=env)
    module = learner.module["default_policy"].unwrapped()
    before = {k: v.detach().clone() for k, v in module.state_dict().items()}
    assert learner.add_and_update(transitions(40))["num_updates"] == 0  # 40 < learning start
    stats = learner.add_and_update(transitions(30, seed=1))  # 70 stored: 30 x 0.5 updates
    assert stats["num_updates"] == 3 and stats["replay_size"] == 70
    assert learner.add_and_update(transitions(3, seed=2))["num_updates"] == 1  # 1.5 owed: 1 now, 0.5 carried
    assert learner.add_and_update(transitions(1, seed=3))["num_updates"] == 1
    after = module.state_dict()
    for prefix in ("pi_encoder.", "pi.", "critic.", "target_critic.", "log_alpha"):
        keys = [k for k in before if k.startswith(prefix)]
        assert keys and any(not torch.equal(before[k], after[k]) for k in keys), prefix
    # Polyak: the target moved by a small step towards the critic, not onto it.
    w, w_target, w_before = after["critic.weights.1"], after["target_critic.weights.1"], before["critic.weights.1"]
    assert 0 < (w_target - w_before).abs().max() < (w - w_before).abs().max()
    assert np.isfinite([stats["critic_loss"], stats["actor_loss"], stats["alpha"]]).all()


def test_replay_buffer_wraps_around_and_keeps_the_newest():
    buffer = FlatReplayBuffer(capacity=5, obs_dim=3, act_dim=1, device=torch.device("cpu"))
    data = transitions(4)
    buffer.add(data)
    buffer.add(transitions(4, seed=1))
    assert (buffer.size, buffer.pos) == (5, 3)
    newest = transitions(4, seed=1)["rewards"].astype(np.float32)
    np.testing.assert_array_equal(buffer.columns["rewards"][[4, 0, 1, 2]].numpy(), newest)
    buffer.add(transitions(12, seed=2))  # larger than the buffer: its last 5 transitions
    assert set(buffer.columns["rewards"].numpy().tolist()) == set(transitions(12, seed=2)["rewards"][-5:]
                                                                  .astype(np.float32).tolist())


def test_episode_chunks_become_transitions_with_only_true_terminations():
    space, act = gym.spaces.Box(-np.inf, np.inf, (2,)), gym.spaces.Box(-1, 1, (1,))
    chunks = []
    for terminated in (True, False):
        episode = SingleAgentEpisode(observation_space=space, action_space=act)
        episode.add_env_reset(observation=np.zeros(2, np.float32))
        for t in range(1, 4):
            episode.add_env_step(np.full(2, t, np.float32), np.array([0.1 * t], np.float32), float(t),
                                 terminated=terminated and t == 3, truncated=not terminated and t == 3)
        chunks.append(episode.to_numpy())
    data = episodes_to_transitions(chunks)
    np.testing.assert_array_equal(data["terminateds"], [0, 0, 1, 0, 0, 0])  # truncation bootstraps
    np.testing.assert_array_equal(data["obs"][:3, 0], [0, 1, 2])
    np.testing.assert_array_equal(data["next_obs"][:3, 0], [1, 2, 3])
    np.testing.assert_array_equal(data["rewards"], [1, 2, 3, 1, 2, 3])


def test_yaml_selects_fastsac_with_high_utd_critics_and_gpu_learner(tmp_path):
    path = tmp_path / "fastsac.yaml"
    path.write_text("resources: {env_runners_per_trial: 0, gpus_per_learner: 1, torch_threads_per_learner: 2}\n"
                    "experts:\n  skills: [walk]\n  algorithm: fastsac\n"
                    "  fastsac: {replay_ratio: 4, critic_layer_norm: true, critic_hiddens: [512, 512], "
                    "num_critics: 4, q_target: mean}\n")
    loaded = load_config(path).config
    section = loaded.experts.section_for("fastsac", "walk")
    config = build_fastsac_config("mwx/h1-walk-v0", seed=0, fastsac=section, resources=loaded.resources)
    model = config.model_config
    assert (model["critic_layer_norm"], model["critic_hiddens"], model["num_critics"]) == (True, [512, 512], 4)
    assert (config.replay_ratio, config.q_target) == (4, "mean")
    assert config.learner_config_dict["torch_threads"] == 2
    # GPU: only the learner's bundle (the trial process) asks for it; env runners stay on CPU.
    assert config.num_gpus_per_learner == 1 and config.num_gpus_per_env_runner == 0
    assert FastSAC.default_resource_request(config).bundles[0]["GPU"] == 1


def test_activation_choices_match_the_other_expert_sections():
    import typing

    from mwx_ray.config import experts_schema, fastsac_schema

    assert typing.get_args(fastsac_schema.Activation) == typing.get_args(experts_schema.Activation)
