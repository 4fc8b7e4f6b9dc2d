"""Assemble and run the expert sweep: one Tune experiment, one trial per (skill × seed × hyperparameter sample).

    tuner, experiment_path = build_tuner(loaded_config, run_dir=run_dir, callbacks=callbacks)
    results = run_sweep(loaded_config, run_dir=run_dir, callbacks=callbacks)   # build + fit

Where things go:
- Local (``resources.storage_path: null``): everything of a run in its run folder; the experiment is
  ``<run folder>/tune/<run.name>``, e.g. ``runs/experts/smoke-20261121-120000/tune/smoke``.
- Shared storage (clusters): ``<resources.storage_path>/<run folder name>`` (unique per run).
- The experiment folder also gets ``mwx_sweep.yaml`` (the resolved config) and ``mwx_sweep.json`` (run
  folder, config hash, extra trial keys); the run folder gets ``mwx_sweep.json`` with the experiment path.
  ``mwx resume`` finds the experiment from either and rebuilds the tracking callback from them.

Tune/RLlib pieces: the trainable is ``mwx_ray.experts.trainable.train_expert`` with RLlib's
``PPO``/``SAC.default_resource_request`` per trial (by the trial's ``algorithm``); ``RunConfig(stop=ExpertStopper, FailureConfig(max_failures),
CheckpointConfig(num_to_keep=keep_best, score = scheduler metric))``; ``TuneConfig(metric, mode, scheduler,
num_samples, max_concurrent_trials)``. The console shows Tune's classic progress table (``CLIReporter``) with
our columns; Ray's newer output engine ignores custom reporters and picks columns itself, so
``RAY_AIR_NEW_OUTPUT`` defaults to 0 here (set it to 1 to get the new engine anyway).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS
from mwx_ray.experts.trainable import make_trainable
from mwx_ray.tune.param_space import build_param_space, trial_count
from mwx_ray.tune.schedulers import build_scheduler
from mwx_ray.tune.stoppers import ExpertStopper, stop_rules
from mwx_ray.tune.task_space import split_search_space

SWEEP_CONFIG_FILE = "mwx_sweep.yaml"
SWEEP_RECORD_FILE = "mwx_sweep.json"
TUNE_SUBDIR = "tune"
# Console table columns: result key -> header. Eval keys appear on evaluation iterations only.
PROGRESS_METRICS = {
    "training_iteration": "iter",
    "env_steps": "env steps",
    "train/episode_return_mean": "train return",
    "hb/return": "eval return",
    "hb/success": "success",
    "perf/env_steps_per_s": "steps/s",
}
REPORT_EVERY_S = 30  # console table refresh; Tune's default (5 s) floods logs of hour-long sweeps


def experiment_location(config, run_dir: Path) -> tuple[str, str]:
    """``(Tune storage path or URI, experiment name)`` of a sweep whose run folder is ``run_dir``."""
    shared = config.resources.storage_path
    if shared is None:
        return str(run_dir.resolve() / TUNE_SUBDIR), config.run.name
    if "://" in shared:
        return shared.rstrip("/"), run_dir.name
    return str(Path(shared).expanduser().resolve()), run_dir.name


def progress_reporter(param_columns: Sequence[str]) -> tune.CLIReporter:
    """Tune's classic table: trial, status, algorithm/skill/seed/searched params, our metric columns, best
    first (metric and mode come from TuneConfig: Tune refuses them on both)."""
    return tune.CLIReporter(
        metric_columns=dict(PROGRESS_METRICS),
        parameter_columns={name: _column_title(name) for name in param_columns},
        max_report_frequency=REPORT_EVERY_S,
        sort_by_metric=True,
    )


def _column_title(param: str) -> str:
    """``ppo/lr`` -> ``lr`` (the algorithm is its own column when it varies); ``task/imitation/w_track`` ->
    ``w_track``."""
    head, _, tail = param.partition("/")
    if tail and head in ALGORITHM_SECTIONS:
        return tail
    return param.rsplit("/", 1)[-1] if head == "task" else param


def _write_sweep_record(experiment_path: str, loaded_config, run_dir: Path,
                        param_overrides: Mapping[str, Any] | None) -> None:
    """What ``mwx resume`` needs besides Tune's own state (local storage only: remote URIs skip it)."""
    record = {"run_dir": str(run_dir.resolve()), "config_hash": loaded_config.hash(),
              "param_overrides": dict(param_overrides or {})}
    atomic_write_text(run_dir / SWEEP_RECORD_FILE, json.dumps({**record, "experiment_path": experiment_path},
                                                               indent=2))
    if "://" in experiment_path:
        return
    folder = Path(experiment_path)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SWEEP_CONFIG_FILE, loaded_config.to_yaml())
    atomic_write_text(folder / SWEEP_RECORD_FILE, json.dumps(record, indent=2))


