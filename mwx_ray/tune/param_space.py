"""The Tune ``param_space`` of an expert sweep: trials = skills × seeds × grid × ``num_samples``.

Every trial config is self-contained (the trainable needs nothing else, and ``Tuner.restore`` needs nothing
else), with these keys::

    skill, seed, env_id          grid over experts.skills × experts.seeds; env_id from the skill's task
    ppo: {every PPOSection field}  the skill's values (section + per_skill overrides), searched fields
                                 replaced by their Tune space (``experts.search_space``)
    stop: {env_steps, success_bar, max_iters}   the skill's StopRule (same rule as the Tune stopper)
    eval: {every_iters, episodes, video}; checkpoint: {every_iters}
    resources: the per-trial part of ``resources`` (env runners, envs per runner, CPUs/GPUs)

Values that depend on the skill are ``tune.sample_from`` lookups keyed by the trial's sampled ``skill``.
A field may be searched or overridden per skill, not both (which one would win is not obvious).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray import tune

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.experts_schema import ExpertsSection, PPOSection
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.typed import to_plain
from mwx_ray.tune.search_space import PPO_FIELDS, SourceOf, _no_source, ppo_search_space
from mwx_ray.tune.stoppers import stop_rules

TRIAL_RESOURCE_FIELDS = (
    "env_runners_per_trial", "envs_per_env_runner", "cpus_per_env_runner", "cpus_per_learner", "gpus_per_learner",
)


class PerSkill:
    """``tune.sample_from`` callable: ``table[trial's skill]`` (or ``[field]`` of it); picklable for Tune."""

    def __init__(self, table: Mapping[str, Any], field: str | None = None):
        self.table = dict(table)
        self.field = field

    def __call__(self, config: Mapping[str, Any]) -> Any:
        value = self.table[config["skill"]]  # Tune 2.60 passes the partially resolved trial config
        return value[self.field] if self.field is not None else value

    def __repr__(self) -> str:  # shown in Tune's logs instead of an object address
        return f"PerSkill({self.field or 'value'})"


def ppo_by_skill(experts: ExpertsSection) -> dict[str, PPOSection]:
    """Each skill's validated PPOSection (section values + ``per_skill.<skill>.ppo``)."""
    return {skill: experts.ppo_for(skill) for skill in experts.skills}


def env_id_of(experts: ExpertsSection, skill: str) -> str:
    """Canonical env id of a skill's task (``walk`` → ``mwx/h1-walk-v0``); unknown names list valid ones."""
    from mwx_ray.envs.registry import resolve_env_id

    return resolve_env_id(experts.task_for(skill))


def check_population(experts: ExpertsSection, source_of: SourceOf = _no_source) -> None:
    """ASHA and PBT rank trials against each other; returns of different skills are not comparable
    (different reward scales and success bars) and PBT would copy one skill's config into another."""
    if experts.scheduler.name in ("asha", "pbt") and len(experts.skills) > 1:
        key = "experts.skills"
        raise ConfigError(source_of(key), key, f"scheduler {experts.scheduler.name} compares trials, so a sweep "
                                               f"must train one skill (got {experts.skills}); run one sweep per "
                                               f"skill or use scheduler.name: fifo")
    for field in experts.search_space:
        overridden = [s for s, o in experts.per_skill.items() if field in o.ppo]
        if overridden:
            key = f"experts.search_space.{field}"
            raise ConfigError(source_of(key), key, f"also set by per_skill.{overridden[0]}.ppo.{field}; "
                                                   f"search it or override it per skill, not both")


def build_param_space(
    config: MwxConfig,
    *,
    source_of: SourceOf = _no_source,
    param_overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, PPOSection]]:
    """``(param_space, ppo_by_skill)`` for ``config.experts``; ``param_overrides`` are extra trial keys
    (tests pass ``{"fail_at_iteration": k}``, see ``mwx_ray.experts.trainable``)."""
    experts = config.experts
    check_population(experts, source_of)
    per_skill_ppo = ppo_by_skill(experts)
    searched = ppo_search_space(experts.search_space, per_skill_ppo, source_of=source_of)
    ppo_tables = {skill: to_plain(ppo) for skill, ppo in per_skill_ppo.items()}
    ppo_space: dict[str, Any] = {}
    for field in PPO_FIELDS:
        if field in searched:
            ppo_space[field] = searched[field]
        elif len({repr(table[field]) for table in ppo_tables.values()}) == 1:
            ppo_space[field] = ppo_tables[experts.skills[0]][field]  # same for every skill: a plain value
        else:
            ppo_space[field] = tune.sample_from(PerSkill(ppo_tables, field))
    rules = {skill: rule.to_dict() for skill, rule in stop_rules(experts).items()}
    env_ids = {skill: env_id_of(experts, skill) for skill in experts.skills}
    resources = to_plain(config.resources)
    space = {
        "skill": tune.grid_search(list(experts.skills)),
        "seed": tune.grid_search(list(experts.seeds)),
        "env_id": tune.sample_from(PerSkill(env_ids)),
        "ppo": ppo_space,
        "stop": tune.sample_from(PerSkill(rules)),
        "eval": to_plain(experts.eval),
        "checkpoint": {"every_iters": experts.checkpoint.every_iters},
        "resources": {key: resources[key] for key in TRIAL_RESOURCE_FIELDS},
    }
    space.update(dict(param_overrides or {}))
    return space, per_skill_ppo

