"""Export the best checkpoint per skill of a Tune expert sweep into an expert registry.

Reads the experiment folder with Tune's ``ExperimentAnalysis`` (no Ray runtime, no trainable needed): each
trial's kept checkpoints with the metrics reported alongside them. The winner per skill
(``registry.select_best``) is exported with ``export_checkpoint`` (pickle-free expert folder), then the
registry ``manifest.json`` is written atomically, last. If the sweep was tracked (``mlflow_runs.json`` in
the experiment folder or its parent), each exported folder is also logged to its trial's MLflow child run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.experts.export import export_checkpoint
from mwx_ray.experts.policy import MANIFEST_FILE, ExpertPolicy
from mwx_ray.experts.registry import (
    RANK_METRIC,
    REGISTRY_FORMAT,
    SELECTIONS,
    TIE_BREAK_METRIC,
    Candidate,
    ExpertRegistry,
    robot_of,
)
from mwx_ray.tracking.guarded_client import GuardedMlflow, TrackingReport
from mwx_ray.tracking.run_record import package_versions
from mwx_ray.tracking.run_values import RUNS_FILE, RunIds, numeric_metrics

# Metrics copied into a registry entry (plus every reward_terms/<term>), as reported with the checkpoint.
_ENTRY_METRICS = ("hb/return", "hb/return_std", "hb/success", "env_steps", "training_iteration", "time/wall_s",
                  "train/episode_return_mean")
MLFLOW_ARTIFACT_DIR = "expert"
ALGORITHM_SUBDIR = "algorithm"  # mwx_ray.tune.trial_loop.ALGORITHM_DIR (not imported: that module needs Ray)
SWEEP_RECORD_FILE = "mwx_sweep.json"  # mwx_ray.tune.sweep.SWEEP_RECORD_FILE: {"run_dir": ...}


@dataclass
class ExportOutcome:
    registry: ExpertRegistry
    tracking: TrackingReport | None  # None when the sweep has no MLflow record


def sweep_candidates(experiment_path: str | Path) -> list[Candidate]:
    """Every kept checkpoint of every trial of a Tune experiment (config must carry skill and env_id)."""
    from ray.tune import ExperimentAnalysis

    analysis = ExperimentAnalysis(str(experiment_path))
    candidates = []
    for trial in analysis.trials:
        config = trial.config
        if "skill" not in config or "env_id" not in config:
            raise ValueError(f"trial {trial.trial_id} config has no skill/env_id: not an expert sweep")
        manager = trial.run_metadata.checkpoint_manager
        kept = list(manager.best_checkpoint_results)
        latest = manager.latest_checkpoint_result
        # Tune keeps the latest checkpoint on disk beside the num_to_keep best but lists it only here.
        if latest is not None and all(r.checkpoint.path != latest.checkpoint.path for r in kept):
            kept.append(latest)
        for result in kept:
            path = result.checkpoint.path
            if not Path(path).exists():  # experiment moved since: same checkpoint name under the new trial dir
                path = str(Path(trial.storage.trial_fs_path) / Path(path).name)
            candidates.append(Candidate(
                skill=str(config["skill"]), trial_id=trial.trial_id, env_id=str(config["env_id"]),
                checkpoint=path, metrics=dict(result.metrics), seed=config.get("seed"),
                storage_filesystem=trial.storage.storage_filesystem, task=config.get("task"),
                plugins=list(config.get("plugins") or []), init_lineage=config.get("init_lineage"),
            ))
    return candidates


def rllib_checkpoint_dir(folder: Path) -> Path:
    """The ``Algorithm.save_to_path`` folder inside a Tune checkpoint: the checkpoint itself, or its
    ``algorithm/`` subfolder (``mwx_ray.experts.trainable.ALGORITHM_DIR``, next to its progress counters)."""
    for candidate in (folder, folder / ALGORITHM_SUBDIR):
        if (candidate / "learner_group").is_dir():
            return candidate
    raise FileNotFoundError(f"{folder} holds no RLlib Algorithm checkpoint (no learner_group/)")


@contextlib.contextmanager
def _local_checkpoint(candidate: Candidate) -> Iterator[Path]:
    """The RLlib checkpoint as a local folder (downloaded from remote storage such as S3 when needed)."""
    if Path(candidate.checkpoint).is_dir():
        yield rllib_checkpoint_dir(Path(candidate.checkpoint))
        return
    from ray.tune import Checkpoint

    with Checkpoint(candidate.checkpoint, filesystem=candidate.storage_filesystem).as_directory() as folder:
        yield rllib_checkpoint_dir(Path(folder))


def find_run_ids(experiment_path: str | Path) -> RunIds | None:
    """The sweep's MLflow run ids: next to the experiment (Tune folder), in the folder above it, or in the
    run folder named by the experiment's ``mwx_sweep.json``."""
    folder = Path(experiment_path)
    places = [folder / RUNS_FILE, folder.parent / RUNS_FILE]
    sweep_record = folder / SWEEP_RECORD_FILE
    if sweep_record.is_file():
        run_dir = json.loads(sweep_record.read_text()).get("run_dir")
        if run_dir:
            places.append(Path(run_dir) / RUNS_FILE)
    for place in places:
        ids = RunIds.load(place)
        if ids is not None:
            return ids
    return None


