"""Resource budget: do the Tune trials and the labeling actor pool fit the Ray cluster together?

Ray never oversubscribes logical CPUs/GPUs, so an over-budget plan does not crash: it *waits*. Tune keeps
trials PENDING while a Ray Data actor pool holds the CPUs, or the pool never finishes starting because
trials took them (platform notes: "actor pools can starve Tune trials"). The fix is arithmetic done before
anything starts:

    concurrent trials × CPUs per trial  +  labeling actors × CPUs per actor  +  one reader task  ≤  cluster CPUs

(and the same for GPUs), with every single trial's learner bundle and every labeling actor fitting on one
node. A trial's request mirrors RLlib's ``default_resource_request`` (PPO and SAC both inherit ``Algorithm``'s,
and both expert builders size it the same way, ``experts/base_config.py``): one bundle for the trial process
(which hosts the local learner: ``cpus_per_learner``, ``gpus_per_learner``) plus one per remote env runner
(``cpus_per_env_runner``). Call :func:`check_budget` after joining the cluster::

    check_budget(config, ray.cluster_resources(), stages=("experts",), nodes=[n["Resources"] for n in ray.nodes()])

``stages`` lists the stages sharing the cluster at the same time: ``("experts", "labeling")`` for a shared
cluster where a sweep and a labeling job run side by side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mwx_ray.config.schema import MwxConfig

# Stages made of Tune trials (learner + env runners each: experts, router, ablations) and the labeling pool.
TRIAL_STAGES = ("experts", "router", "ablations")
STAGES = (*TRIAL_STAGES, "labeling")


class ResourceBudgetError(ValueError):
    """The configured trials/actors cannot all run on the cluster at once; the message says what to change."""


@dataclass(frozen=True)
class Demand:
    """Logical resources one stage holds while it runs at full width."""

    stage: str
    cpus: float
    gpus: float
    detail: str           # how the numbers were computed, in config keys
    largest_cpus: float   # biggest single bundle/actor: must fit on one node
    largest_gpus: float


def trial_cpus(config: MwxConfig) -> float:
    """CPUs of one expert trial: its learner process + its remote env runners."""
    res = config.resources
    return res.cpus_per_learner + res.env_runners_per_trial * res.cpus_per_env_runner


def concurrent_trials(config: MwxConfig, cluster_cpus: float, cluster_gpus: float) -> int:
    """``resources.max_concurrent_trials``, or how many trials Tune would pack into the cluster (null)."""
    if config.resources.max_concurrent_trials is not None:
        return config.resources.max_concurrent_trials
    per_trial_cpus, per_trial_gpus = trial_cpus(config), config.resources.gpus_per_learner
    by_cpu = math.floor(cluster_cpus / per_trial_cpus) if per_trial_cpus > 0 else math.inf
    by_gpu = math.floor(cluster_gpus / per_trial_gpus) if per_trial_gpus > 0 else math.inf
    fit = min(by_cpu, by_gpu)
    return 1 if fit == math.inf else max(int(fit), 1)


def trials_demand(config: MwxConfig, cluster_cpus: float, cluster_gpus: float, stage: str = "experts") -> Demand:
    """What a stage of Tune trials holds at full width (every trial stage sizes its trials from ``resources``)."""
    res = config.resources
    trials = concurrent_trials(config, cluster_cpus, cluster_gpus)
    per_cpu, per_gpu = trial_cpus(config), res.gpus_per_learner
    detail = (f"{trials} concurrent trials × ({res.cpus_per_learner:g} learner CPU + "
              f"{res.env_runners_per_trial} env runners × {res.cpus_per_env_runner:g} CPU"
              + (f", {per_gpu:g} GPU" if per_gpu else "") + ")")
    return Demand(stage, trials * per_cpu, trials * per_gpu, detail,
                  largest_cpus=max(res.cpus_per_learner, res.cpus_per_env_runner), largest_gpus=per_gpu)


def labeling_demand(config: MwxConfig) -> Demand:
    lab = config.labeling
    cpus = lab.actors * lab.cpus_per_actor + lab.reader_cpus  # readers run one at a time at minimum
    detail = (f"{lab.actors} labeling actors × ({lab.cpus_per_actor:g} CPU"
              + (f", {lab.gpus_per_actor:g} GPU" if lab.gpus_per_actor else "")
              + f") + {lab.reader_cpus:g} CPU shard reader")
    return Demand("labeling", cpus, lab.actors * lab.gpus_per_actor, detail,
                  largest_cpus=lab.cpus_per_actor, largest_gpus=lab.gpus_per_actor)


def stage_demands(config: MwxConfig, cluster: Mapping[str, float], stages: Iterable[str]) -> list[Demand]:
    stages = tuple(stages)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; valid: {list(STAGES)}")
    cpus, gpus = float(cluster.get("CPU", 0.0)), float(cluster.get("GPU", 0.0))
    # With both stages sharing the cluster, trials may only count on what the pool leaves them.
    if "labeling" in stages:
        pool = labeling_demand(config)
        cpus, gpus = max(cpus - pool.cpus, 0.0), max(gpus - pool.gpus, 0.0)
    demands = [trials_demand(config, cpus, gpus, stage) for stage in stages if stage in TRIAL_STAGES]
    if "labeling" in stages:
        demands.append(labeling_demand(config))
    return demands


def check_budget(config: MwxConfig, cluster: Mapping[str, float], *, stages: Iterable[str] = STAGES,
                 nodes: Sequence[Mapping[str, float]] = ()) -> list[Demand]:
    """Raise :class:`ResourceBudgetError` unless ``stages`` fit ``cluster`` (``ray.cluster_resources()``).

    ``nodes`` (each ``ray.nodes()[i]["Resources"]``) adds the per-node check: the largest bundle of each
    stage must fit on at least one node. Returns the demands (for logging) when everything fits.
    """
    stages = tuple(stages)
    if "labeling" in stages and set(stages) & set(TRIAL_STAGES) and config.resources.max_concurrent_trials is None:
        raise ResourceBudgetError(
            "resources.max_concurrent_trials is null while a labeling pool shares the cluster: Tune would "
            "start trials until no CPU is left and the pool (or the trials) would wait forever. Set "
            "resources.max_concurrent_trials so the trials leave room for labeling.actors × cpus_per_actor.")
    demands = stage_demands(config, cluster, stages)
    problems = []
    for resource, key, used in (("CPU", "cpus", sum(d.cpus for d in demands)),
                                ("GPU", "gpus", sum(d.gpus for d in demands))):
        available = float(cluster.get(resource, 0.0))
        if used > available + 1e-9:
            parts = "; ".join(f"{d.stage}: {d.detail} = {getattr(d, key):g} {resource}" for d in demands)
            problems.append(f"needs {used:g} {resource} at once but the cluster has {available:g} ({parts}). "
                            f"Lower resources.max_concurrent_trials / env_runners_per_trial or "
                            f"labeling.actors, or add nodes.")
    for demand in demands if nodes else ():
        if not any(demand.largest_cpus <= node.get("CPU", 0.0) + 1e-9
                   and demand.largest_gpus <= node.get("GPU", 0.0) + 1e-9 for node in nodes):
            problems.append(f"{demand.stage}: a single bundle of {demand.largest_cpus:g} CPU / "
                            f"{demand.largest_gpus:g} GPU fits on no node "
                            f"(largest node: {max(n.get('CPU', 0.0) for n in nodes):g} CPU, "
                            f"{max(n.get('GPU', 0.0) for n in nodes):g} GPU)")
    if problems:
        raise ResourceBudgetError("resource budget exceeded: " + " | ".join(problems))
    return demands


def describe(demands: Iterable[Demand]) -> str:
    """One line per stage, for the start of a run's log."""
    return "\n".join(f"budget {d.stage}: {d.detail} = {d.cpus:g} CPU, {d.gpus:g} GPU" for d in demands)
