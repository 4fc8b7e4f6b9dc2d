"""Typed configuration: YAML with ``extends``, ``--set`` overrides, and errors that name file and key.

Usage::

    loaded = load_config("tune_configs/experts/walk.yaml", ["run.seed=3"])
    loaded.config.run.seed        # typed access
    loaded.to_yaml()              # the fully resolved config
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.loader import Provenance, apply_overrides, read_yaml_tree
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.typed import build, to_plain

__all__ = ["ConfigError", "LoadedConfig", "MwxConfig", "load_config", "default_config"]


@dataclass
class LoadedConfig:
    """A validated config plus where its values came from."""

    config: MwxConfig
    path: Path | None
    provenance: Provenance

    def as_dict(self) -> dict[str, Any]:
        return to_plain(self.config)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False, default_flow_style=False)

    def hash(self) -> str:
        """Short content hash of the resolved config (for run tags and cache keys)."""
        text = json.dumps(self.as_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def source_of(self, dotted_key: str) -> str:
        return self.provenance.source_of(dotted_key)

    def with_values(self, values: Mapping[str, Any], source: str = "pipeline") -> LoadedConfig:
        """A copy with ``{dotted key: value}`` set and the whole config validated again (how a pipeline hands one
        stage's outputs, e.g. an expert registry path, to the next stage's config)."""
        tree = self.as_dict()
        for dotted, value in values.items():
            *parents, last = dotted.split(".")
            node = tree
            for part in parents:
                node = node[part]
            node[last] = value
        provenance = Provenance()
        provenance.record(tree, str(self.path) if self.path else "")
        provenance.record(unflatten_keys(values), source)
        return LoadedConfig(config=build(MwxConfig, tree, provenance.source_of), path=self.path, provenance=provenance)


def unflatten_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    tree: dict[str, Any] = {}
    for dotted, value in values.items():
        *parents, last = dotted.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> LoadedConfig:
    """Read, merge, override and validate a config. ``path=None`` starts from the schema defaults."""
    provenance = Provenance()
    tree = read_yaml_tree(path, provenance) if path is not None else {}
    tree = apply_overrides(tree, overrides, provenance)
    config = build(MwxConfig, tree, provenance.source_of)
    return LoadedConfig(config=config, path=Path(path) if path is not None else None, provenance=provenance)


def default_config() -> LoadedConfig:
    return load_config(None)
