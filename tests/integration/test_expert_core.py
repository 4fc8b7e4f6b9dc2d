"""Expert core on a real local Ray: PPO trains, exports, and the Ray-free ExpertPolicy acts exactly like RLlib.

One tiny PPO run (Pendulum-v1, 2 EnvRunners x 2 envs, 2 iterations of 256 steps) is shared by all tests.
The RLlib reference path is the one an evaluation EnvRunner runs with ``explore=False``: the config's
env-to-module pipeline (MeanStdFilter + default connectors), ``forward_inference``, then the
module-to-env pipeline (deterministic action, unsquash to the Box bounds).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from ray.rllib.core import DEFAULT_MODULE_ID  # noqa: E402
from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.utils.filter import RunningStat  # noqa: E402

from mwx_ray.config.experts_schema import PPOSection  # noqa: E402
from mwx_ray.config.schema import ResourcesSection  # noqa: E402
from mwx_ray.experts.env_registration import derive_env_seed  # noqa: E402
from mwx_ray.experts.export import (  # noqa: E402
    export_algorithm,
    export_checkpoint,
    filter_state_from_algorithm,
    module_state_from_algorithm,
)
from mwx_ray.experts.policy import ExpertPolicy  # noqa: E402
from mwx_ray.experts.ppo import build_ppo_config  # noqa: E402
from tests.integration.rllib_reference import rllib_reference_inference  # noqa: E402  (tests/integration helper)

pytestmark = pytest.mark.ray

ENV_ID = "Pendulum-v1"
SEED = 7
LOG_STD_CLIP = 1.5
TINY_PPO = PPOSection(train_batch_size_per_learner=256, minibatch_size=64, num_epochs=2, fcnet_hiddens=[32, 32],
                      head_fcnet_hiddens=[16], log_std_clip_param=LOG_STD_CLIP)
# Driver (1 CPU, hosts the Learner) + 2 runners x 0.5 CPU fits the 2-core budget.
TWO_RUNNERS = ResourcesSection(env_runners_per_trial=2, envs_per_env_runner=2, cpus_per_env_runner=0.5)


@pytest.fixture(scope="module")
def trained(ray_runtime, tmp_path_factory):
    config = build_ppo_config(ENV_ID, seed=SEED, ppo=TINY_PPO, resources=TWO_RUNNERS)
    algo = config.build_algo()
    for _ in range(2):
        algo.train()
    root = tmp_path_factory.mktemp("expert")
    checkpoint = Path(algo.save_to_path(str(root / "checkpoint")))
    expert_dir = export_algorithm(algo, root / "expert", source_checkpoint=str(checkpoint))
    yield {"algo": algo, "expert_dir": expert_dir, "checkpoint": checkpoint, "root": root}
    algo.stop()


def raw_observations(n: int = 48) -> np.ndarray:
    """Pendulum observations ``[n, 3]`` from a random walk, plus scaled copies that hit the ±10 obs clip."""
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=123)
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(n):
        rows.append(obs)
        obs, *_ = env.step(rng.uniform(-2.0, 2.0, size=(1,)).astype(np.float32))
    env.close()
    rows = np.asarray(rows, dtype=np.float32)
    return np.concatenate([rows, 40.0 * rows[:4]]).astype(np.float32)


def test_exported_policy_matches_rllib_deterministic_inference(trained):
    observations = raw_observations()
    reference = rllib_reference_inference(trained["algo"], observations)
    rllib_obs_norm, rllib_actions, pushes_after = reference.normalized_obs, reference.env_actions, reference.filter_pushes
    policy = ExpertPolicy.load(trained["expert_dir"])

    obs_norm = policy.normalize(observations)
    np.testing.assert_allclose(obs_norm.numpy(), rllib_obs_norm, rtol=0, atol=1e-6)
    assert np.abs(rllib_obs_norm).max() == pytest.approx(10.0), "the scaled rows must exercise the clip"
    actions = policy(observations).numpy()
    assert actions.shape == rllib_actions.shape == (len(observations), 1)
    np.testing.assert_allclose(actions, rllib_actions, rtol=0, atol=1e-5)
    # The frozen reference pipeline really did not move its stats while computing them.
    assert pushes_after == policy.manifest["normalizer"]["count"]
    assert np.all(np.abs(actions) <= 2.0)
    # Not a degenerate comparison: the trained policy's actions vary with the observation.
    assert actions.std() > 1e-3


def test_exported_normalizer_equals_algorithm_filter_state(trained):
    algo = trained["algo"]
    (stats_state,) = filter_state_from_algorithm(algo)["running_stats"]
    stats = RunningStat.from_state(stats_state)
    manifest = json.loads((trained["expert_dir"] / "manifest.json").read_text())
    normalizer = manifest["normalizer"]
    # 2 iterations x 256 steps, plus one reset obs per sub-env (4) that the filter also sees.
    assert stats.n == normalizer["count"] >= 512
    np.testing.assert_array_equal(np.asarray(normalizer["mean"]), stats.mean)
    np.testing.assert_array_equal(np.asarray(normalizer["std"], np.float32), stats.std)
    assert normalizer["clip"] == 10.0 and normalizer["epsilon"] == 1e-6
    # The merged state was broadcast: every remote EnvRunner normalizes with the same statistics.
    runner_states = algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.get_state(components="env_to_module_connector"), local_env_runner=False
    )
    assert len(runner_states) == 2
    for state in runner_states:
        (remote,) = state["env_to_module_connector"]["MeanStdFilter"][None]["running_stats"]
        remote = RunningStat.from_state(remote)
        assert remote.n == stats.n
        np.testing.assert_array_equal(remote.mean, stats.mean)


def test_log_std_is_clipped_by_rllib_and_by_the_export(trained):
    algo = trained["algo"]
    module = algo.config.get_rl_module_spec(spaces=algo.spaces, inference_only=False).build()
    state = module_state_from_algorithm(algo)
    module.set_state({**state, "pi.log_std": np.full_like(state["pi.log_std"], -100.0)})
    obs = torch.zeros((3, 3))
    with torch.no_grad():
        dist_inputs = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
    np.testing.assert_array_equal(dist_inputs[:, 1].numpy(), np.full(3, -LOG_STD_CLIP, np.float32))

    policy = ExpertPolicy.load(trained["expert_dir"])
    trained_log_std = policy.log_std()
    assert torch.all(trained_log_std.abs() <= LOG_STD_CLIP)
    np.testing.assert_allclose(
        trained_log_std.numpy(), np.clip(state["pi.log_std"], -LOG_STD_CLIP, LOG_STD_CLIP)
    )
    with torch.no_grad():
        policy.log_std_free.fill_(-100.0)
    assert torch.all(policy.log_std() == -LOG_STD_CLIP)


def test_each_sub_env_of_each_runner_gets_its_own_seed(trained):
    per_runner = trained["algo"].env_runner_group.foreach_env_runner(
        lambda runner: (
            runner.worker_index,
            [
                (env.get_wrapper_attr("env_index"), env.get_wrapper_attr("env_seed"))
                for env in runner.env.unwrapped.envs
            ],
        ),
        local_env_runner=False,
    )
    seeds = {}
    for worker_index, envs in per_runner:
        for env_index, env_seed in envs:
            seeds[(worker_index, env_index)] = env_seed
    assert sorted(seeds) == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert len(set(seeds.values())) == 4
    for (worker_index, env_index), env_seed in seeds.items():
        assert env_seed == derive_env_seed(SEED, worker_index, env_index)
    # RLlib's own scheme (seed + worker_index + env_index) would give runner 1/env 1 and runner 2/env 0
    # the same seed; ours does not.
    assert SEED + 1 + 1 == SEED + 2 + 0 and seeds[(1, 1)] != seeds[(2, 0)]


def test_checkpoint_export_equals_algorithm_export(trained):
    from_checkpoint = export_checkpoint(
        trained["checkpoint"], trained["root"] / "expert_from_ckpt", env_id=ENV_ID
    )
    a = json.loads((trained["expert_dir"] / "manifest.json").read_text())
    b = json.loads((from_checkpoint / "manifest.json").read_text())
    assert a["tensors_sha256"] == b["tensors_sha256"]
    assert a["normalizer"] == b["normalizer"] and a["network"] == b["network"]
    assert (
        ExpertPolicy.load(from_checkpoint).parameter_hash()
        == ExpertPolicy.load(trained["expert_dir"]).parameter_hash()
    )


def test_expert_folder_loads_without_ray_and_without_pickle(trained, tmp_path):
    observations = raw_observations(8)
    np.save(tmp_path / "obs.npy", observations)
    script = textwrap.dedent(
        f"""
        import json, pickle, sys
        sys.modules["ray"] = None  # any `import ray` now raises ImportError
        import numpy as np
        obs = np.load({str(tmp_path / "obs.npy")!r}, allow_pickle=False)
        def _no_pickle(*args, **kwargs):
            raise RuntimeError("pickle used")
        pickle.load = pickle.loads = _no_pickle
        pickle.Unpickler = _no_pickle
        from mwx_ray.experts.policy import ExpertPolicy
        policy = ExpertPolicy.load({str(trained["expert_dir"])!r})
        assert not any(name == "ray" or name.startswith("ray.") for name, mod in sys.modules.items() if mod)
        print(json.dumps({{"actions": policy.act(obs).tolist(), "hash": policy.parameter_hash()}}))
        """
    )
    repo_root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=repo_root, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    policy = ExpertPolicy.load(trained["expert_dir"])
    np.testing.assert_array_equal(np.asarray(out["actions"], np.float32), policy.act(observations))
    assert out["hash"] == policy.parameter_hash()


def test_manifest_records_what_a_router_needs(trained):
    manifest = json.loads((trained["expert_dir"] / "manifest.json").read_text())
    assert manifest["env_id"] == ENV_ID and manifest["module_id"] == DEFAULT_MODULE_ID
    assert manifest["observation_space"]["shape"] == [3] and manifest["action_space"]["high"] == [2.0]
    network, versions = manifest["network"], manifest["versions"]
    assert network["hidden_sizes"] == [32, 32] and network["head_hidden_sizes"] == [16]
    assert network["activation"] == "tanh" and network["free_log_std"] is True
    assert {"ray", "torch", "mujoco"} <= set(versions) and versions["ray"] == ray.__version__
    assert manifest["source_checkpoint"] == str(trained["checkpoint"])


def test_initial_policy_settings_reach_the_learner_and_every_env_runner(ray_runtime):
    ppo = PPOSection(train_batch_size_per_learner=128, minibatch_size=64, num_epochs=1, fcnet_hiddens=[16],
                     log_std_init=-1.25, pi_output_scale=0.01)
    config = build_ppo_config(ENV_ID, seed=SEED, ppo=ppo, resources=ResourcesSection(
        env_runners_per_trial=1, cpus_per_env_runner=0.5))
    reference = config.copy(copy_frozen=False).callbacks(on_algorithm_init=None).build_algo()
    algo = config.build_algo()
    try:
        default_init = reference.get_module(DEFAULT_MODULE_ID).state_dict()
        learner_state = algo.get_module(DEFAULT_MODULE_ID).state_dict()
        runner_states = algo.env_runner_group.foreach_env_runner(lambda runner: runner.module.get_state())
    finally:
        reference.stop()
        algo.stop()
    assert learner_state["pi.log_std"].tolist() == [-1.25]
    # local and remote runner sample with the same std and mean layer from step 0
    assert [float(state["pi.log_std"][0]) for state in runner_states] == [-1.25, -1.25]
    output_weight = max(key for key in learner_state if key.startswith("pi.net.") and key.endswith(".weight"))
    output_bias = output_weight.replace(".weight", ".bias")
    # PyTorch's default Linear init draws from U(±1/sqrt(fan_in)); the rescaled layer stays within 0.01 of that
    bound = 1 / np.sqrt(learner_state[output_weight].shape[1])
    assert 0 < np.abs(learner_state[output_weight]).max() <= 0.01 * bound
    assert np.abs(default_init[output_weight]).max() > 0.5 * bound
    assert not learner_state[output_bias].any() and default_init[output_bias].any()
    for state in runner_states:
        np.testing.assert_array_equal(np.asarray(state[output_weight]), np.asarray(learner_state[output_weight]))


def test_warm_start_copies_the_actor_and_normalizer_into_a_fresh_trial(trained):
    """init_from: a new PPO algorithm acts exactly like the exported expert (same seed-independent actions),
    its normalizer starts from the expert's statistics, and its exploration std is not shrunk below its own."""
    from mwx_ray.experts.warm_start import warm_start

    fresh = build_ppo_config(ENV_ID, seed=SEED + 1, ppo=TINY_PPO, resources=TWO_RUNNERS).build_algo()
    try:
        source = ExpertPolicy.load(trained["expert_dir"])
        before = dict(fresh.learner_group.get_state(components=f"learner/rl_module/{DEFAULT_MODULE_ID}")[
            "learner"]["rl_module"][DEFAULT_MODULE_ID])
        record = warm_start(fresh, trained["expert_dir"])
        assert record["normalizer_count"] == source.manifest["normalizer"]["count"] > 0
        copied = ExpertPolicy.load(export_algorithm(fresh, trained["root"] / "warm"))
        observations = raw_observations()
        np.testing.assert_array_equal(copied.act(observations), source.act(observations))
        np.testing.assert_array_equal(copied.obs_mean.numpy(), source.obs_mean.numpy())
        assert torch.all(copied.log_std_free >= torch.as_tensor(before["pi.log_std"]) - 1e-7)
        # Remote runners got the statistics too (they normalize what the learner trains on).
        counts = fresh.env_runner_group.foreach_env_runner(
            lambda runner: filter_state_from_algorithm_runner(runner), local_env_runner=False)
        assert counts == [source.manifest["normalizer"]["count"]] * 2
        fresh.train()  # and it trains from there
    finally:
        fresh.stop()


