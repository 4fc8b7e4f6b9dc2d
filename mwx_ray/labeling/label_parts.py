"""The parquet label dataset: one part per input shard, written atomically, verified against the shards.

``<out_dir>/parts/<shard stem>.parquet`` rows (one per keyframe, sorted by episode and step):

================================  ===========================================================================
``shard``, ``episode_id``, ``step``  frame identity (``step`` = env step within the episode)
``stage``, ``stage_skill``         the task's active stage in that frame (privileged; for analysis/ablations)
``probs``                          fixed-size list<float32>[K]: label distribution, catalogue order
``expert``, ``expert_name``        argmax of ``probs``
``fallback``, ``fallback_reason``  the teacher's answer was invalid and ``probs`` is the uniform fallback
``answer``                         raw teacher answer (truncated)
``teacher_backend`` ...            provenance: backend, model, revision, prompt hash, scope, ``frame_rate_hz``
================================  ===========================================================================

The parquet schema metadata (key ``mwx_labels``) records provenance, expert names and the source shard's
sha256; a part counts as complete for resume only if its rows match the shard's frame count and its
provenance and shard hash match the current job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mwx_ray.atomic_io import atomic_path
from mwx_ray.labeling.shards import ShardIndex
from mwx_ray.labeling.teachers.base import FallbackStats

PARTS_DIR = "parts"
META_KEY = b"mwx_labels"
LABEL_FORMAT = "mwx-labels/1"


class LabelCountError(RuntimeError):
    """Output rows do not match input frames (lost, duplicated or foreign frames); names the shard."""


class ProvenanceMismatchError(RuntimeError):
    """The output folder already holds labels from a different teacher/prompt."""


def part_path(out_dir: str | Path, shard_file: str) -> Path:
    return Path(out_dir) / PARTS_DIR / (Path(shard_file).stem + ".parquet")


def _check_keys(shard: str, episode_id: np.ndarray, step: np.ndarray, expected: int) -> None:
    keys = set(zip(episode_id.tolist(), step.tolist(), strict=True))
    if len(keys) != len(episode_id):
        raise LabelCountError(f"{shard}: {len(episode_id) - len(keys)} duplicated frames in the labels")
    if len(episode_id) != expected:
        raise LabelCountError(f"{shard}: {len(episode_id)} labeled frames, expected {expected}")


def write_part(out_dir: str | Path, shard_entry: Mapping[str, Any], rows: Mapping[str, np.ndarray],
               provenance: Mapping[str, Any], experts: Sequence[str]) -> Path:
    """Write one shard's labels atomically after checking count and uniqueness (LabelCountError otherwise)."""
    shard = shard_entry["file"]
    order = np.lexsort((np.asarray(rows["step"]), np.asarray(rows["episode_id"])))
    episode_id, step = np.asarray(rows["episode_id"])[order], np.asarray(rows["step"])[order]
    _check_keys(shard, episode_id, step, int(shard_entry["frames"]))
    probs = np.asarray(rows["probs"], dtype=np.float32)[order]
    n, k = probs.shape
    columns = {
        "shard": pa.array([shard] * n, pa.string()),
        "episode_id": pa.array(episode_id.astype(np.int64)),
        "step": pa.array(step.astype(np.int64)),
        "stage": pa.array(np.asarray(rows["stage"])[order].astype(np.int64)),
        "stage_skill": pa.array([str(s) for s in np.asarray(rows["stage_skill"])[order]], pa.string()),
        "probs": pa.FixedSizeListArray.from_arrays(pa.array(probs.reshape(-1)), k),
        "expert": pa.array(np.asarray(rows["expert"])[order].astype(np.int64)),
        "expert_name": pa.array([str(s) for s in np.asarray(rows["expert_name"])[order]], pa.string()),
        "fallback": pa.array(np.asarray(rows["fallback"])[order].astype(bool)),
        "fallback_reason": pa.array([str(s) for s in np.asarray(rows["fallback_reason"])[order]], pa.string()),
        "answer": pa.array([str(s) for s in np.asarray(rows["answer"])[order]], pa.string()),
    }
    for key, value in provenance.items():
        columns[key] = pa.array([value] * n, pa.float64() if isinstance(value, float) else pa.string())
    meta = {"format": LABEL_FORMAT, "provenance": dict(provenance), "experts": list(experts), "shard": shard,
            "shard_sha256": shard_entry["sha256"], "frames": n}
    table = pa.table(columns).replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    path = part_path(out_dir, shard)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def read_part_meta(path: str | Path) -> dict[str, Any] | None:
    """The ``mwx_labels`` metadata and row count of a part, or None if the file is missing or unreadable."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowInvalid):
        return None
    raw = (parquet.schema_arrow.metadata or {}).get(META_KEY)
    if raw is None:
        return None
    return {**json.loads(raw), "num_rows": parquet.metadata.num_rows}


def part_is_complete(out_dir: str | Path, shard_entry: Mapping[str, Any], provenance: Mapping[str, Any],
                     experts: Sequence[str]) -> bool:
    """True if the shard's part exists with all its frames, for this shard content and this teacher.

    Raises :class:`ProvenanceMismatchError` if the part was made by another teacher/prompt: one label
    dataset never mixes teachers (use another ``labeling.out_dir``).
    """
    path = part_path(out_dir, shard_entry["file"])
    meta = read_part_meta(path)
    if meta is None:
        return False
    if meta["provenance"] != dict(provenance) or meta["experts"] != list(experts):
        raise ProvenanceMismatchError(
            f"{path} was labeled by {meta['provenance']} over {meta['experts']}, this job is {dict(provenance)} "
            f"over {list(experts)}; choose another labeling.out_dir"
        )
    return meta["shard_sha256"] == shard_entry["sha256"] and meta["num_rows"] == int(shard_entry["frames"])


def verify_label_dataset(out_dir: str | Path, index: ShardIndex) -> int:
    """Every shard's part holds exactly its keyframes (same (episode, step) keys, no extras, no duplicates).

    Returns the total row count, which then equals ``index.num_frames``; raises :class:`LabelCountError`.
    """
    total = 0
    for entry in index.shards:
        path = part_path(out_dir, entry["file"])
        if not path.is_file():
            raise LabelCountError(f"{entry['file']}: no label part at {path}")
        table = pq.read_table(path, columns=["episode_id", "step"])
        episode_id, step = table["episode_id"].to_numpy(), table["step"].to_numpy()
        _check_keys(entry["file"], episode_id, step, int(entry["frames"]))
        with np.load(index.path_of(entry), allow_pickle=False) as npz:
            rows = npz["keyframe_row"]
            expected = set(zip(npz["episode_id"][rows].tolist(), npz["step"][rows].tolist(), strict=True))
        labeled = set(zip(episode_id.tolist(), step.tolist(), strict=True))
        if labeled != expected:
            missing, extra = sorted(expected - labeled)[:3], sorted(labeled - expected)[:3]
            raise LabelCountError(f"{entry['file']}: labeled frames differ from the shard's keyframes "
                                  f"(missing {missing}, foreign {extra}; (episode, step))")
        total += len(episode_id)
    if total != index.num_frames:
        raise LabelCountError(f"{total} labeled frames in total, the shard index lists {index.num_frames}")
    return total


def summarize_labels(out_dir: str | Path, index: ShardIndex, experts: Sequence[str]) -> dict[str, Any]:
    """Fallback statistics, argmax counts and mean distribution over every part of the dataset."""
    stats = FallbackStats()
    counts = np.zeros(len(experts), dtype=np.int64)
    prob_sum = np.zeros(len(experts), dtype=np.float64)
    for entry in index.shards:
        table = pq.read_table(part_path(out_dir, entry["file"]), columns=["probs", "expert", "fallback",
                                                                          "fallback_reason"])
        stats.add(table["fallback"].to_numpy(zero_copy_only=False), table["fallback_reason"].to_pylist())
        counts += np.bincount(table["expert"].to_numpy(), minlength=len(experts))
        probs = np.asarray(table["probs"].combine_chunks().flatten(), dtype=np.float64).reshape(-1, len(experts))
        prob_sum += probs.sum(axis=0)
    frames = max(stats.frames, 1)
    return {"fallback": stats.to_json(),
            "label_counts": {e: int(c) for e, c in zip(experts, counts, strict=True)},
            "mean_probs": {e: float(p / frames) for e, p in zip(experts, prob_sum, strict=True)}}
