"""``mwx train-router``: one config = one Tune trial; a config with ``router.sweep`` = one Tune sweep with a
grid over its variant files (the ablations), each trial running its own fully resolved config.

MLflow: a parent run per command (experiment ``router``, or ``ablations`` for sweeps) holding the resolved
config and run record; each trial writes its own child run (``mlflow.parentRunId``) from its process.
Tune storage: ``<resources.storage_path or run.root_dir>/tune/<run folder name>``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mwx_ray.config import LoadedConfig, load_config

VARIANT_KEY = "variant"


def variant_configs(loaded: LoadedConfig, overrides: Sequence[str]) -> dict[str, LoadedConfig]:
    """``{variant name: resolved config}``: the sweep's files (``--set`` overrides applied to each), or itself."""
    files = loaded.config.router.sweep
    if not files:
        return {loaded.config.router.variant: loaded}
    base = loaded.path.parent if loaded.path else Path.cwd()
    variants: dict[str, LoadedConfig] = {}
    for name in files:
        variant = load_config(base / name, overrides)
        if variant.config.router.sweep:
            raise ValueError(f"{base / name}: a sweep variant cannot itself list router.sweep")
        key = variant.config.router.variant
        if key in variants:
            raise ValueError(f"two sweep files share router.variant {key!r}")
        variants[key] = variant
    return variants


def tune_storage_path(config) -> str:
    """``<resources.storage_path or run.root_dir>/tune`` (absolute path, or a URI such as s3://...)."""
    root = config.resources.storage_path or config.run.root_dir
    if "://" in root:
        return f"{root.rstrip('/')}/tune"
    return str(Path(root).expanduser().resolve() / "tune")


def trial_resources(config) -> Any:
    """Placement group of a trial: the trial driver (hosts the learner) + one bundle per remote EnvRunner."""
    from ray import tune

    res = config.resources
    bundles = [{"CPU": res.cpus_per_learner}] + [{"CPU": res.cpus_per_env_runner}] * res.env_runners_per_trial
    return tune.PlacementGroupFactory(bundles, strategy="PACK")


def router_trial(trial_config: dict[str, Any]) -> None:
    """Tune function trainable: rebuild the variant's config from its resolved YAML and run it."""
    from ray import tune

    from mwx_ray.router.runs import run_trial
    from mwx_ray.router.tracking import TrialTracker

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        handle.write(trial_config["configs"][trial_config[VARIANT_KEY]])
    config = load_config(handle.name).config
    Path(handle.name).unlink()
    tracking = trial_config["tracking"]
    tracker = None
    if tracking is not None:
        tracker = TrialTracker(tracking_uri=tracking["uri"], experiment=tracking["experiment"],
                               artifact_location=tracking["artifact_location"],
                               run_name=f"{config.router.variant}-seed{config.run.seed}",
                               tags={"mlflow.parentRunId": tracking["parent_run_id"], "stage": tracking["stage"],
                                     "trial_id": tune.get_context().get_trial_id()})
    # Outputs go to the command's run folder (shared storage on clusters), not Ray's session staging dir.
    trial_dir = Path(trial_config["output_dir"]) / config.router.variant
    run_trial(config, trial_dir=trial_dir, report=lambda metrics: tune.report(_reportable(metrics)), tracker=tracker)


def _reportable(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str)}


def build_router_tuner(loaded: LoadedConfig, variants: dict[str, LoadedConfig], *, run_dir: Path,
                       tracking: dict[str, Any] | None):
    """The Tune ``Tuner``: grid over variant names, each trial with its own resolved YAML."""
    from ray import tune

    from mwx_ray.tune.sweep import prepare_tune_environment

    prepare_tune_environment()
    config = loaded.config
    first = next(iter(variants.values())).config
    param_space = {VARIANT_KEY: tune.grid_search(list(variants)),
                   "configs": {name: v.to_yaml() for name, v in variants.items()}, "tracking": tracking,
                   "output_dir": str((run_dir / "trials").resolve())}
    trainable = tune.with_resources(router_trial, trial_resources(first))
    run_config = tune.RunConfig(name=run_dir.name, storage_path=tune_storage_path(config),
                                failure_config=tune.FailureConfig(max_failures=0), verbose=1)
    tune_config = tune.TuneConfig(max_concurrent_trials=config.resources.max_concurrent_trials)
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
