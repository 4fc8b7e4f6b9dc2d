"""Every exception type of ours survives pickling: Ray ships a remote task's or trial's exception to the driver
by pickling it, and an exception that cannot be rebuilt there replaces the user's error with a TypeError.

Regression: a trial's ``ConfigError(source, key, problem)`` arrived as ``TypeError: ConfigError.__init__()
missing 2 required positional arguments``.
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import pytest

import analysis
import mwx_ray


def _our_exception_types() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (mwx_ray, analysis):
        for info in pkgutil.walk_packages(package.__path__, prefix=package.__name__ + "."):
            module = importlib.import_module(info.name)
            for _name, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == info.name:
                    found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[name] for name in sorted(found)]


EXCEPTION_TYPES = _our_exception_types()


def _instance(exc_type: type[BaseException]) -> BaseException:
    """An instance built from its constructor's own parameters (each a distinct string)."""
    parameters = [p for p in inspect.signature(exc_type.__init__).parameters.values()
                  if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
    if not parameters:
        return exc_type("what went wrong, and where")
    return exc_type(*[f"<{p.name}>" for p in parameters])


def test_the_scan_finds_our_exception_types():
    names = {t.__name__ for t in EXCEPTION_TYPES}
    assert {"ConfigError", "UnknownNameError", "MotionError", "ResourceBudgetError"} <= names


@pytest.mark.parametrize("exc_type", EXCEPTION_TYPES, ids=lambda t: f"{t.__module__}.{t.__qualname__}")
def test_exception_round_trips_through_pickle(exc_type):
    error = _instance(exc_type)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is exc_type
    assert str(restored) == str(error)
    assert vars(restored) == vars(error)
