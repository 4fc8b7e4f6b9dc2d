"""The one stage framework: every training stage (experts, router, ablations) runs as one Tune experiment here.

A stage supplies a :class:`StageSpec` — its trainable (with its per-trial resource request), its param space,
its stop rules and scheduler — and :func:`run_stage` does everything else the same way for every stage:

* storage layout: local runs keep everything in the run folder (``<run folder>/tune/<run.name>``); with shared
  storage (clusters: ``resources.storage_path`` on NFS/S3) the experiment is ``<storage>/<run folder name>``;
* the sweep record next to the experiment (``mwx_sweep.yaml`` = the resolved config, ``mwx_sweep.json`` = stage,
  run folder, config hash, extra trial keys) that ``mwx resume`` rebuilds the stage from;
* MLflow: a parent run per stage run, a child run per trial (``mwx_ray.tracking.sweep_callback``);
* stop rules (``TrialStopper`` over the stage's ``StopRule`` per trial group), failure retries from the last
  checkpoint, checkpoint retention by the stage metric, Tune's console table with the stage's columns;
* a typed :class:`StageResult` (run folder, experiment path, MLflow parent run id, one :class:`TrialOutcome` per
  trial) that later stages consume — never "the newest folder" or "the newest run in MLflow".

The Ray session (and the resource-budget check) belongs to the caller (``mwx_ray.ray_runtime.ray_session``), so a
pipeline runs all its stages in one session.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.tune.results import StageResult
from mwx_ray.tune.stoppers import StopRule, TrialStopper

SWEEP_CONFIG_FILE = "mwx_sweep.yaml"
SWEEP_RECORD_FILE = "mwx_sweep.json"
TUNE_SUBDIR = "tune"
REPORT_EVERY_S = 30  # console table refresh; Tune's default (5 s) floods logs of hour-long sweeps


@dataclass
class StageSpec:
    """What a stage supplies to :func:`run_stage`.

    Attributes:
        stage: stage name: MLflow experiment (with ``tracking.experiment_prefix``) and run-folder kind.
        trainable: the Tune trainable with its resource request (``tune.with_resources(fn, resources)``).
        param_space: Tune param space; every trial config holds ``group_key`` and ``seed``.
        stop_rules: ``{group value: StopRule}`` (skill → rule for experts, variant → rule for the router).
        group_key: the trial-config key that groups trials (``skill``, ``variant``).
        metric, mode: what ranks trials and checkpoints (``hb/return``, max).
        scheduler: Tune trial scheduler (FIFO unless the stage says otherwise).
        num_samples: Tune's samples of the param space.
        max_failures: retries of a crashed trial, each from its last checkpoint.
        keep_checkpoints: checkpoints kept per trial (best by ``metric``); None keeps all (PBT needs them all).
        progress_metrics: console columns ``{result key: header}``; progress_params: config columns ``{path: header}``.
        mutable: hyperparameter names PBT changes (MLflow logs them as metrics, not params).
        max_concurrent_trials: Tune's limit (None: as resources allow).
        trainable_ref: ``"module:function"`` that rebuilds the trainable after a restart (``mwx resume``).
        describe_trial: module-level ``(trial config) -> (MLflow params, tags)`` of a child run; None = the trial
            config flattened (``mutable`` fields excluded).
    """

    stage: str
    trainable: Any
    param_space: dict[str, Any]
    stop_rules: Mapping[str, StopRule]
    group_key: str
    metric: str = "hb/return"
    mode: str = "max"
    scheduler: Any = None
    num_samples: int = 1
    max_failures: int = 0
    keep_checkpoints: int | None = 2
    progress_metrics: Mapping[str, str] = field(default_factory=dict)
    progress_params: Mapping[str, str] = field(default_factory=dict)
    mutable: frozenset[str] = frozenset()
    max_concurrent_trials: int | None = None
    trainable_ref: str = ""
    describe_trial: Callable[[Mapping[str, Any]], tuple[dict[str, str], dict[str, str]]] | None = None


def experiment_location(config, run_dir: Path) -> tuple[str, str]:
    """``(Tune storage path or URI, experiment name)`` of a stage run whose run folder is ``run_dir``."""
    shared = config.resources.storage_path
    if shared is None:
        return str(run_dir.resolve() / TUNE_SUBDIR), config.run.name
    if "://" in shared:
        return shared.rstrip("/"), run_dir.name
    return str(Path(shared).expanduser().resolve()), run_dir.name


def prepare_tune_environment() -> None:
    """Tune settings every stage driver (new or resumed) needs, unless the user chose otherwise.

    * Tune's classic progress table (``CLIReporter`` with our columns): Ray's newer output engine ignores custom
      reporters and picks columns itself (set ``RAY_AIR_NEW_OUTPUT=1`` to get it anyway);
    * no strict metric check: evaluation metrics (``hb/return``, the scheduler metric) are reported only every
      ``eval.every_iters`` iterations by design; ASHA and PBT (``require_attrs=False``) skip such results;
    * trials keep the driver's working directory (``RAY_CHDIR_TO_TRIAL_DIR=0``, forwarded by Tune to the trial
      actors): a relative path in the config (an expert registry, a clip) must mean the same thing in a trial;
    * Tune's "experiment state snapshotting has been triggered multiple times" warning is silenced (its
      documented switch, threshold 0): Tune forces a snapshot whenever a trial has saved ``num_to_keep``
      checkpoints since the last one, so two concurrent trials that checkpoint every few iterations trigger it
      all run long; the state is saved either way and nothing the user could change would help.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def write_sweep_record(experiment_path: str, loaded_config, run_dir: Path, spec: StageSpec,
                       param_overrides: Mapping[str, Any] | None) -> None:
    """What ``mwx resume`` needs besides Tune's own state (remote storage URIs keep the run-folder copy only)."""
    record = {"stage": spec.stage, "trainable": spec.trainable_ref, "run_dir": str(run_dir.resolve()),
              "config_hash": loaded_config.hash(), "param_overrides": dict(param_overrides or {})}
    atomic_write_text(run_dir / SWEEP_RECORD_FILE, json.dumps({**record, "experiment_path": experiment_path},
                                                               indent=2))
    if "://" in experiment_path:
        return
    folder = Path(experiment_path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SWEEP_CONFIG_FILE, loaded_config.to_yaml())
    atomic_write_text(folder / SWEEP_RECORD_FILE, json.dumps(record, indent=2))