def filter_state_from_algorithm_runner(runner) -> int:
    state = runner.get_state(components="env_to_module_connector")["env_to_module_connector"]
    (stats,) = state["MeanStdFilter"][None]["running_stats"]
    return int(stats["num_pushes"])


def test_warm_start_widens_a_robot_state_expert_to_a_task_with_extras(ray_runtime, tmp_path):
    """init_from zoo:stand (51-d robot state) into a reach trial (57-d: + hand and goal): the trial acts exactly as
    the stand expert on the robot state, whatever the hand and goal entries are, normalizes those by their spread
    over the trial env's resets, and a mismatched robot state (a source that reads 57 entries of its own) is
    refused by name."""
    from mwx_ray.experts.registry import load_expert
    from mwx_ray.experts.warm_start import (
        WIDENED_STATS_RESETS,
        WIDENED_VAR_FLOOR,
        warm_start,
        widened_statistics,
    )

    reach_id = "mwx/h1-reach-v0"
    local_only = ResourcesSection(env_runners_per_trial=0, envs_per_env_runner=1)
    fresh = build_ppo_config(reach_id, seed=SEED, ppo=PPOSection(log_std_clip_param=5.0),
                             resources=local_only).build_algo()
    try:
        stand, described = load_expert("zoo:stand")
        record = warm_start(fresh, described["folder"], env_id=reach_id)
        assert record["widened_inputs"] == 6
        copied = ExpertPolicy.load(export_algorithm(fresh, tmp_path / "widened"))
        env = gym.make(reach_id)
        rows = [env.reset(seed=seed)[0] for seed in range(4)]
        observations = np.stack(rows)
        moved = observations.copy()
        moved[:, 51:] += 0.7  # other hand and goal positions: the zero weights ignore them
        np.testing.assert_allclose(copied.act(observations), stand.act(observations[:, :51]), atol=1e-5)
        np.testing.assert_array_equal(copied.act(moved), copied.act(observations))
        # The added entries' statistics come from resets of the trial's env (hand and goal positions vary there).
        mean, var = widened_statistics(reach_id, dict(fresh.config.env_config), 51)
        goals = np.stack([env.reset(seed=seed)[0][51:] for seed in range(WIDENED_STATS_RESETS)])
        standard_error = np.sqrt((var + goals.var(axis=0)) / WIDENED_STATS_RESETS)  # other draws, same distribution
        assert np.all(np.abs(mean - goals.mean(axis=0)) < 4 * standard_error)
        assert var.min() >= WIDENED_VAR_FLOOR and var.max() > 0.1  # the goals spread over metres
        np.testing.assert_allclose(copied.obs_mean.numpy()[51:], mean, atol=1e-5)
        with pytest.raises(ValueError, match="input_dim is 51 but this trial's is 57"):
            warm_start(fresh, described["folder"])  # without the trial's env id no layout is known: not widened
    finally:
        fresh.stop()
