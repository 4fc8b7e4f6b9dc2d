"""``mwx resume``: continue an interrupted expert sweep (``Tuner.restore``) where its trials stopped."""

from __future__ import annotations

import json
from pathlib import Path

from mwx_ray.commands.common import add_subcommand

EXAMPLES = """  mwx resume runs/experts/walk-20261121-120000                 the run folder train-experts printed
  mwx resume runs/experts/walk-20261121-120000/tune/walk        the Tune experiment folder
  mwx resume walk-20261121-120000                               a run folder name under runs/experts
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "resume",
                            "continue an interrupted expert sweep; learning curves continue where they stopped",
                            EXAMPLES, run)
    parser.add_argument("experiment", help="run folder, Tune experiment folder, or run folder name")


def locate(arg: str) -> tuple[str, Path | None]:
    """``(Tune experiment path, run folder or None)`` from a run folder, experiment folder or run name."""
    from mwx_ray.config import default_config
    from mwx_ray.tune.resume import find_experiment, sweep_record
    from mwx_ray.tune.sweep import SWEEP_RECORD_FILE

    default_runs = Path(default_config().config.run.root_dir) / "experts"
    for folder in (Path(arg), default_runs / arg):
        record_file = folder / SWEEP_RECORD_FILE
        if record_file.is_file() and "experiment_path" in (record := json.loads(record_file.read_text())):
            return record["experiment_path"], folder
    experiment = find_experiment(arg, [default_runs])
    record = sweep_record(experiment)
    return experiment, Path(record["run_dir"]) if record else None


def run(args) -> int:
    import ray

    from mwx_ray.commands.train_experts import print_summary, tracking_callbacks
    from mwx_ray.config import load_config
    from mwx_ray.ray_runtime import init_ray
    from mwx_ray.tracking.run_record import run_record
    from mwx_ray.tune.resume import resume_sweep, sweep_config_path

    try:
        experiment, run_dir = locate(args.experiment)
    except FileNotFoundError as err:
        print(f"mwx resume: {err}")
        return 2
    config_file = sweep_config_path(experiment)
    if config_file is None or run_dir is None:
        print(f"mwx resume: {experiment} has no mwx_sweep.yaml/json (not started by mwx train-experts)")
        return 2
    loaded = load_config(config_file)
    record = run_record(loaded.hash(), loaded.config.run.seed, {"stage": "experts", "resumed": experiment})
    stamp = record["created_utc"].replace(":", "").replace("-", "")
    (run_dir / f"resume-{stamp}.json").write_text(json.dumps(record, indent=2, default=str))
    print(f"resuming {experiment} (run folder {run_dir})")
    started_ray = init_ray(loaded.config, stages=("experts",))
    try:
        callbacks = tracking_callbacks(loaded, run_dir)
        results = resume_sweep(experiment, callbacks=callbacks)
        print_summary(results, loaded, run_dir, experiment, callbacks)
    finally:
        if started_ray:
            ray.shutdown()
    return 1 if any(result.error for result in results) else 0
