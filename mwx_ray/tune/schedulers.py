"""Trial schedulers by name: ``fifo`` (run every trial to its stop rule), ``asha`` (early-stop weak trials),
``pbt`` (copy strong trials' weights into weak ones and mutate their PPO or SAC hyperparameters).

Metric and mode go to ``TuneConfig`` (Tune forwards them to the scheduler), never to both: Tune refuses that.
The scheduler metric (``hb/return`` by default) is reported on evaluation iterations only; the trainable
evaluates on every checkpoint iteration, so each checkpoint carries its score.

PBT constraints (checked here, because PBT silently degrades otherwise):
- a function trainable hands PBT the checkpoint of its *latest* result, so perturbations must fall on
  checkpoint iterations: ``perturbation_interval_iters`` must be a multiple of ``checkpoint.every_iters``;
- PBT only acts on results that carry the metric: ``checkpoint.every_iters`` must be a multiple of
  ``eval.every_iters`` so the metric is present at every perturbation point, and ``require_attrs=False``
  lets the non-evaluation iterations through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, PopulationBasedTraining, TrialScheduler

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS, ExpertsSection
from mwx_ray.config.sac_schema import SACSection
from mwx_ray.tune.pbt_explore import KeepMutationsInBounds, pbt_mutations
from mwx_ray.tune.search_space import SourceOf, _no_source
from mwx_ray.tune.stoppers import stop_rules

SCHEDULER_NAMES = ("fifo", "asha", "pbt")
TIME_ATTR = "training_iteration"


def env_steps_per_iteration(section) -> int:
    """Env steps one training iteration samples: PPO's batch, or SAC's ``min_sample_timesteps_per_iteration``
    (SAC iterations end on that many steps; the last sample call may overshoot by less than one call)."""
    if isinstance(section, SACSection):
        return section.min_sample_timesteps_per_iteration
    return section.train_batch_size_per_learner


def max_training_iterations(experts: ExpertsSection, sections_by_skill: Mapping[str, Any]) -> int:
    """Longest trial in iterations: ``stop.max_iters``, else max over skills of ⌈budget / steps per iteration⌉."""
    if experts.stop.max_iters is not None:
        return experts.stop.max_iters
    rules = stop_rules(experts)
    return max(math.ceil(rules[skill].env_steps / env_steps_per_iteration(sections_by_skill[skill]))
               for skill in experts.skills)


def _check_pbt_intervals(experts: ExpertsSection, source_of: SourceOf) -> None:
    interval = experts.scheduler.perturbation_interval_iters
    every_ckpt, every_eval = experts.checkpoint.every_iters, experts.eval.every_iters
    if interval % every_ckpt:
        key = "experts.scheduler.perturbation_interval_iters"
        raise ConfigError(source_of(key), key, f"{interval} must be a multiple of checkpoint.every_iters "
                                               f"({every_ckpt}): PBT exploits the checkpoint of the latest result")
    if every_ckpt % every_eval:
        key = "experts.checkpoint.every_iters"
        raise ConfigError(source_of(key), key, f"{every_ckpt} must be a multiple of eval.every_iters "
                                               f"({every_eval}) with PBT: perturbations need the eval metric")
    if not experts.scheduler.mutations:
        key = "experts.scheduler.mutations"
        raise ConfigError(source_of(key), key, f"PBT needs at least one {experts.algorithms[0]} field to mutate, "
                                               "e.g. {lr: {loguniform: [1.0e-5, 1.0e-3]}}")


def build_scheduler(
    experts: ExpertsSection,
    sections_by_skill: Mapping[str, Any],
    *,
    source_of: SourceOf = _no_source,
) -> TrialScheduler:
    """The scheduler named by ``experts.scheduler.name``; ``sections_by_skill`` (each skill's PPOSection or
    SACSection of the sweep's algorithm) sizes ASHA and validates PBT mutations.

    ASHA: ``grace_period_iters`` before any stop, rungs every ``reduction_factor``×, up to the longest
    trial (:func:`max_training_iterations`). PBT: perturb every ``perturbation_interval_iters``, mutate
    ``mutations`` (fields of the algorithm's section → specs; resampled with probability 0.25, else ×0.8/×1.2
    — Tune's defaults — then clamped into the spec's range, ``pbt_explore``). Both need a single algorithm (``param_space.check_population``).
    """
    section = experts.scheduler
    if section.name == "fifo":
        return FIFOScheduler()
    if section.name == "asha":
        max_t = max(max_training_iterations(experts, sections_by_skill), section.grace_period_iters)
        return ASHAScheduler(time_attr=TIME_ATTR, max_t=max_t, grace_period=section.grace_period_iters,
                             reduction_factor=section.reduction_factor)
    if section.name == "pbt":
        _check_pbt_intervals(experts, source_of)
        mutations = pbt_mutations(section.mutations, sections_by_skill, source_of=source_of)
        algorithm = experts.algorithms[0]
        return PopulationBasedTraining(
            time_attr=TIME_ATTR,
            perturbation_interval=section.perturbation_interval_iters,
            # Trial configs hold the algorithm's fields under its name (param_space): {"ppo": ...} / {"sac": ...}.
            hyperparam_mutations={algorithm: mutations},
            require_attrs=False,  # the metric exists on evaluation iterations only
            synch=False,
            # Tune multiplies by 0.8/1.2 without regard for the space: keep every explored value in its range.
            custom_explore_fn=KeepMutationsInBounds(algorithm, section.mutations, ALGORITHM_SECTIONS[algorithm]),
            log_config=True,
        )
    key = "experts.scheduler.name"
    raise ConfigError(source_of(key), key, f"unknown scheduler {section.name!r}; valid: {list(SCHEDULER_NAMES)}")
