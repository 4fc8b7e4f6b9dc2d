"""Turning plain dicts (merged YAML) into typed, validated config dataclasses.

Schema dataclasses declare fields with :func:`setting`, which carries the default, bounds and allowed values.
:func:`build` walks a dict against a dataclass and raises :class:`ConfigError` naming the source file and the
dotted key for unknown keys (with the nearest valid key), wrong types and out-of-range values.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from mwx_ray.config.errors import ConfigError, suggestion
from mwx_ray.config.yaml_io import parse_yaml

T = TypeVar("T")
SourceOf = Callable[[str], str]  # dotted key -> file (or "--set") that set it


class RawOverride(str):
    """A ``--set`` value kept as text until its field's type is known ("--set run.name=007" stays a string)."""


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    help: str = "",
) -> Any:
    """A dataclass field with validation metadata (inclusive ``ge``/``le``, exclusive ``gt``/``lt``)."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "help": help}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def build(cls: type[T], data: Mapping[str, Any] | None, source_of: SourceOf, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; defaults fill what ``data`` leaves out."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # pyright: ignore[reportArgumentType] - T is a dataclass
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            dotted = prefix + str(key)
            raise ConfigError(source_of(dotted), dotted, "unknown key" + suggestion(dotted, [prefix + f for f in fields]))
    kwargs = {}
    for name, field in fields.items():
        if name not in data:
            continue
        dotted = prefix + name
        value = _coerce(hints[name], data[name], dotted, source_of)
        _check_bounds(field, value, dotted, source_of)
        kwargs[name] = value
    obj = cls(**kwargs)
    # Cross-field rules: a schema class may define field_problems() -> {relative dotted key: problem}.
    problems = obj.field_problems() if hasattr(obj, "field_problems") else {}
    for key, problem in problems.items():
        dotted = prefix + key
        raise ConfigError(source_of(dotted), dotted, problem)
    return obj


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, dotted: str, source_of: SourceOf) -> Any:
    origin = typing.get_origin(tp)
    keeps_text = tp is str or origin in (Literal, typing.Union, types.UnionType)
    if isinstance(value, RawOverride) and not keeps_text:
        value = parse_yaml(str(value))

    def wrong(extra: str = "") -> ConfigError:
        shown = repr(value) if not isinstance(value, dict) else "a mapping"
        return ConfigError(source_of(dotted), dotted, f"expected {_type_name(tp)}, got {shown}{extra}")

    if tp is Any:  # free-form (e.g. per-skill task overrides): `--set` text anywhere inside becomes YAML data
        return _parsed_overrides(value)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if isinstance(value, RawOverride) and parse_yaml(str(value)) is None:
            value = None
        if value is None and type(None) in args:
            return None
        failures = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, dotted, source_of)
            except ConfigError as err:
                failures.append((arg, err))
        # A list given to `X | list[...]`: the list member's error names the bad item (`algorithm[1]`).
        shape = parse_yaml(str(value)) if isinstance(value, RawOverride) else value
        for arg, err in failures:
            if isinstance(shape, list | tuple) and typing.get_origin(arg) in (list, tuple):
                raise err
        # A misspelled name (`algorithm: sca` for `ppo | sac | [list]`) gets the nearest allowed value.
        names = [str(a) for arg in args if typing.get_origin(arg) is Literal for a in typing.get_args(arg)]
        close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6) if isinstance(value, str) else []
        raise wrong(f" (did you mean '{close[0]}'?)" if close else "")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value in allowed:
            return allowed[allowed.index(value)]
        near = suggestion(str(value), [str(a) for a in allowed]).replace("valid keys", "valid values")
        raise ConfigError(source_of(dotted), dotted, f"invalid value {value!r}{near}")
    if dataclasses.is_dataclass(tp):
        shorthand = getattr(tp, "SHORTHAND", None)
        if shorthand is not None and isinstance(value, str):  # `env.task: walk` == `env.task: {name: walk}`
            value = {shorthand: str(value)}
        if not isinstance(value, Mapping):
            raise wrong()
        return build(tp, value, source_of, prefix=dotted + ".")
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise wrong()
        (item_tp, *_rest) = typing.get_args(tp) or (Any,)
        items = [_coerce(item_tp, v, f"{dotted}[{i}]", source_of) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise wrong()
        _key_tp, val_tp = typing.get_args(tp) or (str, Any)
        return {str(k): _coerce(val_tp, v, f"{dotted}.{k}", source_of) for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise wrong()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise wrong()
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise wrong()
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise wrong(" (quote it in YAML)")
    raise ConfigError(source_of(dotted), dotted, f"unsupported schema type {tp!r}")


def _parsed_overrides(value: Any) -> Any:
    """``value`` with every ``RawOverride`` inside it parsed as YAML (schema-free data has no type to wait for)."""
    if isinstance(value, RawOverride):
        return parse_yaml(str(value))
    if isinstance(value, Mapping):
        return {key: _parsed_overrides(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_parsed_overrides(item) for item in value]
    return value


def _check_bounds(field: dataclasses.Field, value: Any, dotted: str, source_of: SourceOf) -> None:
    meta = field.metadata
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(source_of(dotted), dotted, f"value {value} is not finite")
    for name, op, holds in _BOUNDS:
        limit = meta.get(name)
        if limit is not None and not holds(value, limit):
            raise ConfigError(source_of(dotted), dotted, f"value {value} out of range (must be {op} {limit})")


_BOUNDS = (
    ("ge", ">=", lambda v, lim: v >= lim),
    ("gt", ">", lambda v, lim: v > lim),
    ("le", "<=", lambda v, lim: v <= lim),
    ("lt", "<", lambda v, lim: v < lim),
)


def to_plain(obj: Any) -> Any:
    """A dataclass tree as plain dicts/lists, in field order (for YAML dumps and hashing)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    return obj
