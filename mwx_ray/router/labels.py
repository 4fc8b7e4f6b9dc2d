"""Label sources for the router's supervision term ``λ(t)·KL(w_label ‖ w_router)``.

- ``dataset``: a label dataset (parquet rows ``episode_id, step, probs [K], ...`` from ``mwx label``) joined
  by ``(episode_id, step)`` to the rollout shards it labeled, giving labeled states ``(obs [N, D],
  probs [N, K])``. The learner draws a minibatch of them for every update (the labeled states are not the
  router's own rollouts, so the KL is evaluated on the states the teacher actually saw).
- task priors, one label per stage of the composite task (``stage_table [S, K]``), looked up online from
  ``info["stage"]`` of the router's own rollouts (no label file needed):
  ``oracle`` = the stage's skill one-hot (smoothed); ``text-prior`` = softmax over MiniLM cosine similarity of
  the stage description (or the instruction, ``use_stage_description: false`` → one row for the task) with
  each expert's description; ``constant`` = one configured distribution.
- ``none``: no supervision (the pure-RL ablation).

Column order is the router's expert order everywhere; a dataset whose catalogue orders experts differently
is re-indexed by name, and a dataset without one of the router's experts is an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.config.router_schema import InstructionSection, LabelsSection


@dataclass
class LabeledStates:
    """Offline supervision data: ``obs [N, D]`` float64 raw task observations, ``probs [N, K]`` float32."""

    obs: np.ndarray
    probs: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)


@dataclass
class LabelSource:
    """What the learner needs to build the supervision target (plain data: it travels in the learner config)."""

    kind: str
    experts: tuple[str, ...]
    stage_table: np.ndarray | None = None  # [S, K]; S = 1 means the same label in every stage
    dataset_dir: str | None = None
    shards_dir: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def online(self) -> bool:
        """Labels come from the router's own rollouts (task priors), looked up by stage."""
        return self.stage_table is not None

    def labels_for_stages(self, stages: np.ndarray) -> np.ndarray:
        """Stage indices ``[N]`` -> labels ``[N, K]`` (stages past the table's end use its last row)."""
        table = self.stage_table
        index = np.clip(np.asarray(stages, dtype=np.int64), 0, table.shape[0] - 1)
        return table[index]

    def to_plain(self) -> dict[str, Any]:
        table = None if self.stage_table is None else self.stage_table.tolist()
        return {"kind": self.kind, "experts": list(self.experts), "stage_table": table,
                "dataset_dir": self.dataset_dir, "shards_dir": self.shards_dir, "provenance": self.provenance}

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> LabelSource:
        table = None if data["stage_table"] is None else np.asarray(data["stage_table"], dtype=np.float32)
        return cls(kind=data["kind"], experts=tuple(data["experts"]), stage_table=table,
                   dataset_dir=data["dataset_dir"], shards_dir=data["shards_dir"], provenance=data["provenance"])


def smooth(probs: np.ndarray, label_smoothing: float) -> np.ndarray:
    """``(1 − ε)·p + ε/K`` row-wise, float32."""
    k = probs.shape[-1]
    return ((1.0 - label_smoothing) * probs + label_smoothing / k).astype(np.float32)


def oracle_table(stage_skills: Sequence[str], experts: Sequence[str], label_smoothing: float) -> np.ndarray:
    """``[S, K]``: row s is the one-hot of stage s's skill among ``experts`` (smoothed)."""
    missing = sorted({skill for skill in stage_skills if skill not in experts})
    if missing:
        raise ValueError(f"oracle labels: stages call for skills {missing} that are not router experts {list(experts)}")
    one_hot = np.eye(len(experts), dtype=np.float32)[[list(experts).index(s) for s in stage_skills]]
    return smooth(one_hot, label_smoothing)


def text_prior_table(texts: Sequence[str], expert_descriptions: Sequence[str], settings: InstructionSection,
                     temperature: float, label_smoothing: float) -> np.ndarray:
    """``[S, K]``: ``softmax(cos(text_s, description_k) / temperature)`` with sentence embeddings, smoothed."""
    from mwx_ray.router.instruction import embed_texts

    queries = embed_texts(list(texts), settings)
    keys = embed_texts(list(expert_descriptions), settings)
    cosine = queries @ keys.T / np.maximum(
        np.linalg.norm(queries, axis=1, keepdims=True) * np.linalg.norm(keys, axis=1)[None], 1e-9)
    z = cosine / temperature
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return smooth(z / z.sum(axis=1, keepdims=True), label_smoothing)


def expert_descriptions(experts: Sequence[str]) -> list[str]:
    """Each expert's one-line description (its registered skill task's description)."""
    from mwx_ray.labeling.catalogue import skill_description

    return [skill_description(skill) for skill in experts]


def build_label_source(section: LabelsSection, experts: Sequence[str], task: Any,
                       instruction: InstructionSection) -> LabelSource:
    """The label source of a router run; ``task`` is the composite task instance (``.stages``, ``.instruction``)."""
    experts = tuple(experts)
    kind = section.source
    if kind == "none":
        return LabelSource(kind, experts)
    if kind == "constant":
        table = np.asarray([section.constant], dtype=np.float32)
        return LabelSource(kind, experts, stage_table=table / table.sum(), provenance={"constant": section.constant})
    if kind == "dataset":
        return LabelSource(kind, experts, dataset_dir=section.dataset_dir, shards_dir=section.shards_dir,
                           provenance={"dataset_dir": str(section.dataset_dir)})
    stages = list(getattr(task, "stages", ()))
    if not stages:
        raise ValueError(f"labels.source={kind} needs a composite task with stages; "
                         f"{type(task).__name__} has none (use dataset, constant or none)")
    if kind == "oracle":
        table = oracle_table([s.skill for s in stages], experts, section.label_smoothing)
        return LabelSource(kind, experts, stage_table=table, provenance={"stages": [s.skill for s in stages]})
    texts = [s.description for s in stages] if section.use_stage_description else [task.instruction]
    table = text_prior_table(texts, expert_descriptions(experts), instruction, section.temperature,
                             section.label_smoothing)
    return LabelSource(kind, experts, stage_table=table,
                       provenance={"texts": texts, "encoder": instruction.encoder, "temperature": section.temperature})


