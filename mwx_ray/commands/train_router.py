"""``mwx train-router``: train a router over frozen experts (or run an ablation sweep) with Ray Tune + RLlib."""

from __future__ import annotations

from mwx_ray.commands.common import add_config_arguments, add_subcommand

EXAMPLES = """  mwx train-router tune_configs/router/smoke.yaml
  mwx train-router tune_configs/router/stand_walk_stand.yaml --set router.experts_dir=runs/registry/v1
  mwx train-router tune_configs/ablations/sweep.yaml           all ablations as one Tune sweep
  mwx train-router tune_configs/ablations/hard_gating.yaml     one ablation alone
  mwx resume runs/router/<run folder>                          continue after an interruption
"""

SUMMARY_COLUMNS = ("hb/success", "hb/return", "env_steps")


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "train-router",
                            "train the router over frozen experts (PPO + annealed label supervision); "
                            "a config with router.sweep runs its variants as one Tune sweep", EXAMPLES, run)
    add_config_arguments(parser)


def run(args) -> int:
    from mwx_ray.commands.train_experts import print_stage_summary
    from mwx_ray.config import load_config
    from mwx_ray.ray_runtime import ray_session
    from mwx_ray.router.stage import train_router, variant_configs

    loaded = load_config(args.config, args.overrides)
    stage = "ablations" if loaded.config.router.sweep else "router"
    variants = variant_configs(loaded, args.overrides)  # config errors before anything starts
    print(f"{stage}: {len(variants)} variant(s) {list(variants)} × seeds {loaded.config.router.seeds}")
    with ray_session(loaded.config, stages=(stage,)):
        result = train_router(loaded, args.overrides)
    for trial in result.trials:
        shown = "  ".join(f"{key} {trial.last[key]:.3f}" for key in SUMMARY_COLUMNS
                          if isinstance(trial.last.get(key), int | float))
        state = f"FAILED: {trial.error}" if trial.error else shown
        print(f"  {trial.group:<24} seed {trial.seed}  {state}  "
              f"checkpoint {trial.last.get('artifacts/router_checkpoint', '-')}")
    print_stage_summary(result, f"mwx report {result.mlflow_run_id or stage}")
    return 0 if result.ok else 1
