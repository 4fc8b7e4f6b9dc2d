"""``mwx label``: shards -> parquet label dataset through a Ray Data actor pool (Ray only at this edge).

Dataflow::

    chunks of keyframes (shard, start, stop) --from_items--> map_batches(read_frame_chunks, num_cpus=reader_cpus)
        --> map_batches(FrameLabeler, compute=ActorPoolStrategy(size=actors), batch_size, num_cpus, num_gpus)
        --> driver: iter_batches, group rows by shard, write each shard's parquet part once all its frames arrived

Resume is by shard: a shard whose part exists, has all its frames, and was made by this teacher/prompt from
this shard content is skipped. Parts are written atomically, so an interrupted run leaves only whole parts.
After labeling, :func:`verify_label_dataset` checks that the rows are exactly the input keyframes (count and
(episode, step) keys, no duplicates) and ``labels_manifest.json`` records provenance, counts and throughput.

Task-scope teachers are queried on the driver, once per distinct (instruction, stage) and prompt, before the
pool starts; the actors then only look answers up (:mod:`.teachers.task_cache`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.atomic_io import atomic_write_text, remove_stale_partials
from mwx_ray.config.labeling_schema import LabelingSection
from mwx_ray.config.typed import to_plain
from mwx_ray.labeling.catalogue import build_catalogue
from mwx_ray.labeling.label_parts import (
    LABEL_FORMAT,
    PARTS_DIR,
    LabelCountError,
    part_is_complete,
    summarize_labels,
    verify_label_dataset,
    write_part,
)
from mwx_ray.labeling.labeler import FrameLabeler, TeacherFactory, make_teacher
from mwx_ray.labeling.shards import ShardIndex, read_frame_records
from mwx_ray.labeling.teachers.base import FallbackStats, short_hash, teacher_class
from mwx_ray.labeling.teachers.task_cache import TaskAnswerCache

MANIFEST_FILE = "labels_manifest.json"
LABEL_COLUMNS = ("episode_id", "step", "stage", "stage_skill", "probs", "expert", "expert_name", "fallback",
                 "fallback_reason", "answer")
CHUNK_BATCHES = 4  # keyframes read per reader task = 4 labeler batches: enough work per task, small blocks


@dataclass
class LabelRunResult:
    """What one ``label_shards`` call did; ``manifest`` is the dataset-wide summary it wrote."""

    out_dir: str
    provenance: dict[str, Any]
    frames_total: int
    frames_labeled: int
    shards_labeled: list[str]
    shards_skipped: list[str]
    wall_s: float
    frames_per_s: float
    steady_frames_per_s: float
    task_queries: int
    run_fallback: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def read_frame_chunks(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reader UDF: rows ``(shard, path, start, stop)`` -> the keyframe rows of those ranges (+ ``shard``)."""
    parts = []
    for shard, path, start, stop in zip(batch["shard"], batch["path"], batch["start"], batch["stop"], strict=True):
        records = read_frame_records(str(path), int(start), int(stop))
        records["shard"] = np.array([str(shard)] * len(records["step"]), dtype=object)
        parts.append(records)
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def frame_chunks(index: ShardIndex, entries: list[dict[str, Any]], chunk_frames: int) -> list[dict[str, Any]]:
    chunks = []
    for entry in entries:
        path = str(index.path_of(entry).resolve())
        for start in range(0, int(entry["frames"]), chunk_frames):
            chunks.append({"shard": entry["file"], "path": path, "start": start,
                           "stop": min(start + chunk_frames, int(entry["frames"]))})
    return chunks


def job_provenance(section: LabelingSection, index: ShardIndex) -> tuple[Any, dict[str, Any]]:
    """(catalogue, provenance) of a labeling job, without loading any model."""
    catalogue = build_catalogue(section.experts, section.catalogue)
    cls = teacher_class(section.teacher.backend)
    cls.check_settings(section.teacher)
    provenance = {**cls.provenance_for(catalogue, section.teacher),
                  "frame_rate_hz": float(index.meta["frame_rate_hz"])}
    return catalogue, provenance


def prepare_task_answers(section: LabelingSection, catalogue, provenance: dict[str, Any], index: ShardIndex,
                         out_dir: Path, teacher_factory: TeacherFactory | None) -> TaskAnswerCache:
    """Fill (or reuse) the task-answer cache: one teacher query per distinct (instruction, stage) and prompt."""
    settings = section.teacher
    cache = TaskAnswerCache.load_or_new(out_dir, short_hash(provenance), settings.use_stage_description)
    pairs = [(index.meta["instruction"], stage["description"]) for stage in index.meta["stages"]]
    if any(cache.key(*pair) not in cache.entries for pair in pairs):
        teacher = make_teacher(catalogue, settings, teacher_factory)
        try:
            cache.fill(teacher, pairs)
        finally:
            teacher.close()
        cache.save(out_dir)
    return cache


def _write_ready_parts(buffers: dict[str, list[dict[str, np.ndarray]]], expected: dict[str, dict[str, Any]],
                       out_dir: Path, provenance: dict[str, Any], experts: list[str]) -> list[str]:
    written = []
    for shard in list(buffers):
        count = sum(len(b["step"]) for b in buffers[shard])
        want = int(expected[shard]["frames"])
        if count > want:
            raise LabelCountError(f"{shard}: received {count} labeled frames, the shard has {want}")
        if count == want:
            parts = buffers.pop(shard)
            rows = {key: np.concatenate([b[key] for b in parts]) for key in LABEL_COLUMNS}
            write_part(out_dir, expected[shard], rows, provenance, experts)
            written.append(shard)
    return written


