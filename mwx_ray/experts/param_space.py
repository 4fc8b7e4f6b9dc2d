"""The Tune ``param_space`` of an expert sweep: trials = algorithms × skills × seeds × grid × ``num_samples``.

Every trial config is self-contained (the trainable needs nothing else, and ``Tuner.restore`` needs nothing
else), with these keys::

    algorithm                    ppo | sac (a grid over experts.algorithm when it lists several)
    skill, seed, env_id          grid over experts.skills × experts.seeds; env_id from the skill's task
    variant                      grid over experts.variants (ablations; absent without them)
    task: {every env.task field} the skill's task settings (``env.task`` + ``per_skill.<skill>.task`` + the
                                 variant's changes), searched
                                 ``task.*`` fields replaced by their Tune space (``tune/task_space.py``)
    <algorithm>: {every field of its section}   the skill's values (section + per_skill overrides), searched
                                 fields replaced by their Tune space (``experts.search_space``)
    stop: {env_steps, success_bar, max_iters}   the skill's StopRule (same rule as the Tune stopper)
    eval: {every_iters, episodes, video}; checkpoint: {every_iters}
    resources: the per-trial part of ``resources`` (env runners, envs per runner, CPUs/GPUs)
    plugins: ``run.plugins``, imported by the trial and its env runners before any env is built
    init_from: the skill's warm-start expert folder (``per_skill.<skill>.init_from``) or None

Values that depend on the skill are ``tune.sample_from`` lookups keyed by the trial's sampled ``skill``.
A field may be searched or overridden per skill, not both (which one would win is not obvious).

Algorithm grid (``experts.algorithm: [ppo, sac]``): every trial carries a ``ppo`` and a ``sac`` key; the one
of its own algorithm holds its section, the other is null (so its MLflow params say ``sac: null`` rather than
listing hyperparameters that were never used). Such a sweep compares algorithms at fixed hyperparameters and
equal env-step budgets: no ``search_space`` and scheduler ``fifo`` (ASHA/PBT would rank PPO and SAC
iterations of different sizes against each other, and PBT would copy SAC weights into PPO trials).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ray import tune

from mwx_ray.config.errors import ConfigError
from mwx_ray.config.experts_schema import ALGORITHM_SECTIONS, ExpertsSection, PPOSection
from mwx_ray.config.loader import deep_merge
from mwx_ray.config.schema import MwxConfig
from mwx_ray.config.task_schema import TaskSection
from mwx_ray.config.typed import build, to_plain
from mwx_ray.tune.search_space import SourceOf, _no_source, section_fields, section_search_space, space_size
from mwx_ray.tune.skill_tasks import skill_task_settings, training_task
from mwx_ray.tune.stoppers import stop_rules
from mwx_ray.tune.task_space import split_search_space, task_space

TRIAL_RESOURCE_FIELDS = (
    "env_runners_per_trial", "envs_per_env_runner", "cpus_per_env_runner", "cpus_per_learner", "gpus_per_learner",
    "torch_threads_per_learner",
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


class PerSkillVariant:
    """``tune.sample_from`` callable: ``tables[trial's skill][trial's variant]`` (the ablation grid's task)."""

    def __init__(self, tables: Mapping[str, Mapping[str, Any]]):
        self.tables = {skill: dict(table) for skill, table in tables.items()}

    def __call__(self, config: Mapping[str, Any]) -> Any:
        return self.tables[config["skill"]][config["variant"]]

    def __repr__(self) -> str:
        return "PerSkillVariant(task)"


class SectionIfAlgorithm:
    """``tune.sample_from`` callable of an algorithm grid: the skill's section of ``algorithm`` for that
    algorithm's trials, None for the others."""

    def __init__(self, algorithm: str, tables: Mapping[str, Mapping[str, Any]]):
        self.algorithm = algorithm
        self.tables = {skill: dict(table) for skill, table in tables.items()}

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any] | None:
        return dict(self.tables[config["skill"]]) if config["algorithm"] == self.algorithm else None

    def __repr__(self) -> str:
        return f"SectionIfAlgorithm({self.algorithm})"


def sections_by_skill(experts: ExpertsSection, algorithm: str) -> dict[str, Any]:
    """Each skill's validated section of ``algorithm`` (section values + ``per_skill.<skill>.<algorithm>``)."""
    return {skill: experts.section_for(algorithm, skill) for skill in experts.skills}


