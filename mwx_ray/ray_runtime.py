"""Joining or starting Ray for a command, and checking the stage fits the cluster before any work starts."""

from __future__ import annotations

import os
from collections.abc import Iterable

from mwx_ray.config.schema import MwxConfig


def init_ray(config: MwxConfig, stages: Iterable[str] = ()) -> bool:
    """Join ``resources.address`` (or ``RAY_ADDRESS``, which `ray job submit` sets) or start a local Ray sized by
    ``resources.num_cpus`` / ``num_gpus``; then check that ``stages`` fit the cluster (``mwx_ray.resources``).

    Returns False (and starts nothing) if this process is already connected to Ray, e.g. when a notebook or a
    test calls the command: then the caller owns that runtime and must not have it shut down.
    """
    import ray

    from mwx_ray.resources import check_budget

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
            check_budget(config, ray.cluster_resources(), stages=stages,
                         nodes=[node["Resources"] for node in ray.nodes() if node["Alive"]])
        except Exception:
            if started:
                ray.shutdown()
            raise
    return started
