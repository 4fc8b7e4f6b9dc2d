"""Every field of the expert algorithm sections (``experts.ppo``, ``experts.sac``) reaches the RLlib config it
builds: changing one field (to another valid value) changes the built config, its model settings, its Algorithm
class or its initialization callback. A field that silently did nothing would fail here."""

from __future__ import annotations

import dataclasses
import functools
import typing

import pytest

from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS
from mwx_ray.config.schema import ResourcesSection
from mwx_ray.config.typed import build, to_plain
from mwx_ray.experts.algorithms import build_expert_config

ENV_ID = "mwx/h1-walk-v0"
LOCAL = ResourcesSection(env_runners_per_trial=0)


def _valid(section_cls, plain: dict) -> bool:
    try:
        build(section_cls, plain, lambda _key: "")
    except Exception:  # noqa: BLE001 - any validation error means "not a valid alternative"
        return False
    return True


def changed_value(section_cls, field: dataclasses.Field, current):
    """Another value of ``field`` that the schema accepts with every other field at its default."""
    tp = typing.get_type_hints(section_cls)[field.name]
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    candidates: list = []
    if tp is bool:
        candidates = [not current]
    elif origin is typing.Literal:
        candidates = [a for a in args if a != current]
    elif tp is int or (origin in (typing.Union, __import__("types").UnionType) and int in args and float not in args):
        candidates = [current + 1 if isinstance(current, int) else 4, 8, 2]
    elif tp is float or float in args:
        candidates = [current * 0.5 if isinstance(current, float) and current else 0.1, 0.5, 2.0, 0.01]
    elif origin is list or any(typing.get_origin(a) is list for a in args):  # layer sizes; [[step, value]] schedules
        candidates = [[64], [128, 64], [[0, 1e-4], [1000, 1e-5]]]
    else:  # unions with Literal members ("auto") and None
        candidates = [a for a in (1, 4, 0.5, -2.0, None) if a != current]
    base = to_plain(section_cls())
    for value in candidates:
        if value != current and _valid(section_cls, {**base, field.name: value}):
            return value
    pytest.fail(f"no alternative value found for {section_cls.__name__}.{field.name}")


def fingerprint(config) -> dict:
    """What a built RLlib config says about the expert: its settings, model config, init callback arguments."""
    data = {k: repr(v) for k, v in config.to_dict().items()}
    data["algo_class"] = repr(config.algo_class)  # ppo.pipelined selects the Algorithm subclass
    callback = config.callbacks_on_algorithm_init
    if isinstance(callback, functools.partial):
        data["on_algorithm_init"] = repr(callback.keywords)
    factory = config._env_to_module_connector
    if isinstance(factory, functools.partial):
        data["env_to_module"] = repr(factory.keywords)
    return data


def cases():
    for algorithm, section_cls in ALGORITHM_SECTIONS.items():
        for field in dataclasses.fields(section_cls):
            yield pytest.param(algorithm, field.name, id=f"{algorithm}.{field.name}")


@pytest.mark.parametrize(("algorithm", "name"), list(cases()))
def test_changing_a_learner_field_changes_the_built_config(algorithm, name):
    section_cls = ALGORITHM_SECTIONS[algorithm]
    default = section_cls()
    field = next(f for f in dataclasses.fields(section_cls) if f.name == name)
    value = changed_value(section_cls, field, getattr(default, name))
    changed = build(section_cls, {**to_plain(default), name: value}, lambda _key: "")
    before = fingerprint(build_expert_config(algorithm, ENV_ID, seed=0, section=default, resources=LOCAL))
    after = fingerprint(build_expert_config(algorithm, ENV_ID, seed=0, section=changed, resources=LOCAL))
    assert before != after, f"{algorithm}.{name} = {value!r} left the RLlib config unchanged"
