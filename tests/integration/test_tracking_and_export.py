"""Tracking + export + eval on a real local Ray: a 2-trial Tune sweep into a temporary sqlite MLflow store,
an unreachable tracking server, a crashed-and-restored sweep, then export -> registry -> ExpertPolicy -> mwx eval.

The trainable is a small stand-in with the Tune engineer's trial contract (config ``skill/seed/env_id/ppo``;
metrics ``hb/*``, ``reward_terms/*``, ``env_steps``, ``time/wall_s``, ``artifacts/eval_video``; RLlib
``save_to_path`` checkpoints): H1 stand and walk, PPO with 200 env steps per iteration sampled in the trial
process, a deterministic evaluation of the exported expert with a 10-step video after every iteration.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")

from mlflow import MlflowClient  # noqa: E402
from ray import cloudpickle, tune  # noqa: E402
from ray.rllib.algorithms.algorithm import Algorithm  # noqa: E402
from ray.rllib.core.columns import Columns  # noqa: E402
from ray.rllib.env.single_agent_episode import SingleAgentEpisode  # noqa: E402

from mwx_ray.cli import main as mwx_main  # noqa: E402
from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.config.experts_schema import PPOSection  # noqa: E402
from mwx_ray.config.schema import ResourcesSection  # noqa: E402
from mwx_ray.experts.env_registration import register_rllib_env  # noqa: E402
from mwx_ray.experts.evaluation import evaluate_policy  # noqa: E402
from mwx_ray.experts.export import export_algorithm, filter_state_from_algorithm, module_state_from_algorithm  # noqa: E402
from mwx_ray.experts.policy import ExpertPolicy  # noqa: E402
from mwx_ray.experts.ppo import build_ppo_config, with_frozen_obs_filter  # noqa: E402
from mwx_ray.experts.registry import ExpertRegistry  # noqa: E402
from mwx_ray.experts.registry_export import export_registry  # noqa: E402
from mwx_ray.tracking.run_values import RUNS_FILE, RunIds  # noqa: E402
from mwx_ray.tracking.sweep_callback import REPORT_FILE, MlflowSweepCallback, make_sweep_callbacks  # noqa: E402

pytestmark = pytest.mark.ray
# Trial processes cannot import this test module by name: ship its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SKILL_ENVS = {"stand": "mwx/h1-stand-v0", "walk": "mwx/h1-walk-v0"}
TINY_PPO = {"train_batch_size_per_learner": 200, "minibatch_size": 100, "num_epochs": 1, "fcnet_hiddens": [16, 16],
            "lr": 3e-4}
ITERATIONS = 2


def tiny_expert_trainable(config):
    """Stand-in expert trainable: PPO iterations, deterministic eval + video, RLlib checkpoints via Tune."""
    resources = ResourcesSection(env_runners_per_trial=0)  # sample in the trial process: 1 CPU per trial
    algo = build_ppo_config(config["env_id"], seed=config["seed"], ppo=PPOSection(**config["ppo"]),
                            resources=resources).build_algo()
    start_iteration = 0
    if (restored := tune.get_checkpoint()) is not None:
        with restored.as_directory() as folder:
            algo.restore_from_path(folder)
            start_iteration = json.loads((Path(folder) / "iteration.json").read_text())["iteration"]
    trial_dir, started = Path(tune.get_context().get_trial_dir()), time.perf_counter()
    for iteration in range(start_iteration, config["iterations"]):
        if iteration == config.get("crash_at_iteration") and not Path(config["crash_marker"]).exists():
            Path(config["crash_marker"]).write_text("crashed once")
            raise RuntimeError("planned crash (test of Tuner.restore)")
        out = algo.train()
        with tempfile.TemporaryDirectory() as tmp:
            policy = ExpertPolicy.load(export_algorithm(algo, Path(tmp) / "expert"))
            video = trial_dir / f"eval_{iteration}.mp4"
            evaluation = evaluate_policy(policy.act, config["env_id"], episodes=1, seed=100, video_path=video,
                                         video_steps=10)
            algo.save_to_path(str(Path(tmp) / "checkpoint"))
            (Path(tmp) / "checkpoint" / "iteration.json").write_text(json.dumps({"iteration": iteration + 1}))
            metrics = {
                "hb/return": evaluation.return_mean, "hb/return_std": evaluation.return_std,
                "hb/success": evaluation.success_rate,
                **{f"reward_terms/{k}": v for k, v in evaluation.reward_term_means.items()},
                "train/episode_return_mean": out["env_runners"].get("episode_return_mean", math.nan),
                "env_steps": out["env_runners"]["num_env_steps_sampled_lifetime"],
                "time/wall_s": time.perf_counter() - started,
                "artifacts/eval_video": str(video),
            }
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(Path(tmp) / "checkpoint")))
    algo.stop()


def sweep_config(tmp: Path, *, uri: str | None = None, pbt_lr: bool = False):
    """A resolved config whose local MLflow store lives in ``tmp`` (or at ``uri``)."""
    lines = [f"run: {{root_dir: {tmp}, name: test}}", "tracking: {experiment_prefix: 'test-'}"]
    if pbt_lr:  # lr mutable under PBT -> must be logged as a metric, never as a param
        lines.append("experts: {scheduler: {name: pbt, mutations: {lr: {loguniform: [1.0e-5, 1.0e-3]}}}}")
    (tmp / "sweep.yaml").write_text("\n".join(lines) + "\n")
    return load_config(tmp / "sweep.yaml", [f"tracking.uri={uri}"] if uri else [])


def run_tuner(tmp: Path, loaded, *, name: str, skills=("stand", "walk"), extra=None):
    run_dir = tmp / "experts" / name
    callbacks = make_sweep_callbacks(loaded, run_dir)
    param_space = {"skill": tune.grid_search(list(skills)), "seed": 0, "ppo": TINY_PPO,
                   "env_id": tune.sample_from(lambda spec: SKILL_ENVS[spec.config.skill]),
                   "iterations": ITERATIONS, **(extra or {})}
    tuner = tune.Tuner(
        tune.with_resources(tiny_expert_trainable, {"cpu": 1}), param_space=param_space,
        run_config=tune.RunConfig(
            name=name, storage_path=str(tmp / "tune"), callbacks=callbacks, verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="hb/return",
                                                    checkpoint_score_order="max")),
    )
    return tuner, callbacks[0], run_dir


@pytest.fixture(scope="module")
def ray_runtime():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def sweep(ray_runtime, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    loaded = sweep_config(tmp, pbt_lr=True)
    tuner, callback, run_dir = run_tuner(tmp, loaded, name="two_trials")
    started = time.perf_counter()
    results = tuner.fit()
    return {"tmp": tmp, "loaded": loaded, "results": results, "callback": callback, "run_dir": run_dir,
            "client": MlflowClient(tracking_uri=callback.tracking_uri), "fit_s": time.perf_counter() - started,
            "experiment": tmp / "tune" / "two_trials"}


def sweep_runs(client: MlflowClient, experiment_name: str):
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("kind") == "trial"]
    return parents, children


def test_sweep_writes_one_parent_and_two_child_runs(sweep):
    assert not sweep["results"].errors and len(sweep["results"]) == 2
    client, loaded = sweep["client"], sweep["loaded"]
    parents, children = sweep_runs(client, "test-experts")
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert parent.data.params["run.seed"] == "0" and parent.data.params["experts.ppo.lr"] == "0.0003"
    assert parent.data.params["experts.scheduler.name"] == "pbt"
    assert parent.data.tags["config_hash"] == loaded.hash() and parent.data.tags["stage"] == "experts"
    parent_artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"config.resolved.yaml", "record.json"} <= parent_artifacts
    trial_ids = {result.metrics["trial_id"] for result in sweep["results"]}
    assert {c.data.tags["trial_id"] for c in children} == trial_ids
    assert sorted(c.data.tags["skill"] for c in children) == ["stand", "walk"]
    for child in children:
        tags, params = child.data.tags, child.data.params
        assert child.info.status == "FINISHED"
        assert tags["env_id"] == SKILL_ENVS[tags["skill"]] and tags["seed"] == "0" and tags["stage"] == "experts"
        assert tags["git_sha"] == parent.data.tags["git_sha"] != "" and tags["config_hash"] == loaded.hash()
        assert tags["version.ray"] == ray.__version__ and tags["version.mujoco"] and tags["version.torch"]
        assert params["skill"] == tags["skill"] and params["ppo.fcnet_hiddens"] == "[16, 16]"
        assert params["ppo.train_batch_size_per_learner"] == "200"
        assert "ppo.lr" not in params, "a PBT-mutable hyperparameter must not be a param"


def test_child_metrics_are_stepped_by_env_steps(sweep):
    client = sweep["client"]
    _, children = sweep_runs(client, "test-experts")
    by_trial = {result.metrics["trial_id"]: result for result in sweep["results"]}
    for child in children:
        run_id = child.info.run_id
        env_steps = client.get_metric_history(run_id, "env_steps")
        hb_return = client.get_metric_history(run_id, "hb/return")
        assert len(env_steps) == len(hb_return) == ITERATIONS
        steps = [m.step for m in env_steps]
        assert steps == sorted(steps) and len(set(steps)) == ITERATIONS and steps[0] >= 200
        assert [m.value for m in env_steps] == steps
        assert [m.step for m in hb_return] == steps
        last = by_trial[child.data.tags["trial_id"]].metrics
        assert hb_return[-1].value == pytest.approx(last["hb/return"])
        assert any(key.startswith("reward_terms/") for key in child.data.metrics)
        assert {"hb/success", "time/wall_s", "training_iteration"} <= set(child.data.metrics)
        lr = client.get_metric_history(run_id, "hparams/lr")
        assert [m.value for m in lr] == [pytest.approx(3e-4)] * ITERATIONS and [m.step for m in lr] == steps
        videos = [a.path for a in client.list_artifacts(run_id, "videos")]
        assert videos == [f"videos/eval_{ITERATIONS - 1}.mp4"]
        assert "trial_config.json" in {a.path for a in client.list_artifacts(run_id)}


def test_run_ids_and_tracking_report_are_persisted(sweep):
    ids = RunIds.load(sweep["run_dir"] / RUNS_FILE)
    assert ids is not None and len(ids.children) == 2
    assert RunIds.load(sweep["experiment"] / RUNS_FILE) == ids, "the Tune experiment folder has the same ids"
    report = json.loads((sweep["run_dir"] / REPORT_FILE).read_text())
    assert report["ok"] is True and report["failed_calls"] == 0
    assert sweep["callback"].report().ok


def test_unreachable_tracking_server_does_not_stop_training(ray_runtime, tmp_path):
    loaded = sweep_config(tmp_path, uri="http://127.0.0.1:9")  # discard port: connection refused
    tuner, callback, run_dir = run_tuner(tmp_path, loaded, name="no_server", skills=("stand",))
    results = tuner.fit()
    assert not results.errors and results[0].metrics["training_iteration"] == ITERATIONS
    report = callback.report()
    assert not report.ok and report.failed_calls >= 1 and "127.0.0.1:9" in report.summary()
    assert "INCOMPLETE" in report.summary() and report.first_error
    saved = json.loads((run_dir / REPORT_FILE).read_text())
    assert saved["ok"] is False and saved["failed_calls"] == report.failed_calls


def test_restored_sweep_continues_the_same_runs(ray_runtime, tmp_path):
    loaded = sweep_config(tmp_path)
    extra = {"crash_at_iteration": 1, "crash_marker": str(tmp_path / "crashed")}
    tuner, _, run_dir = run_tuner(tmp_path, loaded, name="crash", skills=("stand",), extra=extra)
    first = tuner.fit()
    assert len(first.errors) == 1, "the planned crash must end the first session with an errored trial"
    ids_before = RunIds.load(run_dir / RUNS_FILE)

    restored = tune.Tuner.restore(str(tmp_path / "tune" / "crash"), tune.with_resources(tiny_expert_trainable,
                                  {"cpu": 1}), resume_errored=True)
    second = restored.fit()
    assert not second.errors and second[0].metrics["training_iteration"] == ITERATIONS
    client = MlflowClient(tracking_uri=ids_before.tracking_uri)
    parents, children = sweep_runs(client, "test-experts")
    assert [p.info.run_id for p in parents] == [ids_before.parent_run_id]
    assert [c.info.run_id for c in children] == list(ids_before.children.values())
    assert children[0].info.status == "FINISHED" and parents[0].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(children[0].info.run_id, "env_steps")]
    assert len(steps) == ITERATIONS and steps == sorted(set(steps)), "the curve continues after restore"


def rllib_actions(checkpoint: Path, env_id: str, observations: np.ndarray) -> np.ndarray:
    """RLlib's deterministic eval path (frozen MeanStdFilter, forward_inference, unsquash) on a checkpoint."""
    register_rllib_env(env_id)
    algo = Algorithm.from_checkpoint(str(checkpoint))
    try:
        config, spaces = with_frozen_obs_filter(algo.config), algo.spaces
        env_to_module = config.build_env_to_module_connector(spaces=spaces)
        module_to_env = config.build_module_to_env_connector(spaces=spaces)
        module = config.get_rl_module_spec(spaces=spaces, inference_only=False).build()
        module.set_state(module_state_from_algorithm(algo))
        module.eval()
        env_to_module.set_state({"MeanStdFilter": {None: filter_state_from_algorithm(algo)}})
        obs_space, act_space = spaces["__env_single__"]
        actions = []
        for obs in observations:
            episode = SingleAgentEpisode(observation_space=obs_space, action_space=act_space)
            episode.add_env_reset(observation=obs)
            shared = {}
            batch = env_to_module(rl_module=module, batch={}, episodes=[episode], explore=False, shared_data=shared)
            with torch.no_grad():
                out = module.forward_inference(batch)
            out = module_to_env(rl_module=module, batch=out, episodes=[episode], explore=False, shared_data=shared)
            actions.append(np.asarray(out[Columns.ACTIONS_FOR_ENV][0]))
        return np.asarray(actions)
    finally:
        algo.stop()


