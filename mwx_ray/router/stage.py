"""The router stage: one Tune trial per (variant × router seed), on the stage framework (``mwx_ray.tune.stage``).

    result = train_router(loaded, overrides)      # in a Ray session; result.trials[i].last["hb/success"] ...

A config without ``router.sweep`` is one variant (itself); with ``router.sweep`` (the ablations) every listed file
is a variant with its own fully resolved config, the sweep's ``router.sweep_set`` and then the ``--set`` overrides
applied to each (one sweep file per composite task). A variant owns the keys it lists in ``router.owns``:
overriding one of them is an error, because the variant would silently become another one (the "no motion prior"
row run over motion-prior experts). A variant that names
``router.experts_config`` gets its own experts: the stage trains that expert sweep and exports its best
checkpoints into ``<run folder>/experts-<variant>/registry`` before any router trial starts (reused on a rerun).
A variant that names ``router.labels_config`` gets its own labels the same way: rollouts over its experts, labeled
by that config's teacher on a Ray Data actor pool, into ``<run folder>/labels-<variant>/`` (resumable by shard).

MLflow: experiment ``router`` (one variant) or ``ablations`` (a sweep): a parent run per stage run, a child run
per trial, from the driver (``mwx_ray.tracking.sweep_callback``), with every artifact the trial reports (router
checkpoint, video, weights plot, frozen check).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mwx_ray.config import ConfigError, LoadedConfig, load_config
from mwx_ray.tune.results import StageResult
from mwx_ray.tune.stage import StageSpec, run_stage
from mwx_ray.tune.stoppers import StopRule

TRAINABLE_REF = "mwx_ray.router.stage:make_trainable"
PROGRESS_METRICS = {"training_iteration": "iter", "env_steps": "env steps", "hb/return": "eval return",
                    "hb/success": "success", "perf/env_steps_per_s": "steps/s"}
OWNED_EXPERTS_DIR = "registry"


def variant_configs(loaded: LoadedConfig, overrides: Sequence[str]) -> dict[str, LoadedConfig]:
    """``{variant name: resolved config}``: the sweep's files (its ``router.sweep_set``, then the ``--set``
    overrides, applied to each), or itself."""
    from mwx_ray.envs.plugins import import_plugins

    import_plugins(loaded.config.run.plugins)
    files = loaded.config.router.sweep
    if not files:
        _refuse_owned_overrides(loaded, overrides)
        return {loaded.config.router.variant: loaded}
    base = loaded.path.parent if loaded.path else Path.cwd()
    overrides = [*loaded.config.router.sweep_set, *overrides]
    variants: dict[str, LoadedConfig] = {}
    for name in files:
        variant = load_config(base / name, overrides)
        if variant.config.router.sweep:
            raise ConfigError(str(base / name), "router.sweep", "a sweep variant cannot itself list router.sweep")
        _refuse_owned_overrides(variant, overrides)
        key = variant.config.router.variant
        if key in variants:
            raise ConfigError(str(base / name), "router.variant", f"two sweep files share router.variant {key!r}")
        variants[key] = variant
    return variants


def _refuse_owned_overrides(variant: LoadedConfig, overrides: Sequence[str]) -> None:
    owned = variant.config.router.owns
    for item in overrides:
        key = item.partition("=")[0].strip()
        clash = next((own for own in owned if key == own or key.startswith(own + ".")), None)
        if clash is not None:
            raise ConfigError("--set", key, f"variant {variant.config.router.variant!r} "
                                            f"({variant.path}) owns {clash} (router.owns): its value is what makes "
                                            "this variant what it is; change the variant file, or run another one")


def prepare_owned_inputs(variants: dict[str, LoadedConfig], overrides: Sequence[str], run_dir: Path
                         ) -> dict[str, LoadedConfig]:
    """Produce the inputs every variant owns (``router.experts_config``: train and export its experts;
    ``router.labels_config``: collect and label its rollouts), once per run folder, and point the variant's
    config at them."""
    out = dict(variants)
    for name, variant in variants.items():
        router = variant.config.router
        values: list[str] = []
        if router.experts_config:
            values.append(f"router.experts_dir={_owned_experts(name, variant, run_dir)}")
        if router.labels_config:
            experts_dir = values[0].partition("=")[2] if values else router.experts_dir
            labels, shards = _owned_labels(name, variant, experts_dir, run_dir)
            values += [f"router.labels.dataset_dir={labels}", f"router.labels.shards_dir={shards}"]
        if values:
            out[name] = load_config(variant.path, [*overrides, *values])
    return out


def _owned_experts(name: str, variant: LoadedConfig, run_dir: Path) -> Path:
    from mwx_ray.experts.registry_export import export_registry
    from mwx_ray.experts.stage import train_experts

    registry = run_dir / f"experts-{name}" / OWNED_EXPERTS_DIR
    if not (registry / "manifest.json").is_file():
        expert_config = load_config(Path(variant.path).parent / variant.config.router.experts_config)
        print(f"variant {name}: training its own experts ({expert_config.path})")
        result = train_experts(expert_config, run_dir=run_dir / f"experts-{name}")
        if not result.ok:
            raise RuntimeError(f"variant {name}: its expert sweep failed ({result.experiment_path})")
        export_registry(result.experiment_path, registry)
    return registry


def _owned_labels(name: str, variant: LoadedConfig, experts_dir: str | Path, run_dir: Path) -> tuple[Path, Path]:
    """Rollouts of the variant's composite task over its experts, labeled by its labeling config's teacher."""
    from mwx_ray.labeling.stage import collect_stage_rollouts, label_stage

    folder = run_dir / f"labels-{name}"
    shards, labels = folder / "rollouts", folder / "labels"
    router = variant.config.router
    labeling = load_config(Path(variant.path).parent / router.labels_config, [
        f"env.task={variant.config.env.task.name}", f"labeling.rollouts.experts_dir={experts_dir}",
        f"labeling.rollouts.expert_dirs={dict(router.expert_dirs)}", f"labeling.experts={list(router.experts)}",
        f"labeling.rollouts.out_dir={shards}",
        f"labeling.shards_dir={shards}", f"labeling.out_dir={labels}"])
    print(f"variant {name}: labeling its own rollouts with {labeling.config.labeling.teacher.backend} "
          f"({labeling.path})")
    collect_stage_rollouts(labeling, shards)
    outcome = label_stage(labeling, shards, labels)
    if outcome.result.frames_total == 0:
        raise RuntimeError(f"variant {name}: its teacher produced no labels ({labels})")
    return labels, shards


def describe_trial(trial_config) -> tuple[dict[str, str], dict[str, str]]:
    """MLflow params and tags of a router child run: its variant's resolved config flattened (``router.*``,
    ``env.task.*``, ``run.seed`` = the trial's seed), tagged with its variant, mode and seed."""
    import yaml

    from mwx_ray.tracking.run_values import flatten, param_value

    config = yaml.safe_load(trial_config["configs"][trial_config["variant"]])
    config.setdefault("run", {})["seed"] = trial_config["seed"]
    params = {key: param_value(value) for key, value in flatten(config).items() if key != "description"}
    tags = {"variant": str(trial_config["variant"]), "mode": str(config["router"]["mode"]),
            "seed": str(trial_config["seed"])}
    return params, tags