def ppo_by_skill(experts: ExpertsSection) -> dict[str, PPOSection]:
    """Each skill's validated PPOSection (section values + ``per_skill.<skill>.ppo``)."""
    return sections_by_skill(experts, "ppo")


def env_id_of(experts: ExpertsSection, skill: str) -> str:
    """Canonical env id of a skill's task (``walk`` → ``mwx/h1-walk-v0``); unknown names list valid ones."""
    from mwx_ray.envs.registry import resolve_env_id

    return resolve_env_id(training_task(experts, skill))


def check_population(experts: ExpertsSection, source_of: SourceOf = _no_source) -> None:
    """ASHA and PBT rank trials against each other; returns of different skills are not comparable
    (different reward scales and success bars) and PBT would copy one skill's config into another. An
    algorithm grid is a fixed-hyperparameter comparison (see the module docstring)."""
    if experts.scheduler.name in ("asha", "pbt") and len(experts.skills) > 1:
        key = "experts.skills"
        raise ConfigError(source_of(key), key, f"scheduler {experts.scheduler.name} compares trials, so a sweep "
                                               f"must train one skill (got {experts.skills}); run one sweep per "
                                               f"skill or use scheduler.name: fifo")
    if experts.variants and experts.scheduler.name != "fifo":
        key = "experts.scheduler.name"
        raise ConfigError(source_of(key), key, f"an ablation grid (experts.variants) needs scheduler fifo: "
                                               f"{experts.scheduler.name} would stop or replace the variants it "
                                               "ranks low, and the table needs every one at every budget")
    algorithms = experts.algorithms
    if len(algorithms) > 1:
        if experts.scheduler.name != "fifo":
            key = "experts.scheduler.name"
            raise ConfigError(source_of(key), key, f"an algorithm grid ({algorithms}) needs scheduler fifo: "
                                                   f"{experts.scheduler.name} would rank (or copy weights between) "
                                                   "PPO and SAC trials; run one sweep per algorithm instead")
        if split_search_space(experts.search_space)[0]:
            key = "experts.search_space"
            raise ConfigError(source_of(key), key, f"an algorithm grid ({algorithms}) compares algorithms at fixed "
                                                   "hyperparameters; search them in one sweep per algorithm")
    for field in split_search_space(experts.search_space)[0]:
        overridden = [s for s, o in experts.per_skill.items() if field in getattr(o, algorithms[0])]
        if overridden:
            key = f"experts.search_space.{field}"
            raise ConfigError(source_of(key), key, f"also set by per_skill.{overridden[0]}.{algorithms[0]}.{field}; "
                                                   f"search it or override it per skill, not both")


def _section_space(experts: ExpertsSection, algorithm: str, sections: Mapping[str, Any],
                   source_of: SourceOf) -> dict[str, Any]:
    """One algorithm's trial-config section: searched fields as Tune spaces, per-skill values as lookups."""
    searched = section_search_space(split_search_space(experts.search_space)[0], sections, source_of=source_of)
    tables = {skill: to_plain(section) for skill, section in sections.items()}
    space: dict[str, Any] = {}
    for field in section_fields(ALGORITHM_SECTIONS[algorithm]):
        if field in searched:
            space[field] = searched[field]
        elif len({repr(table[field]) for table in tables.values()}) == 1:
            space[field] = tables[experts.skills[0]][field]  # same for every skill: a plain value
        else:
            space[field] = tune.sample_from(PerSkill(tables, field))
    return space