def progress_reporter(spec: StageSpec) -> tune.CLIReporter:
    """Tune's classic table: trial, status, the stage's config and metric columns, best first."""
    return tune.CLIReporter(metric_columns=dict(spec.progress_metrics), parameter_columns=dict(spec.progress_params),
                            max_report_frequency=REPORT_EVERY_S, sort_by_metric=True)


def build_tuner(loaded_config, spec: StageSpec, *, run_dir: Path, callbacks: Sequence[tune.Callback] = (),
                param_overrides: Mapping[str, Any] | None = None) -> tuple[tune.Tuner, str]:
    """The stage's ``tune.Tuner`` and its experiment path; writes the sweep record."""
    config = loaded_config.config
    storage, name = experiment_location(config, run_dir)
    experiment_path = f"{storage}/{name}"
    write_sweep_record(experiment_path, loaded_config, run_dir, spec, param_overrides)
    run_config = tune.RunConfig(
        name=name,
        storage_path=storage,
        stop=TrialStopper(spec.stop_rules, spec.group_key),
        callbacks=list(callbacks),
        failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.keep_checkpoints,
                                                checkpoint_score_attribute=spec.metric,
                                                checkpoint_score_order=spec.mode),
        progress_reporter=progress_reporter(spec),
        verbose=1,
    )
    tune_config = tune.TuneConfig(metric=spec.metric, mode=spec.mode, scheduler=spec.scheduler,
                                  num_samples=spec.num_samples, max_concurrent_trials=spec.max_concurrent_trials)
    param_space = {**spec.param_space, **dict(param_overrides or {})}
    tuner = tune.Tuner(spec.trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
    return tuner, experiment_path


def run_stage(loaded_config, spec: StageSpec, *, run_dir: Path,
              callbacks_factory: Callable[[Any, Path, StageSpec], list[tune.Callback]] | None = None,
              param_overrides: Mapping[str, Any] | None = None) -> StageResult:
    """Run one stage to completion (or interruption) in the current Ray session; returns its typed result.

    ``callbacks_factory(loaded_config, run_dir, spec)`` makes the Tune callbacks (default: the MLflow parent/child
    tracking of ``mwx_ray.tracking.sweep_callback``); tests pass ``param_overrides`` (``{"fail_at_iteration": k}``).
    """
    from mwx_ray.tracking.sweep_callback import make_sweep_callbacks

    prepare_tune_environment()
    factory = callbacks_factory or make_sweep_callbacks
    callbacks = factory(loaded_config, run_dir, spec)
    tuner, experiment_path = build_tuner(loaded_config, spec, run_dir=run_dir, callbacks=callbacks,
                                         param_overrides=param_overrides)
    results = tuner.fit()
    return StageResult.from_results(spec.stage, results, run_dir=run_dir, experiment_path=experiment_path,
                                    callbacks=callbacks, group_key=spec.group_key, metric=spec.metric, mode=spec.mode)
