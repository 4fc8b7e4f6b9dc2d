"""YAML search-space specs → Ray Tune spaces, validated against the algorithm's schema before any trial starts.

A spec is a one-key mapping (the same vocabulary serves ``experts.search_space`` and PBT's
``experts.scheduler.mutations``)::

    lr: {loguniform: [1.0e-5, 1.0e-3]}     # tune.loguniform(low, high)
    gamma: {uniform: [0.98, 0.999]}        # tune.uniform(low, high)
    num_epochs: {randint: [5, 16]}         # tune.randint(low, high): high EXCLUSIVE, as in Tune
    minibatch_size: {choice: [256, 512]}   # tune.choice(values): one value drawn per sample
    fcnet_hiddens: {grid: [[256, 256], [512, 256]]}   # tune.grid_search(values): every value, × num_samples

Keys are field names of the selected algorithm's section (:class:`~mwx_ray.config.experts_schema.PPOSection`
for ``experts.algorithm: ppo``, :class:`~mwx_ray.config.sac_schema.SACSection` for ``sac``). Every candidate
value (each listed value; both ends of a range) is checked against the field's type and bounds by building that
section, so a bad space fails at ``mwx train-experts`` time with the offending key, not inside a trial hours later.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from ray import tune

from mwx_ray.config.errors import ConfigError, suggestion
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS, PPOSection
from mwx_ray.config.typed import RawOverride, build, to_plain
from mwx_ray.config.yaml_io import parse_yaml

SourceOf = Callable[[str], str]
SPACE_KINDS = ("grid", "choice", "uniform", "loguniform", "randint")
_LIST_KINDS = ("grid", "choice")
_RANGE_KINDS = ("uniform", "loguniform", "randint")
PPO_FIELDS = tuple(f.name for f in dataclasses.fields(PPOSection))


def section_fields(section_cls: type) -> tuple[str, ...]:
    """Field names of an algorithm section class, in schema order."""
    return tuple(f.name for f in dataclasses.fields(section_cls))


def _section_label(section_cls: type) -> str:
    """``PPO`` / ``SAC`` for error messages (``not a SAC field``)."""
    names = [name for name, cls in ALGORITHM_SECTIONS.items() if cls is section_cls]
    return names[0].upper() if names else section_cls.__name__


def _no_source(_key: str) -> str:
    return ""


def _spec_values(key: str, spec: Any, source_of: SourceOf) -> tuple[str, list[Any]]:
    """``{kind: [...]}`` → ``(kind, values)``, with shape errors that name ``key``."""
    if isinstance(spec, RawOverride):  # `--set experts.search_space.lr={loguniform: [1e-5, 1e-3]}` stays text
        spec = parse_yaml(str(spec))
    example = "e.g. {loguniform: [1.0e-5, 1.0e-3]} or {choice: [256, 512]}"
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ConfigError(source_of(key), key, f"expected a one-key mapping {{kind: [...]}} with kind in "
                                               f"{list(SPACE_KINDS)}, {example}; got {spec!r}")
    (kind, values), = spec.items()
    if kind not in SPACE_KINDS:
        raise ConfigError(source_of(key), key, f"unknown space kind {kind!r}; valid kinds: {list(SPACE_KINDS)}")
    if not isinstance(values, list) or not values:
        raise ConfigError(source_of(key), key, f"{kind} needs a non-empty list, got {values!r}")
    if kind in _RANGE_KINDS:
        if len(values) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ConfigError(source_of(key), key, f"{kind} needs [low, high] numbers, got {values!r}")
        low, high = values
        if not low < high:
            raise ConfigError(source_of(key), key, f"{kind} needs low < high, got {values!r}")
        if kind == "loguniform" and low <= 0:
            raise ConfigError(source_of(key), key, f"loguniform needs low > 0, got {values!r}")
        if kind == "randint" and not all(isinstance(v, int) for v in values):
            raise ConfigError(source_of(key), key, f"randint needs integer bounds, got {values!r}")
    return kind, list(values)


def _candidates(kind: str, values: list[Any]) -> list[Any]:
    """The values a space can produce that must each be valid (randint's high is exclusive)."""
    if kind in _LIST_KINDS:
        return values
    low, high = values
    return [low, high - 1] if kind == "randint" else [low, high]


def check_section_values(section, field: str, values: list[Any], key: str, source_of: SourceOf) -> None:
    """Raise ConfigError (naming ``key``) if ``field=value`` makes an invalid section (PPOSection, SACSection)
    for any value."""
    section_cls = type(section)
    fields = section_fields(section_cls)
    if field not in fields:
        raise ConfigError(source_of(key), key, f"not a {_section_label(section_cls)} field" + suggestion(field, fields))
    base = to_plain(section)
    for value in values:
        try:
            build(section_cls, {**base, field: value}, lambda _k: "")
        except ConfigError as err:
            raise ConfigError(source_of(key), key, f"value {value!r} is invalid: {err.key}: {err.problem}") from None


def to_tune_space(key: str, spec: Any, source_of: SourceOf = _no_source) -> Any:
    """One spec → a Tune domain (``tune.loguniform(...)``) or a grid (``{"grid_search": [...]}``)."""
    kind, values = _spec_values(key, spec, source_of)
    if kind == "grid":
        return tune.grid_search(values)
    if kind == "choice":
        return tune.choice(values)
    low, high = values
    if kind == "uniform":
        return tune.uniform(float(low), float(high))
    if kind == "loguniform":
        return tune.loguniform(float(low), float(high))
    return tune.randint(int(low), int(high))


check_ppo_values = check_section_values  # the name from when PPO was the only algorithm


def section_search_space(
    spec: Mapping[str, Any],
    sections_by_skill: Mapping[str, Any],
    *,
    prefix: str = "experts.search_space.",
    source_of: SourceOf = _no_source,
    allow_grid: bool = True,
) -> dict[str, Any]:
    """``{field: spec}`` → ``{field: Tune space}``, each candidate validated for every skill's section.

    ``sections_by_skill`` is each skill's PPOSection or SACSection (section values + per-skill overrides): a
    sampled value replaces the skill's own value, so it must be valid in combination with each of them
    (e.g. PPO's ``minibatch_size`` ≤ that skill's ``train_batch_size_per_learner``).
    """
    spaces = {}
    for field, field_spec in spec.items():
        key = f"{prefix}{field}"
        kind, values = _spec_values(key, field_spec, source_of)
        if kind == "grid" and not allow_grid:
            raise ConfigError(source_of(key), key, "grid is not allowed here; use choice, uniform, "
                                                   "loguniform or randint")
        for section in sections_by_skill.values():
            check_section_values(section, field, _candidates(kind, values), key, source_of)
        spaces[field] = to_tune_space(key, field_spec, source_of)
    return spaces


ppo_search_space = section_search_space  # the name from when PPO was the only algorithm


def space_size(spaces: Mapping[str, Any]) -> int:
    """Number of grid combinations in ``spaces``, nested mappings included (1 if there is no grid)."""
    sizes = []
    for space in spaces.values():
        if isinstance(space, Mapping):
            sizes.append(len(space["grid_search"]) if "grid_search" in space else space_size(space))
    return math.prod(sizes)