def h1_observations(env_id: str, n: int = 40) -> np.ndarray:
    import mwx_ray.envs  # noqa: F401

    env = gym.make(env_id)
    obs, _ = env.reset(seed=5)
    rows, rng = [], np.random.default_rng(0)
    for _ in range(n):
        rows.append(obs)
        obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    rows = np.asarray(rows)
    return np.concatenate([rows, 50.0 * rows[:4]])  # scaled rows exercise the ±10 std clip


def test_export_registry_round_trip_matches_rllib(sweep, tmp_path):
    outcome = export_registry(sweep["experiment"], tmp_path / "registry")
    assert outcome.tracking is not None and outcome.tracking.ok
    registry = ExpertRegistry.load(tmp_path / "registry")
    assert registry.skills == ["stand", "walk"]
    ids = RunIds.load(sweep["experiment"] / RUNS_FILE)
    for skill, entry in registry.entries.items():
        result = next(r for r in sweep["results"] if r.config["skill"] == skill)
        checkpoint, metrics = max(result.best_checkpoints, key=lambda pair: pair[1]["hb/return"])
        record = entry.record
        assert record["source"]["checkpoint"] == checkpoint.path
        assert record["metrics"]["hb/return"] == pytest.approx(metrics["hb/return"])
        assert record["robot"] == "h1" and record["env_id"] == SKILL_ENVS[skill]
        assert record["observation_space"]["shape"] == [51] and record["action_space"]["shape"] == [19]
        assert entry.mlflow_run_id == ids.children[metrics["trial_id"]]
        logged = {a.path for a in sweep["client"].list_artifacts(entry.mlflow_run_id, "expert")}
        assert {"expert/manifest.json", "expert/weights.safetensors"} <= logged

        observations = h1_observations(entry.env_id)
        expected = rllib_actions(Path(checkpoint.path), entry.env_id, observations)
        actions = entry.load_policy().act(observations)
        assert actions.shape == expected.shape == (len(observations), 19)
        np.testing.assert_allclose(actions, expected, rtol=0, atol=1e-5)
        assert actions.std() > 1e-4, "not a degenerate comparison"


