"""MLflow tracking of a stage run (any stage of ``mwx_ray.tune.stage``): a parent run per stage run, a child run per
trial, written from the driver.

Why not Tune's ``MLflowLoggerCallback``: it has no parent/child runs and logs the trial config as params,
which breaks under PBT (a param cannot change value). Here:

- parent run (experiment ``<prefix><stage>``: experts, router, ablations): params = the resolved config flattened
  to dotted keys; artifacts = ``config.resolved.yaml`` + ``record.json``; tags = stage, git SHA, config hash,
  versions.
- child run per trial (``mlflow.parentRunId``): tags = stage, the trial's group (skill or variant), seed, algorithm,
  env_id, trial id, git SHA, config hash, versions, and any ``tags/<name>`` string a result carries; params = the
  trial's *immutable* config; every result's numeric metrics with ``step = env_steps``; PBT-mutable
  hyperparameters as metrics ``hparams/<name>`` (they change over time); on completion or error every
  ``artifacts/<name>`` path the trial reported (videos, plots, exported policies, checks) is uploaded and the run
  ends FINISHED/FAILED.
- run ids persist in ``mlflow_runs.json`` (in the run folder and in the Tune experiment folder) and in
  Tune's own callback state, so after ``Tuner.restore`` metric curves continue in the same runs.
- every MLflow call goes through :class:`GuardedMlflow`: an unreachable store never stops training, and
  the loss is reported at the end (``tracking_report.json`` + a warning). With ``tracking.required`` the
  store is checked before the sweep starts and any failure aborts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.tracking.guarded_client import GuardedMlflow, TrackingReport
from mwx_ray.tracking.run_record import (
    RECORD_NAME,
    RESOLVED_CONFIG_NAME,
    git_sha,
    package_versions,
    write_run_record,
)
from mwx_ray.tracking.run_values import (
    HPARAM_PREFIX,
    RUNS_FILE,
    RunIds,
    flatten,
    mutable_hyperparameters,
    numeric_metrics,
    param_value,
    result_step,
    split_trial_config,
)
from mwx_ray.tracking.store import artifact_root, experiment_name, probe_store, tracking_uri

logger = logging.getLogger("mwx_ray.tracking")

REPORT_FILE = "tracking_report.json"
ARTIFACT_PREFIX = "artifacts/"
TAG_PREFIX = "tags/"
# MLflow artifact folder per reported artifact name (others go to a folder named after the artifact).
ARTIFACT_FOLDERS = {"eval_video": "videos", "router_checkpoint": "router", "weights_plot": "plots",
                    "frame_strip": "plots", "frozen_check": "checks", "policy": "policy"}
# Trial-config keys copied to child-run tags when present.
TAG_KEYS = ("skill", "variant", "seed", "env_id")
VERSION_PACKAGES = ("mwx_ray", "ray", "mujoco", "torch", "gymnasium", "mlflow")
_BATCH = 100  # log_batch accepts at most 100 params / 1000 metrics per call; 100 keeps requests small


class TrackingUnavailableError(RuntimeError):
    """``tracking.required`` is set and the MLflow store cannot be used."""


def version_tags() -> dict[str, str]:
    versions = package_versions(VERSION_PACKAGES)
    return {f"version.{name}": version for name, version in versions.items()}


class MlflowSweepCallback(tune.Callback):
    """Tune callback (driver side) writing a parent run per sweep and a child run per trial to MLflow."""

    def __init__(self, *, tracking_uri: str, experiment_name: str, artifact_location: str | None,
                 run_dir: str | Path, config_params: Mapping[str, str], config_hash: str,
                 mutable: frozenset[str] = frozenset(), required: bool = False, sweep_name: str = "sweep",
                 stage: str = "experts", group_key: str = "skill", describe_trial=None):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.artifact_location = artifact_location
        self.run_dir = Path(run_dir)
        self.config_params = dict(config_params)
        self.config_hash = config_hash
        self.mutable = frozenset(mutable)
        self.required = required
        self.sweep_name = sweep_name
        self.stage = stage
        self.group_key = group_key
        # (trial config) -> (params, tags) of its child run; a module-level function (pickled by reference).
        self.describe_trial = describe_trial
        self.ids = RunIds(tracking_uri)
        self._experiment_dirs: set[str] = set()
        self._artifacts: dict[str, dict[str, str]] = {}  # trial id -> {artifact name: latest reported path}
        self._mlflow: GuardedMlflow | None = None
        self._common_tags: dict[str, str] | None = None

    # -- pickling: Tune pickles callbacks into tuner.pkl; a live client must not travel with them --
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_mlflow": None, "_common_tags": None}

    def get_state(self) -> dict[str, Any]:
        return {"run_ids": asdict(self.ids)}

    def set_state(self, state: dict[str, Any]) -> None:
        data = state["run_ids"]
        if data.get("tracking_uri") == self.tracking_uri:
            self.ids = RunIds(**{**data, "children": dict(data["children"])})

    @property
    def mlflow(self) -> GuardedMlflow:
        if self._mlflow is None:
            self._mlflow = GuardedMlflow(self.tracking_uri)
        return self._mlflow

    @property
    def common_tags(self) -> dict[str, str]:
        if self._common_tags is None:
            self._common_tags = {"stage": self.stage, "git_sha": git_sha(), "config_hash": self.config_hash,
                                 "run_dir": str(self.run_dir.resolve()), **version_tags()}
        return self._common_tags

    def report(self) -> TrackingReport:
        return self.mlflow.report()

    def _check(self) -> None:
        if self.required and not self.report().ok:
            raise TrackingUnavailableError(f"tracking.required is set: {self.report().summary()}")

    def _persist(self) -> None:
        """Write the run ids next to the run record and into every Tune experiment folder seen."""
        self.ids.save(self.run_dir / RUNS_FILE)
        for folder in self._experiment_dirs:
            self.ids.save(Path(folder) / RUNS_FILE)

    # -- parent run --
    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info) -> None:
        if not self.ids.parent_run_id:  # not restored by Tune's set_state: try the run folder's record
            saved = RunIds.load(self.run_dir / RUNS_FILE)
            if saved is not None and saved.tracking_uri == self.tracking_uri:
                self.ids = saved
        if self.ids.parent_run_id:  # a restored sweep: the same parent run continues
            self.mlflow.call("update_run", self.ids.parent_run_id, status="RUNNING")
        self._ensure_parent()
        self._check()

    def _ensure_parent(self) -> str | None:
        """The parent run id, creating the run if needed (None while the store is unreachable)."""
        if self.ids.parent_run_id:
            return self.ids.parent_run_id
        experiment_id = self.mlflow.run("get or create experiment", self._experiment_id)
        if experiment_id is None:
            return None
        tags = {**self.common_tags, "kind": "sweep", "mlflow.runName": self.sweep_name}
        run = self.mlflow.call("create_run", experiment_id, tags=tags, run_name=self.sweep_name)
        if run is None:
            return None
        self.ids.experiment_id, self.ids.parent_run_id = experiment_id, run.info.run_id
        self._log_params(run.info.run_id, self.config_params)
        for name in (RESOLVED_CONFIG_NAME, RECORD_NAME):
            if (self.run_dir / name).is_file():
                self.mlflow.call("log_artifact", run.info.run_id, str(self.run_dir / name))
        self._persist()
        return run.info.run_id

    def _experiment_id(self, client) -> str:
        found = client.get_experiment_by_name(self.experiment_name)
        if found is not None:
            return found.experiment_id
        try:
            return client.create_experiment(self.experiment_name, artifact_location=self.artifact_location)
        except Exception:  # created concurrently by another process: use theirs
            found = client.get_experiment_by_name(self.experiment_name)
            if found is None:
                raise
            return found.experiment_id

    def _log_params(self, run_id: str, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(key, value) for key, value in sorted(params.items())]
        for start in range(0, len(items), _BATCH):
            self.mlflow.call("log_batch", run_id, params=items[start:start + _BATCH])

    # -- child runs --
    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self._experiment_dirs.add(trial.storage.experiment_driver_staging_path)
        parent = self._ensure_parent()
        if parent is None:
            return
        child = self.ids.children.get(trial.trial_id) or self._find_child(trial.trial_id)
        if child is not None:
            self.mlflow.call("update_run", child, status="RUNNING")
        else:
            child = self._create_child(trial, parent)
        if child is not None:
            self.ids.children[trial.trial_id] = child
        self._persist()
        self._check()

    def _find_child(self, trial_id: str) -> str | None:
        if not self.ids.experiment_id:
            return None
        query = f"tags.mlflow.parentRunId = '{self.ids.parent_run_id}' and tags.trial_id = '{trial_id}'"
        runs = self.mlflow.call("search_runs", [self.ids.experiment_id], filter_string=query, max_results=1)
        return runs[0].info.run_id if runs else None

    def _create_child(self, trial, parent: str) -> str | None:
        config = trial.config
        name = f"{config.get(self.group_key, 'trial')}-seed{config.get('seed', '?')}-{trial.trial_id}"
        tags = {**self.common_tags, "kind": "trial", "mlflow.parentRunId": parent, "mlflow.runName": name,
                "trial_id": trial.trial_id, "trial_name": str(trial),
                **{key: str(config[key]) for key in TAG_KEYS if key in config}}
        if self.stage == "experts":  # trial configs from before SAC have no `algorithm` key: they trained PPO
            tags["algorithm"] = str(config.get("algorithm", "ppo"))
        if self.describe_trial is not None:
            params, extra_tags = self.describe_trial(config)
            tags.update(extra_tags)
        else:
            params, _ = split_trial_config(config, self.mutable)
        run = self.mlflow.call("create_run", self.ids.experiment_id, tags=tags, run_name=name)
        if run is None:
            return None
        self._log_params(run.info.run_id, params)
        self.mlflow.call("log_dict", run.info.run_id, _jsonable(config), "trial_config.json")
        return run.info.run_id

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        from mlflow.entities import Metric

        flat = flatten(result, sep="/")
        artifacts = self._artifacts.setdefault(trial.trial_id, {})
        artifacts.update({key[len(ARTIFACT_PREFIX):]: value for key, value in flat.items()
                          if key.startswith(ARTIFACT_PREFIX) and isinstance(value, str) and value})
        child = self.ids.children.get(trial.trial_id)
        if child is None:
            self.mlflow.report_state.dropped_calls += 1
            return
        for key, value in flat.items():
            if key.startswith(TAG_PREFIX) and isinstance(value, str):
                self.mlflow.call("set_tag", child, key[len(TAG_PREFIX):], value)
        metrics = numeric_metrics(result)
        _, mutable_values = split_trial_config(trial.config, self.mutable)  # current values (PBT updates)
        metrics.update({f"{HPARAM_PREFIX}{name}": value for name, value in mutable_values.items()})
        step, stamp_ms = result_step(result), int(time.time() * 1000)
        items = [Metric(key, value, stamp_ms, step) for key, value in sorted(metrics.items())]
        for start in range(0, len(items), 1000):
            self.mlflow.call("log_batch", child, metrics=items[start:start + 1000])
        self._check()

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._end_child(trial, "FINISHED")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._end_child(trial, "FAILED")

    def _end_child(self, trial, status: str) -> None:
        child = self.ids.children.get(trial.trial_id)
        if child is None:
            return
        for name, path in self._artifacts.get(trial.trial_id, {}).items():
            folder = ARTIFACT_FOLDERS.get(name, name)
            if Path(path).is_dir():
                self.mlflow.call("log_artifacts", child, path, folder)
            elif Path(path).is_file():
                self.mlflow.call("log_artifact", child, path, folder)
            else:
                # The pitfall from the platform notes: files written on a remote worker are not on the driver.
                self.mlflow.missing_artifact(f"{name} {path} of trial {trial.trial_id} (not on the driver)")
        error_file = getattr(trial, "error_file", None)
        if status == "FAILED" and error_file and Path(error_file).is_file():
            self.mlflow.call("log_artifact", child, error_file, "errors")
        self.mlflow.call("set_terminated", child, status=status)
        self._check()

    # -- end of the sweep --
    def on_experiment_end(self, trials, **info) -> None:
        states = [trial.status for trial in trials]
        status = "FAILED" if "ERROR" in states else "FINISHED" if all(s == "TERMINATED" for s in states) \
            else "KILLED"  # unfinished trials: a later `mwx resume` re-opens the runs
        for trial in trials:
            child = self.ids.children.get(trial.trial_id)
            if child and trial.status not in ("TERMINATED", "ERROR"):
                self.mlflow.call("set_terminated", child, status="KILLED")
        if self.ids.parent_run_id:
            self.mlflow.call("set_tag", self.ids.parent_run_id, "trial_states",
                             json.dumps({s: states.count(s) for s in sorted(set(states))}))
            self.mlflow.call("set_terminated", self.ids.parent_run_id, status=status)
        report = self.report()
        atomic_write_text(self.run_dir / REPORT_FILE, json.dumps(report.to_json(), indent=2) + "\n")
        (logger.info if report.ok else logger.warning)("%s", report.summary())


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def make_sweep_callbacks(loaded_config, run_dir: str | Path, spec=None) -> list[tune.Callback]:
    """The tracking callbacks of a stage run (``spec``: a ``mwx_ray.tune.stage.StageSpec``; None = the expert
    stage of ``loaded_config``) whose run folder is ``run_dir``.

    Writes the run record (resolved config + record.json) into ``run_dir`` if it is not there yet. With
    ``tracking.required`` the store is probed and the experiment created now, so a bad URI fails before any
    trial starts (:class:`TrackingUnavailableError`).
    """
    config = loaded_config.config
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / RECORD_NAME).is_file():
        write_run_record(run_dir, loaded_config)
    uri = tracking_uri(config)
    stage = spec.stage if spec is not None else "experts"
    mutable = spec.mutable if spec is not None else mutable_hyperparameters(loaded_config)
    callback = MlflowSweepCallback(
        tracking_uri=uri, experiment_name=experiment_name(config, stage), artifact_location=artifact_root(config),
        run_dir=run_dir, config_params={k: param_value(v) for k, v in flatten(loaded_config.as_dict()).items()
                                        if k != "description"},
        config_hash=loaded_config.hash(), mutable=mutable, required=config.tracking.required,
        sweep_name=run_dir.name, stage=stage, group_key=spec.group_key if spec is not None else "skill",
        describe_trial=spec.describe_trial if spec is not None else None,
    )
    if config.tracking.required:
        try:
            probe_store(uri)
        except (ConnectionError, PermissionError, ValueError) as err:
            raise TrackingUnavailableError(f"tracking.required is set and {err}") from err
        if callback.mlflow.run("get or create experiment", callback._experiment_id) is None:
            raise TrackingUnavailableError(f"tracking.required is set: {callback.report().summary()}")
    return [callback]


def tracking_summary(callbacks) -> str | None:
    """The end-of-sweep tracking report of the first :class:`MlflowSweepCallback` in ``callbacks``."""
    for callback in callbacks:
        if isinstance(callback, MlflowSweepCallback):
            return callback.report().summary()
    return None
