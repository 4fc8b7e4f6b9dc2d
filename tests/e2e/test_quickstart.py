"""The README's main job at smoke budget: every stage produces its MLflow run and artifacts; a rerun is a no-op."""

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def quickstart(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    # Relative paths, as `make quickstart` passes them: every stage, Tune trials included, must resolve them
    # against the working directory the user started from.
    return subprocess.run(
        [sys.executable, "-m", "mwx_ray.cli", "quickstart", "--budget", "smoke", "--out", "out",
         "--set", "run.root_dir=runs"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )


def runs_of(client: mlflow.MlflowClient, experiment: str) -> list:
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no MLflow experiment {experiment!r}"
    return client.search_runs([exp.experiment_id])


def artifact_paths(client: mlflow.MlflowClient, run_id: str, path: str = "") -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def test_quickstart_smoke_runs_every_stage_and_reruns_as_a_no_op(tmp_path):
    first = quickstart(tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    out = tmp_path / "out"
    for stage in ("experts", "export", "rollouts", "labels", "router", "evaluate", "report"):
        assert f"{stage} finished in" in first.stdout

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    experts = runs_of(client, "experts")
    parents = [r for r in experts if r.data.tags.get("kind") == "sweep"]
    trials = [r for r in experts if r.data.tags.get("kind") == "trial"]
    assert len(parents) == 1 and {r.data.tags["skill"] for r in trials} == {"stand", "walk"}
    assert all(r.info.status == "FINISHED" and "hb/return" in r.data.metrics for r in trials)
    assert any(p.startswith("report/") for p in artifact_paths(client, parents[0].info.run_id))

    (labels,) = runs_of(client, "labels")
    assert labels.data.tags["stage"] == "labels" and labels.data.tags["teacher"] == "oracle"
    assert artifact_paths(client, labels.info.run_id), "labels run has no artifacts"

    router = runs_of(client, "router")
    router_parent = next(r for r in router if r.data.tags.get("kind") == "sweep")
    router_trials = [r for r in router if r.data.tags.get("mlflow.parentRunId") == router_parent.info.run_id]
    assert router_trials and "router/entropy" in router_trials[0].data.metrics
    assert any(p.startswith("report/") for p in artifact_paths(client, router_parent.info.run_id))

    for skill in ("stand", "walk"):
        assert (out / "registry" / skill / "manifest.json").exists()
        assert (out / "videos" / f"expert-{skill}.mp4").stat().st_size > 1000
    assert (out / "videos" / "router.mp4").stat().st_size > 1000
    assert list((out / "labels" / "parts").glob("*.parquet"))
    assert (out / "reports" / "experts" / "report.md").exists() and (out / "reports" / "router" / "report.md").exists()
    for run_id in (parents[0].info.run_id, labels.info.run_id, router_parent.info.run_id):
        assert run_id in first.stdout, "the summary must name every stage's MLflow run"
    assert "mwx dashboard" in first.stdout

    second = quickstart(tmp_path)  # idempotent: every stage recorded as done is skipped, the store is unchanged
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.count("done in an earlier run, skipped") == 7
    assert len(runs_of(client, "experts")) == len(experts) and len(runs_of(client, "router")) == len(router)
