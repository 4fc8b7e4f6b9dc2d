"""SAC expert folders without a Ray runtime: a real RLlib SAC RLModule (built in-process from our config) exported
and reloaded as ExpertPolicy must act exactly like RLlib's explore=False path; PPO folders of format 1 still load;
analysis tells PPO and SAC experts apart by their ``algorithm`` tag."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.distribution.torch.torch_distribution import TorchSquashedGaussian
from ray.rllib.utils.numpy import MAX_LOG_NN_OUTPUT, MIN_LOG_NN_OUTPUT
from ray.rllib.utils.spaces.space_utils import unsquash_action

from mwx_ray.config.sac_schema import SACSection
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.experts.export import SAC_LOG_STD_BOUNDS, write_expert_folder
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.experts.sac import SquashedModeGaussian, build_sac_config

ENV_ID = "Pendulum-v1"  # obs [3], action Box(-2, 2, (1,)): the unsquash to env bounds is not the identity
SAC = SACSection(fcnet_hiddens=[16, 16], head_fcnet_hiddens=[8], fusionnet_hiddens=[8])


def identity_filter_state(obs_dim: int) -> dict:
    """A MeanStdFilter state that leaves observations unchanged (mean 0, std 1; std comes from the counts)."""
    import base64
    import io
    import zlib

    def serialized(array: np.ndarray) -> str:
        buffer = io.BytesIO()
        np.save(buffer, array)
        return base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii")

    count = 101
    return {"shape": np.array([obs_dim]), "de_mean_to_zero": True, "de_std_to_one": True, "clip_by_value": 10.0,
            "running_stats": [{"num_pushes": count, "mean_array": serialized(np.zeros(obs_dim)),
                               "sum_sq_diff_array": serialized(np.full(obs_dim, count - 1.0))}]}


@pytest.fixture(scope="module")
def sac_module_and_expert(tmp_path_factory):
    """An RLlib SAC module (our catalog) with a scaled-up pi output so many means land in tanh's flat part."""
    config = build_sac_config(ENV_ID, seed=0, sac=SAC, resources=ResourcesSection(env_runners_per_trial=0))
    env = gym.make(ENV_ID)
    module = config.get_rl_module_spec(env=env, inference_only=False).build()
    with torch.no_grad():
        last = [m for m in module.pi.modules() if isinstance(m, torch.nn.Linear)][-1]
        last.weight.mul_(8.0)
    module.eval()
    state = {key: value.detach().numpy() for key, value in module.state_dict().items()}
    folder = write_expert_folder(
        tmp_path_factory.mktemp("sac") / "expert", env_id=ENV_ID, module_state=state,
        model_config=config.model_config, observation_space=env.observation_space, action_space=env.action_space,
        filter_agent_state=identity_filter_state(3), normalize_actions=True, clip_actions=False,
        source_checkpoint=None, algorithm="sac")
    return module, folder, env.action_space


def observations(n: int = 256) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).normal(0.0, 3.0, size=(n, 3)).astype(np.float32))


def test_exported_sac_actor_acts_like_rllibs_deterministic_path(sac_module_and_expert):
    module, folder, action_space = sac_module_and_expert
    policy = ExpertPolicy.load(folder)
    obs = observations()
    obs_norm = policy.normalize(obs)  # the module sees what the MeanStdFilter hands it
    with torch.no_grad():
        dist_inputs = module.forward_inference({Columns.OBS: obs_norm})[Columns.ACTION_DIST_INPUTS]
    dist_cls = module.get_inference_action_dist_cls()
    assert dist_cls is SquashedModeGaussian
    module_actions = dist_cls.from_logits(dist_inputs).to_deterministic().sample()  # what GetActions does
    rllib_actions = unsquash_action(module_actions.numpy(), action_space)  # what NormalizeAndClipActions does

    assert policy.algorithm == "sac" and policy.action_squashing == "tanh"
    np.testing.assert_array_equal(policy.forward_normalized(obs_norm).numpy(), module_actions.numpy())
    actions = policy(obs).numpy()
    np.testing.assert_allclose(actions, rllib_actions, rtol=0, atol=1e-6)
    assert np.all(np.abs(actions) <= 2.0) and actions.std() > 0.1
    # RLlib's stock distribution would act on the raw mean (ray-project/ray#51544): a different policy here.
    stock = unsquash_action(TorchSquashedGaussian.from_logits(dist_inputs).to_deterministic().sample().numpy(),
                            action_space)
    assert np.abs(stock - rllib_actions).max() > 0.1


def test_sac_log_std_is_the_pre_tanh_one_within_rllibs_bounds(sac_module_and_expert):
    module, folder, _ = sac_module_and_expert
    assert SAC_LOG_STD_BOUNDS == (MIN_LOG_NN_OUTPUT, MAX_LOG_NN_OUTPUT)
    policy = ExpertPolicy.load(folder)
    obs_norm = policy.normalize(observations(64))
    with torch.no_grad():
        dist_inputs = module.forward_inference({Columns.OBS: obs_norm})[Columns.ACTION_DIST_INPUTS]
    expected = dist_inputs[:, 1:].clamp(MIN_LOG_NN_OUTPUT, MAX_LOG_NN_OUTPUT)
    np.testing.assert_allclose(policy.log_std(obs_norm).numpy(), expected.numpy(), atol=1e-6)
    dist = module.get_inference_action_dist_cls().from_logits(dist_inputs)
    np.testing.assert_allclose(torch.log(dist._dist.scale).numpy(), expected.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="sac expert's log-std depends on the observation"):
        policy.log_std()