def _normalizer_summary(normalizer: dict[str, Any]) -> dict[str, Any]:
    std = np.asarray(normalizer["std"], np.float64)
    return {
        "kind": normalizer["kind"], "count": normalizer["count"], "clip": normalizer["clip"],
        "obs_dim": int(std.size), "mean_abs_max": float(np.abs(np.asarray(normalizer["mean"])).max()),
        "std_min": float(std.min()), "std_max": float(std.max()),
    }


def _entry_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    numeric = numeric_metrics(metrics)
    return {k: v for k, v in numeric.items() if k in _ENTRY_METRICS or k.startswith("reward_terms/")}


def registry_entry(skill: str, candidate: Candidate, folder: Path, experiment: str,
                   run_ids: RunIds | None) -> dict[str, Any]:
    """The registry-manifest record of one exported expert (see registry.py for the fields)."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    obs_space = manifest["observation_space"]
    child = run_ids.children.get(candidate.trial_id) if run_ids else None
    return {
        "skill": skill,
        "algorithm": manifest.get("algorithm", "ppo"),
        "folder": folder.name,
        "env_id": candidate.env_id,
        "robot": robot_of(candidate.env_id),
        # Raw obs bounds are usually ±inf for every entry; shape and dtype say what a caller must feed.
        "observation_space": {"shape": obs_space["shape"], "dtype": obs_space["dtype"]},
        "action_space": manifest["action_space"],
        "normalizer": _normalizer_summary(manifest["normalizer"]),
        "metrics": _entry_metrics(dict(candidate.metrics)),
        "source": {"experiment": experiment, "trial_id": candidate.trial_id, "seed": candidate.seed,
                   "checkpoint": candidate.checkpoint},
        "mlflow": None if child is None else {
            "tracking_uri": run_ids.tracking_uri, "experiment_id": run_ids.experiment_id,
            "parent_run_id": run_ids.parent_run_id, "run_id": child,
        },
        "parameter_hash": ExpertPolicy.load(folder).parameter_hash(),
        "tensors_sha256": manifest["tensors_sha256"],
        "versions": manifest["versions"],
    }


def export_registry(experiment_path: str | Path, out_dir: str | Path, *, log_to_mlflow: bool = True,
                    selection: str = "best", candidates: Sequence[Candidate] | None = None) -> ExportOutcome:
    """Export one checkpoint per skill of ``experiment_path`` into the registry ``out_dir``: the best by
    ``hb/return``, or with ``selection="latest"`` the most trained one (``registry.SELECTIONS``), among
    ``candidates`` (default: every checkpoint of the sweep)."""
    experiment = str(Path(experiment_path).resolve())
    out_dir = Path(out_dir)
    best = SELECTIONS[selection](sweep_candidates(experiment_path) if candidates is None else candidates)
    if not best:
        raise ValueError(f"{experiment_path}: no trial has a checkpoint to export")
    run_ids = find_run_ids(experiment_path)
    mlflow = GuardedMlflow(run_ids.tracking_uri) if (run_ids and log_to_mlflow) else None
    entries = {}
    for skill, candidate in best.items():
        with _local_checkpoint(candidate) as checkpoint:
            folder = export_checkpoint(checkpoint, out_dir / skill, env_id=candidate.env_id, task=candidate.task,
                                       plugins=candidate.plugins)
        entries[skill] = registry_entry(skill, candidate, folder, experiment, run_ids)
        child = (entries[skill]["mlflow"] or {}).get("run_id")
        if mlflow is not None and child:
            mlflow.call("log_artifacts", child, str(folder), MLFLOW_ARTIFACT_DIR)
            mlflow.call("set_tag", child, "exported_expert", str(folder.resolve()))
    manifest = {
        "format": REGISTRY_FORMAT,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "source_experiment": experiment,
        "selection": ({"metric": RANK_METRIC, "mode": "max", "tie_break": TIE_BREAK_METRIC} if selection == "best"
                      else {"rule": selection}),
        "versions": package_versions(),
        "experts": entries,
    }
    # Written last, atomically: a registry with a manifest is complete.
    atomic_write_text(out_dir / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    return ExportOutcome(ExpertRegistry.load(out_dir), mlflow.report() if mlflow else None)
