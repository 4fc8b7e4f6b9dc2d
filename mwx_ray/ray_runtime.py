"""Joining or starting Ray for a command, and checking the stage fits the cluster before any work starts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mwx_ray.config.schema import MwxConfig


def init_ray(config: MwxConfig, stages: Iterable[str] = ()) -> bool:
    """Join ``resources.address`` (or ``RAY_ADDRESS``, which `ray job submit` sets) or start a local Ray sized by
    ``resources.num_cpus`` / ``num_gpus``; then check that ``stages`` fit the cluster (``mwx_ray.resources``).

    Returns False (and starts nothing) if this process is already connected to Ray, e.g. when a notebook or a
    test calls the command: then the caller owns that runtime and must not have it shut down.
    """
    import ray

    started = not ray.is_initialized()
    if started:
        address = config.resources.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, include_dashboard=False)
        else:
            ray.init(num_cpus=config.resources.num_cpus, num_gpus=config.resources.num_gpus,
                     include_dashboard=False)
    stages = tuple(stages)
    if stages:
        try:
            check_stage_budget(config, stages)
        except Exception:
            if started:
                ray.shutdown()
            raise
    return started


@contextmanager
def ray_session(config: MwxConfig, stages: Iterable[str] = ()) -> Iterator[None]:
    """``with ray_session(config, ("experts",)):`` — :func:`init_ray`, and shut Ray down at the end if this call
    started it (a pipeline opens one session for all its stages; each stage checks its budget in it)."""
    import ray

    started = init_ray(config, stages)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def check_stage_budget(config: MwxConfig, stages: Iterable[str]) -> None:
    """The budget check of ``stages`` against the running Ray cluster (a stage inside a pipeline's session)."""
    import ray

    from mwx_ray.resources import check_budget

    check_budget(config, ray.cluster_resources(), stages=tuple(stages),
                 nodes=[node["Resources"] for node in ray.nodes() if node["Alive"]])
