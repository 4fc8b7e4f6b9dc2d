"""The expert registry: one exported expert per skill plus a manifest, loadable without Ray or Tune.

Layout (written by ``mwx export-experts``, see ``experts/registry_export.py``)::

    <registry>/manifest.json          format mwx-expert-registry/1: one entry per skill (below)
    <registry>/<skill>/manifest.json  the expert folder (experts/export.py): weights + normalizer
    <registry>/<skill>/weights.safetensors

A registry entry records the skill, algorithm (ppo | sac), robot, env id, observation/action spaces, a normalizer summary, the
evaluation metrics of the chosen checkpoint, where it came from (experiment, trial, checkpoint, MLflow
run) and package versions. Routers and ``mwx eval`` use :class:`ExpertRegistry` or :func:`load_expert`.

Selection rule (:func:`select_best`): per skill, the checkpoint with the highest ``hb/return`` from
deterministic evaluation; ties go to the higher ``hb/success``, then to the smaller trial id (stable).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwx_ray.experts.policy import MANIFEST_FILE, MANIFEST_FORMAT, ExpertPolicy, is_expert_manifest

REGISTRY_FORMAT = "mwx-expert-registry/1"
RANK_METRIC = "hb/return"
TIE_BREAK_METRIC = "hb/success"
_MWX_ENV_ID = re.compile(r"^mwx/(?P<robot>[a-z0-9_]+)-(?P<task>[a-z0-9_]+)-v\d+$")


def robot_of(env_id: str) -> str | None:
    """``mwx/h1-walk-v0`` -> ``h1``; None for env ids outside the mwx namespace."""
    match = _MWX_ENV_ID.match(env_id)
    return match["robot"] if match else None


def _finite_or_minus_inf(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return number if math.isfinite(number) else -math.inf


@dataclass(frozen=True)
class Candidate:
    """One kept checkpoint of one trial, with the metrics Tune recorded when it was saved."""

    skill: str
    trial_id: str
    env_id: str
    checkpoint: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    storage_filesystem: Any = field(default=None, compare=False, repr=False)  # pyarrow fs of the checkpoint
    task: Mapping[str, Any] | None = field(default=None, compare=False)  # the trial's plain env.task settings

    def rank_key(self) -> tuple[float, float]:
        """Larger is better: (``hb/return``, ``hb/success``); missing or NaN values rank last."""
        return (_finite_or_minus_inf(self.metrics.get(RANK_METRIC)),
                _finite_or_minus_inf(self.metrics.get(TIE_BREAK_METRIC)))


def select_best(candidates: Iterable[Candidate]) -> dict[str, Candidate]:
    """The best candidate per skill, in skill order (see the module docstring for the rule)."""
    best: dict[str, Candidate] = {}
    # Sorting by trial id and checkpoint first makes exact ties resolve the same way on every run.
    for candidate in sorted(candidates, key=lambda c: (c.trial_id, c.checkpoint)):
        current = best.get(candidate.skill)
        if current is None or candidate.rank_key() > current.rank_key():
            best[candidate.skill] = candidate
    return dict(sorted(best.items()))


@dataclass(frozen=True)
class RegistryEntry:
    """One skill's expert in a registry; ``record`` is its entry in the registry manifest."""

    skill: str
    folder: Path
    record: Mapping[str, Any]

    @property
    def env_id(self) -> str:
        return self.record["env_id"]

    @property
    def robot(self) -> str | None:
        return self.record.get("robot")

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.record.get("metrics", {})

    @property
    def algorithm(self) -> str:
        """``ppo`` or ``sac`` (registries written before SAC existed hold PPO experts)."""
        return self.record.get("algorithm", "ppo")

    @property
    def mlflow_run_id(self) -> str | None:
        return (self.record.get("mlflow") or {}).get("run_id")

    def load_policy(self) -> ExpertPolicy:
        """The expert, checked against the parameter hash recorded at export time."""
        policy = ExpertPolicy.load(self.folder)
        expected = self.record.get("parameter_hash")
        if expected and policy.parameter_hash() != expected:
            raise ValueError(f"{self.folder}: parameters differ from the registry's parameter_hash {expected}")
        return policy


@dataclass(frozen=True)
class ExpertRegistry:
    """A registry folder: ``ExpertRegistry.load(dir).entries["walk"].load_policy().act(obs)``."""

    root: Path
    manifest: Mapping[str, Any]
    entries: Mapping[str, RegistryEntry]

    @classmethod
    def load(cls, root: str | Path) -> ExpertRegistry:
        root = Path(root)
        path = root / MANIFEST_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{root} is not an expert registry: no {MANIFEST_FILE}")
        manifest = json.loads(path.read_text())
        if manifest.get("format") != REGISTRY_FORMAT:
            raise ValueError(f"{path}: format {manifest.get('format')!r}, expected {REGISTRY_FORMAT!r}")
        entries = {skill: RegistryEntry(skill, root / record["folder"], record)
                   for skill, record in manifest["experts"].items()}
        return cls(root=root, manifest=manifest, entries=entries)

    @property
    def skills(self) -> list[str]:
        return sorted(self.entries)

    def entry(self, skill: str) -> RegistryEntry:
        if skill not in self.entries:
            raise KeyError(f"no expert for skill {skill!r} in {self.root}; skills: {self.skills}")
        return self.entries[skill]

    def policy(self, skill: str) -> ExpertPolicy:
        return self.entry(skill).load_policy()


def _manifest_format(folder: Path) -> str | None:
    path = folder / MANIFEST_FILE
    return json.loads(path.read_text()).get("format") if path.is_file() else None


def load_expert(spec: str | Path) -> tuple[ExpertPolicy, dict[str, Any]]:
    """An expert from ``<expert folder>`` or ``<registry dir>:<skill>`` -> (policy, description).

    The description has ``env_id``, ``skill`` (None for a bare folder), ``folder`` and ``metrics``.
    """
    text = str(spec)
    folder, skill = Path(text), None
    if not folder.is_dir() and ":" in text:
        root, _, skill = text.rpartition(":")
        folder = Path(root)
    kind = _manifest_format(folder) if folder.is_dir() else None
    if is_expert_manifest(kind) and skill is None:
        policy = ExpertPolicy.load(folder)
        return policy, {"env_id": policy.manifest["env_id"], "skill": None, "folder": str(folder), "metrics": {}}
    if kind == REGISTRY_FORMAT:
        registry = ExpertRegistry.load(folder)
        if skill is None:
            if len(registry.skills) != 1:
                raise ValueError(f"{folder} is a registry of {registry.skills}: name one as {folder}:<skill>")
            skill = registry.skills[0]
        entry = registry.entry(skill)
        return entry.load_policy(), {"env_id": entry.env_id, "skill": skill, "folder": str(entry.folder),
                                     "metrics": dict(entry.metrics)}
    raise FileNotFoundError(f"{spec!r} is neither an expert folder ({MANIFEST_FORMAT}) nor "
                            f"<registry dir>:<skill> ({REGISTRY_FORMAT})")
