"""Where MLflow data lives: a local SQLite store under the run directory by default, or a server.

MLflow's plain file store is deprecated (refused by 3.13+), so the local default is ``sqlite:///`` with an
artifact folder beside it. Experiments are one per stage (``experts``, ``labels``, ``router``, ``ablations``).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from mwx_ray.config.schema import MwxConfig

LOCAL_DB_NAME = "mlflow.db"
LOCAL_ARTIFACT_DIR = "mlartifacts"


def tracking_uri(config: MwxConfig) -> str:
    """The configured URI, or ``sqlite:///<abs run root>/mlflow.db``."""
    if config.tracking.uri:
        return config.tracking.uri
    return f"sqlite:///{(Path(config.run.root_dir).resolve() / LOCAL_DB_NAME).as_posix()}"


def artifact_root(config: MwxConfig) -> str | None:
    """Artifact location for new experiments in the local store; a server decides its own (None)."""
    if config.tracking.uri and not config.tracking.uri.startswith("sqlite:"):
        return None
    return (Path(config.run.root_dir).resolve() / LOCAL_ARTIFACT_DIR).as_uri()


def experiment_name(config: MwxConfig, stage: str) -> str:
    return f"{config.tracking.experiment_prefix}{stage}"


def probe_store(uri: str, timeout_s: float = 5.0) -> str:
    """Check that a tracking store is usable without writing to it; returns a description, raises on failure."""
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as reply:  # noqa: S310 - user-configured URL
                return f"server answered {reply.status} at {url}"
        except (urllib.error.URLError, OSError) as err:
            raise ConnectionError(f"MLflow server at {uri} is unreachable: {err}") from err
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///"))
        if not db.is_absolute():
            db = Path.cwd() / db
        folder = db.parent if db.parent.exists() else next(p for p in db.parents if p.exists())
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise PermissionError(f"cannot write the MLflow database folder {folder}")
        state = f"{db.stat().st_size / 1e6:.1f} MB" if db.exists() else "not created yet"
        return f"local sqlite store {db} ({state})"
    raise ValueError(f"unsupported tracking URI {uri!r}: use sqlite:///path or http(s)://host:port")
