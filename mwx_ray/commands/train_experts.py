"""``mwx train-experts``: the expert sweep (skills × seeds × hyperparameter samples) as one Tune experiment."""

from __future__ import annotations

from pathlib import Path

from mwx_ray.commands.common import add_config_arguments, add_subcommand

EXAMPLES = """  mwx train-experts tune_configs/experts/smoke.yaml          tiny budget: checks the whole path in ~1 min
  mwx train-experts tune_configs/experts/walk.yaml --set experts.seeds=[0,1,2]
  mwx train-experts tune_configs/experts/sweep_asha.yaml --set resources.max_concurrent_trials=1
  mwx resume runs/experts/<run folder>                      continue it after an interruption
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "train-experts",
                            "train the expert pool: one Tune trial per skill × seed × hyperparameter sample",
                            EXAMPLES, run)
    add_config_arguments(parser)


def tracking_callbacks(loaded, run_dir: Path) -> list:
    """The MLflow sweep callbacks (parent run per sweep, child run per trial)."""
    from mwx_ray.tracking.sweep_callback import make_sweep_callbacks

    return make_sweep_callbacks(loaded, run_dir)


def print_summary(results, loaded, run_dir: Path, experiment_path: str, callbacks: list) -> None:
    from mwx_ray.tracking.store import tracking_uri
    from mwx_ray.tune.results import summary_lines

    scheduler = loaded.config.experts.scheduler
    print(f"\nexperiment: {experiment_path}")
    print(f"run folder: {run_dir}")
    for line in summary_lines(results, scheduler.metric, scheduler.mode):
        print(line)
    if callbacks:
        from mwx_ray.tracking.sweep_callback import tracking_summary

        print(tracking_summary(callbacks) or f"MLflow: {tracking_uri(loaded.config)} (experiment experts)")
    # Tune marks the last result `done` when a stopper, scheduler or the trainable ends a trial; after an
    # interruption the grid still says TERMINATED (actors were stopped), but `done` stays False.
    unfinished = sum(1 for result in results if not result.error and not result.metrics.get("done"))
    if unfinished:
        print(f"interrupted: {unfinished} trial(s) unfinished; continue with: mwx resume {run_dir}")
    print(f"next: mwx export-experts {experiment_path}")


def run(args) -> int:
    from mwx_ray.config import load_config
    from mwx_ray.ray_runtime import init_ray
    from mwx_ray.tracking.run_record import new_run_dir, write_run_record
    from mwx_ray.tune.sweep import build_tuner, prepare_tune_environment, validate_sweep

    loaded = load_config(args.config, args.overrides)
    config = loaded.config
    trials = validate_sweep(loaded)  # config errors surface before any folder or Ray process exists
    import ray

    run_dir = new_run_dir(config.run.root_dir, "experts", config.run.name)
    write_run_record(run_dir, loaded, {"stage": "experts", "config_path": str(args.config)})
    started_ray = init_ray(config, stages=("experts",))
    try:
        callbacks = tracking_callbacks(loaded, run_dir)
        prepare_tune_environment()
        tuner, experiment_path = build_tuner(loaded, run_dir=run_dir, callbacks=callbacks)
        print(f"sweep {run_dir.name}: {trials} trials; Tune experiment {experiment_path}")
        results = tuner.fit()
        print_summary(results, loaded, run_dir, experiment_path, callbacks)
    finally:
        if started_ray:
            ray.shutdown()
    return 1 if any(result.error for result in results) else 0