def test_mwx_eval_prints_return_and_writes_video(sweep, tmp_path, capsys):
    export_registry(sweep["experiment"], tmp_path / "registry", log_to_mlflow=False)
    video = tmp_path / "walk.mp4"
    code = mwx_main(["eval", f"{tmp_path / 'registry'}:walk", "--episodes", "2", "--seed", "3",
                     "--video", str(video), "--video-steps", "12"])
    out = capsys.readouterr().out
    assert code == 0, out
    policy = ExpertRegistry.load(tmp_path / "registry").policy("walk")
    expected = evaluate_policy(policy.act, "mwx/h1-walk-v0", episodes=2, seed=3)
    assert f"return {expected.return_mean:.2f} ± {expected.return_std:.2f}" in out
    assert "success " in out and f"video: {video}" in out

    import imageio.v2 as imageio

    with imageio.get_reader(video) as reader:
        frames = [frame for frame in reader]
    # The reset frame plus one per step of the last episode, up to --video-steps (an H1 may fall sooner).
    assert len(frames) == 1 + min(12, expected.episode_lengths[-1])
    assert frames[0].shape[2] == 3 and frames[0].max() > 0


def test_callback_survives_pickling_without_a_client(sweep):
    callback = sweep["callback"]
    clone = cloudpickle.loads(cloudpickle.dumps(callback))
    assert isinstance(clone, MlflowSweepCallback) and clone._mlflow is None
    assert clone.ids == callback.ids