def label_shards(index: ShardIndex, out_dir: str | Path, section: LabelingSection, *,
                 teacher_factory: TeacherFactory | None = None, progress: bool = True) -> LabelRunResult:
    """Label every keyframe of ``index`` into ``out_dir`` (resumable by shard). Needs a running Ray (or starts one).

    ``teacher_factory`` replaces the registry's constructor (tests inject failing teachers); provenance still
    comes from ``section.teacher.backend``.
    """
    import ray
    from ray.data import ActorPoolStrategy, DataContext
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out_dir / PARTS_DIR)  # a killed run's half-written part never counts, and is not kept
    catalogue, provenance = job_provenance(section, index)
    experts = list(catalogue.skills)
    done = [e for e in index.shards if part_is_complete(out_dir, e, provenance, experts)]
    done_files = {e["file"] for e in done}
    pending = [e for e in index.shards if e["file"] not in done_files]
    started = time.perf_counter()
    task_answers, task_queries = None, 0
    if section.teacher.scope == "task" and pending:
        cache = prepare_task_answers(section, catalogue, provenance, index, out_dir, teacher_factory)
        task_answers, task_queries = cache.to_json(), cache.queries

    labeled, run_stats, first_batch_at, written = 0, FallbackStats(), None, []
    pending_frames = sum(int(e["frames"]) for e in pending)
    if pending_frames:
        DataContext.get_current().enable_progress_bars = False  # our own frame-level bar below
        chunks = frame_chunks(index, pending, max(section.batch_size * CHUNK_BATCHES, 1))
        cpus_per_actor = section.cpus_per_actor
        dataset = ray.data.from_items(chunks, override_num_blocks=len(chunks)).map_batches(
            read_frame_chunks, batch_size=1, num_cpus=section.reader_cpus, batch_format="numpy",
        ).map_batches(
            FrameLabeler,
            fn_constructor_kwargs={
                "teacher_settings": to_plain(section.teacher), "catalogue": catalogue.to_json(),
                "task_answers": task_answers, "max_batch_retries": section.max_batch_retries,
                "torch_threads": max(1, int(cpus_per_actor)), "teacher_factory": teacher_factory,
            },
            compute=ActorPoolStrategy(size=section.actors),
            batch_size=section.batch_size,
            num_cpus=cpus_per_actor,
            num_gpus=section.gpus_per_actor or None,
            batch_format="numpy",
        )
        expected = {e["file"]: e for e in pending}
        buffers: dict[str, list[dict[str, np.ndarray]]] = {}
        bar = tqdm(total=pending_frames, unit="frame", desc=f"labels [{provenance['teacher_backend']}]",
                   disable=not progress)
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            first_batch_at = first_batch_at or time.perf_counter()
            size = len(batch["step"])
            for shard in np.unique(batch["shard"]):
                mask = batch["shard"] == shard
                buffers.setdefault(str(shard), []).append({k: np.asarray(v)[mask] for k, v in batch.items()})
            run_stats.add(batch["fallback"], [str(r) for r in batch["fallback_reason"]])
            labeled += size
            bar.update(size)
            written += _write_ready_parts(buffers, expected, out_dir, provenance, experts)
            bar.set_postfix(fallbacks=run_stats.fallbacks, parts=len(written))
        bar.close()
        if buffers:
            short = ", ".join(f"{s}: {sum(len(b['step']) for b in bs)}/{expected[s]['frames']}"
                              for s, bs in buffers.items())
            raise LabelCountError(f"incomplete shards after labeling (labeled/expected frames): {short}")
    wall_s = time.perf_counter() - started
    steady_s = time.perf_counter() - first_batch_at if first_batch_at else 0.0
    total = verify_label_dataset(out_dir, index)
    result = LabelRunResult(
        out_dir=str(out_dir), provenance=provenance, frames_total=total, frames_labeled=labeled,
        shards_labeled=sorted(written), shards_skipped=sorted(done_files), wall_s=wall_s,
        frames_per_s=labeled / wall_s if labeled and wall_s > 0 else 0.0,
        steady_frames_per_s=labeled / steady_s if labeled and steady_s > 0 else 0.0,
        task_queries=task_queries, run_fallback=run_stats.to_json(),
    )
    result.manifest = write_manifest(out_dir, index, section, catalogue, result)
    return result


def write_manifest(out_dir: Path, index: ShardIndex, section: LabelingSection, catalogue,
                   result: LabelRunResult) -> dict[str, Any]:
    """``labels_manifest.json``: provenance, catalogue, dataset-wide counts and this run's throughput."""
    summary = summarize_labels(out_dir, index, list(catalogue.skills))
    run = {k: v for k, v in asdict(result).items() if k not in ("manifest", "provenance", "out_dir")}
    manifest = {
        "format": LABEL_FORMAT, "provenance": result.provenance, "experts": list(catalogue.skills),
        "catalogue": catalogue.to_json(), "shards_dir": str(index.folder), "task": index.meta.get("task"),
        "instruction": index.meta.get("instruction"), "frames": result.frames_total,
        "episodes": index.num_episodes, "shards": len(index.shards), **summary,
        "last_run": {**run, "actors": section.actors, "batch_size": section.batch_size,
                     "cpus_per_actor": section.cpus_per_actor, "gpus_per_actor": section.gpus_per_actor},
    }
    atomic_write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return manifest
