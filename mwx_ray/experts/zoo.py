"""The pretrained expert zoo: one exported expert per skill, shipped inside the package (``mwx_ray/zoo``).

The zoo is an expert registry (``registry.py`` format) whose entries also carry a ``zoo`` record:

* ``unseen``: deterministic HumanoidBench return on ``UNSEEN_EPISODES`` evaluation episodes whose reset seeds
  (``UNSEEN_SEED`` + i) no training run ever evaluates on (experts use 1_000_003 + i, routers 2_000_003 + i):
  mean, std, 95% t-interval of the mean, success rate;
* where it came from: experiment, trial, seed, env steps and wall-clock seconds at the exported checkpoint, git SHA
  and config hash of the run; ``config.yaml`` (the run's resolved config) and ``curve.csv`` (its evaluation
  curve: env steps, wall seconds, ``hb/return``, ``hb/success``) beside the expert;
* ``command``: the command that retrains it (``mwx train-experts <zoo>/<skill>/config.yaml --set ...``).

Use it as an expert source anywhere: ``mwx eval zoo:walk``, ``router.experts_dir: zoo``,
``experts.per_skill.walk.init_from: zoo:stand``. ``mwx zoo check`` re-evaluates every entry and fails when one
drops more than ``CHECK_TOLERANCE`` below its recorded figure (the slow test lane runs it).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mwx_ray.atomic_io import atomic_write_text
from mwx_ray.experts.policy import MANIFEST_FILE
from mwx_ray.experts.registry import REGISTRY_FORMAT, ExpertRegistry, zoo_root
from mwx_ray.intervals import mean_ci95

UNSEEN_SEED = 5_000_003
UNSEEN_EPISODES = 10
CHECK_EPISODES = 5
CHECK_TOLERANCE = 0.05  # a re-evaluated expert may score at most 5% below its recorded unseen-seed return
CURVE_FILE = "curve.csv"
CONFIG_FILE = "config.yaml"
CURVE_KEYS = ("env_steps", "time/wall_s", "hb/return", "hb/success")


def evaluate_unseen(folder: Path, episodes: int, seed: int = UNSEEN_SEED) -> dict[str, Any]:
    """Deterministic episodes of the expert at ``folder`` on its own task's evaluation settings."""
    from mwx_ray.experts.evaluation import evaluate_policy, expert_eval_env_kwargs
    from mwx_ray.experts.policy import ExpertPolicy

    policy = ExpertPolicy.load(folder)
    result = evaluate_policy(policy.act, policy.manifest["env_id"], episodes=episodes, seed=seed,
                             env_kwargs=expert_eval_env_kwargs(policy.manifest))
    mean, low, high = mean_ci95(result.episode_returns)
    return {"episodes": episodes, "seed": seed, "hb_return_mean": mean, "hb_return_ci95": [low, high],
            "hb_return_std": float(np.std(result.episode_returns)), "hb_success": result.success_rate,
            "episode_returns": [round(r, 2) for r in result.episode_returns],
            "episode_lengths": result.episode_lengths}


def write_curve(trial_dir: Path, out: Path) -> int:
    """The trial's evaluation curve (every result with ``hb/return``) as CSV; returns the number of rows."""
    rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "hb/return" in r]
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CURVE_KEYS)
        for row in rows:
            writer.writerow([row.get(key, "") for key in CURVE_KEYS])
    return len(rows)


