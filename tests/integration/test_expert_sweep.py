"""Expert sweeps on a real local Ray (2 CPUs): Tune + RLlib PPO on the H1 envs, no mocks.

- the `mwx train-experts` command runs the smoke sweep (stand + walk, 2 iterations of 256 steps each);
- a sweep interrupted the way Ctrl+C interrupts it (SIGUSR1: Tune's own interrupt path) and resumed with
  ``resume_sweep`` continues its iteration, env-step and observation-filter counters past the checkpoint;
- a trial that crashes once (``fail_at_iteration`` fault injection) is retried from its last checkpoint.
Each trial takes ~10 s (RLlib build ~5 s, 256-step iterations, 1-episode evaluations of a falling robot).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray import tune  # noqa: E402

from mwx_ray.cli import main as mwx_main  # noqa: E402
from mwx_ray.config import load_config  # noqa: E402
from mwx_ray.experts.stage import train_experts  # noqa: E402
from mwx_ray.experts.trainable import VIDEO_FILE  # noqa: E402
from mwx_ray.tune.resume import resume_stage  # noqa: E402
from mwx_ray.tune.stage import SWEEP_RECORD_FILE  # noqa: E402
from mwx_ray.tune.trial_loop import ALGORITHM_DIR, FAULT_MARKER, PROGRESS_FILE  # noqa: E402

pytestmark = pytest.mark.ray

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tune_configs" / "experts" / "smoke.yaml"
STEPS_PER_ITER = 256  # smoke.yaml train_batch_size_per_learner


def trial_results(trial_dir: Path) -> list[dict]:
    """Every result Tune logged for a trial (all attempts, in order) from its result.json."""
    return [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines() if line.strip()]


def since_last_restore(results: list[dict]) -> list[dict]:
    """The results of the trial's latest run (Tune may rewrite result.json when it restores a trial)."""
    starts = [i for i, r in enumerate(results) if r["iterations_since_restore"] == 1]
    return results[starts[-1]:]


def trial_dirs(experiment: Path) -> list[Path]:
    return sorted(p for p in experiment.iterdir() if p.is_dir() and p.name.startswith("train_expert"))


def one_skill_config(tmp_path: Path, iterations: int, *extra: str):
    """smoke.yaml reduced to one walk trial of ``iterations`` iterations, checkpoint + eval every iteration."""
    return load_config(SMOKE, [
        f"run.root_dir={tmp_path}", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", "experts.skills=[walk]",
        f"experts.stop.max_iters={iterations}", f"experts.stop.env_steps={iterations * STEPS_PER_ITER}",
        "experts.eval.video=false", "experts.checkpoint.keep_best=2", *extra,
    ])


def test_train_experts_command_runs_a_two_trial_sweep(tmp_path, capsys, ray_runtime):
    # Half a CPU per process: each trial reserves 1 CPU, so both trials run at once on 2 cores (start-up
    # and RLlib build time dominate a smoke run and overlap well).
    code = mwx_main(["train-experts", str(SMOKE), "--set", f"run.root_dir={tmp_path}",
                     "--set", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                     "--set", "resources.cpus_per_env_runner=0.5", "--set", "resources.cpus_per_learner=0.5"])
    out = capsys.readouterr().out
    assert code == 0, out
    (run_dir,) = (tmp_path / "experts").iterdir()
    experiment = Path(json.loads((run_dir / SWEEP_RECORD_FILE).read_text())["experiment_path"])
    assert experiment == run_dir / "tune" / "smoke"
    assert f"next: mwx export-experts {experiment}" in out
    assert "stand: best trial" in out and "walk: best trial" in out

    trials = trial_dirs(experiment)
    assert len(trials) == 2
    seen_skills = set()
    for trial in trials:
        results = trial_results(trial)
        config = results[-1]["config"]
        seen_skills.add(config["skill"])
        assert config["env_id"] == f"mwx/h1-{config['skill']}-v0" and config["seed"] == 0
        # Stopped by the skill's StopRule after exactly 2 iterations of 256 sampled steps.
        assert [r["training_iteration"] for r in results] == [1, 2]
        assert [r["env_steps"] for r in results] == [256, 512]
        for result in results:  # every iteration evaluated (eval.every_iters: 1)
            assert 0.0 < result["hb/return"] < config["stop"]["success_bar"]
            assert result["hb/success"] == 0.0 and result["perf/env_steps_per_s"] > 0
            assert {"reward_terms/standing", "reward_terms/upright", "reward_terms/small_control"} <= set(result)
        assert results[1]["time/wall_s"] > results[0]["time/wall_s"] > 0
        assert results[1]["obs_norm/count"] > results[0]["obs_norm/count"] >= 256
        # The final evaluation's video, reported by path.
        assert results[-1]["artifacts/eval_video"] == str(trial / VIDEO_FILE)
        assert (trial / VIDEO_FILE).stat().st_size > 1000
        # keep_best: 1 -> the best-scoring checkpoint plus the latest (Tune always keeps the latest).
        kept = sorted(trial.glob("checkpoint_*"))
        scores = [r["hb/return"] for r in results]
        best_index = max(range(2), key=lambda i: scores[i])
        assert {p.name for p in kept} == {f"checkpoint_{best_index:06d}", "checkpoint_000001"}
        for checkpoint in kept:
            assert (checkpoint / ALGORITHM_DIR / "learner_group").is_dir()
            progress = json.loads((checkpoint / PROGRESS_FILE).read_text())
            assert progress["env_steps"] == 256 * (int(checkpoint.name[-6:]) + 1)
    assert seen_skills == {"stand", "walk"}


