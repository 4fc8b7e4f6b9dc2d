"""Tracking and registry pieces without a Ray runtime: param flattening, metric filtering, PBT-mutable
hyperparameters, run-id persistence, the guarded MLflow client on a real sqlite store, best-checkpoint
selection, and registry loading."""

from __future__ import annotations

import json
import logging
import math
import pickle
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

from mwx_ray.config import load_config
from mwx_ray.experts.export import write_expert_folder
from mwx_ray.experts.policy import ExpertPolicy
from mwx_ray.experts.registry import (
    REGISTRY_FORMAT,
    SELECTIONS,
    Candidate,
    ExpertRegistry,
    load_expert,
    robot_of,
    select_best,
    select_latest,
)
from mwx_ray.tracking.guarded_client import GuardedMlflow
from mwx_ray.tracking.run_values import (
    RunIds,
    flatten,
    metric_key,
    mutable_hyperparameters,
    numeric_metrics,
    param_value,
    result_step,
    split_trial_config,
)


def test_flatten_and_param_values():
    tree = {"run": {"seed": 3, "name": "x"}, "experts": {"ppo": {"fcnet_hiddens": [64, 64], "grad_clip": None},
                                                          "per_skill": {}}, "flag": True}
    flat = flatten(tree)
    assert flat == {"run.seed": 3, "run.name": "x", "experts.ppo.fcnet_hiddens": [64, 64],
                    "experts.ppo.grad_clip": None, "flag": True}
    assert [param_value(flat[k]) for k in ("run.seed", "experts.ppo.fcnet_hiddens", "experts.ppo.grad_clip",
                                           "flag")] == ["3", "[64, 64]", "null", "true"]
    assert len(param_value("y" * 10_000)) == 6000
    assert flatten({"a": {"b": 1}}, sep="/") == {"a/b": 1}


def test_numeric_metrics_keep_finite_numbers_only():
    result = {"hb/return": 12.5, "hb/success": 0.0, "env_steps": 512, "done": False, "config": {"lr": 1e-3},
              "artifacts/eval_video": "/tmp/v.mp4", "env_runners": {"episode_return_mean": 3.0, "x": math.nan},
              "time_this_iter_s": math.inf, "weird:key": 1.0, "flag": True, "pid": 42}
    assert numeric_metrics(result) == {"hb/return": 12.5, "hb/success": 0.0, "env_steps": 512.0,
                                       "env_runners/episode_return_mean": 3.0, "weird_key": 1.0}
    assert metric_key("a b/c.d-e_f") == "a b/c.d-e_f"
    assert result_step({"env_steps": 768, "training_iteration": 3}) == 768
    assert result_step({"training_iteration": 3}) == 3


def test_pbt_mutations_become_metrics_not_params(tmp_path):
    (tmp_path / "pbt.yaml").write_text("experts:\n  skills: [stand]\n  scheduler:\n    name: pbt\n    mutations:\n"
                                       "      lr: {loguniform: [1.0e-5, 1.0e-3]}\n      clip_param: {uniform: [0.1, 0.3]}\n")
    mutable = mutable_hyperparameters(load_config(tmp_path / "pbt.yaml"))
    assert mutable == {"lr", "clip_param"}
    assert mutable_hyperparameters(load_config(None)) == frozenset()  # fifo: nothing mutates
    trial_config = {"skill": "stand", "seed": 1, "env_id": "mwx/h1-stand-v0", "__trial_index__": 0,
                    "ppo": {"lr": 2e-4, "clip_param": 0.25, "gamma": 0.99, "fcnet_hiddens": [8]}}
    params, mutable_values = split_trial_config(trial_config, mutable)
    assert mutable_values == {"lr": 2e-4, "clip_param": 0.25}
    assert params == {"skill": "stand", "seed": "1", "env_id": "mwx/h1-stand-v0", "ppo.gamma": "0.99",
                      "ppo.fcnet_hiddens": "[8]"}
    params, mutable_values = split_trial_config(trial_config, frozenset())
    assert mutable_values == {} and params["ppo.lr"] == "0.0002"


def test_run_ids_round_trip(tmp_path):
    assert RunIds.load(tmp_path / "missing.json") is None
    ids = RunIds("sqlite:///x.db", "1", "parent", {"trial_a": "run_a", "trial_b": "run_b"})
    ids.save(tmp_path / "ids.json")
    assert RunIds.load(tmp_path / "ids.json") == ids
    assert json.loads((tmp_path / "ids.json").read_text())["children"]["trial_b"] == "run_b"


