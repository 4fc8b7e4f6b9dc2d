"""The labeling stage as typed functions: rollouts → shards, shards → parquet labels + an MLflow ``labels`` run.

    index = collect_stage_rollouts(loaded, out_dir)          # what `mwx rollouts collect` runs
    labels = label_stage(loaded, shards_dir, out_dir)         # what `mwx label` runs (in a Ray session)
    labels.out_dir, labels.mlflow_run_id, labels.result       # typed: what the router stage reads next
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mwx_ray.labeling.pipeline import LabelRunResult
from mwx_ray.labeling.shards import ShardIndex


@dataclass
class LabelsOutcome:
    """A finished labeling job: the label folder, its MLflow run, the run's figures."""

    out_dir: Path
    shards_dir: Path
    result: LabelRunResult
    mlflow_run_id: str | None


def collect_stage_rollouts(loaded_config, out_dir: str | Path) -> ShardIndex:
    """Roll ``labeling.rollouts.policy`` out on ``env.task`` into shards (resumable by shard). Its expert sources
    are ``labeling.rollouts.expert_dirs``, or else the config's ``router.expert_dirs``: a router config rolls out
    the experts its router would route, so the oracle schedule's bound is that router's."""
    from mwx_ray.labeling.rollouts import collect_rollouts

    config = loaded_config.config
    rollouts = config.labeling.rollouts
    if config.router.expert_dirs and not rollouts.expert_dirs:
        rollouts = replace(rollouts, expert_dirs=dict(config.router.expert_dirs))
        print(f"labeling.rollouts.expert_dirs: {rollouts.expert_dirs} (the config's router.expert_dirs)")
    return collect_rollouts(config.env.task, rollouts, out_dir, seed=config.run.seed,
                            render_quality=config.env.render_quality)


def label_stage(loaded_config, shards_dir: str | Path, out_dir: str | Path) -> LabelsOutcome:
    """Label the shards in ``shards_dir`` into ``out_dir`` on a Ray Data actor pool (needs a Ray session) and
    record the job as an MLflow ``labels`` run; resumable (finished shards are skipped)."""
    from mwx_ray.labeling.pipeline import label_shards
    from mwx_ray.labeling.tracking import log_labels_run
    from mwx_ray.tracking.run_record import write_run_record

    config = loaded_config.config
    index = ShardIndex.load(Path(shards_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_run_record(out, loaded_config, {"stage": "labels", "teacher": config.labeling.teacher.backend})
    result = label_shards(index, out, config.labeling)
    return LabelsOutcome(out, Path(shards_dir), result, log_labels_run(loaded_config, result, index))
