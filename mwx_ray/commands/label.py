"""``mwx label``: turn rollout shards into a parquet label dataset with a teacher on a Ray actor pool."""

from __future__ import annotations

import sys
from pathlib import Path

from mwx_ray.commands.common import add_config_arguments, add_subcommand

EXAMPLES = """  mwx label tune_configs/labeling/oracle.yaml                 privileged stage teacher (offline default)
  mwx label tune_configs/labeling/text_prior.yaml             one MiniLM query per task, no vision
  mwx label tune_configs/labeling/hf_vlm_tiny.yaml --set labeling.actors=2
  OPENAI_API_KEY=... mwx label tune_configs/labeling/openai.yaml --set labeling.teacher.model=gpt-4o
Teacher backends: oracle, text-prior, hf-vlm, openai (labeling.teacher.backend).
Interrupted? Run the same command again: finished shards are skipped.
"""


def register(subparsers) -> None:
    parser = add_subcommand(subparsers, "label",
                            "label rollout keyframes with a teacher (Ray Data actor pool) into parquet",
                            EXAMPLES, run)
    add_config_arguments(parser)


def labels_dir(config) -> Path:
    """``labeling.out_dir`` or ``<run.root_dir>/labels/<run.name>``."""
    out = config.labeling.out_dir
    return Path(out) if out else Path(config.run.root_dir) / "labels" / config.run.name


def run(args) -> int:
    from mwx_ray.commands.rollouts import shards_dir
    from mwx_ray.config import load_config
    from mwx_ray.labeling.shards import ShardFormatError
    from mwx_ray.labeling.stage import label_stage
    from mwx_ray.ray_runtime import ray_session

    loaded = load_config(args.config, args.overrides)
    config = loaded.config
    section = config.labeling
    shards = Path(section.shards_dir) if section.shards_dir else shards_dir(config)
    try:
        with ray_session(config, stages=("labeling",)):
            outcome = label_stage(loaded, shards, labels_dir(config))
    except ShardFormatError as err:
        print(f"mwx: {err}", file=sys.stderr)
        return 2
    result, out_dir = outcome.result, outcome.out_dir
    manifest, prov = result.manifest, result.provenance
    print(f"teacher: {prov['teacher_backend']} model={prov['teacher_model'] or '-'} "
          f"revision={prov['teacher_revision'] or '-'} prompt={prov['prompt_hash']} scope={prov['teacher_scope']}")
    print(f"labels: {manifest['frames']} frames from {manifest['shards']} shards "
          f"({result.frames_labeled} labeled now, {len(result.shards_skipped)} shards already done) -> {out_dir}")
    print(f"fallbacks: {manifest['fallback']['fallbacks']} ({manifest['fallback']['rate']:.1%}) "
          f"{manifest['fallback']['by_reason'] or ''}")
    print(f"throughput: {result.frames_per_s:.1f} frames/s ({section.actors} actors x batch {section.batch_size})")
    print("label counts: " + ", ".join(f"{k}={v}" for k, v in manifest["label_counts"].items()))
    if outcome.mlflow_run_id:
        print(f"MLflow: labels run {outcome.mlflow_run_id}")
    return 0
