"""Episode shards: what ``mwx rollouts collect`` writes and ``mwx label`` reads.

A shard folder holds ``shard-00000.npz``, ``shard-00001.npz``, ... (one or more whole episodes each) and
``index.json`` listing the complete shards. Every file is written atomically (temporary sibling + rename) and
the index is rewritten after each shard, so an interrupted collection leaves only complete, listed shards.
Nothing is pickled: arrays are plain numeric/uint8 ``.npz`` members and metadata is a JSON string member.

Arrays of a shard (T = env steps of all its episodes, F = keyframes; row t is the state *before* action t):

=================  ==============  =========================================================================
``episode_id``     [T] int64       global episode number within the collection
``step``           [T] int32       env step within the episode (0 = state right after reset)
``obs``            [T, D] float64  observation the policy saw
``action``         [T, A] float32  action taken in that state (env action space, [-1, 1])
``reward``         [T] float64     reward received for that action
``qpos``/``qvel``  [T, nq]/[T, nv] simulator state (float64, MuJoCo units: m, rad, m/s, rad/s)
``time``           [T] float64     simulation time, s
``stage``          [T] int16       active stage index of the composite task in that state
``expert``         [T] int16       catalogue-free index of the acting expert in ``meta.policy.experts`` (-1: none)
``keyframe_row``   [F] int64       row of each keyframe (a keyframe every ``keyframe_every`` steps)
``keyframes``      [F, H, W, 3]    rendered RGB uint8 frames of those rows
``meta``           0-d str         JSON: task, instruction, stages (name/skill/description), rates, episodes
=================  ==============  =========================================================================
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.atomic_io import atomic_path, atomic_write_text

SHARD_FORMAT = "mwx-rollout-shard/1"
INDEX_FILE = "index.json"
ROW_ARRAYS = ("episode_id", "step", "obs", "action", "reward", "qpos", "qvel", "time", "stage", "expert")
KEYFRAME_ARRAYS = ("keyframe_row", "keyframes")


class ShardFormatError(ValueError):
    """A shard or index file that is missing, incomplete or inconsistent (the message names the file)."""


def shard_file_name(number: int) -> str:
    return f"shard-{number:05d}.npz"


@dataclass
class Shard:
    """One shard in memory: ``arrays`` (see the module table) and ``meta`` (parsed JSON)."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    name: str = ""

    @property
    def num_steps(self) -> int:
        return int(self.arrays["step"].shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.arrays["keyframe_row"].shape[0])

    def validate(self) -> None:
        """Raise :class:`ShardFormatError` naming the shard if arrays and metadata disagree."""
        where = self.name or "shard"
        missing = [k for k in (*ROW_ARRAYS, *KEYFRAME_ARRAYS) if k not in self.arrays]
        if missing:
            raise ShardFormatError(f"{where}: missing arrays {missing}")
        if self.meta.get("format") != SHARD_FORMAT:
            raise ShardFormatError(f"{where}: format {self.meta.get('format')!r}, expected {SHARD_FORMAT!r}")
        steps = self.num_steps
        for key in ROW_ARRAYS:
            if self.arrays[key].shape[0] != steps:
                raise ShardFormatError(f"{where}: {key} has {self.arrays[key].shape[0]} rows, expected {steps}")
        frames, rows = self.arrays["keyframes"], self.arrays["keyframe_row"]
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] != rows.shape[0]:
            raise ShardFormatError(f"{where}: keyframes must be [F, H, W, 3] uint8 with F = {rows.shape[0]}, "
                                   f"got {frames.shape} {frames.dtype}")
        if rows.size and (rows.min() < 0 or rows.max() >= steps):
            raise ShardFormatError(f"{where}: keyframe_row out of range [0, {steps})")
        stage_count = len(self.meta.get("stages", []))
        if steps and (self.arrays["stage"].min() < 0 or self.arrays["stage"].max() >= stage_count):
            raise ShardFormatError(f"{where}: stage index outside the task's {stage_count} stages")

    def frame_records(self) -> dict[str, np.ndarray]:
        """The keyframes as labeling rows (F each): ids, stage info, instruction and ``frame [F, H, W, 3]``."""
        rows = self.arrays["keyframe_row"]
        stages = self.meta["stages"]
        stage = self.arrays["stage"][rows].astype(np.int64)
        return {
            "episode_id": self.arrays["episode_id"][rows].astype(np.int64),
            "step": self.arrays["step"][rows].astype(np.int64),
            "stage": stage,
            "stage_skill": np.array([stages[s]["skill"] for s in stage], dtype=object),
            "stage_description": np.array([stages[s]["description"] for s in stage], dtype=object),
            "instruction": np.array([self.meta["instruction"]] * len(rows), dtype=object),
            "frame": self.arrays["keyframes"],
        }


