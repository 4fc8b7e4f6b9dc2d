"""How configs and Tune results become MLflow params and metrics, and where a sweep's run ids are kept.

Ray-free, so the expert registry and unit tests use it without a Ray runtime.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS

RUNS_FILE = "mlflow_runs.json"
STEP_KEY = "env_steps"
HPARAM_PREFIX = "hparams/"
# Tune bookkeeping that is numeric but not a measurement (or not numeric at all).
_NOT_METRICS = {"config", "pid", "timestamp", "date", "hostname", "node_ip", "trial_id", "experiment_tag",
                "done", "should_checkpoint", "checkpoint_dir_name"}
_MLFLOW_PARAM_MAX_CHARS = 6000  # mlflow.utils.validation MAX_PARAM_VAL_LENGTH


def flatten(tree: Mapping[str, Any], sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> ``{"a.b.c": leaf}``; lists and scalars are leaves; empty mappings vanish."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, sep, name + sep))
        else:
            flat[name] = value
    return flat


def param_value(value: Any) -> str:
    """A param as MLflow stores it: JSON for lists/None/bools (unambiguous), str otherwise, length-capped."""
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, list | tuple | bool) or value is None \
        else str(value)
    return text[:_MLFLOW_PARAM_MAX_CHARS]


def metric_key(name: str) -> str:
    """MLflow accepts letters, digits and ``_ - . / space``; anything else becomes ``_``."""
    return re.sub(r"[^\w\-./ ]", "_", name)


def numeric_metrics(result: Mapping[str, Any]) -> dict[str, float]:
    """Finite int/float leaves of a Tune result, keyed by their ``/``-joined path (bools excluded)."""
    metrics = {}
    for key, value in flatten({k: v for k, v in result.items() if k not in _NOT_METRICS}, sep="/").items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            metrics[metric_key(key)] = float(value)
    return metrics


def result_step(result: Mapping[str, Any]) -> int:
    """MLflow step of a result: env steps sampled so far, else the training iteration."""
    return int(result.get(STEP_KEY, result.get("training_iteration", 0)) or 0)


def mutable_hyperparameters(loaded_config) -> frozenset[str]:
    """Fields of the algorithm's section (PPO or SAC) that PBT mutates (``experts.scheduler.mutations``);
    empty for other schedulers."""
    scheduler = loaded_config.config.experts.scheduler
    return frozenset(scheduler.mutations) if scheduler.name == "pbt" else frozenset()


def split_trial_config(trial_config: Mapping[str, Any], mutable: frozenset[str]) -> tuple[dict, dict]:
    """Trial config -> (immutable params ``{dotted: str}``, mutable hyperparameters ``{name: float}``).

    A mutable name matches ``<algorithm>.<name>`` (``ppo.lr``, ``sac.actor_lr``) or a top-level ``<name>``.
    """
    params, mutable_values = {}, {}
    for key, value in flatten(trial_config).items():
        if key.startswith("__"):
            continue  # Tune internals such as __trial_index__
        head, _, tail = key.partition(".")
        name = tail if tail and head in ALGORITHM_SECTIONS else key
        if name in mutable:
            if isinstance(value, int | float) and not isinstance(value, bool):
                mutable_values[name] = float(value)
            continue
        params[key] = param_value(value)
    return params, mutable_values


@dataclass
class RunIds:
    """Where a sweep's runs live; persisted so a restored sweep re-attaches to them."""

    tracking_uri: str
    experiment_id: str | None = None
    parent_run_id: str | None = None
    children: dict[str, str] = field(default_factory=dict)  # trial id -> child run id

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> RunIds | None:
        path = Path(path)
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(data["tracking_uri"], data.get("experiment_id"), data.get("parent_run_id"),
                   dict(data.get("children") or {}))
