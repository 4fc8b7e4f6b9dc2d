"""Tracking + export + eval on a real local Ray: the real expert sweep (``run_sweep`` on
``tune_configs/experts/smoke.yaml``) into a temporary sqlite MLflow store; an unreachable tracking server; a
crashed-then-resumed sweep; a PBT sweep whose mutable hyperparameters must be metrics; then export ->
registry -> ExpertPolicy (actions equal RLlib's deterministic inference) -> ``mwx eval``.

Smoke settings: H1 stand + walk, 256 env steps per iteration sampled in the trial process (1 CPU per trial,
so two trials run side by side on 2 cores), 2 iterations, evaluation and a checkpoint every iteration.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from mlflow import MlflowClient  # noqa: E402
from ray import cloudpickle  # noqa: E402

from mwx_ray.cli import main as mwx_main  # noqa: E402
from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.experts.evaluation import evaluate_policy  # noqa: E402
from mwx_ray.experts.registry import ExpertRegistry  # noqa: E402
from mwx_ray.experts.registry_export import export_registry, rllib_checkpoint_dir  # noqa: E402
from mwx_ray.experts.stage import train_experts  # noqa: E402
from mwx_ray.tracking.run_values import RUNS_FILE, RunIds  # noqa: E402
from mwx_ray.tracking.sweep_callback import REPORT_FILE, MlflowSweepCallback, make_sweep_callbacks  # noqa: E402
from mwx_ray.tune.resume import resume_stage  # noqa: E402
from tests.integration.mlflow_runs import sweep_runs  # noqa: E402
from tests.integration.rllib_reference import checkpoint_reference_inference, h1_observations  # noqa: E402  (tests/integration helper)

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tune_configs" / "experts" / "smoke.yaml"
PBT = REPO / "tune_configs" / "experts" / "sweep_pbt.yaml"
SKILL_ENVS = {"stand": "mwx/h1-stand-v0", "walk": "mwx/h1-walk-v0"}
STEPS_PER_ITER = 256
ITERATIONS = 2
# One CPU per trial (sampling in the trial process) so the 2 trials share the 2 cores; small PPO updates.
TINY = ["resources.env_runners_per_trial=0", "resources.envs_per_env_runner=1", "resources.num_cpus=2",
        f"experts.ppo.train_batch_size_per_learner={STEPS_PER_ITER}", "experts.ppo.minibatch_size=128",
        "experts.ppo.num_epochs=1", "experts.ppo.fcnet_hiddens=[32, 32]", "tracking.experiment_prefix=test-"]


def sweep_config(tmp: Path, *overrides: str, base: Path = SMOKE):
    return load_config(base, [f"run.root_dir={tmp}", *TINY, *overrides])


def start_sweep(tmp: Path, loaded, name: str, **kwargs):
    """``train_experts`` with the tracking callback, as ``mwx train-experts`` runs it; returns what tests need."""
    run_dir = tmp / "experts" / name
    callbacks = make_sweep_callbacks(loaded, run_dir)
    results = train_experts(loaded, run_dir=run_dir, callbacks=callbacks, **kwargs).grid
    experiment = run_dir / "tune" / loaded.config.run.name
    return results, callbacks[0], run_dir, experiment


@pytest.fixture(scope="module")
def sweep(ray_runtime, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    loaded = sweep_config(tmp)
    results, callback, run_dir, experiment = start_sweep(tmp, loaded, "two_trials")
    return {"tmp": tmp, "loaded": loaded, "results": results, "callback": callback, "run_dir": run_dir,
            "client": MlflowClient(tracking_uri=callback.tracking_uri), "experiment": experiment}


def test_sweep_writes_one_parent_and_two_child_runs(sweep):
    assert not sweep["results"].errors and len(sweep["results"]) == 2
    client, loaded = sweep["client"], sweep["loaded"]
    parents, children = sweep_runs(client, "test-experts")
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert parent.data.params["run.seed"] == "0" and parent.data.params["experts.ppo.lr"] == "0.0003"
    assert parent.data.params["experts.skills"] == '["stand", "walk"]'
    assert parent.data.params["resources.env_runners_per_trial"] == "0"
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
        assert params["skill"] == tags["skill"] and params["ppo.fcnet_hiddens"] == "[32, 32]"
        assert params["ppo.train_batch_size_per_learner"] == str(STEPS_PER_ITER) and params["ppo.lr"] == "0.0003"
        assert not any(key.startswith("hparams/") for key in child.data.metrics), "fifo: nothing mutates"


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
        assert steps == sorted(steps) and len(set(steps)) == ITERATIONS
        assert [m.value for m in env_steps] == steps
        assert [m.step for m in hb_return] == steps
        last = by_trial[child.data.tags["trial_id"]].metrics
        assert hb_return[-1].value == pytest.approx(last["hb/return"])
        assert any(key.startswith("reward_terms/") for key in child.data.metrics)
        assert {"hb/success", "time/wall_s", "training_iteration"} <= set(child.data.metrics)
        assert [m.value for m in env_steps] == [STEPS_PER_ITER * (i + 1) for i in range(ITERATIONS)]
        videos = [a.path for a in client.list_artifacts(run_id, "videos")]
        assert videos == ["videos/eval_video.mp4"], "the final evaluation's video"
        assert "trial_config.json" in {a.path for a in client.list_artifacts(run_id)}


def test_run_ids_and_tracking_report_are_persisted(sweep):
    ids = RunIds.load(sweep["run_dir"] / RUNS_FILE)
    assert ids is not None and len(ids.children) == 2
    assert RunIds.load(sweep["experiment"] / RUNS_FILE) == ids, "the Tune experiment folder has the same ids"
    report = json.loads((sweep["run_dir"] / REPORT_FILE).read_text())
    assert report["ok"] is True and report["failed_calls"] == 0
    assert sweep["callback"].report().ok


def test_unreachable_tracking_server_does_not_stop_training(ray_runtime, tmp_path):
    # Port 9 (discard) refuses connections: every MLflow call fails, the sweep must not care.
    loaded = sweep_config(tmp_path, "tracking.uri=http://127.0.0.1:9", "experts.skills=[stand]")
    results, callback, run_dir, _ = start_sweep(tmp_path, loaded, "no_server")
    assert not results.errors and results[0].metrics["training_iteration"] == ITERATIONS
    report = callback.report()
    assert not report.ok and report.failed_calls >= 1 and "127.0.0.1:9" in report.summary()
    assert "INCOMPLETE" in report.summary() and report.first_error
    saved = json.loads((run_dir / REPORT_FILE).read_text())
    assert saved["ok"] is False and saved["failed_calls"] == report.failed_calls


def test_resumed_sweep_continues_the_same_runs(ray_runtime, tmp_path):
    loaded = sweep_config(tmp_path, "experts.skills=[stand]", "experts.max_failures=0", "experts.stop.max_iters=3",
                          f"experts.stop.env_steps={3 * STEPS_PER_ITER}", "experts.eval.video=false")
    first, _, run_dir, experiment = start_sweep(tmp_path, loaded, "crash", param_overrides={"fail_at_iteration": 2})
    assert len(first.errors) == 1, "the injected fault must end the first session with an errored trial"
    ids_before = RunIds.load(run_dir / RUNS_FILE)
    client = MlflowClient(tracking_uri=ids_before.tracking_uri)
    _, children = sweep_runs(client, "test-experts")
    assert [c.info.status for c in children] == ["FAILED"]

    second = resume_stage(str(experiment))  # the callbacks pickled in tuner.pkl + Tune's saved callback state
    assert not second.errors and second[0].metrics["training_iteration"] == 3
    parents, children = sweep_runs(client, "test-experts")
    assert [p.info.run_id for p in parents] == [ids_before.parent_run_id]
    assert [c.info.run_id for c in children] == list(ids_before.children.values())
    assert children[0].info.status == "FINISHED" and parents[0].info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(children[0].info.run_id, "env_steps")]
    assert steps == [STEPS_PER_ITER, 2 * STEPS_PER_ITER, 3 * STEPS_PER_ITER], "the curve continues after resume"


def test_pbt_mutable_hyperparameters_are_metrics_not_params(ray_runtime, tmp_path):
    loaded = sweep_config(
        tmp_path, "experts.seeds=[0, 1]", "experts.scheduler.perturbation_interval_iters=1",
        "experts.eval.every_iters=1", "experts.eval.episodes=1", "experts.checkpoint.every_iters=1",
        "experts.stop.max_iters=3", f"experts.stop.env_steps={3 * STEPS_PER_ITER}", "run.name=pbt", base=PBT)
    results, _, run_dir, _ = start_sweep(tmp_path, loaded, "pbt")
    assert not results.errors and len(results) == 2
    client = MlflowClient(tracking_uri=RunIds.load(run_dir / RUNS_FILE).tracking_uri)
    parents, children = sweep_runs(client, "test-experts")
    assert len(parents) == 1 and len(children) == 2, "a PBT restart re-attaches to the trial's run"
    for child in children:
        assert not {"ppo.lr", "ppo.clip_param", "ppo.lambda_"} & set(child.data.params)
        assert child.data.params["ppo.gamma"] == "0.99"
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "env_steps")]
        for name in ("lr", "clip_param", "lambda_"):
            history = client.get_metric_history(child.info.run_id, f"hparams/{name}")
            assert [m.step for m in history] == steps and all(m.value > 0 for m in history)


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
        expected = checkpoint_reference_inference(rllib_checkpoint_dir(Path(checkpoint.path)), entry.env_id,
                                                  observations).env_actions
        actions = entry.load_policy().act(observations)
        assert actions.shape == expected.shape == (len(observations), 19)
        np.testing.assert_allclose(actions, expected, rtol=0, atol=1e-5)
        assert actions.std() > 1e-4, "not a degenerate comparison"


def test_mwx_export_then_eval_prints_return_and_writes_video(sweep, tmp_path, capsys, monkeypatch):
    # a path relative to the working directory, as users type it (Tune alone reads it as a URI without scheme)
    monkeypatch.chdir(sweep["experiment"].parent)
    code = mwx_main(["export-experts", sweep["experiment"].name, "--out", str(tmp_path / "registry"), "--no-mlflow"])
    exported = capsys.readouterr().out
    assert code == 0 and "(2 skills)" in exported and "mwx/h1-walk-v0" in exported, exported
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
    assert 2 <= len(frames) <= 13, "at most --video-steps steps (+ the reset frame) of an episode"
    assert frames[0].shape[2] == 3 and frames[0].max() > 0


def test_callback_survives_pickling_without_a_client(sweep):
    callback = sweep["callback"]
    clone = cloudpickle.loads(cloudpickle.dumps(callback))
    assert isinstance(clone, MlflowSweepCallback) and clone._mlflow is None
    assert clone.ids == callback.ids
