"""The ``task`` part of a trial config: each skill's typed ``env.task`` section, with ``task.*`` fields searchable.

A trial config carries the skill's full task settings under ``task`` (plain data, validated against
:class:`~mwx_ray.config.task_schema.TaskSection`); the trainable hands them to every env runner through RLlib's
``env_config``. ``experts.search_space`` keys that start with ``task.`` search a task field, e.g.::

    search_space:
      task.imitation.w_track: {grid: [0.3, 0.5, 0.7]}
      task.imitation.reference_state_init.probability: {choice: [0.0, 0.5]}

Each candidate value is checked against every skill's task section at load time, so a typo or an out-of-range
value fails before any trial starts, naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray import tune

from mwx_ray.config import unflatten_keys as unflatten
from mwx_ray.config.errors import ConfigError
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import build, to_plain
from mwx_ray.tracking.run_values import flatten
from mwx_ray.tune.search_space import SourceOf, _candidates, _no_source, _spec_values, to_tune_space

TASK_PREFIX = "task."


class PerSkillValue:
    """``tune.sample_from`` callable: ``tables[trial's skill][key]`` (picklable; shown by key in Tune's logs)."""

    def __init__(self, tables: Mapping[str, Mapping[str, Any]], key: str):
        self.tables = {skill: dict(table) for skill, table in tables.items()}
        self.key = key

    def __call__(self, config: Mapping[str, Any]) -> Any:
        return self.tables[config["skill"]][self.key]

    def __repr__(self) -> str:
        return f"PerSkillValue({self.key})"


def split_search_space(spec: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(algorithm fields, task fields)`` of ``experts.search_space``; task keys lose their ``task.`` prefix."""
    algorithm = {k: v for k, v in spec.items() if not k.startswith(TASK_PREFIX)}
    task = {k[len(TASK_PREFIX):]: v for k, v in spec.items() if k.startswith(TASK_PREFIX)}
    return algorithm, task


def check_task_values(section: TaskSection, field: str, values: list[Any], key: str, source_of: SourceOf) -> None:
    """Raise ConfigError naming ``key`` unless ``section`` with ``field = value`` builds for every value."""
    flat = flatten(to_plain(section))
    if field not in flat:
        known = [k for k in flat if k.rsplit(".", 1)[0] == field.rsplit(".", 1)[0]] or sorted(flat)
        raise ConfigError(source_of(key), key, f"not a task field (task fields here: {known[:12]})")
    for value in values:
        try:
            build(TaskSection, unflatten({**flat, field: value}), lambda _k: "", prefix="task.")
        except ConfigError as err:
            raise ConfigError(source_of(key), key, f"value {value!r} is invalid: {err.key}: {err.problem}") from None


def task_space(tasks_by_skill: Mapping[str, TaskSection], search: Mapping[str, Any], *,
               source_of: SourceOf = _no_source, prefix: str = "experts.search_space.task.") -> dict[str, Any]:
    """The trial config's ``task`` entry: nested like the schema, each leaf a plain value (same for every
    skill), a per-skill lookup, or the searched Tune space."""
    tables = {skill: flatten(to_plain(task)) for skill, task in tasks_by_skill.items()}
    searched = {}
    for field, spec in search.items():
        key = f"{prefix}{field}"
        kind, values = _spec_values(key, spec, source_of)
        for task in tasks_by_skill.values():
            check_task_values(task, field, _candidates(kind, values), key, source_of)
        searched[field] = to_tune_space(key, spec, source_of)
    first = next(iter(tables.values()))
    flat_space = {}
    for field in first:
        if field in searched:
            flat_space[field] = searched[field]
        elif len({repr(table[field]) for table in tables.values()}) == 1:
            flat_space[field] = first[field]
        else:
            flat_space[field] = tune.sample_from(PerSkillValue(tables, field))
    return unflatten(flat_space)