def trial_resources(config):
    """Placement group of a trial: the trial driver (hosts the learner) + one bundle per remote EnvRunner."""
    from ray import tune

    res = config.resources
    bundles = [{"CPU": res.cpus_per_learner}] + [{"CPU": res.cpus_per_env_runner}] * res.env_runners_per_trial
    return tune.PlacementGroupFactory(bundles, strategy="PACK")


def make_trainable(resources_config=None):
    """The router trainable with its resource request (``resources_config``: any variant's config; None = the
    defaults, which ``mwx resume`` never needs: Tune restores the recorded request)."""
    from ray import tune

    from mwx_ray.config.schema import MwxConfig
    from mwx_ray.router.trainable import router_trial

    return tune.with_resources(router_trial, trial_resources(resources_config or MwxConfig()))


def router_stage_spec(loaded: LoadedConfig, variants: dict[str, LoadedConfig], *, run_dir: Path) -> StageSpec:
    """The router stage over ``variants`` (every variant × every seed of the first variant's ``router.seeds``)."""
    from ray import tune

    config = loaded.config
    first = next(iter(variants.values())).config
    stage = "ablations" if config.router.sweep else "router"
    param_space = {"variant": tune.grid_search(list(variants)), "seed": tune.grid_search(list(config.router.seeds)),
                   "configs": {name: v.to_yaml() for name, v in variants.items()},
                   "output_dir": str((run_dir / "trials").resolve()), "plugins": list(config.run.plugins)}
    rules = {name: StopRule(env_steps=v.config.router.stop.env_steps, max_iters=v.config.router.stop.max_iters)
             for name, v in variants.items()}
    return StageSpec(stage=stage, trainable=make_trainable(first), param_space=param_space, stop_rules=rules,
                     group_key="variant", metric="hb/success", mode="max", max_failures=config.router.max_failures,
                     keep_checkpoints=2, progress_metrics=PROGRESS_METRICS,
                     progress_params={"variant": "variant", "seed": "seed"},
                     max_concurrent_trials=config.resources.max_concurrent_trials, trainable_ref=TRAINABLE_REF,
                     describe_trial=describe_trial)


def train_router(loaded: LoadedConfig, overrides: Sequence[str] = (), *, run_dir: Path | None = None,
                 param_overrides=None) -> StageResult:
    """Run the router stage of ``loaded`` (its variants; ``overrides`` are the ``--set`` values that made
    ``loaded``) in the current Ray session; returns the typed stage result."""
    from mwx_ray.tracking.run_record import new_run_dir, write_run_record

    config = loaded.config
    variants = variant_configs(loaded, overrides)
    stage = "ablations" if config.router.sweep else "router"
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(config.run.root_dir, stage, config.run.name)
    write_run_record(run_dir, loaded, {"stage": stage, "variants": list(variants)})
    variants = prepare_owned_inputs(variants, overrides, run_dir)
    spec = router_stage_spec(loaded, variants, run_dir=run_dir)
    return run_stage(loaded, spec, run_dir=run_dir, param_overrides=param_overrides)
