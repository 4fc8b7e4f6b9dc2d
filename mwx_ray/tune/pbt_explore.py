"""PBT mutations that stay inside their search space and the schema.

Tune's PBT explores a continuous hyperparameter by multiplying it by 0.8 or 1.2 (``ray/tune/schedulers/pbt.py``
``_explore``) with no regard for the space it was drawn from, so ``lambda_`` at 0.95 becomes 1.14 and the trial
that receives it fails schema validation. :class:`KeepMutationsInBounds` is PBT's ``custom_explore_fn``: after
Tune's own perturbation it clamps every mutated field into its declared range (a ``choice`` snaps to the nearest
listed value) and checks the whole section against the schema, so every explored config is one the schema
accepts. Ranges were validated at both ends when the sweep was loaded (``search_space.section_search_space``), so
a clamped value is valid for every skill's section unless a cross-field rule couples two mutated fields; then the
field is resampled inside its range until the section is valid.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ray import tune

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.typed import build
from mwx_ray.tune.search_space import SourceOf, _no_source, _spec_values, section_search_space

RESAMPLE_ATTEMPTS = 100


def pbt_mutations(spec: Mapping[str, Any], sections_by_skill: Mapping[str, Any], *,
                  source_of: SourceOf = _no_source) -> dict[str, Any]:
    """``{field: PBT mutation}``: Tune domains for ranges; plain lists for ``choice`` so that PBT shifts to a
    neighbouring value instead of multiplying a categorical value by 0.8/1.2."""
    spaces = section_search_space(spec, sections_by_skill, prefix="experts.scheduler.mutations.",
                                  source_of=source_of, allow_grid=False)
    for field, field_spec in spec.items():
        kind, values = _spec_values(f"experts.scheduler.mutations.{field}", field_spec, source_of)
        if kind == "choice":
            spaces[field] = list(values)
    return spaces


class KeepMutationsInBounds:
    """PBT ``custom_explore_fn`` (picklable): clamp each mutated field of ``config[algorithm]`` into its space.

    Args:
        algorithm: the key of the trial config holding the mutated section (``ppo`` / ``sac``).
        spec: the YAML mutation specs, ``{field: {kind: values}}``.
        section_cls: the section's schema class (``PPOSection``/``SACSection``) the result must build as.
    """

    def __init__(self, algorithm: str, spec: Mapping[str, Any], section_cls: type):
        self.algorithm = algorithm
        self.ranges = {field: _spec_values(field, field_spec, _no_source) for field, field_spec in spec.items()}
        self.section_cls = section_cls

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        section = dict(config[self.algorithm])
        for field, (kind, values) in self.ranges.items():
            section[field] = self.clamp(field, section[field], kind, values)
        for field in self.ranges:
            if self._valid(section):
                break
            section[field] = self._resample_until_valid(section, field)
        if not self._valid(section):
            build(self.section_cls, section, lambda _key: "PBT explore")  # raises the schema's own error
        config[self.algorithm] = section
        return config

    @staticmethod
    def clamp(field: str, value: Any, kind: str, values: list[Any]) -> Any:
        """``value`` moved into the space: ``[low, high]`` (``randint``: ``[low, high − 1]``), or the nearest
        listed value of a ``choice`` (the first one for non-numeric values not in the list)."""
        if kind == "choice":
            if value in values:
                return value
            numeric = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            if isinstance(value, int | float) and numeric:
                return min(numeric, key=lambda v: abs(v - value))
            return values[0]
        low, high = values
        if kind == "randint":
            return int(min(max(round(value), low), high - 1))
        clamped = min(max(float(value), float(low)), float(high))
        return int(round(clamped)) if isinstance(value, int) and not isinstance(value, bool) else clamped

    def _valid(self, section: Mapping[str, Any]) -> bool:
        try:
            build(self.section_cls, section, lambda _key: "")
        except ConfigError:
            return False
        return True

    def _resample_until_valid(self, section: dict[str, Any], field: str) -> Any:
        kind, values = self.ranges[field]
        domain = None if kind == "choice" else {"uniform": tune.uniform, "loguniform": tune.loguniform,
                                                "randint": tune.randint}[kind](*values)
        current = section[field]
        for _ in range(RESAMPLE_ATTEMPTS):
            candidate = random.choice(values) if domain is None else domain.sample(None)
            if self._valid({**section, field: candidate}):
                return candidate
        return current