class InterruptAtIteration(tune.Callback):
    """Sends this process SIGUSR1 (Tune's Ctrl+C path: save experiment state, stop) after iteration ``n``.

    Tune pickles callbacks into tuner.pkl and ``Tuner.restore`` revives them, so the "already sent" flag
    lives in a file: the revived copy must not interrupt the resumed run again.
    """

    def __init__(self, n: int, sent_marker: Path):
        self.n = n
        self.sent_marker = sent_marker

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if result["training_iteration"] >= self.n and not self.sent_marker.exists():
            self.sent_marker.write_text("sent")
            os.kill(os.getpid(), signal.SIGUSR1)


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path, ray_runtime):
    loaded = one_skill_config(tmp_path, 3)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    interrupted = train_experts(loaded, run_dir=run_dir, callbacks=[InterruptAtIteration(2, tmp_path / "sent")])
    # Tune's grid calls the stopped actor TERMINATED; `done` tells an interruption from a finished trial.
    assert [t.status for t in interrupted.trials] == ["unfinished"], "interrupted before its 3 iterations"
    assert interrupted.unfinished == 1
    experiment = Path(json.loads((run_dir / SWEEP_RECORD_FILE).read_text())["experiment_path"])
    (trial,) = trial_dirs(experiment)
    before = trial_results(trial)
    stopped_at = before[-1]["training_iteration"]
    assert stopped_at == 2

    resumed = resume_stage(str(experiment))
    assert resumed.num_errors == 0 and resumed[0].metrics["done"]
    after = since_last_restore(trial_results(trial))
    first = after[0]["training_iteration"]
    # Restored from the last checkpoint Tune had registered when interrupted (iteration 1 or later; Tune
    # registers a function trainable's checkpoint one controller step after its result), never from scratch.
    assert 2 <= first <= stopped_at + 1
    assert [r["training_iteration"] for r in after] == list(range(first, 4))
    assert [r["env_steps"] for r in after] == [256 * r["training_iteration"] for r in after]
    assert after[0]["iterations_since_restore"] == 1
    restored_from = before[first - 2]  # the result whose checkpoint was restored
    assert after[0]["time/wall_s"] > restored_from["time/wall_s"]
    assert after[0]["obs_norm/count"] > restored_from["obs_norm/count"]
    assert resumed[0].metrics["env_steps"] == 3 * 256


def test_crashed_trial_is_retried_from_its_checkpoint(tmp_path, ray_runtime):
    loaded = one_skill_config(tmp_path, 3, "experts.max_failures=1")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    results = train_experts(loaded, run_dir=run_dir, param_overrides={"fail_at_iteration": 2})
    assert results.ok and [t.status for t in results.trials] == ["finished"]
    experiment = Path(json.loads((run_dir / SWEEP_RECORD_FILE).read_text())["experiment_path"])
    (trial,) = trial_dirs(experiment)
    assert (trial / FAULT_MARKER).is_file(), "the fault must really have fired"
    first_checkpoint = json.loads((trial / "checkpoint_000000" / PROGRESS_FILE).read_text())
    assert first_checkpoint["env_steps"] == 256  # attempt 1 checkpointed iteration 1, then crashed in 2
    # Attempt 2 restored that checkpoint: iteration 2 is its first iteration, with every counter continued.
    retry = since_last_restore(trial_results(trial))
    assert [r["training_iteration"] for r in retry] == [2, 3]
    assert [r["env_steps"] for r in retry] == [512, 768]
    assert [r["iterations_since_restore"] for r in retry] == [1, 2]
    # The restored MeanStdFilter already holds iteration 1's ~257 observations (a fresh one would not).
    assert retry[0]["obs_norm/count"] >= 2 * 256


def test_iterations_without_evaluation_do_not_fail_the_trial(tmp_path, capsys, ray_runtime, monkeypatch):
    """eval.every_iters > 1 (the default is 5): results without `hb/return` must pass Tune's metric checks."""
    monkeypatch.delenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", raising=False)  # the sweep itself must set it
    code = mwx_main(["train-experts", str(SMOKE), "--set", f"run.root_dir={tmp_path}",
                     "--set", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", "--set", "experts.skills=[stand]",
                     "--set", "experts.eval.every_iters=2", "--set", "experts.checkpoint.every_iters=2",
                     "--set", "experts.eval.video=false"])
    out = capsys.readouterr().out
    assert code == 0, out
    (run_dir,) = (tmp_path / "experts").iterdir()
    experiment = Path(json.loads((run_dir / SWEEP_RECORD_FILE).read_text())["experiment_path"])
    (trial,) = trial_dirs(experiment)
    results = trial_results(trial)
    assert [r["training_iteration"] for r in results] == [1, 2]
    assert "hb/return" not in results[0] and "hb/return" in results[1]


