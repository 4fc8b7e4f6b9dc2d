"""User modules that register skills and tasks (``run.plugins``), imported in every process that builds envs.

Ray workers (Tune trials, env runners, actor pools) start fresh interpreters: a skill registered by a module the
driver imported does not exist there unless that module is imported there too. Every place that builds an env
from a config therefore calls :func:`import_plugins` with the config's ``run.plugins`` first (trial configs and
RLlib ``env_config`` carry the list).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable


def import_plugins(modules: Iterable[str]) -> None:
    """Import each module by dotted name (idempotent); a missing module fails naming it."""
    import mwx_ray.envs  # noqa: F401 - the built-in tasks and skills first, so plugins can extend them

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(f"run.plugins: cannot import {name!r} ({err}); the module must be importable in "
                              "every Ray worker (install it, or put its folder on PYTHONPATH)") from err
