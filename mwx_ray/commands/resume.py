"""``mwx resume``: continue an interrupted stage run (experts or router, ``Tuner.restore``) where its trials stopped."""

from __future__ import annotations

import json
from pathlib import Path

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx resume runs/experts/walk-20261121-120000                 the run folder train-experts printed
  mwx resume runs/experts/walk-20261121-120000/tune/walk        the Tune experiment folder
  mwx resume walk-20261121-120000                               a run folder name under runs/experts
  mwx resume runs/router/stand_walk_stand-20261121-130000       a router run: trials continue from their checkpoints
"""
SEARCHED_STAGES = ("experts", "router", "ablations")


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "resume",
                            "continue an interrupted stage run; learning curves continue where they stopped",
                            EXAMPLES, run)
    parser.add_argument("experiment", help="run folder, Tune experiment folder, or run folder name")


def locate(arg: str) -> tuple[str, Path | None]:
    """``(Tune experiment path, run folder or None)`` from a run folder, experiment folder or run name."""
    from mwx_ray.config import default_config
    from mwx_ray.tune.resume import find_experiment, sweep_record
    from mwx_ray.tune.stage import SWEEP_RECORD_FILE

    root = Path(default_config().config.run.root_dir)
    for folder in (Path(arg), *(root / stage / arg for stage in SEARCHED_STAGES)):
        record_file = folder / SWEEP_RECORD_FILE
        if record_file.is_file() and "experiment_path" in (record := json.loads(record_file.read_text())):
            return record["experiment_path"], folder
    experiment = find_experiment(arg, [root / stage for stage in SEARCHED_STAGES])
    record = sweep_record(experiment)
    return experiment, Path(record["run_dir"]) if record else None


def run(args) -> int:
    from mwx_ray.commands.train_experts import print_stage_summary
    from mwx_ray.config import load_config
    from mwx_ray.ray_runtime import ray_session
    from mwx_ray.tracking.run_record import run_record
    from mwx_ray.tracking.run_values import mutable_hyperparameters
    from mwx_ray.tracking.sweep_callback import make_sweep_callbacks
    from mwx_ray.tune.results import StageResult
    from mwx_ray.tune.resume import DEFAULT_TRAINABLE, resume_stage, sweep_config_path, sweep_record
    from mwx_ray.tune.stage import StageSpec

    try:
        experiment, run_dir = locate(args.experiment)
    except FileNotFoundError as err:
        print(f"mwx resume: {err}")
        return 2
    config_file, record = sweep_config_path(experiment), sweep_record(experiment)
    if config_file is None or run_dir is None or record is None:
        print(f"mwx resume: {experiment} has no mwx_sweep.yaml/json (not started by an mwx stage command)")
        return 2
    loaded = load_config(config_file)
    stage = record.get("stage", "experts")
    resumed = run_record(loaded.hash(), loaded.config.run.seed, {"stage": stage, "resumed": experiment})
    stamp = resumed["created_utc"].replace(":", "").replace("-", "")
    (run_dir / f"resume-{stamp}.json").write_text(json.dumps(resumed, indent=2, default=str))
    print(f"resuming {stage} run {experiment} (run folder {run_dir})")
    experts = stage == "experts"
    group_key = "skill" if experts else "variant"
    metric, mode = (loaded.config.experts.scheduler.metric, loaded.config.experts.scheduler.mode) if experts \
        else ("hb/success", "max")
    # What the tracking callback needs (it re-attaches to the recorded runs); the rest is in Tune's own state.
    spec = StageSpec(stage=stage, trainable=None, param_space={}, stop_rules={}, group_key=group_key,
                     mutable=mutable_hyperparameters(loaded) if experts else frozenset())
    with ray_session(loaded.config, stages=(stage,)):
        callbacks = make_sweep_callbacks(loaded, run_dir, spec)
        results = resume_stage(experiment, trainable_ref=record.get("trainable") or DEFAULT_TRAINABLE,
                               callbacks=callbacks)
    result = StageResult.from_results(stage, results, run_dir=run_dir, experiment_path=experiment,
                                      callbacks=callbacks, group_key=group_key, metric=metric, mode=mode)
    print_stage_summary(result)
    return 0 if result.ok else 1