def test_an_over_budget_sweep_is_refused_before_any_trial_starts(tmp_path, capsys, ray_runtime):
    code = mwx_main(["train-experts", str(SMOKE), "--set", f"run.root_dir={tmp_path}",
                     "--set", f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                     "--set", "resources.max_concurrent_trials=2"])
    assert code == 2
    assert "needs 4 CPU at once but the cluster has 2" in capsys.readouterr().err
    assert not list((tmp_path / "experts").glob("*/tune/*/train_expert_*")), "no trial may have started"


def test_a_finished_sweep_publishes_into_a_zoo(tmp_path, ray_runtime):
    """`mwx zoo publish --select latest` on a real sweep: the most trained checkpoint, its unseen-seed evaluation,
    provenance (config, curve, command, warm-start lineage) in a zoo other commands can name."""
    from mwx_ray.experts import zoo
    from mwx_ray.experts.registry import ExpertRegistry

    result = train_experts(one_skill_config(tmp_path, 3), run_dir=tmp_path / "run")
    assert result.ok
    experiment = Path(json.loads((tmp_path / "run" / SWEEP_RECORD_FILE).read_text())["experiment_path"])
    (tmp_path / "zoo").mkdir()
    entry = zoo.publish(experiment, "walk", zoo=tmp_path / "zoo", episodes=2, selection="latest")
    record = entry["zoo"]
    assert record["env_steps"] == 3 * STEPS_PER_ITER and record["selection"] == "latest"
    assert record["unseen"]["episodes"] == 2 and len(record["unseen"]["episode_returns"]) == 2
    assert record["init_from"] is None and record["command"].startswith("mwx train-experts ")
    registry = ExpertRegistry.load(tmp_path / "zoo")
    folder = registry.entry("walk").folder
    assert {p.name for p in folder.iterdir()} >= {"config.yaml", "curve.csv", "manifest.json", "weights.safetensors"}
    assert len((folder / "curve.csv").read_text().splitlines()) == 1 + 3, "header + one row per evaluation"
    registry.entry("walk").load_policy()  # parameter hash verified on load
    rows = zoo.check(tmp_path / "zoo", episodes=2)
    assert [row["skill"] for row in rows] == ["walk"] and rows[0]["ok"], rows
    # One seed's checkpoint as a named variant beside the skill's entry (as zoo:getup beside zoo:stand).
    with pytest.raises(ValueError, match="no checkpoint of skill 'walk' with seed 7"):
        zoo.publish(experiment, "walk", zoo=tmp_path / "zoo", episodes=2, seed=7, name="steady_walk")
    zoo.publish(experiment, "walk", zoo=tmp_path / "zoo", episodes=2, seed=0, name="steady_walk")
    variant = ExpertRegistry.load(tmp_path / "zoo").entry("steady_walk")
    assert variant.folder == tmp_path / "zoo" / "steady_walk" and variant.record["skill"] == "walk"
    assert variant.record["zoo"]["command"].startswith("mwx train-experts mwx_ray/zoo/steady_walk/config.yaml")
    assert registry.entry("walk").folder.is_dir(), "the skill's own entry stays"


def test_an_ablation_grid_trains_each_variant_with_its_task_and_tags_its_mlflow_run(tmp_path, ray_runtime):
    """experts.variants (tune_configs/ablations/walk_tricks.yaml): one trial per variant, each trained on its own
    task settings, each child run tagged ``variant`` so ``mwx report`` groups the ablation table by it."""
    from mlflow import MlflowClient

    variants = "{full: {}, no_dynamic_weights: {imitation: {dynamic_weights: {enabled: false}}}}"
    loaded = one_skill_config(tmp_path, 1, f"experts.variants={variants}", "resources.cpus_per_env_runner=0.5",
                              "resources.cpus_per_learner=0.5")
    result = train_experts(loaded)
    trials = trial_dirs(Path(result.experiment_path))
    configs = {trial_results(t)[-1]["config"]["variant"]: trial_results(t)[-1]["config"] for t in trials}
    assert set(configs) == {"full", "no_dynamic_weights"}
    assert {t.group for t in result.trials} == {"walk [full]", "walk [no_dynamic_weights]"}  # console summary
    assert [configs[v]["task"]["imitation"]["dynamic_weights"]["enabled"] for v in sorted(configs)] == [True, False]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    children = client.search_runs([client.get_run(result.mlflow_run_id).info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'")
    assert sorted(run.data.tags.get("variant") for run in children) == ["full", "no_dynamic_weights"]
    assert all("hb/return" in run.data.metrics for run in children)