def build_tuner(
    loaded_config,
    *,
    run_dir: str | Path,
    callbacks: Sequence[tune.Callback] = (),
    param_overrides: Mapping[str, Any] | None = None,
) -> tuple[tune.Tuner, str]:
    """The sweep's ``tune.Tuner`` and its experiment path (see the module docstring for where it is).

    ``callbacks`` are Tune callbacks (the MLflow tracking callback); ``param_overrides`` are extra keys put
    into every trial config (tests inject ``{"fail_at_iteration": k}``). Config problems raise ConfigError
    naming the key before anything runs.
    """
    config = loaded_config.config
    experts = config.experts
    source_of = loaded_config.source_of
    param_space, sections = build_param_space(config, source_of=source_of, param_overrides=param_overrides)
    scheduler = build_scheduler(experts, sections[experts.algorithms[0]], source_of=source_of)
    run_dir = Path(run_dir)
    storage, name = experiment_location(config, run_dir)
    experiment_path = f"{storage}/{name}"
    _write_sweep_record(experiment_path, loaded_config, run_dir, param_overrides)

    metric, mode = experts.scheduler.metric, experts.scheduler.mode
    algorithm_fields, task_fields = split_search_space(experts.search_space)
    searched = [f"{experts.algorithms[0]}/{field}" for field in algorithm_fields]
    searched += ["task/" + field.replace(".", "/") for field in task_fields]
    columns = ["algorithm"] if len(experts.algorithms) > 1 else []
    run_config = tune.RunConfig(
        name=name,
        storage_path=storage,
        stop=ExpertStopper(stop_rules(experts)),
        callbacks=list(callbacks),
        failure_config=tune.FailureConfig(max_failures=experts.max_failures),
        checkpoint_config=tune.CheckpointConfig(
            # PBT restores a trial from another trial's latest checkpoint, which that trial's own retention may
            # already have deleted (seen with 2 concurrent trials): under PBT every checkpoint is kept.
            num_to_keep=None if experts.scheduler.name == "pbt" else experts.checkpoint.keep_best,
            checkpoint_score_attribute=metric,
            checkpoint_score_order=mode,
        ),
        progress_reporter=progress_reporter([*columns, "skill", "seed", *searched]),
        verbose=1,
    )
    tune_config = tune.TuneConfig(
        metric=metric,
        mode=mode,
        scheduler=scheduler,
        num_samples=experts.num_samples,
        max_concurrent_trials=config.resources.max_concurrent_trials,
    )
    tuner = tune.Tuner(make_trainable(), param_space=param_space, tune_config=tune_config, run_config=run_config)
    return tuner, experiment_path


def prepare_tune_environment() -> None:
    """Tune settings every sweep driver (experts or router, new or resumed) needs, unless the user chose otherwise.

    * classic progress table (see the module docstring);
    * no strict metric check: evaluation metrics (``hb/return``, the scheduler metric) are reported only every
      ``eval.every_iters`` iterations by design, and Tune's strict check would fail the trial on the first
      iteration without them. The schedulers used here (ASHA, PBT with ``require_attrs=False``) skip such results.
    * trials keep the driver's working directory: Tune would otherwise chdir each trial into its staging folder
      (``ray/tune/trainable/trainable.py``), and a relative path in the config (``router.experts_dir:
      runs/quickstart/default/registry``, an imitation clip) would point nowhere. Tune forwards this variable to
      the trial actors (``ray/tune/execution/class_cache.py``). Trials write only to absolute storage paths.
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")


def run_sweep(
    loaded_config,
    *,
    run_dir: str | Path,
    callbacks: Sequence[tune.Callback] = (),
    param_overrides: Mapping[str, Any] | None = None,
) -> tune.ResultGrid:
    """Build the tuner and run it to completion (or interruption); needs a running Ray (``ray.init``)."""
    prepare_tune_environment()
    tuner, _experiment_path = build_tuner(loaded_config, run_dir=run_dir, callbacks=callbacks,
                                          param_overrides=param_overrides)
    return tuner.fit()


def validate_sweep(loaded_config) -> int:
    """Raise ConfigError for any problem in the sweep spec (spaces, scheduler, skills, algorithms); return the
    number of trials (algorithms × skills × seeds × grid combinations × num_samples). Needs no Ray runtime."""
    experts = loaded_config.config.experts
    param_space, sections = build_param_space(loaded_config.config, source_of=loaded_config.source_of)
    build_scheduler(experts, sections[experts.algorithms[0]], source_of=loaded_config.source_of)
    return trial_count(experts, param_space)
