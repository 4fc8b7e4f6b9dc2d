"""The record that makes a run reproducible: resolved config, git SHA, package versions, seeds, command line.

Every command that produces results creates a run folder with :func:`new_run_dir` and writes
:func:`write_run_record` into it before doing any work; the same record goes to MLflow as tags and artifacts.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from mwx_ray.atomic_io import atomic_write_text

RESOLVED_CONFIG_NAME = "config.resolved.yaml"
RECORD_NAME = "record.json"
TRACKED_PACKAGES = (
    "mwx_ray", "ray", "torch", "mujoco", "gymnasium", "mlflow", "transformers", "numpy", "pandas", "pyarrow", "mink",
)


def package_versions(names: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed version of each package, or ``"missing"``."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def git_sha(cwd: str | Path | None = None) -> str:
    """Commit of the working tree (``+dirty`` if it has uncommitted changes), or ``"unknown"`` outside git."""
    here = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def new_run_dir(root_dir: str | Path, stage: str, name: str) -> Path:
    """A fresh folder ``<root_dir>/<stage>/<name>-<UTC timestamp>`` (suffixed if that exists already)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(root_dir) / stage / f"{name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        candidate, n = base.with_name(f"{base.name}-{n}"), n + 1
    candidate.mkdir(parents=True)
    return candidate


def run_record(config_hash: str, seed: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_sha": git_sha(),
        "config_hash": config_hash,
        "seed": seed,
        "argv": sys.argv,
        "python": platform.python_version(),
        "host": platform.node(),
        "versions": package_versions(),
        **(extra or {}),
    }


def write_run_record(run_dir: str | Path, loaded_config: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the resolved config and the run record into ``run_dir``; returns the record."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / RESOLVED_CONFIG_NAME, loaded_config.to_yaml())
    record = run_record(loaded_config.hash(), loaded_config.config.run.seed, extra)
    atomic_write_text(run_dir / RECORD_NAME, json.dumps(record, indent=2, default=str))
    return record
