"""The MLflow ``labels`` run of a labeling job: which teacher, counts, fallback rate, throughput, and pictures.

One run per ``mwx label`` call in the experiment ``<prefix>labels``. Tags name the teacher (backend, model,
revision, prompt hash) so every label set is traceable; metrics use ``labels/`` namespaces; artifacts are the
manifest, the resolved config, a label-distribution bar chart and a grid of sample frames with their labels.
An explicit tracking URI is used (no process-global MLflow state). Unless ``tracking.required``, a failing
store is reported and the labels stay valid.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.labeling.label_parts import part_path
from mwx_ray.labeling.pipeline import LabelRunResult
from mwx_ray.labeling.shards import ShardIndex


def label_metrics(result: LabelRunResult) -> dict[str, float]:
    manifest = result.manifest
    frames = max(manifest["frames"], 1)
    metrics = {
        "labels/frames": manifest["frames"], "labels/frames_labeled": result.frames_labeled,
        "labels/fallbacks": manifest["fallback"]["fallbacks"], "labels/fallback_rate": manifest["fallback"]["rate"],
        "labels/frames_per_s": result.frames_per_s, "labels/steady_frames_per_s": result.steady_frames_per_s,
        "labels/task_queries": result.task_queries, "labels/shards_skipped": len(result.shards_skipped),
    }
    for expert, count in manifest["label_counts"].items():
        metrics[f"labels/share/{expert}"] = count / frames
    for expert, mean in manifest["mean_probs"].items():
        metrics[f"labels/mean_prob/{expert}"] = mean
    return {k: float(v) for k, v in metrics.items()}


def plot_label_distribution(manifest: dict[str, Any], path: Path) -> Path:
    """Bar chart: share of frames whose argmax is each expert, next to the mean probability per expert."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    experts = list(manifest["label_counts"])
    frames = max(manifest["frames"], 1)
    x = np.arange(len(experts))
    fig, ax = plt.subplots(figsize=(1.2 * len(experts) + 2, 3.5))
    ax.bar(x - 0.2, [manifest["label_counts"][e] / frames for e in experts], 0.4, label="argmax share")
    ax.bar(x + 0.2, [manifest["mean_probs"][e] for e in experts], 0.4, label="mean probability")
    ax.set_xticks(x, experts)
    ax.set_ylim(0, 1)
    prov = manifest["provenance"]
    ax.set_title(f"labels by {prov['teacher_backend']} ({prov['teacher_model']}), {manifest['frames']} frames, "
                 f"fallback {manifest['fallback']['rate']:.1%}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_sample_frames(index: ShardIndex, out_dir: Path, count: int, path: Path) -> Path | None:
    """Grid of ``count`` evenly spaced keyframes titled with their label (argmax, p) and the oracle stage skill."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    samples = []
    for entry in index.shards:
        table = pq.read_table(part_path(out_dir, entry["file"]),
                              columns=["episode_id", "step", "expert_name", "probs", "stage_skill", "fallback"])
        with np.load(index.path_of(entry), allow_pickle=False) as npz:
            rows = npz["keyframe_row"]
            keys = {(int(e), int(s)): i for i, (e, s) in enumerate(zip(npz["episode_id"][rows], npz["step"][rows],
                                                                        strict=True))}
            frames = npz["keyframes"]
        for row in table.to_pylist():
            samples.append((frames[keys[(row["episode_id"], row["step"])]], row))
    if not samples or count == 0:
        return None
    chosen = [samples[i] for i in np.linspace(0, len(samples) - 1, min(count, len(samples))).astype(int)]
    cols = min(4, len(chosen))
    rows_n = -(-len(chosen) // cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3 * cols, 3.2 * rows_n), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (frame, row) in zip(axes.ravel(), chosen, strict=False):
        ax.imshow(frame)
        mark = " (fallback)" if row["fallback"] else ""
        ax.set_title(f"ep {row['episode_id']} step {row['step']}\n{row['expert_name']} "
                     f"p={max(row['probs']):.2f}{mark} | stage: {row['stage_skill']}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def log_labels_run(loaded_config, result: LabelRunResult, index: ShardIndex) -> str | None:
    """Create the ``labels`` MLflow run; returns its id (None if tracking failed and is not required)."""
    from mlflow import MlflowClient

    from mwx_ray.tracking.run_record import git_sha
    from mwx_ray.tracking.store import artifact_root, experiment_name, tracking_uri

    config = loaded_config.config
    try:
        client = MlflowClient(tracking_uri(config))
        name = experiment_name(config, "labels")
        experiment = client.get_experiment_by_name(name)
        experiment_id = (experiment.experiment_id if experiment else
                         client.create_experiment(name, artifact_location=artifact_root(config)))
        prov = result.provenance
        tags = {"stage": "labels", "kind": "run", "teacher": prov["teacher_backend"], "teacher_model": prov["teacher_model"],
                "teacher_revision": prov["teacher_revision"], "prompt_hash": prov["prompt_hash"],
                "teacher_scope": prov["teacher_scope"], "git_sha": git_sha(), "config_hash": loaded_config.hash(),
                "task": str(index.meta.get("task"))}
        run = client.create_run(experiment_id, run_name=f"{config.run.name}-{prov['teacher_backend']}", tags=tags)
        run_id = run.info.run_id
        section = config.labeling
        params = {"teacher.backend": prov["teacher_backend"], "teacher.model": prov["teacher_model"],
                  "teacher.scope": prov["teacher_scope"], "teacher.answer_mode": section.teacher.answer_mode,
                  "experts": ",".join(section.experts), "actors": section.actors, "batch_size": section.batch_size,
                  "cpus_per_actor": section.cpus_per_actor, "gpus_per_actor": section.gpus_per_actor,
                  "frame_rate_hz": prov["frame_rate_hz"], "shards_dir": str(index.folder), "out_dir": result.out_dir}
        for key, value in params.items():
            client.log_param(run_id, key, str(value))
        for key, value in label_metrics(result).items():
            client.log_metric(run_id, key, value)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_dir = Path(tmp)
            (tmp_dir / "labels_manifest.json").write_text(json.dumps(result.manifest, indent=2))
            (tmp_dir / "config.resolved.yaml").write_text(loaded_config.to_yaml())
            plot_label_distribution(result.manifest, tmp_dir / "label_distribution.png")
            plot_sample_frames(index, Path(result.out_dir), config.labeling.sample_frames,
                               tmp_dir / "sample_frames.png")
            client.log_artifacts(run_id, str(tmp_dir))
        client.set_terminated(run_id)
        return run_id
    except Exception as err:
        if config.tracking.required:
            raise
        print(f"tracking: MLflow logging of the labels run failed ({type(err).__name__}: {err}); "
              f"the labels in {result.out_dir} are complete")
        return None