def write_shard(path: str | Path, shard: Shard) -> dict[str, Any]:
    """Validate and write ``shard`` atomically; returns its index entry (file, counts, sha256)."""
    path = Path(path)
    shard.name = shard.name or path.name
    shard.validate()
    members = {key: np.ascontiguousarray(shard.arrays[key]) for key in (*ROW_ARRAYS, *KEYFRAME_ARRAYS)}
    members["meta"] = np.array(json.dumps(shard.meta, sort_keys=True))
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **members)
    return {
        "file": path.name,
        "episodes": sorted({int(e) for e in shard.arrays["episode_id"]}),
        "steps": shard.num_steps,
        "frames": shard.num_frames,
        "sha256": file_sha256(path),
    }


def read_shard(path: str | Path) -> Shard:
    """Load a shard (no pickle) and validate it; errors name the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files if key != "meta"}
            meta = json.loads(str(npz["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise ShardFormatError(f"{path}: unreadable shard ({err})") from err
    shard = Shard(arrays=arrays, meta=meta, name=path.name)
    shard.validate()
    return shard


def read_frame_records(path: str | Path, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Keyframes ``[start, stop)`` of a shard as labeling rows (see :meth:`Shard.frame_records`).

    ``.npz`` members load lazily, so observations, actions and simulator state are not even decompressed.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            rows = npz["keyframe_row"][start:stop]
            arrays = {key: npz[key][rows] for key in ("episode_id", "step", "stage")}
            arrays["keyframes"] = npz["keyframes"][start:stop]
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as err:
        raise ShardFormatError(f"{path}: unreadable shard ({err})") from err
    arrays["keyframe_row"] = np.arange(len(rows))  # rows of the already-selected arrays above
    return Shard(arrays=arrays, meta=meta, name=path.name).frame_records()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ShardIndex:
    """``index.json`` of a shard folder: collection-wide metadata and one entry per complete shard."""

    folder: Path
    meta: dict[str, Any]
    shards: list[dict[str, Any]]

    @property
    def num_frames(self) -> int:
        return sum(int(entry["frames"]) for entry in self.shards)

    @property
    def num_episodes(self) -> int:
        return sum(len(entry["episodes"]) for entry in self.shards)

    def path_of(self, entry: Mapping[str, Any]) -> Path:
        return self.folder / entry["file"]

    def save(self) -> Path:
        payload = {"format": SHARD_FORMAT, **self.meta, "shards": self.shards}
        return atomic_write_text(self.folder / INDEX_FILE, json.dumps(payload, indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> ShardIndex:
        folder = Path(folder)
        index_path = folder / INDEX_FILE
        if not index_path.is_file():
            raise ShardFormatError(f"{folder}: no {INDEX_FILE}; run `mwx rollouts collect` first")
        payload = json.loads(index_path.read_text())
        if payload.pop("format", None) != SHARD_FORMAT:
            raise ShardFormatError(f"{index_path}: not a {SHARD_FORMAT} index")
        shards = payload.pop("shards")
        for entry in shards:
            if not (folder / entry["file"]).is_file():
                raise ShardFormatError(f"{index_path}: lists {entry['file']}, which does not exist")
        return cls(folder=folder, meta=payload, shards=shards)

    @classmethod
    def open_or_create(cls, folder: str | Path, meta: Mapping[str, Any]) -> ShardIndex:
        """The existing index (its metadata must match ``meta``) or a new empty one."""
        folder = Path(folder)
        if not (folder / INDEX_FILE).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            return cls(folder=folder, meta=dict(meta), shards=[])
        index = cls.load(folder)
        changed = sorted(k for k in meta if index.meta.get(k) != meta[k])
        if changed:
            raise ShardFormatError(
                f"{folder / INDEX_FILE}: existing shards were collected with different {changed}; "
                "use a new rollouts out_dir or delete the old shards"
            )
        return index

    def iter_shards(self) -> Iterator[tuple[dict[str, Any], Shard]]:
        for entry in self.shards:
            yield entry, read_shard(self.path_of(entry))

    def episode_summaries(self) -> list[dict[str, Any]]:
        """Every episode's summary (return, steps, success, stages completed), as the collector recorded it."""
        return [summary for _, shard in self.iter_shards() for summary in shard.meta.get("episodes", [])]