def build_param_space(
    config: MwxConfig,
    *,
    source_of: SourceOf = _no_source,
    param_overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """``(param_space, sections)`` for ``config.experts``; ``sections[algorithm][skill]`` is each selected
    algorithm's validated section per skill. ``param_overrides`` are extra trial keys (tests pass
    ``{"fail_at_iteration": k}``, see ``mwx_ray.experts.trainable``)."""
    experts = config.experts
    check_population(experts, source_of)
    algorithms = experts.algorithms
    sections = {algorithm: sections_by_skill(experts, algorithm) for algorithm in algorithms}
    rules = {skill: rule.to_dict() for skill, rule in stop_rules(experts).items()}
    env_ids = {skill: env_id_of(experts, skill) for skill in experts.skills}
    resources = to_plain(config.resources)
    space: dict[str, Any] = {
        "algorithm": algorithms[0] if len(algorithms) == 1 else tune.grid_search(list(algorithms)),
        "skill": tune.grid_search(list(experts.skills)),
        "seed": tune.grid_search(list(experts.seeds)),
        "env_id": tune.sample_from(PerSkill(env_ids)),
    }
    if len(algorithms) == 1:
        space[algorithms[0]] = _section_space(experts, algorithms[0], sections[algorithms[0]], source_of)
    else:  # no search space here (check_population): whole per-skill tables, null for the other algorithm
        for algorithm in algorithms:
            tables = {skill: to_plain(section) for skill, section in sections[algorithm].items()}
            space[algorithm] = tune.sample_from(SectionIfAlgorithm(algorithm, tables))
    tasks = {skill: skill_task_settings(experts, skill, config.env.task) for skill in experts.skills}
    if experts.variants:
        space["variant"] = tune.grid_search(list(experts.variants))
    space.update({
        "init_from": tune.sample_from(PerSkill(warm_starts(experts, source_of))),
        "init_lineage": tune.sample_from(PerSkill(warm_start_lineages(experts))),
        "task": (tune.sample_from(PerSkillVariant(variant_tasks(experts, tasks))) if experts.variants
                 else task_space(tasks, split_search_space(experts.search_space)[1], source_of=source_of)),
        "stop": tune.sample_from(PerSkill(rules)),
        "eval": to_plain(experts.eval),
        "checkpoint": {"every_iters": experts.checkpoint.every_iters},
        "resources": {key: resources[key] for key in TRIAL_RESOURCE_FIELDS},
        "plugins": list(config.run.plugins),
    })
    space.update(dict(param_overrides or {}))
    return space, sections


def variant_tasks(experts: ExpertsSection, tasks: Mapping[str, TaskSection]) -> dict[str, dict[str, Any]]:
    """``{skill: {variant: plain task settings}}``: each skill's task with each variant's changes applied and
    validated (``ExpertsSection`` refuses ``task.*`` searches next to variants)."""
    return {skill: {name: to_plain(build(TaskSection, deep_merge(to_plain(task), overrides), lambda _key: "",
                                         prefix=f"experts.variants.{name}."))
                    for name, overrides in experts.variants.items()}
            for skill, task in tasks.items()}


def warm_starts(experts: ExpertsSection, source_of: SourceOf = _no_source) -> dict[str, str | None]:
    """``{skill: absolute expert folder or None}`` of ``per_skill.<skill>.init_from`` (missing experts fail here,
    before any trial starts, naming the key)."""
    from mwx_ray.experts.registry import expert_folder

    folders: dict[str, str | None] = {}
    for skill in experts.skills:
        source = experts.per_skill[skill].init_from if skill in experts.per_skill else None
        if source is None:
            folders[skill] = None
            continue
        key = f"experts.per_skill.{skill}.init_from"
        try:
            folders[skill] = str(Path(expert_folder(source)).resolve())
        except (FileNotFoundError, ValueError, KeyError) as err:
            raise ConfigError(source_of(key), key, str(err)) from None
    return folders


def warm_start_lineages(experts: ExpertsSection) -> dict[str, dict[str, Any] | None]:
    """``{skill: provenance of its init_from source as it is now}``, kept in the trial config for ``mwx zoo
    publish`` (the zoo entry a trial started from may be replaced before its result is published)."""
    from mwx_ray.experts.zoo import init_lineage

    return {skill: init_lineage(experts.per_skill[skill].init_from if skill in experts.per_skill else None)
            for skill in experts.skills}


def trial_count(experts: ExpertsSection, param_space: Mapping[str, Any]) -> int:
    """Trials of a sweep: algorithms × skills × seeds × grid combinations × num_samples."""
    algorithms = experts.algorithms
    searched = param_space[algorithms[0]] if len(algorithms) == 1 else {}
    task_grid = len(experts.variants) if experts.variants else space_size(param_space["task"])
    grids = space_size(searched) * task_grid
    return len(algorithms) * len(experts.skills) * len(experts.seeds) * grids * experts.num_samples
