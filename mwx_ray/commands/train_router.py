"""``mwx train-router``: train a router over frozen experts (or run an ablation sweep) with Ray Tune + RLlib."""

from __future__ import annotations

from mwx_ray.commands.common import add_config_arguments, add_subcommand

EXAMPLES = """  mwx train-router tune_configs/router/smoke.yaml
  mwx train-router tune_configs/router/stand_walk_stand.yaml --set router.experts_dir=runs/registry/v1
  mwx train-router tune_configs/ablations/sweep.yaml           all ablations as one Tune sweep
  mwx train-router tune_configs/ablations/hard_gating.yaml     one ablation alone
"""

SUMMARY_COLUMNS = ("hb/return", "hb/success", "env_steps")


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "train-router",
                            "train the router over frozen experts (PPO + annealed label supervision); "
                            "a config with router.sweep runs its variants as one Tune sweep", EXAMPLES, run)
    add_config_arguments(parser)


def run(args) -> int:
    import ray

    from mwx_ray.config import load_config
    from mwx_ray.ray_runtime import init_ray
    from mwx_ray.router.sweep import build_router_tuner, variant_configs
    from mwx_ray.router.tracking import TrialTracker
    from mwx_ray.tracking.run_record import RECORD_NAME, RESOLVED_CONFIG_NAME, new_run_dir, write_run_record
    from mwx_ray.tracking.store import artifact_root, experiment_name, tracking_uri

    loaded = load_config(args.config, args.overrides)
    config = loaded.config
    variants = variant_configs(loaded, args.overrides)
    stage = "ablations" if config.router.sweep else "router"
    run_dir = new_run_dir(config.run.root_dir, stage, config.run.name)
    write_run_record(run_dir, loaded, extra={"variants": list(variants)})
    uri, experiment = tracking_uri(config), experiment_name(config, stage)
    parent = TrialTracker(tracking_uri=uri, experiment=experiment, artifact_location=artifact_root(config),
                          run_name=run_dir.name, tags={"stage": stage, "kind": "sweep",
                                                       "config_hash": loaded.hash()})
    parent.log_artifact(run_dir / RESOLVED_CONFIG_NAME, "config")
    parent.log_artifact(run_dir / RECORD_NAME, "config")
    tracking = {"uri": uri, "experiment": experiment, "artifact_location": artifact_root(config),
                "parent_run_id": parent.run_id, "stage": stage}
    print(f"{stage}: {len(variants)} trial(s) {list(variants)}; run folder {run_dir}; MLflow {uri} ({experiment})")
    started_ray = init_ray(config)
    try:
        results = build_router_tuner(loaded, variants, run_dir=run_dir, tracking=tracking).fit()
    except BaseException:
        parent.finish("FAILED")
        raise
    finally:
        if started_ray:
            ray.shutdown()
    failed = 0
    for result in results:
        name = result.config.get("variant") if result.config else "?"
        if result.error is not None:
            failed += 1
            print(f"  {name:<24} FAILED: {str(result.error).splitlines()[0][:200]}")
            continue
        metrics = result.metrics or {}
        shown = "  ".join(f"{key} {metrics.get(key, float('nan')):.3f}" for key in SUMMARY_COLUMNS
                          if isinstance(metrics.get(key), int | float))
        print(f"  {name:<24} {shown}  checkpoint {metrics.get('artifacts/router_checkpoint', '-')}")
    parent.finish("FAILED" if failed else "FINISHED")
    if not parent.mlflow.report().ok:
        print(f"warning: {parent.mlflow.report().summary()}")
    return 1 if failed else 0