def test_guarded_client_counts_warns_once_and_recovers(tmp_path, caplog):
    guarded = GuardedMlflow(f"sqlite:///{tmp_path}/mlflow.db", retry_after_s=3600)
    experiment = guarded.call("create_experiment", "unit", artifact_location=(tmp_path / "art").as_uri())
    run = guarded.call("create_run", experiment)
    assert run is not None and guarded.report().ok
    with caplog.at_level(logging.WARNING, logger="mwx_ray.tracking"):
        assert guarded.call("log_metric", "no-such-run", "x", 1.0) is None
        assert guarded.call("log_metric", run.info.run_id, "x", 1.0) is None  # paused: skipped, not attempted
    report = guarded.report()
    assert report.failed_calls == 1 and report.dropped_calls == 1 and not report.ok
    assert "no-such-run" in report.first_error and "INCOMPLETE" in report.summary()
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1
    guarded.retry_after_s, guarded._paused_until = 0.0, 0.0  # the pause is over
    guarded.call("log_metric", run.info.run_id, "x", 2.0, step=5)
    assert [(m.value, m.step) for m in guarded.client.get_metric_history(run.info.run_id, "x")] == [(2.0, 5)]


def test_required_tracking_fails_fast_and_optional_tracking_does_not(tmp_path):
    from mwx_ray.tracking.sweep_callback import (
        MlflowSweepCallback,
        TrackingUnavailableError,
        make_sweep_callbacks,
    )

    dead = ["tracking.uri=http://127.0.0.1:9", f"run.root_dir={tmp_path}"]
    with pytest.raises(TrackingUnavailableError, match="unreachable"):
        make_sweep_callbacks(load_config(None, [*dead, "tracking.required=true"]), tmp_path / "required")
    (callback,) = make_sweep_callbacks(load_config(None, dead), tmp_path / "optional")
    assert isinstance(callback, MlflowSweepCallback) and callback.tracking_uri == "http://127.0.0.1:9"
    assert (tmp_path / "optional" / "record.json").is_file() and callback.config_params["run.seed"] == "0"


def test_callback_state_survives_pickling(tmp_path):
    from mwx_ray.tracking.sweep_callback import make_sweep_callbacks

    (callback,) = make_sweep_callbacks(load_config(None, [f"run.root_dir={tmp_path}"]), tmp_path / "run")
    callback.ids = RunIds(callback.tracking_uri, "1", "parent", {"t1": "c1"})
    assert callback.mlflow.client is not None  # a live client, which must not travel into tuner.pkl
    clone = pickle.loads(pickle.dumps(callback))
    assert clone._mlflow is None and clone.ids == callback.ids
    fresh = pickle.loads(pickle.dumps(callback))
    fresh.ids = RunIds(callback.tracking_uri)
    fresh.set_state(callback.get_state())
    assert fresh.ids == callback.ids
    fresh.ids = RunIds(callback.tracking_uri)
    fresh.set_state({"run_ids": {**callback.get_state()["run_ids"], "tracking_uri": "http://elsewhere"}})
    assert fresh.ids.parent_run_id is None, "ids of another store are not re-used"


def _candidate(skill, trial, ret, success=None, ckpt="c"):
    metrics = {"hb/return": ret} if ret is not None else {}
    if success is not None:
        metrics["hb/success"] = success
    return Candidate(skill=skill, trial_id=trial, env_id=f"mwx/h1-{skill}-v0", checkpoint=f"{trial}/{ckpt}",
                     metrics=metrics)


def test_best_checkpoint_per_skill():
    candidates = [
        _candidate("walk", "t1", 10.0, 0.0), _candidate("walk", "t2", 30.0, 0.0, "a"),
        _candidate("walk", "t2", 25.0, 1.0, "b"), _candidate("walk", "t3", math.nan),
        _candidate("stand", "t4", 5.0, 0.0), _candidate("stand", "t5", 5.0, 1.0), _candidate("stand", "t6", None),
    ]
    best = select_best(candidates)
    assert list(best) == ["stand", "walk"]
    assert best["walk"].checkpoint == "t2/a", "highest hb/return wins"
    assert best["stand"].trial_id == "t5", "equal hb/return: higher success wins"
    tie = [_candidate("run", "tb", 1.0, 1.0), _candidate("run", "ta", 1.0, 1.0)]
    assert select_best(tie)["run"].trial_id == select_best(tie[::-1])["run"].trial_id == "ta"
    assert select_best([_candidate("x", "t", None)])["x"].trial_id == "t", "a lone unscored checkpoint is kept"


def test_latest_checkpoint_per_skill():
    def at(skill, trial, steps, ret, ckpt):
        return replace(_candidate(skill, trial, ret, ckpt=ckpt), metrics={"hb/return": ret, "env_steps": steps})

    candidates = [at("walk", "t1", 100, 900.0, "a"), at("walk", "t1", 600, 800.0, "b"), at("stand", "t2", 50, 1.0, "c")]
    latest = select_latest(candidates)
    assert latest["walk"].checkpoint == "t1/b", "the most trained checkpoint, not the best scored"
    assert select_best(candidates)["walk"].checkpoint == "t1/a"
    assert SELECTIONS["latest"] is select_latest and SELECTIONS["best"] is select_best



