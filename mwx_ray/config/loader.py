"""Reading YAML configs: ``extends:`` inheritance, dotted ``--set`` overrides, and provenance of every key.

A config file may start with ``extends: base.yaml`` (or a list); paths are relative to the file. Bases merge
first, in order, then the file itself (mappings merge key by key; lists and scalars replace). ``--set a.b=c``
overrides come last. Each dotted key remembers which file (or ``--set``) gave it its value, so validation
errors point at the right place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.typed import RawOverride
from mwx_ray.config.yaml_io import parse_yaml

EXTENDS_KEY = "extends"
SET_SOURCE = "--set"
# Sections that accept a plain value as shorthand for one of their fields (the schema class's SHORTHAND):
# expanded in every file before merging, so `env.task: walk` in a base and `env.task: {clip: x.npz}` in the
# file that extends it merge into {name: walk, clip: x.npz}, and `--set env.task=run` sets the name only.
SHORTHAND_SECTIONS = {"env.task": "name"}


class Provenance:
    """Which source set each dotted key; a key's own source wins over its parent mapping's."""

    def __init__(self) -> None:
        self._by_key: dict[str, str] = {}

    def record(self, data: Mapping[str, Any], source: str, prefix: str = "") -> None:
        for key, value in data.items():
            dotted = prefix + str(key)
            self._by_key[dotted] = source
            if isinstance(value, Mapping):
                self.record(value, source, dotted + ".")

    def source_of(self, dotted: str) -> str:
        key = dotted
        while key:
            if key in self._by_key:
                return self._by_key[key]
            # `a.b[1]` (a list item) belongs to `a.b`, then `a`.
            key = key[: key.rindex("[")] if key.endswith("]") and "[" in key else key.rpartition(".")[0]
        return next(iter(self._by_key.values()), "")


def read_yaml_tree(path: str | Path, provenance: Provenance, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Load ``path`` and its ``extends`` bases into one merged dict, recording provenance."""
    path = Path(path)
    shown = str(path)
    if not path.is_file():
        where = f" (extended by {_chain[-1]})" if _chain else ""
        raise ConfigError(shown, "", f"config file not found{where}")
    resolved = path.resolve()
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, resolved))
        raise ConfigError(shown, EXTENDS_KEY, f"circular extends: {cycle}")
    try:
        data = parse_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(shown, "", f"invalid YAML{line}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(shown, "", f"top level must be a mapping, got {type(data).__name__}")

    bases = data.pop(EXTENDS_KEY, None) or []
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(shown, EXTENDS_KEY, "must be a file path or a list of file paths")
    merged: dict[str, Any] = {}
    for base in bases:
        base_tree = read_yaml_tree(path.parent / base, provenance, (*_chain, resolved))
        merged = deep_merge(merged, base_tree)
    expand_shorthands(data)
    provenance.record(data, shown)
    return deep_merge(merged, data)


def expand_shorthands(tree: dict[str, Any]) -> dict[str, Any]:
    """Replace a plain value at a ``SHORTHAND_SECTIONS`` key by ``{field: value}`` (in place)."""
    for dotted, field in SHORTHAND_SECTIONS.items():
        *parents, last = dotted.split(".")
        node: Any = tree
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, dict) and last in node and isinstance(node[last], str):
            node[last] = {field: node[last]}
    return tree


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def apply_overrides(tree: dict[str, Any], overrides: Sequence[str], provenance: Provenance) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings; values stay text until the schema says what type they are."""
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(SET_SOURCE, item, "expected KEY=VALUE with a dotted key, e.g. run.seed=3")
        if key in SHORTHAND_SECTIONS:  # `--set env.task=run` names the task, keeping its other settings
            key = f"{key}.{SHORTHAND_SECTIONS[key]}"
        node = tree
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(SET_SOURCE, ".".join(parts[: i + 1]), "is a value, not a mapping")
            node = child
        node[parts[-1]] = RawOverride(text.strip())
        provenance.record({key: None}, SET_SOURCE)
    return tree