def _dataset_catalogue(folder: Path) -> tuple[list[str] | None, str | None]:
    """Expert order and shards folder recorded next to the parquet files (any JSON with those keys)."""
    experts, shards_dir = None, None
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        if experts is None and isinstance(data.get("catalogue"), dict):
            experts = list(data["catalogue"])
        if experts is None and isinstance(data.get("experts"), list):
            experts = [str(e) for e in data["experts"]]
        if shards_dir is None and isinstance(data.get("shards_dir"), str):
            shards_dir = data["shards_dir"]
    return experts, shards_dir


def _infer_order_from_rows(frame) -> list[str] | None:
    """Catalogue order from ``(expert, expert_name)`` pairs when every index appears at least once."""
    if not {"expert", "expert_name"} <= set(frame.columns):
        return None
    k = len(frame["probs"].iloc[0])
    pairs = dict(zip(frame["expert"].astype(int), frame["expert_name"].astype(str), strict=True))
    return [pairs[i] for i in range(k)] if set(pairs) == set(range(k)) else None


def load_labeled_states(dataset_dir: str | Path, shards_dir: str | Path | None, experts: Sequence[str], *,
                        time_feature_horizon: int | None = None,
                        stage_feature_count: int | None = None) -> LabeledStates:
    """Join the label parquet rows with their rollout shards by ``(episode_id, step)``; reorder to ``experts``.

    ``time_feature_horizon``: a router with the clock (``router.time_feature``) observes ``min(step / T, 1)``
    after the task observation (``router/transitions.py::TimeFeatureWrapper``), and with ``router.stage_feature``
    the one-hot of the active stage (``StageFeatureWrapper``, ``stage_feature_count`` = S) after that; the shards
    store the task observation, the step and the stage, so both are appended here the same way."""
    import pandas as pd

    from mwx_ray.labeling.shards import ShardIndex

    folder = Path(dataset_dir)
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no parquet label files under {folder}")
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    for column in ("episode_id", "step", "probs"):
        if column not in frame.columns:
            raise ValueError(f"label dataset {folder} has no column {column!r} (columns: {list(frame.columns)})")
    order, recorded_shards = _dataset_catalogue(folder)
    order = order or _infer_order_from_rows(frame)
    if order is None:
        raise ValueError(f"label dataset {folder}: cannot tell which expert each probs column is (no JSON with "
                         "'catalogue' or 'experts' next to the parquet files)")
    missing = [e for e in experts if e not in order]
    if missing:
        raise ValueError(f"label dataset {folder} has no column for router experts {missing} (it has {order})")
    shards_dir = shards_dir or recorded_shards
    if shards_dir is None:
        raise ValueError(f"label dataset {folder}: set router.labels.shards_dir to the rollout shards it labeled")
    rows: dict[tuple[int, int], np.ndarray] = {}
    for _entry, shard in ShardIndex.load(shards_dir).iter_shards():
        arrays = shard.arrays
        for i, (episode, step) in enumerate(zip(arrays["episode_id"], arrays["step"], strict=True)):
            rows[(int(episode), int(step))] = arrays["obs"][i]
    keys = list(zip(frame["episode_id"].astype(int), frame["step"].astype(int), strict=True))
    unmatched = [key for key in keys if key not in rows]
    if unmatched:
        raise ValueError(f"{len(unmatched)} labels have no shard row in {shards_dir} (first: episode "
                         f"{unmatched[0][0]}, step {unmatched[0][1]}): labels and shards do not belong together")
    probs = np.stack([np.asarray(p, dtype=np.float32) for p in frame["probs"]])[:, [order.index(e) for e in experts]]
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-9, None)
    obs = np.stack([rows[key] for key in keys]).astype(np.float64)
    if time_feature_horizon:
        from mwx_ray.router.transitions import elapsed_fraction

        clock = elapsed_fraction([step for _, step in keys], time_feature_horizon)
        obs = np.concatenate([obs, clock[:, None]], axis=1)
    if stage_feature_count:
        from mwx_ray.router.transitions import stage_one_hot

        if "stage" not in frame.columns:
            raise ValueError(f"label dataset {folder} has no 'stage' column, which router.stage_feature needs")
        stages = frame["stage"].astype(int).to_numpy()
        if stages.min() < 0 or stages.max() >= stage_feature_count:
            raise ValueError(f"label dataset {folder}: stages {stages.min()}..{stages.max()} do not fit a task "
                             f"with {stage_feature_count} stages")
        obs = np.concatenate([obs, stage_one_hot(stages, stage_feature_count)], axis=1)
    provenance = {"dataset_dir": str(folder), "shards_dir": str(shards_dir), "rows": len(keys),
                  "dataset_experts": order}
    return LabeledStates(obs=obs, probs=probs.astype(np.float32), provenance=provenance)
