"""The expert stage: one Tune trial per (algorithm × skill × seed × hyperparameter sample), on the stage framework.

    result = train_experts(loaded)                 # in a Ray session (mwx_ray.ray_runtime.ray_session)
    result.experiment_path, result.mlflow_run_id   # typed: what export and the report read next
    validate_experts(loaded) -> number of trials   # no Ray needed: config errors surface before anything runs

This module supplies the stage's parts (``mwx_ray.tune.stage.StageSpec``): the trainable
(``experts/trainable.py``, RLlib's ``PPO``/``SAC.default_resource_request`` per trial), the param space
(``experts/param_space.py``: skills, seeds, algorithm sections, task settings, search spaces), the stop rules per
skill (budget or success bar) and the scheduler (FIFO, ASHA or PBT). Everything else — storage, MLflow
parent/child runs, retries, checkpoint retention, the console — is the framework's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS
from mwx_ray.envs.plugins import import_plugins
from mwx_ray.experts.param_space import build_param_space, trial_count
from mwx_ray.tune.results import StageResult
from mwx_ray.tune.schedulers import build_scheduler
from mwx_ray.tune.stage import StageSpec, run_stage
from mwx_ray.tune.stoppers import stop_rules
from mwx_ray.tune.task_space import split_search_space

STAGE = "experts"
TRAINABLE_REF = "mwx_ray.experts.trainable:make_trainable"
# Console table columns: result key -> header. Eval keys appear on evaluation iterations only.
PROGRESS_METRICS = {
    "training_iteration": "iter",
    "env_steps": "env steps",
    "train/episode_return_mean": "train return",
    "hb/return": "eval return",
    "hb/success": "success",
    "perf/env_steps_per_s": "steps/s",
}


def _column_title(param: str) -> str:
    """``ppo/lr`` -> ``lr`` (the algorithm is its own column when it varies); ``task/imitation/w_track`` ->
    ``w_track``."""
    head, _, tail = param.partition("/")
    if tail and head in ALGORITHM_SECTIONS:
        return tail
    return param.rsplit("/", 1)[-1] if head == "task" else param


def progress_params(experts) -> dict[str, str]:
    """Config columns of the console table: algorithm (when it varies), skill, variant (an ablation grid), seed,
    searched fields."""
    algorithm_fields, task_fields = split_search_space(experts.search_space)
    columns = ["algorithm"] if len(experts.algorithms) > 1 else []
    columns += ["skill", *(["variant"] if experts.variants else []), "seed",
                *(f"{experts.algorithms[0]}/{field}" for field in algorithm_fields)]
    columns += ["task/" + field.replace(".", "/") for field in task_fields]
    return {name: _column_title(name) for name in columns}


def expert_stage_spec(loaded_config) -> StageSpec:
    """The expert stage of ``loaded_config``; config problems raise ConfigError naming the key (no Ray needed
    except for the trainable's import)."""
    from mwx_ray.experts.trainable import make_trainable
    from mwx_ray.tracking.run_values import mutable_hyperparameters

    config = loaded_config.config
    import_plugins(config.run.plugins)  # the skills and tasks the sweep names may come from them
    experts = config.experts
    param_space, sections = build_param_space(config, source_of=loaded_config.source_of)
    scheduler = build_scheduler(experts, sections[experts.algorithms[0]], source_of=loaded_config.source_of)
    return StageSpec(
        stage=STAGE, trainable=make_trainable(), param_space=param_space, stop_rules=stop_rules(experts),
        group_key="skill", metric=experts.scheduler.metric, mode=experts.scheduler.mode, scheduler=scheduler,
        num_samples=experts.num_samples, max_failures=experts.max_failures,
        # PBT restores a trial from another trial's latest checkpoint, which that trial's own retention may
        # already have deleted (seen with 2 concurrent trials): under PBT every checkpoint is kept.
        keep_checkpoints=None if experts.scheduler.name == "pbt" else experts.checkpoint.keep_best,
        progress_metrics=PROGRESS_METRICS, progress_params=progress_params(experts),
        mutable=mutable_hyperparameters(loaded_config),
        max_concurrent_trials=config.resources.max_concurrent_trials, trainable_ref=TRAINABLE_REF)


def validate_experts(loaded_config) -> int:
    """Raise ConfigError for any problem in the sweep spec (spaces, scheduler, skills, algorithms, tasks); return
    the number of trials (algorithms × skills × seeds × grid combinations × num_samples). Needs no Ray runtime."""
    import_plugins(loaded_config.config.run.plugins)
    experts = loaded_config.config.experts
    param_space, sections = build_param_space(loaded_config.config, source_of=loaded_config.source_of)
    build_scheduler(experts, sections[experts.algorithms[0]], source_of=loaded_config.source_of)
    return trial_count(experts, param_space)


def train_experts(loaded_config, *, run_dir: Path | None = None, param_overrides: Mapping[str, Any] | None = None,
                  callbacks: Sequence[Any] | None = None) -> StageResult:
    """Train the expert pool of ``loaded_config`` in the current Ray session; returns the typed stage result.

    ``run_dir`` defaults to a new timestamped folder under ``<run.root_dir>/experts`` holding the run record
    (resolved config, git SHA, versions, seeds); ``callbacks`` replace the default MLflow tracking callbacks.
    """
    from mwx_ray.tracking.run_record import new_run_dir, write_run_record

    spec = expert_stage_spec(loaded_config)
    if run_dir is None:
        config = loaded_config.config
        run_dir = new_run_dir(config.run.root_dir, STAGE, config.run.name)
    run_dir = Path(run_dir)
    write_run_record(run_dir, loaded_config, {"stage": STAGE, "config_path": str(loaded_config.path)})
    factory = None if callbacks is None else (lambda *_args: list(callbacks))
    return run_stage(loaded_config, spec, run_dir=run_dir, callbacks_factory=factory, param_overrides=param_overrides)
