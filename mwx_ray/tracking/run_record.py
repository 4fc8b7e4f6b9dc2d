"""The record that makes a run reproducible: resolved config, git SHA, package versions, seeds, command line.

Every command that produces results creates a run folder with :func:`new_run_dir` and writes
:func:`write_run_record` into it before doing any work; the same record goes to MLflow as tags and artifacts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
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


GIT_SHA_ENV = "MWX_GIT_SHA"  # set by cluster images / job submissions that install mwx_ray from a wheel
UNKNOWN_SHA = "unknown"


def git_sha(cwd: str | Path | None = None) -> str:
    """Commit of the mwx_ray source this process runs (``+dirty`` with uncommitted changes).

    ``$MWX_GIT_SHA`` wins (``mwx submit`` sets it from the submitting checkout, so a cluster's wheel install
    reports the commit it was built from). Otherwise the git checkout that holds this very package; a wheel
    install has none, and the answer says so instead of borrowing an unrelated repository's commit.
    """
    if os.environ.get(GIT_SHA_ENV):
        return os.environ[GIT_SHA_ENV]
    package = Path(__file__).resolve().parents[1]
    here = Path(cwd) if cwd else package
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True,
                             timeout=5)
        if top.returncode != 0 or (cwd is None and Path(top.stdout.strip()).resolve() / "mwx_ray" != package):
            return f"{UNKNOWN_SHA} (installed package, not a git checkout; set {GIT_SHA_ENV})"
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return UNKNOWN_SHA
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN_SHA


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


def clip_provenance(tree: Any, prefix: str = "") -> dict[str, dict[str, str]]:
    """Every reference clip file a config names (``env.task.clip``, ``experts.per_skill.<s>.task.clip``, ...):
    ``{dotted key: {"path": absolute path, "sha256": digest}}``. Built-in clip names are not files: skipped (the
    built-in library records its own generation settings in each clip)."""
    found: dict[str, dict[str, str]] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            dotted = f"{prefix}{key}"
            if key == "clip" and isinstance(value, str) and Path(value).expanduser().is_file():
                path = Path(value).expanduser().resolve()
                found[dotted] = {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
            else:
                found.update(clip_provenance(value, dotted + "."))
    return found


def write_run_record(run_dir: str | Path, loaded_config: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the resolved config and the run record (with the hash of every clip file it names) into
    ``run_dir``; returns the record."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / RESOLVED_CONFIG_NAME, loaded_config.to_yaml())
    extra = {**(extra or {}), "clips": clip_provenance(loaded_config.as_dict())}
    record = run_record(loaded_config.hash(), loaded_config.config.run.seed, extra)
    atomic_write_text(run_dir / RECORD_NAME, json.dumps(record, indent=2, default=str))
    return record