def publish(experiment_path: str | Path, skill: str, *, zoo: Path | None = None,
            episodes: int = UNSEEN_EPISODES, selection: str = "best", seed: int | None = None,
            name: str | None = None) -> dict[str, Any]:
    """Export the best (or, ``selection="latest"``, the most trained) checkpoint of ``skill`` (of the trial
    with ``seed``, if given) in a Tune expert experiment into the zoo as ``zoo:<name>`` (default: the skill),
    with its provenance and its unseen-seed evaluation; returns the zoo entry. A name other than the skill
    holds a variant beside the skill's main entry (``zoo:getup``, a stand expert that also gets up from a
    crouch), which routers pick with ``router.expert_dirs``."""
    from mwx_ray.experts.registry import SELECTIONS
    from mwx_ray.experts.registry_export import export_registry, sweep_candidates
    from mwx_ray.tune.stage import SWEEP_CONFIG_FILE, SWEEP_RECORD_FILE

    zoo = Path(zoo) if zoo is not None else zoo_root()
    experiment = Path(experiment_path).resolve()
    name = name or skill
    candidates = [c for c in sweep_candidates(experiment)
                  if c.skill == skill and (seed is None or c.seed == seed)]
    if not candidates:
        raise ValueError(f"{experiment}: no checkpoint of skill {skill!r}"
                         + (f" with seed {seed}" if seed is not None else ""))
    best = SELECTIONS[selection](candidates)[skill]
    with tempfile.TemporaryDirectory(prefix="mwx_zoo_", dir=zoo.parent) as tmp:
        staged = Path(tmp)
        # the checkpoint is chosen above; the export only packages it
        registry = export_registry(experiment, staged / "registry", log_to_mlflow=False,
                                   selection=selection, candidates=[best]).registry
        entry = dict(registry.entry(skill).record)
        folder = staged / "registry" / skill
        trial_dir = Path(best.checkpoint).parent
        rows = write_curve(trial_dir, folder / CURVE_FILE)
        shutil.copyfile(experiment / SWEEP_CONFIG_FILE, folder / CONFIG_FILE)
        sweep = json.loads((experiment / SWEEP_RECORD_FILE).read_text())
        run_record = json.loads((Path(sweep["run_dir"]) / "record.json").read_text())
        metrics = entry["metrics"]
        entry["folder"] = name
        entry["zoo"] = {
            "unseen": evaluate_unseen(folder, episodes),
            "seed": best.seed, "env_steps": int(metrics.get("env_steps", 0)),
            "wall_s": float(metrics.get("time/wall_s", math.nan)), "curve_points": rows,
            "git_sha": run_record.get("git_sha"), "config_hash": sweep.get("config_hash"),
            "experiment": str(experiment), "trial_id": best.trial_id, "selection": selection,
            "init_from": (dict(best.init_lineage) if best.init_lineage is not None
                          else _init_lineage_at_publish(folder / CONFIG_FILE, skill, zoo)),
            "command": f"mwx train-experts mwx_ray/zoo/{name}/{CONFIG_FILE} --set experts.skills=[{skill}] "
                       f"--set experts.seeds=[{best.seed}]",
            "published_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        target = zoo / name
        if target.exists():
            shutil.rmtree(target)
        zoo.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), str(target))
    _write_manifest(zoo, {name: entry})
    return entry


def init_lineage(source: str | None, zoo: Path | None = None) -> dict[str, Any] | None:
    """Where a warm start comes from: ``source`` (``init_from``) and, for a zoo source, that entry's provenance
    as it is now. Expert sweeps record this in each trial's config when they start, because a later publish may
    replace the zoo entry the trial started from."""
    if not source:
        return None
    lineage: dict[str, Any] = {"source": source}
    zoo = zoo if zoo is not None else zoo_root()
    if str(source).startswith("zoo:") and (zoo / MANIFEST_FILE).is_file():
        entry = json.loads((zoo / MANIFEST_FILE).read_text())["experts"].get(str(source)[4:])
        if entry:
            record = entry["zoo"]
            lineage.update({key: record.get(key) for key in ("command", "git_sha", "published_utc", "env_steps",
                                                             "init_from")},
                           hb_return_unseen=record["unseen"]["hb_return_mean"],
                           tensors_sha256=entry.get("tensors_sha256"))
    return lineage


def _init_lineage_at_publish(config_file: Path, skill: str, zoo: Path) -> dict[str, Any] | None:
    """For sweeps that predate the record in the trial config: the lineage read at publish time (marked so)."""
    import yaml

    experts = (yaml.safe_load(config_file.read_text()) or {}).get("experts") or {}
    lineage = init_lineage(((experts.get("per_skill") or {}).get(skill) or {}).get("init_from"), zoo)
    return None if lineage is None else {**lineage, "recorded": "at publish (the sweep predates the record)"}


def _write_manifest(zoo: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Merge ``entries`` into the zoo's registry manifest (written last, atomically)."""
    path = zoo / MANIFEST_FILE
    manifest = json.loads(path.read_text()) if path.is_file() else {
        "format": REGISTRY_FORMAT, "description": "mwx_ray pretrained expert zoo (mwx_ray/experts/zoo.py)",
        "selection": {"metric": "hb/return", "mode": "max"}, "experts": {}}
    manifest["experts"].update(entries)
    manifest["experts"] = dict(sorted(manifest["experts"].items()))
    manifest["updated_utc"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")


def check(zoo: Path | None = None, episodes: int = CHECK_EPISODES,
          tolerance: float = CHECK_TOLERANCE) -> list[dict[str, Any]]:
    """Re-evaluate every zoo expert on ``episodes`` of its unseen seeds; one row per skill with ``ok`` false when
    the mean falls more than ``tolerance`` below the recorded unseen-seed mean of the same episodes."""
    registry = ExpertRegistry.load(zoo or zoo_root())
    rows = []
    for skill, entry in registry.entries.items():
        recorded = entry.record["zoo"]["unseen"]
        expected = float(np.mean(recorded["episode_returns"][:episodes]))
        now = evaluate_unseen(entry.folder, episodes)["hb_return_mean"]
        rows.append({"skill": skill, "recorded": expected, "now": now,
                     "ok": now >= expected - tolerance * abs(expected)})
    return rows
