"""MLflow run of one router trial, written from the trial's own process with an explicit tracking URI
(files it logs exist where it runs; platform_notes: artifacts from remote workers otherwise go missing).

Every call goes through :class:`GuardedMlflow`: an unreachable store never stops training.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mwx_ray.tracking.guarded_client import GuardedMlflow
from mwx_ray.tracking.run_record import git_sha, package_versions
from mwx_ray.tracking.run_values import flatten, param_value

_BATCH = 100


class TrialTracker:
    """One MLflow run: params once, metrics per iteration (``step`` = env steps), artifacts, final status."""

    def __init__(self, *, tracking_uri: str, experiment: str, artifact_location: str | None,
                 run_name: str, tags: Mapping[str, str] | None = None):
        self.mlflow = GuardedMlflow(tracking_uri)
        self.experiment = experiment
        self.artifact_location = artifact_location
        self.run_id: str | None = None
        experiment_id = self.mlflow.run("get or create experiment", self._experiment_id)
        if experiment_id is None:
            return
        all_tags = {"mlflow.runName": run_name, "git_sha": git_sha(),
                    **{f"version.{k}": v for k, v in package_versions(("ray", "torch", "mujoco", "mlflow")).items()},
                    **dict(tags or {})}
        run = self.mlflow.call("create_run", experiment_id, tags=all_tags, run_name=run_name)
        self.run_id = None if run is None else run.info.run_id

    def _experiment_id(self, client) -> str:
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self.experiment, artifact_location=self.artifact_location)

    def log_params(self, tree: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        if self.run_id is None:
            return
        params = [Param(k, param_value(v)[:6000]) for k, v in sorted(flatten(tree).items())]
        for start in range(0, len(params), _BATCH):
            self.mlflow.call("log_batch", self.run_id, params=params[start:start + _BATCH])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        if self.run_id is None:
            return
        stamp = int(time.time() * 1000)
        items = [Metric(k, float(v), stamp, int(step)) for k, v in sorted(metrics.items())
                 if isinstance(v, int | float) and v == v]
        for start in range(0, len(items), 1000):
            self.mlflow.call("log_batch", self.run_id, metrics=items[start:start + 1000])

    def log_artifact(self, path: str | Path | None, folder: str) -> None:
        if self.run_id is None or path is None:
            return
        path = Path(path)
        if path.is_dir():
            self.mlflow.call("log_artifacts", self.run_id, str(path), folder)
        elif path.is_file():
            self.mlflow.call("log_artifact", self.run_id, str(path), folder)
        else:
            self.mlflow.missing_artifact(str(path))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            if self.run_id is not None:
                self.mlflow.call("set_tag", self.run_id, key, str(value))

    def finish(self, status: str = "FINISHED") -> None:
        if self.run_id is not None:
            self.mlflow.call("set_terminated", self.run_id, status=status)