def test_sweep_candidates_include_the_latest_checkpoint_tune_keeps_beside_the_best(tmp_path, monkeypatch):
    """Tune keeps a trial's latest checkpoint on disk even when it is not among the ``num_to_keep`` best, but
    lists it only as ``latest_checkpoint_result``: ``--select latest`` must still see it."""
    from types import SimpleNamespace

    import ray.tune

    from mwx_ray.experts import registry_export

    def result(name, steps, ret):
        (tmp_path / name).mkdir()
        return SimpleNamespace(checkpoint=SimpleNamespace(path=str(tmp_path / name)),
                               metrics={"env_steps": steps, "hb/return": ret})

    best, latest = result("checkpoint_000001", 100, 900.0), result("checkpoint_000009", 900, 700.0)
    manager = SimpleNamespace(best_checkpoint_results=[best], latest_checkpoint_result=latest)
    trial = SimpleNamespace(trial_id="t1", config={"skill": "stand", "env_id": "mwx/h1-stand-v0"},
                            run_metadata=SimpleNamespace(checkpoint_manager=manager),
                            storage=SimpleNamespace(trial_fs_path=str(tmp_path), storage_filesystem=None))
    monkeypatch.setattr(ray.tune, "ExperimentAnalysis", lambda path: SimpleNamespace(trials=[trial]))
    candidates = registry_export.sweep_candidates(tmp_path)
    assert [c.checkpoint for c in candidates] == [best.checkpoint.path, latest.checkpoint.path]
    assert select_latest(candidates)["stand"].metrics["env_steps"] == 900
    manager.latest_checkpoint_result = best  # the best is the latest: listed once
    assert len(registry_export.sweep_candidates(tmp_path)) == 1

def _tiny_expert(folder):
    """A 3 -> 4 -> 2 PPO actor with a MeanStdFilter, written like an RLlib export."""
    import base64
    import io
    import zlib

    def serialized(array):
        buf = io.BytesIO()
        np.save(buf, array)
        return base64.b64encode(zlib.compress(buf.getvalue())).decode("ascii")

    rng = np.random.default_rng(1)
    state = {"encoder.actor_encoder.net.mlp.0.weight": rng.normal(size=(4, 3)).astype(np.float32),
             "encoder.actor_encoder.net.mlp.0.bias": np.zeros(4, np.float32),
             "pi.net.mlp.0.weight": rng.normal(size=(2, 4)).astype(np.float32),
             "pi.net.mlp.0.bias": np.zeros(2, np.float32), "pi.log_std": np.zeros(2, np.float32)}
    model = {"fcnet_hiddens": [4], "fcnet_activation": "tanh", "head_fcnet_hiddens": [],
             "head_fcnet_activation": "tanh", "free_log_std": True, "log_std_clip_param": 2.0,
             "vf_share_layers": False}
    filter_state = {"de_mean_to_zero": True, "de_std_to_one": True, "clip_by_value": 10.0, "running_stats": [
        {"num_pushes": 5, "mean_array": serialized(np.ones(3)), "sum_sq_diff_array": serialized(np.full(3, 8.0))}]}
    return write_expert_folder(folder, env_id="mwx/h1-stand-v0", module_state=state, model_config=model,
                               observation_space=gym.spaces.Box(-np.inf, np.inf, (3,)),
                               action_space=gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
                               filter_agent_state=filter_state, normalize_actions=True, clip_actions=False,
                               source_checkpoint=None)


def test_registry_loads_experts_by_skill(tmp_path):
    folder = _tiny_expert(tmp_path / "registry" / "stand")
    policy = ExpertPolicy.load(folder)
    manifest = {"format": REGISTRY_FORMAT, "experts": {"stand": {
        "skill": "stand", "folder": "stand", "env_id": "mwx/h1-stand-v0", "robot": robot_of("mwx/h1-stand-v0"),
        "metrics": {"hb/return": 12.0}, "mlflow": {"run_id": "abc"}, "parameter_hash": policy.parameter_hash()}}}
    (tmp_path / "registry" / "manifest.json").write_text(json.dumps(manifest))
    registry = ExpertRegistry.load(tmp_path / "registry")
    entry = registry.entry("stand")
    assert registry.skills == ["stand"] and entry.robot == "h1" and entry.mlflow_run_id == "abc"
    obs = np.array([[0.5, -1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(registry.policy("stand").act(obs), policy.act(obs))
    for spec in (f"{tmp_path / 'registry'}:stand", tmp_path / "registry", folder):
        loaded, about = load_expert(spec)
        assert about["env_id"] == "mwx/h1-stand-v0" and loaded.parameter_hash() == policy.parameter_hash()
    with pytest.raises(KeyError, match="skills: \\['stand'\\]"):
        registry.entry("walk")
    manifest["experts"]["stand"]["parameter_hash"] = "0" * 64
    (tmp_path / "registry" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="parameter_hash"):
        ExpertRegistry.load(tmp_path / "registry").policy("stand")
    with pytest.raises(FileNotFoundError, match="not an expert folder, not an expert registry"):
        load_expert(tmp_path / "nothing:stand")
