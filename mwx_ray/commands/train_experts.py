"""``mwx train-experts``: the expert sweep (skills × seeds × hyperparameter samples) as one Tune experiment."""

from __future__ import annotations

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


def print_stage_summary(result, next_step: str | None = None) -> None:
    """Where a stage run's results are: experiment, run folder, best trial per group, MLflow, how to continue."""
    print(f"\nexperiment: {result.experiment_path}")
    print(f"run folder: {result.run_dir}")
    for line in result.summary_lines():
        print(line)
    if result.mlflow_run_id:
        print(f"MLflow: {result.tracking_uri} (experiment {result.stage}, parent run {result.mlflow_run_id})")
    if result.tracking_summary:
        print(result.tracking_summary)
    if result.unfinished:
        print(f"interrupted: {result.unfinished} trial(s) unfinished; continue with: mwx resume {result.run_dir}")
    if next_step:
        print(f"next: {next_step}")


def run(args) -> int:
    from mwx_ray.config import load_config
    from mwx_ray.experts.stage import train_experts, validate_experts
    from mwx_ray.ray_runtime import ray_session

    loaded = load_config(args.config, args.overrides)
    trials = validate_experts(loaded)  # config errors surface before any folder or Ray process exists
    print(f"expert stage: {trials} trial(s)")
    with ray_session(loaded.config, stages=("experts",)):
        result = train_experts(loaded)
    print_stage_summary(result, f"mwx export-experts {result.experiment_path}")
    return 0 if result.ok else 1