def test_sac_manifest_records_algorithm_squashing_and_no_critic(sac_module_and_expert):
    _, folder, _ = sac_module_and_expert
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "mwx-expert/2" and manifest["algorithm"] == "sac"
    network = manifest["network"]
    assert network["action_squashing"] == "tanh" and network["log_std_bounds"] == [-5.0, 2.0]
    assert network["hidden_sizes"] == [16, 16] and network["head_hidden_sizes"] == [8] and network["output_dim"] == 2
    assert network["rllib_layer_sources"] == ["pi_encoder.net.mlp.0", "pi_encoder.net.mlp.2", "pi.net.mlp.0",
                                              "pi.net.mlp.2"]
    from safetensors.torch import load_file

    assert not any("qf" in name for name in load_file(str(folder / "weights.safetensors")))


def test_format_1_ppo_folders_still_load_as_unsquashed_ppo(tmp_path):
    """A folder exported before SAC existed: no `algorithm`, no squashing keys, format mwx-expert/1."""
    rng = np.random.default_rng(1)
    state = {"encoder.actor_encoder.net.mlp.0.weight": rng.normal(size=(4, 3)).astype(np.float32),
             "encoder.actor_encoder.net.mlp.0.bias": rng.normal(size=4).astype(np.float32),
             "pi.net.mlp.0.weight": rng.normal(size=(1, 4)).astype(np.float32),
             "pi.net.mlp.0.bias": np.zeros(1, np.float32), "pi.log_std": np.array([-9.0], np.float32)}
    model_config = {"fcnet_hiddens": [4], "fcnet_activation": "tanh", "head_fcnet_hiddens": [],
                    "head_fcnet_activation": "tanh", "free_log_std": True, "log_std_clip_param": 3.0,
                    "vf_share_layers": False}
    env = gym.make(ENV_ID)
    folder = write_expert_folder(tmp_path / "ppo", env_id=ENV_ID, module_state=state, model_config=model_config,
                                 observation_space=env.observation_space, action_space=env.action_space,
                                 filter_agent_state=identity_filter_state(3), normalize_actions=True,
                                 clip_actions=False, source_checkpoint=None)
    manifest_path = Path(folder) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["algorithm"] == "ppo" and manifest["network"]["action_squashing"] == "none"
    current = ExpertPolicy.load(folder)
    del manifest["algorithm"], manifest["network"]["action_squashing"], manifest["network"]["log_std_bounds"]
    manifest["format"] = "mwx-expert/1"
    manifest_path.write_text(json.dumps(manifest))
    old = ExpertPolicy.load(folder)
    assert old.algorithm == "ppo" and old.action_squashing == "none"
    obs = observations(32)
    np.testing.assert_array_equal(old(obs).numpy(), current(obs).numpy())
    obs_norm = old.normalize(obs)
    hidden = torch.tanh(obs_norm @ torch.from_numpy(state["encoder.actor_encoder.net.mlp.0.weight"]).T
                        + torch.from_numpy(state["encoder.actor_encoder.net.mlp.0.bias"]))
    mean = hidden @ torch.from_numpy(state["pi.net.mlp.0.weight"]).T  # no tanh on a PPO mean
    np.testing.assert_allclose(old(obs).numpy(), np.clip(-2 + (mean.numpy() + 1) * 2, -2, 2), atol=1e-5)
    assert old.log_std().tolist() == [-3.0]  # ±log_std_clip_param, the only bound format 1 records
    manifest["format"] = "mwx-expert/9"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="expected one of"):
        ExpertPolicy.load(folder)


def test_analysis_groups_expert_runs_by_algorithm(tmp_path):
    from mlflow import MlflowClient

    from analysis import loaders, schema, tables

    callback = (Path(__file__).resolve().parents[2] / "mwx_ray" / "tracking" / "sweep_callback.py").read_text()
    assert f'tags["{schema.TAG_ALGORITHM}"] = str(config.get("algorithm", "ppo"))' in callback
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.create_experiment("experts", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(experiment, tags={"stage": "experts", "kind": "sweep"}).info.run_id
    returns = {"ppo": [100.0, 140.0], "sac": [300.0, 360.0], None: [90.0]}  # None: a trial from before the tag
    for algorithm, values in returns.items():
        for seed, value in enumerate(values):
            tags = {"stage": "experts", "kind": "trial", "mlflow.parentRunId": parent, "skill": "walk",
                    "seed": str(seed), "env_id": "mwx/h1-walk-v0", **({"algorithm": algorithm} if algorithm else {})}
            run = client.create_run(experiment, tags=tags).info.run_id
            client.log_metric(run, "hb/return", value, step=1000)
    runs = loaders.load_runs(client, [experiment], parent)
    trials = runs[runs["kind"] == "trial"]
    assert sorted(trials["algorithm"]) == ["ppo", "ppo", "ppo", "sac", "sac"]
    assert pd_isna(runs.loc[runs["kind"] == "sweep", "algorithm"].iloc[0])
    histories = loaders.load_metric_histories(client, runs, ["hb/return"])
    results = tables.results_table(tables.run_summary(runs, histories)).set_index("method")
    assert results.loc["mwx_ray SAC expert", "return_mean"] == pytest.approx(330.0)
    assert results.loc["mwx_ray PPO expert", "return_mean"] == pytest.approx(110.0)
    assert results.loc["mwx_ray PPO expert", "n_seeds"] == 3


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
