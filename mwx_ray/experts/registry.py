"""The expert registry: one exported expert per skill plus a manifest, loadable without Ray or Tune.

Layout (written by ``mwx export-experts``, see ``experts/registry_export.py``)::

    <registry>/manifest.json          format mwx-expert-registry/1: one entry per skill (below)
    <registry>/<skill>/manifest.json  the expert folder (experts/export.py): weights + normalizer
    <registry>/<skill>/weights.safetensors

A registry entry records the skill, algorithm (ppo | sac), robot, env id, observation/action spaces, a normalizer summary, the
evaluation metrics of the chosen checkpoint, where it came from (experiment, trial, checkpoint, MLflow
run) and package versions. Routers and ``mwx eval`` use :class:`ExpertRegistry` or :func:`load_expert`.

Selection rules (:data:`SELECTIONS`): ``best`` (:func:`select_best`, the default): per skill, the checkpoint with the
highest ``hb/return`` from deterministic evaluation; ties go to the higher ``hb/success``, then to the smaller trial
id (stable). ``latest`` (:func:`select_latest`): per skill, the most trained kept checkpoint (most env steps; Tune
always keeps a trial's latest checkpoint, whatever ``keep_best``) —
for fine-tuning that trains for robustness past the bar, where the first checkpoint over the bar is not the goal.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwx_ray.experts.policy import MANIFEST_FILE, ExpertPolicy, is_expert_manifest

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
    plugins: list[str] = field(default_factory=list, compare=False)  # the trial's run.plugins
    init_lineage: Mapping[str, Any] | None = field(default=None, compare=False)  # warm start, as the sweep began

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


def select_latest(candidates: Iterable[Candidate]) -> dict[str, Candidate]:
    """The most trained candidate per skill (most env steps, then training iterations); ties as select_best."""
    def progress(candidate: Candidate) -> tuple[float, float, tuple[float, float]]:
        metrics = candidate.metrics
        return (_finite_or_minus_inf(metrics.get("env_steps")),
                _finite_or_minus_inf(metrics.get("training_iteration")), candidate.rank_key())

    latest: dict[str, Candidate] = {}
    for candidate in sorted(candidates, key=lambda c: (c.trial_id, c.checkpoint)):
        current = latest.get(candidate.skill)
        if current is None or progress(candidate) > progress(current):
            latest[candidate.skill] = candidate
    return dict(sorted(latest.items()))


SELECTIONS = {"best": select_best, "latest": select_latest}


@dataclass(frozen=True)
class RegistryEntry:
    """One expert in a registry; ``record`` is its entry in the registry manifest. ``skill`` is the registry's key
    for it: the skill, or the name a variant was published under (``getup``, a stand expert); the skill it was
    trained on is ``record["skill"]``."""

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


ZOO = "zoo"  # the pretrained expert zoo shipped inside the package (mwx_ray/zoo: a registry folder)


def zoo_root() -> Path:
    """The zoo registry folder (``mwx_ray/zoo``, shipped in the wheel)."""
    return Path(__file__).resolve().parents[1] / ZOO


def _manifest_format(folder: Path) -> str | None:
    path = folder / MANIFEST_FILE
    return json.loads(path.read_text()).get("format") if path.is_file() else None


def split_source(spec: str | Path) -> tuple[Path, str | None]:
    """``(folder, skill or None)`` of an expert source: ``zoo``, ``zoo:<skill>``, ``<registry dir>:<skill>``, or a
    folder (an expert folder, a registry, or a folder of ``<skill>/`` expert folders)."""
    text = str(spec)
    if text == ZOO or text.startswith(ZOO + ":"):
        return zoo_root(), (text.partition(":")[2] or None)
    folder = Path(text)
    if not folder.is_dir() and ":" in text:
        root, _, skill = text.rpartition(":")
        return Path(root), skill
    return folder, None


def expert_folder(source: str | Path, skill: str | None = None) -> Path:
    """The one way to find an expert: the folder of ``skill``'s expert in ``source`` (see :func:`split_source`).

    A registry is looked up by skill (its parameter hash is checked on load); a plain folder of expert folders by
    ``<source>/<skill>``; an expert folder is itself. Missing experts fail naming what was looked for.
    """
    folder, named = split_source(source)
    skill = skill or named
    kind = _manifest_format(folder) if folder.is_dir() else None
    if is_expert_manifest(kind):
        return folder
    if kind == REGISTRY_FORMAT:
        registry = ExpertRegistry.load(folder)
        if skill is None:
            if len(registry.skills) != 1:
                raise ValueError(f"{folder} is a registry of {registry.skills}: name one as {folder}:<skill>")
            skill = registry.skills[0]
        return registry.entry(skill).folder
    candidate = folder / (skill or "")
    if skill and (candidate / MANIFEST_FILE).is_file():
        return candidate
    hint = " (the zoo is empty in this install)" if folder == zoo_root() else ""
    raise FileNotFoundError(f"no exported expert for {skill or 'this source'!r} in {source}: not an expert folder, "
                            f"not an expert registry, and {candidate / MANIFEST_FILE} does not exist{hint}; export "
                            "experts first (mwx export-experts) or name zoo:<skill>")


def resolve_expert_folders(experts_dir: str | Path, skills: Sequence[str],
                           explicit: Mapping[str, str] | None = None) -> dict[str, Path]:
    """Expert folder per skill: ``explicit[skill]`` (any expert source, e.g. ``zoo:getup``), else the skill's
    expert in ``experts_dir`` (a registry, ``zoo``, or a folder of ``<skill>/`` folders)."""
    explicit = dict(explicit or {})
    return {skill: expert_folder(explicit[skill]) if skill in explicit else expert_folder(experts_dir, skill)
            for skill in skills}


def load_expert(spec: str | Path) -> tuple[ExpertPolicy, dict[str, Any]]:
    """An expert from any source :func:`split_source` accepts -> (policy, description).

    The description has ``env_id``, ``skill`` (None for a bare expert folder), ``folder`` and ``metrics`` (the
    registry's record of it, when it came from a registry).
    """
    root, skill = split_source(spec)
    located = expert_folder(spec)
    if root.is_dir() and _manifest_format(root) == REGISTRY_FORMAT:
        registry = ExpertRegistry.load(root)
        entry = next(e for e in registry.entries.values() if e.folder == located)
        return entry.load_policy(), {"env_id": entry.env_id, "skill": entry.skill, "folder": str(entry.folder),
                                     "metrics": dict(entry.metrics)}
    policy = ExpertPolicy.load(located)
    return policy, {"env_id": policy.manifest["env_id"], "skill": skill, "folder": str(located), "metrics": {}}
