"""The shipped configs (``tune_configs/<stage>/*.yaml``), importable so they travel inside the wheel:
``mwx quickstart`` and every documented command work from a wheel install, not only from a source checkout."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def config_dir() -> Path:
    """The folder holding ``base/``, ``experts/``, ``quickstart/``, ... (the package itself)."""
    return Path(str(files(__name__)))
